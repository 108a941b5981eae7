"""Placeholder: this command is not implemented yet (being built)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Register no command yet."""
