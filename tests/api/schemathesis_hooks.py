"""Schemathesis hooks for the contract run (``tests/api/schemathesis.toml``).

The run is free to write anything to its scratch server except what would take away its
own credentials halfway: the users whose tokens it sends (``CHEMTRACE_FUZZ_PROTECTED``,
comma-separated) are never rewritten, disabled or stripped of their tokens. A request that
would do so is aimed at a user of its own instead (same shape, another id), in every phase:
``before_call`` runs for examples, coverage, fuzzing and stateful steps alike.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

STAND_IN = "fuzz-stand-in"
"""The user id a protected one is replaced with (a valid id that no credential belongs to)."""


def _protected() -> frozenset[str]:
    return frozenset(filter(None, os.environ.get("CHEMTRACE_FUZZ_PROTECTED", "").split(",")))


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any) -> None:
    protected = _protected()
    path, method = case.operation.path, case.method.upper()
    if path == "/v1/users/{user_id}/tokens" and _is_one_of(
        (case.path_parameters or {}).get("user_id"), protected
    ):
        case.path_parameters = {**case.path_parameters, "user_id": STAND_IN}
    elif (
        path == "/v1/users"
        and method == "POST"
        and isinstance(case.body, dict)
        and _is_one_of(case.body.get("id"), protected)
    ):
        case.body = {**case.body, "id": STAND_IN}


def _is_one_of(value: object, ids: frozenset[str]) -> bool:
    return isinstance(value, str) and value in ids
