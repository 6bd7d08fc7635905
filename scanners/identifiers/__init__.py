"""Typed identifiers from anything a scanner may emit (work in progress)."""
