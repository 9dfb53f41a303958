"""Helpers shared by the CLI command modules: console, JSON output, store access, dates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from readiness.db import init_db, make_engine, session_scope
from readiness.settings import get_settings

console = Console()
err_console = Console(stderr=True)

AS_OF_HELP = "Date to compute as of (YYYY-MM-DD); default today or PARTNERPILOT_AS_OF."


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/bold red] {message}")
    raise typer.Exit(code)


def resolve_as_of(as_of: str | None) -> date:
    if as_of is None:
        return get_settings().today()
    try:
        return date.fromisoformat(as_of)
    except ValueError:
        fail(f"--as-of must be a date like 2026-10-31, got {as_of!r}", 2)


def print_json(data: Any) -> None:
    """Print pydantic models, lists of them or plain data as JSON on stdout (no Rich markup)."""

    def default(obj: Any) -> Any:
        if isinstance(obj, BaseModel):
            return obj.model_dump(mode="json")
        if isinstance(obj, date):
            return obj.isoformat()
        raise TypeError(f"not JSON serialisable: {type(obj).__name__}")

    typer.echo(json.dumps(data, default=default, indent=2, ensure_ascii=False))


_engine: Engine | None = None


def engine() -> Engine:
    """The configured store, migrated to the newest schema on first use in this process."""
    global _engine
    if _engine is None:
        _engine = make_engine()
        init_db(_engine)
    return _engine


@contextmanager
def session() -> Iterator[Session]:
    with session_scope(engine()) as s:
        yield s
