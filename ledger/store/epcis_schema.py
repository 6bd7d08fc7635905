"""The official EPCIS 2.0 JSON Schema (vendored in ``catalogs/epcis/``), as one validator."""

from __future__ import annotations

import json
from functools import cache
from typing import Final

import jsonschema

from ledger.store.catalog_files import SHIPPED

SCHEMA_PATH: Final = SHIPPED / "epcis" / "EPCIS-JSON-Schema.json"


@cache
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def first_error(document: object) -> tuple[str, str] | None:
    """``(JSON pointer, message)`` of the first place the schema refuses, or None if it is valid.

    "First" is the smallest path, so the same document always names the same place.
    """
    errors = sorted(validator().iter_errors(document), key=lambda e: [str(p) for p in e.path])
    if not errors:
        return None
    first = errors[0]
    return "/" + "/".join(str(p) for p in first.absolute_path), first.message
