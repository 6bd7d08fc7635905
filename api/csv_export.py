"""CSV exports of list answers: RFC 4180, safe to open in a spreadsheet.

* RFC 4180: CRLF line ends, every field in double quotes (a quote inside doubled), a
  header line first, UTF-8 (``text/csv; charset=utf-8; header=present``).
* Formula injection (OWASP, "CSV Injection"): a cell that starts with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return is prefixed with a single quote, so a spreadsheet shows
  it as text instead of evaluating it. Every field is quoted too, so a separator inside a
  value cannot start a new cell.
* A byte order mark (``bom=true``, the default) makes Excel read UTF-8: without it, Excel
  on a Chinese Windows opens the file as GBK and garbles every Chinese name.
  ``bom=false`` leaves it out for tools that take a BOM for data.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Final

MEDIA_TYPE: Final = "text/csv; charset=utf-8; header=present"
BOM: Final = "\ufeff"
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """One value as CSV text, neutralised if a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, tuple)):
        text = ";".join("" if v is None else str(v) for v in value)
    elif isinstance(value, Decimal):
        text = format(value, "f")
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def lines(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, bom: bool = True
) -> Iterator[str]:
    """The CSV document, a line at a time (the header first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")

    def line(values: Sequence[object]) -> str:
        writer.writerow([cell(v) for v in values])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield (BOM if bom else "") + line(list(header))
    for row in rows:
        yield line(row)


def document(header: Sequence[str], rows: Iterable[Sequence[object]], *, bom: bool = True) -> str:
    return "".join(lines(header, rows, bom=bom))
