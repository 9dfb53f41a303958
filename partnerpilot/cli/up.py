"""`partnerpilot up`: everything `make run` needs — a store with data, a knowledge index, the server.

On an empty store it imports the sample ecosystem (evals/datasets/lumenware) so there is something to talk about.
Sample data ends on a fixed date, so the store is marked as a demo store under PARTNERPILOT_HOME: the one "today"
rule (`Settings.today`) then computes as of the sample's newest date unless PARTNERPILOT_AS_OF is set, for the
server, the terminal chat and every CLI command alike.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import typer
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from partnerpilot.cli.common import console, fail
from readiness.dates import newest_data_date
from readiness.db import init_db, make_engine, session_scope
from readiness.models import Partner
from readiness.settings import DEMO_MARKER, Settings, get_settings
from server.schemas import PrincipalOption

# The checkout's sample ecosystem (`make run` runs from the checkout).
SAMPLE_DATASET = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "lumenware"
SAMPLE_MARKER = DEMO_MARKER
WORKER_HEALTHCHECK_S = 30
KEEP_ALIVE_S = 30


class BootstrapReport(BaseModel):
    store_url: str
    partners: int
    imported_sample: bool  # imported by this run
    sample_as_of: date | None  # the sample's latest activity date, when the store holds the sample
    index_chunks: int
    index_embedded: int  # chunks embedded by this run (0: the index was already in place)
    logins: list[PrincipalOption]


def _newest_date(engine_url: str) -> date | None:
    engine = make_engine(engine_url)
    try:
        with session_scope(engine) as s:
            return newest_data_date(s)
    finally:
        engine.dispose()


def bootstrap(settings: Settings, dataset: Path = SAMPLE_DATASET, build_knowledge: bool = True) -> BootstrapReport:
    """Migrate the store, import the sample when it has no partners, bring the knowledge index up to date."""
    from readiness.importers import import_dataset
    from server.demo import demo_principals

    settings.home.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    engine = make_engine(url)
    try:
        init_db(engine)
        with session_scope(engine) as s:
            partners = int(s.scalar(select(func.count()).select_from(Partner)) or 0)
        imported = False
        if partners == 0:
            import_dataset(engine, dataset)
            imported = True
            with session_scope(engine) as s:
                partners = int(s.scalar(select(func.count()).select_from(Partner)) or 0)
        with session_scope(engine) as s:
            logins = demo_principals(s)
    finally:
        engine.dispose()

    sample_as_of: date | None = None
    if imported:
        sample_as_of = _newest_date(url)
        if sample_as_of is not None:
            settings.mark_demo_store(dataset.name, sample_as_of)
    elif (marker := settings.demo_marker()) is not None:
        sample_as_of = marker.as_of

    chunks = embedded = 0
    if build_knowledge:
        from knowledge.index import build_index

        report = build_index(settings=settings)  # incremental: only missing or changed chunks are embedded
        chunks, embedded = report.chunks, report.added + report.updated
    return BootstrapReport(store_url=make_url(url).render_as_string(hide_password=True), partners=partners,
                           imported_sample=imported, sample_as_of=sample_as_of, index_chunks=chunks,
                           index_embedded=embedded, logins=logins)


def check_deployment(settings: Settings, workers: int) -> None:
    """Refuse a configuration that cannot hold across workers, with what to set instead."""
    from agent.memory import is_postgres_url
    from server.shared import SharedUnavailable, shared_state

    if workers > 1 and not is_postgres_url(settings.resolved_database_url):
        fail("--workers above 1 needs PostgreSQL, the store and conversation checkpoints every worker shares: set "
             "PARTNERPILOT_DATABASE_URL=postgresql+psycopg://USER@HOST:5432/DB")
    if workers > 1 and not settings.redis_url:
        fail("--workers above 1 needs Redis for rate limits and revocations shared by the workers: set "
             "PARTNERPILOT_REDIS_URL=redis://127.0.0.1:6379/0")
    if settings.redis_url:
        try:
            shared_state(settings.redis_url).ping()
        except SharedUnavailable as exc:
            fail(str(exc))


def up(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, max=64,
                                help="Server processes; above 1 needs PostgreSQL and Redis."),
) -> None:
    """Prepare the store and knowledge index, then serve the API and web chat (what `make run` runs)."""
    import secrets

    import uvicorn

    from readiness.keys import active_keys_exist
    from server.demo import demo_state

    # Every worker reads these from its environment: where it listens (demo login depends on it) and one demo-token
    # key for all of them (a token issued by one worker must verify on another).
    os.environ["PARTNERPILOT_HOST"] = host
    os.environ.setdefault("PARTNERPILOT_SECRET_KEY", secrets.token_urlsafe(32))
    get_settings.cache_clear()
    settings = get_settings()
    check_deployment(settings, workers)
    console.print("[dim]preparing the store and the knowledge index (the first run embeds the playbooks)…[/dim]")
    try:
        report = bootstrap(settings)
    except Exception as exc:
        fail(f"could not prepare PartnerPilot: {exc}")
    console.print(f"store: {report.store_url} ({report.partners} partners)")
    if report.imported_sample:
        console.print(f"imported the sample ecosystem from {SAMPLE_DATASET}")
    console.print(f"as of: {settings.today().isoformat()} ({settings.today_source()})")
    console.print(f"knowledge index: {report.index_chunks} chunks"
                  + (f" ({report.index_embedded} embedded now)" if report.index_embedded else ""))

    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}/"
    console.print(f"\n[bold]PartnerPilot is starting at {url}[/bold] ({workers} worker{'s' if workers > 1 else ''})")
    console.print(f"REST API: {url}v1 (OpenAPI: {url}docs); readiness: {url}readyz")
    engine = make_engine(settings.resolved_database_url)
    try:
        with session_scope(engine) as s:
            demo = demo_state(get_settings(), active_keys_exist(s))
    finally:
        engine.dispose()
    if demo.enabled:
        console.print(f"Demo login is on ({demo.reason}). Pick one on the page, or POST /login {{\"as\": \"…\"}}:")
        for option in report.logins:
            console.print(f"  {option.as_:<18} {option.label}", highlight=False)
    else:
        console.print(f"Demo login is off: {demo.reason}. Create a key: partnerpilot keys create --pam ID")
    console.print("Terminal chat: partnerpilot chat --as pam:ID | partner:ID\n")
    # The supervisor restarts a worker that does not answer its ping in time; on a busy machine a worker busy with
    # turns can take longer than uvicorn's 5 s default to answer, and a restart drops its streams.
    # Chat clients pause between a reply and their next message: keep their connections longer than uvicorn's 5 s,
    # which a busy server can let lapse just as the client reuses the connection (a reset POST).
    uvicorn.run("server.app:app", host=host, port=port, workers=workers, log_level="warning",
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_S, timeout_keep_alive=KEEP_ALIVE_S)


def register(app: typer.Typer) -> None:
    app.command("up")(up)


__all__ = ["BootstrapReport", "bootstrap", "check_deployment", "register", "up"]
