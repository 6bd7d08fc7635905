"""Every ``LedgerError`` subclass is drawn in the tree of ``ledger.errors``, under its parent."""

from __future__ import annotations

import importlib
import pkgutil
import re

import ledger
from ledger.errors import LedgerError


def _subclasses(root: type[LedgerError]) -> set[type[LedgerError]]:
    found: set[type[LedgerError]] = set()
    for child in root.__subclasses__():
        found |= {child, *_subclasses(child)}
    return found


def _drawn_parents() -> dict[str, str]:
    """``{class: parent}`` as the docstring's box drawing nests them."""
    doc = importlib.import_module("ledger.errors").__doc__ or ""
    stack: list[tuple[int, str]] = []
    parents: dict[str, str] = {}
    for line in doc.splitlines():
        match = re.match(r"^(\s*[│├└─ ]*)(\w+Error)\b", line)
        if match is None:
            continue
        depth, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_every_ledger_error_is_drawn_under_its_parent() -> None:
    for module in pkgutil.walk_packages(ledger.__path__, "ledger."):
        importlib.import_module(module.name)
    drawn = _drawn_parents()
    for cls in _subclasses(LedgerError):
        if cls.__name__.startswith("_") or not cls.__module__.startswith("ledger."):
            continue  # the shells' errors (scanners.ScanError, ...) have trees of their own
        assert cls.__name__ in drawn, f"{cls.__module__}.{cls.__name__} is not in the tree"
        assert drawn[cls.__name__] == cls.__mro__[1].__name__, cls.__name__
