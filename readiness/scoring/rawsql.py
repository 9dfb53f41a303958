"""Core statements run on the DBAPI cursor: plain tuples, no Row objects and no per-value type processing.

For the whole-program reads of a full rescore (100,000 partners, about a million aggregated rows), where
SQLAlchemy's result processing costs more than the query. Only for statements whose parameters need no type
conversion (ints, floats, strings); callers accept the driver's raw values (SQLite returns dates as ISO text).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Query:
    """A compiled statement: SQL text and its parameters, runnable on any DBAPI connection of the dialect."""

    sql: str
    params: tuple[Any, ...] | dict[str, Any]


def compile_query(session: Session, stmt: Select[Any], values: dict[str, Any] | None = None) -> Query:
    """Compile with `values` for the statement's bound parameters, expanding IN lists rendered out."""
    compiled = stmt.compile(dialect=session.get_bind().dialect)
    state = compiled.construct_expanded_state(values or None)
    if compiled.positional:
        return Query(state.statement, tuple(state.positional_parameters))
    return Query(state.statement, dict(state.parameters))


def run_query(dbapi_conn: Any, query: Query) -> list[tuple[Any, ...]]:
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(query.sql, query.params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def dbapi_connection(session: Session) -> Any:
    """The session's own DBAPI connection (inside its transaction, so it sees the session's flushed writes)."""
    return session.connection().connection.dbapi_connection


def fetch_rows(session: Session, stmt: Select[Any]) -> list[tuple[Any, ...]]:
    return run_query(dbapi_connection(session), compile_query(session, stmt))


def in_ids(column: Any, dialect: str) -> ColumnElement[bool]:
    """`column IN (the ids)` with the ids as ONE bound value: a JSON array read by json_each on SQLite, an array
    on PostgreSQL. An expanding IN of 10,000 ids costs SQLAlchemy about 0.3 s to render per statement; this costs
    nothing, and SQLite still seeks the index once per id."""
    if dialect == "sqlite":
        listed = func.json_each(bindparam("ids_json", type_=String)).table_valued("value")
        return column.in_(select(listed.c.value))
    if dialect == "postgresql":
        return column == any_(bindparam("ids_array", type_=ARRAY(String)))
    return column.in_(bindparam("ids", expanding=True))


def ids_params(ids: list[str], dialect: str) -> dict[str, Any]:
    """The bound value(s) `in_ids` reads."""
    if dialect == "sqlite":
        return {"ids_json": json.dumps(ids)}
    if dialect == "postgresql":
        return {"ids_array": list(ids)}
    return {"ids": list(ids)}
