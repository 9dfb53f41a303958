"""`partnerpilot threads prune`: apply conversation retention to the whole checkpointer (the server applies it to a
thread after each of its turns, and deletes idle threads at most hourly)."""

from __future__ import annotations

import typer

from partnerpilot.cli.common import console, engine, print_json

threads_app = typer.Typer(help="Conversation threads: retention.", no_args_is_help=True)


@threads_app.command("prune")
def threads_prune(
    keep: int | None = typer.Option(None, "--keep", min=1, help="Checkpoints kept per thread (default "
                                    "PARTNERPILOT_CHECKPOINT_KEEP)."),
    days: int | None = typer.Option(None, "--days", min=0, help="Delete threads idle longer than this; 0 keeps "
                                    "them (default PARTNERPILOT_THREAD_RETENTION_DAYS)."),
    vacuum: bool = typer.Option(False, "--vacuum", help="SQLite: give the freed space back to the disk (locks the "
                                "file while it runs)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Index threads written before the listing table, delete idle threads, keep the newest checkpoints of the rest."""
    from agent.checkpointer import Keeping, prune_all
    from agent.memory import open_checkpointer
    from agent.services import configure
    from readiness.settings import get_settings

    settings = get_settings()
    keeping = Keeping(keep=keep or settings.checkpoint_keep,
                      retention_days=settings.thread_retention_days if days is None else days)
    store = engine()
    configure(store)
    with open_checkpointer(settings) as saver:
        report = prune_all(saver, store, keeping, vacuum=vacuum)
    if as_json:
        print_json(report)
        return
    console.print(f"{report.threads} threads: {report.deleted_threads} deleted (idle over "
                  f"{keeping.retention_days or '∞'} days), {report.indexed} newly listed; checkpoints "
                  f"{report.checkpoints_before} → {report.checkpoints_after} (keep {keeping.keep} per thread)")


def register(app: typer.Typer) -> None:
    app.add_typer(threads_app, name="threads")
