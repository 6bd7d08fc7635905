"""Write the API reference from the app's OpenAPI: ``python -m api.openapi_doc [DIR]``.

``docs/openapi.json`` is the machine-readable contract; ``docs/api.md`` a readable index
of every endpoint. A test fails when either differs from what the app serves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from api.app import create_app
from api.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def openapi() -> dict[str, Any]:
    """The schema, built without opening any database."""
    return create_app(Settings(background=False)).openapi()


def markdown(schema: dict[str, Any]) -> str:
    lines = [
        "# chemtrace HTTP API reference",
        "",
        "Generated from the OpenAPI schema by `python -m api.openapi_doc`; the full contract",
        "(request and response schemas) is [openapi.json](openapi.json), and a running server",
        "serves it interactively at `/docs`. Errors are `application/problem+json` with a",
        "stable `code`; the statuses each endpoint may return are listed. Every endpoint may",
        "answer 400, 413, 422 and 431 (the request limits, before any route) and 500; the",
        "public pages (`/c/…`, `/C/…`) answer their 404 and 429 as HTML pages.",
        "",
        "## Queries on `/v1`",
        "",
        "- **No parameter is ignored.** An unknown query parameter is a 422",
        "  `unknown_parameter`, a single-valued one given twice a 422 `repeated_parameter`,",
        "  each naming it in `field`. List filters (`status`, `rule`, `severity`) repeat:",
        "  `?severity=high&severity=critical`. Pages outside `/v1` (`/c/…`, the GS1 resolver,",
        "  `/epcis`, whose parameters follow EPCIS) ignore what they do not know.",
        "- **Chemicals** are named by id (`26`, `26.3`), CAS number, UN number (`UN2032`) or",
        "  name in Chinese or English (`GET /v1/catalog/{chemical}` shows what a text names);",
        "  a filter that names none is a 422 `unknown_chemical`, several a 422",
        "  `ambiguous_chemical` with `candidates`. Items, inventory and findings carry",
        "  `chemical_name`, `chemical_name_en`, `cas` and `un` beside the id.",
        "- **Scope.** A `site` or `org` filter outside your scope answers like one that does",
        "  not exist (404); a `district` outside a regulator's own is a 403 (see",
        "  [access-policy.md](access-policy.md#filters-on-the-list-endpoints)).",
        "- **Pages.** Lists take `limit` and `cursor` and answer `total`, `total_kind`",
        "  (`exact`, or `capped`: at least that many) and `next_cursor`; lists whose body is",
        "  an array answer them as `X-Total-Count`, `X-Total-Kind` and `Link: <…>;",
        '  rel="next"`. A cursor is bound to its query and caller: any other is a 422',
        "  `invalid_cursor`. Pages are keyset pages: walking them, no row is listed twice or",
        "  missed.",
        "- **Times** in queries are RFC 3339 with any offset (`2026-10-01T08:00:00+08:00`),",
        "  read as UTC; answers are in UTC (`…Z`), as signed event bodies are.",
        "- **CSV.** Items, inventory, findings and custody chains answer CSV for `format=csv`",
        "  or `Accept: text/csv`: RFC 4180 (CRLF, every field quoted), a stable header, a cell",
        "  starting with `= + - @`, tab or CR prefixed with `'` (OWASP CSV injection), UTF-8",
        "  with a byte order mark for Excel unless `bom=false`. Without `limit`, an export",
        "  has every matching row.",
        "",
        "| method | path | summary | errors |",
        "|---|---|---|---|",
    ]
    for path, operations in sorted(schema["paths"].items()):
        for method, operation in operations.items():
            errors = ", ".join(sorted(code for code in operation.get("responses", {})
                                      if code.startswith(("4", "5"))))  # fmt: skip
            summary = operation.get("summary", "").replace("|", "\\|")
            lines.append(f"| {method.upper()} | `{path}` | {summary} | {errors} |")
    return "\n".join(lines) + "\n"


def render() -> dict[str, str]:
    schema = openapi()
    return {
        "openapi.json": json.dumps(schema, indent=1, ensure_ascii=False, sort_keys=True) + "\n",
        "api.md": markdown(schema),
    }


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS
    for name, text in render().items():
        (folder / name).write_text(text, encoding="utf-8")
        print(f"wrote {folder / name}")


if __name__ == "__main__":
    main()
