"""Engine and session factories; schema creation through Alembic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from readiness.dataversion import install as install_data_version
from readiness.settings import Settings, get_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 7_416_000  # PostgreSQL advisory lock id serialising migrations across processes
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    # WAL lets readers (agent, server) proceed while an import writes; busy_timeout serialises writers.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


def make_engine(url: str | None = None, settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    url = url or settings.resolved_database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        install_data_version(engine)
        return engine
    # pool_pre_ping replaces connections a database restart broke; the timeouts make an unreachable database a
    # quick 503 (server.db_unavailable) rather than a request hanging for the driver's defaults.
    timeout = settings.db_pool_timeout_s
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, pool_timeout=timeout,
                           connect_args={"connect_timeout": max(2, round(timeout))})
    install_data_version(engine)  # every commit that changes the store moves its data version (caches key on it)
    return engine


def init_db(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Workers starting together migrate one at a time (released when this transaction ends).
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


_factories: WeakKeyDictionary[Engine, sessionmaker[Session]] = WeakKeyDictionary()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """One sessionmaker per engine: a new one per session set up SQLAlchemy's event dispatch again each time, a
    measurable share of a short request's CPU."""
    factory = _factories.get(engine)
    if factory is None:
        factory = _factories.setdefault(engine, sessionmaker(engine, expire_on_commit=False))
    return factory


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A transaction: committed when the block ends, rolled back on any error."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
