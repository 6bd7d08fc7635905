"""The shared GS1 conformance vectors, loaded at collection time when ``../shared`` is there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from tests.conftest import SHARED_DIR

GS1_DIR: Final = "conformance/gs1"
DL_VECTORS: Final = f"{GS1_DIR}/derived/gs1-syntax-engine_dl-uri-vectors.json"
EPC_VECTORS: Final = f"{GS1_DIR}/derived/epc-tds_binary-vectors.json"
SYNTAX_DICTIONARY: Final = f"{GS1_DIR}/digital-link/gs1-syntax-dictionary.txt"


def load(relative: str) -> Any:
    """The JSON at ``../shared/relative``, or ``None`` when the folder is absent.

    Parametrised tests then have no cases; each file's count test calls
    ``require_shared`` so that an absent folder skips (and fails in CI).
    """
    path: Path = SHARED_DIR / relative
    return json.loads(path.read_text()) if path.is_file() else None
