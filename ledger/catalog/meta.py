"""A catalog version's meta.json: its name and effective date. Pure."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Final

from ledger.catalog.model import VERSION_PATTERN, CatalogError, CatalogProblem

META_FILE: Final = "meta.json"

_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_META_KEYS: Final = frozenset({"version", "effective_from", "description"})


def parse_meta(text: str, *, name: str = META_FILE) -> tuple[str, date]:
    """Parse a version's meta.json: ``{"version": ..., "effective_from": "YYYY-MM-DD"}``.

    An optional ``description`` string is allowed; any other key is an error.

    Raises:
        CatalogError: the text is not such an object.
    """

    def fail(key: str | None, message: str) -> CatalogError:
        return CatalogError.from_problems([CatalogProblem(name, None, key, message)])

    def no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [key for key, _ in pairs]
        for key in keys:
            if keys.count(key) > 1:
                raise fail(key, "key appears more than once")
        return dict(pairs)

    try:
        meta = json.loads(text, object_pairs_hook=no_duplicates)
    except ValueError as exc:
        raise fail(None, f"not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise fail(None, "must be a JSON object")
    unknown = sorted(set(meta) - _META_KEYS)
    if unknown:
        raise fail(unknown[0], "unknown key; allowed: description, effective_from, version")
    version, effective = meta.get("version"), meta.get("effective_from")
    if not isinstance(version, str) or VERSION_PATTERN.fullmatch(version) is None:
        raise fail("version", "required: 1-32 of [0-9A-Za-z._-], like 2026-draft.1")
    if not isinstance(effective, str) or _ISO_DATE.fullmatch(effective) is None:
        raise fail("effective_from", "required: a date like 2026-01-01")
    if not isinstance(meta.get("description", ""), str):
        raise fail("description", "must be a string")
    try:
        return version, date.fromisoformat(effective)
    except ValueError:
        raise fail("effective_from", f"{effective} is not a calendar date") from None
