"""One import at a time per store: concurrent imports wait their turn, up to a limit, then give up cleanly.

Two imports running at once both read the ids already stored, both insert the new ones, and the second fails on a
unique key (issue 17: two of three concurrent PostgreSQL imports ended in a raw `UniqueViolation`). The import's
transaction therefore starts by taking the store's import lock:

- PostgreSQL: a transaction-scoped advisory lock, waited for under `lock_timeout` (so waiters queue in order and
  nothing polls); released by the commit or rollback that ends the import.
- SQLite: `BEGIN IMMEDIATE` takes the database's single write lock, waited for under `busy_timeout`.

A waiter that runs out of time raises `ImportBusy`, whose message says another import is running and when to
retry; the CLI prints it and exits 75 (EX_TEMPFAIL), `POST /v1/imports` answers 409 with `Retry-After`.
"""

from __future__ import annotations

import math

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from readiness.db import SQLITE_BUSY_TIMEOUT_MS

IMPORT_LOCK = 7_416_002  # PostgreSQL advisory lock id: one import at a time per database


class ImportBusy(RuntimeError):
    """Another import holds the store's import lock longer than this one may wait."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"another import is running; retry in {retry_after_s} s")


def retry_after(wait_s: float) -> int:
    """What to tell a refused caller: the other import has already run at least as long as we waited."""
    return max(1, math.ceil(wait_s))


def acquire_import_lock(conn: Connection, wait_s: float) -> None:
    """Take the import lock as the first statement of the import's open transaction, or raise `ImportBusy`."""
    wait_ms = max(1, int(wait_s * 1000))
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA busy_timeout={wait_ms}")
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except OperationalError as exc:
            if "locked" not in str(exc.orig).lower():
                raise
            raise ImportBusy(retry_after(wait_s)) from None
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")  # the connection's usual wait
        return
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {wait_ms}")
    try:
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({IMPORT_LOCK})")
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        raise ImportBusy(retry_after(wait_s)) from None
    conn.exec_driver_sql("SET LOCAL lock_timeout = DEFAULT")


__all__ = ["IMPORT_LOCK", "ImportBusy", "acquire_import_lock", "retry_after"]
