"""Placeholder: commands land here in this session."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``chemtrace scan``."""
