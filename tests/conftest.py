"""Shared fixtures: the public conformance folder and real servers (see tests/servers.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.servers"]

SHARED_DIR = Path(__file__).resolve().parent.parent.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_shared(relative: str) -> Path:
    """Return a path under ../shared, skipping (or failing in CI) when it is absent."""
    path = SHARED_DIR / relative
    if not path.exists():
        message = f"{path} is absent (a user's clone has no ../shared)"
        if IN_CI:
            pytest.fail(f"{message}; CI must run the conformance tests")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """The public conformance vectors folder, ../shared/conformance."""
    return require_shared("conformance")
