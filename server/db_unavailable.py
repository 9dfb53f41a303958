"""The database cannot be reached (stopped, restarting, network cut, pool exhausted): the request gets 503 with a
clear JSON message and `Retry-After`, not a 500 with a traceback in the log as if it were a bug.

The same request succeeds again, without restarting the server, once the database is back: the store's SQLAlchemy
pool pings a connection before handing it out (`pool_pre_ping`) and the checkpointer's psycopg pool checks each one
(`ConnectionPool.check_connection`), so connections broken by the outage are replaced rather than reused.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from readiness.settings import get_settings
from server.errors import error_response

log = structlog.get_logger("partnerpilot.server")


def unavailable_errors() -> tuple[type[Exception], ...]:
    """Connection-level failures of the store (SQLAlchemy, any driver) and of the PostgreSQL checkpointer (psycopg
    and its pool, which LangGraph lets through unwrapped)."""
    found: list[type[Exception]] = [sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError]
    try:
        import psycopg
        import psycopg_pool

        found += [psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout]
    except ImportError:  # SQLite-only installs
        pass
    return tuple(found)


def install_unavailable_handler(app: FastAPI) -> None:
    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        # No driver message to the client: it can name hosts, users and SQL.
        log.warning("database_unavailable", path=request.url.path, error=type(exc).__name__,
                    detail=str(exc).splitlines()[0][:200] if str(exc) else "")
        retry = get_settings().db_unavailable_retry_after_s
        return error_response(status.HTTP_503_SERVICE_UNAVAILABLE,
                              f"the database is unavailable right now; retry in {retry} s",
                              headers={"Retry-After": str(retry)})

    for kind in unavailable_errors():
        app.add_exception_handler(kind, unavailable)


__all__ = ["install_unavailable_handler", "unavailable_errors"]
