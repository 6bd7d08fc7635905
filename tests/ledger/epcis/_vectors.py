"""The shared EPCIS conformance material, loaded at collection time when ``../shared`` is there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from tests.conftest import SHARED_DIR

GS1: Final = SHARED_DIR / "conformance" / "gs1"
HASH_EXAMPLES: Final = GS1 / "epcis-hash" / "ralphtro" / "examples"
HASH_EQUAL: Final = GS1 / "epcis-hash" / "ralphtro" / "expected_equal"
NEWER_HASHES: Final = GS1 / "derived" / "ralphtro-newer_cbv20-expected-hashes.json"
EPCIS_EXAMPLES: Final = GS1 / "epcis-examples"
SCHEMA: Final = EPCIS_EXAMPLES / "gs1-EPCIS" / "EPCIS-JSON-Schema.json"

IGNORE_FIELDS: Final = frozenset(
    {
        "epcisDocHavingEventWithIgnoreFields",
        "epcisQueryDocHavingEventWithIgnoreFields",
        "epcisXmlDocHavingEventWithIgnoreFields",
        "epcisXmlQueryDocHavingEventWithIgnoreFields",
    }
)
"""A repository-specific feature (fields named in a request are left out), not CBV 2.0."""


def load_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def newer_documents() -> dict[str, Any]:
    data = load_json(NEWER_HASHES)
    return {} if data is None else dict(data["documents"])


def hash_inputs() -> list[Path]:
    """Every snapshot input with a ``.hashes`` file, both syntaxes, IgnoreFields left out."""
    if not HASH_EXAMPLES.is_dir():
        return []
    return sorted(
        p
        for p in HASH_EXAMPLES.iterdir()
        if p.suffix in {".jsonld", ".xml"}
        and p.with_suffix(".hashes").is_file()
        and p.stem not in IGNORE_FIELDS
    )
