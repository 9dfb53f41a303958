"""`partnerpilot seed`: generate a synthetic partner program into the store or as canonical CSVs."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select

from partnerpilot.cli.common import AS_OF_HELP, console, engine, fail, print_json, resolve_as_of
from readiness.models import Partner
from readiness.seed import SeedSummary, generate_program, load_into_store, write_csv
from readiness.seed.plan import parse_mix
from readiness.settings import get_settings


def seed(
    partners: int = typer.Option(400, "--partners", min=1, help="Number of partners."),
    seed_value: int = typer.Option(42, "--seed", help="Random seed: same partners and seed, same output."),
    months: int = typer.Option(18, "--months", min=3, help="Months of activity ending at --as-of."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    out: Path | None = typer.Option(None, "--out", help="Write canonical CSVs (+ latent.csv) here, not the store."),
    events_per_partner: float | None = typer.Option(
        None, "--events-per-partner", min=1.0,
        help="Average engagement events per partner (default: realistic rates, about 30).",
    ),
    mix: str | None = typer.Option(
        None, "--mix", help="Archetype shares, e.g. producer=0.12,ready_dormant=0.2,influenced_only=0.1 (the rest "
        "dormant); archetypes: producer, emerging, ready_dormant, new, influenced_only, misaligned.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Generate a realistic synthetic partner program (deterministic)."""
    day = resolve_as_of(as_of)
    if out is None:
        eng = engine()
        with eng.connect() as conn:
            existing = conn.execute(select(func.count()).select_from(Partner)).scalar_one()
        if existing:
            fail(
                f"the store already holds {existing} partners; seed into a fresh store "
                "(point PARTNERPILOT_HOME or PARTNERPILOT_DATABASE_URL somewhere empty) or use --out DIR",
                2,
            )
    try:
        shares = parse_mix(mix) if mix else None
    except ValueError as exc:
        fail(str(exc), 2)
    started = time.perf_counter()
    program = generate_program(partners, seed_value, day, months, events_per_partner=events_per_partner,
                               shares=shares)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=as_json, disable=as_json) as bar:
        task = bar.add_task("partners", total=partners)

        def progress(_step: str, done: int, _total: int) -> None:
            bar.update(task, completed=done)

        summary = write_csv(program, out, progress) if out else load_into_store(engine(), program, progress)
    settings = get_settings()
    if out is None and engine().url.render_as_string(hide_password=False) == settings.resolved_database_url:
        # Synthetic data stops on its as-of date: "today" for this store is that date (Settings.today). The marker
        # lives under PARTNERPILOT_HOME, so only the store configured there is marked.
        settings.mark_demo_store(f"synthetic program (seed {seed_value}, {partners} partners)", day)
    elapsed = time.perf_counter() - started
    if as_json:
        print_json({**summary.model_dump(), "seconds": round(elapsed, 2)})
        return
    _print_summary(summary, elapsed)


def _print_summary(s: SeedSummary, elapsed: float) -> None:
    where = s.out_dir or "the store"
    console.print(
        f"seeded {where}: [bold]{s.partners:,}[/bold] partners, {s.pams} PAMs, {s.events:,} events, "
        f"{s.opportunities:,} opportunities ({s.sourced_opportunities:,} sourced, "
        f"{s.influenced_opportunities:,} influenced); {s.zero_revenue_share:.0%} of partners with zero sourced "
        f"revenue; {elapsed:.1f}s"
    )


def register(app: typer.Typer) -> None:
    app.command("seed")(seed)
