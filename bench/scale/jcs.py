"""RFC 8785 (JCS) bytes at C speed for the generator's own float-free values.

For JSON made only of objects with ASCII keys, arrays, strings, integers within ±2**53,
booleans and null, JCS is exactly ``json.dumps`` with sorted keys, no whitespace and no
``\\u`` escaping of non-ASCII text: both escape only ``"``, ``\\`` and control characters
(``\\b \\f \\n \\r \\t``, else ``\\u00xx`` in lower case), and ASCII keys sort the same by
UTF-16 code units as by code points. The generator never builds anything else; the
ledger's verifier re-derives every hash with ``rfc8785`` (``chemtrace verify-log``), and the
tests compare both encoders on every generated envelope.
"""

from __future__ import annotations

import json
from typing import Any

_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def dumps(value: Any) -> bytes:
    """The JCS bytes of a float-free value with ASCII object keys."""
    return _ENCODER.encode(value).encode("utf-8")
