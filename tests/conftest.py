"""Shared fixtures: the public conformance folder and real servers (see tests/servers.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

pytest_plugins = ["tests.servers"]

# A per-example deadline is a timing test, and timing on a shared 2-core CI machine is
# noise: speed is measured in bench/. Every property test runs without one.
settings.register_profile("chemtrace", deadline=None)
settings.load_profile("chemtrace")

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
