"""`partnerpilot import DIR [--mapping salesforce|hubspot|FILE.yaml] [--json]`."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy import Engine, func, select

from partnerpilot.cli.common import console, engine, err_console, fail, print_json
from readiness.db import session_scope
from readiness.importers import ImportBusy, ImportReport, MappingMismatch, import_dataset, load_mapping
from readiness.models import ScoreSnapshot
from readiness.scoring.incremental import IncrementalReport
from readiness.settings import get_settings

SHOWN_QUARANTINE = 10
EX_TEMPFAIL = 75  # sysexits.h: a temporary failure, try again later (another import holds the lock)
_COLUMNS = ("inserted", "updated", "unchanged", "quarantined")


def _table(report: ImportReport) -> Table:
    table = Table("file", *_COLUMNS, title=f"import {report.run_id}")
    for name, counts in report.files.items():
        table.add_row(name, *(str(getattr(counts, c)) for c in _COLUMNS))
    table.add_section()
    table.add_row("[bold]total[/bold]", *(f"[bold]{getattr(report.total, c)}[/bold]" for c in _COLUMNS))
    return table


def _print_quarantine(report: ImportReport) -> None:
    if not report.total.quarantined:
        return
    table = Table("file", "row", "reason",
                  title=f"{report.total.quarantined} quarantined rows (first {SHOWN_QUARANTINE})")
    for entry in report.quarantine[:SHOWN_QUARANTINE]:
        table.add_row(entry.file, str(entry.row), entry.reason)
    console.print(table)
    console.print(f"all of them are in the store: quarantined_rows where import_run = '{report.run_id}'")


def import_command(
    folder: Path = typer.Argument(..., help="Folder with canonical CSV/JSON Lines files or CRM exports."),
    mapping: str | None = typer.Option(
        None, "--mapping", help="Column mapping for CRM exports: salesforce, hubspot or a YAML file."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    rescore: bool = typer.Option(True, "--rescore/--no-rescore",
                                 help="Re-score the partners the import changed (when scores for today are stored)."),
) -> None:
    """Import a dataset; bad rows are quarantined with reasons, good rows are upserted in one transaction; then
    only the partners whose data changed are re-scored."""
    if not folder.exists():
        fail(f"folder not found: {folder}", 2)
    if not folder.is_dir():
        fail(f"not a folder: {folder}", 2)
    if mapping is not None:
        try:
            load_mapping(mapping)  # fail early and clearly, before the store is touched
        except (FileNotFoundError, ValidationError, ValueError) as exc:
            fail(f"bad --mapping {mapping!r}: {exc}", 2)
    eng = engine()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        console=err_console, transient=True, disable=as_json or not err_console.is_terminal,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done)

        try:
            report = import_dataset(eng, folder, mapping=mapping, progress=progress)
        except MappingMismatch as exc:
            bar.stop()
            # The mapping to edit goes to stdout alone, so `... > my-mapping.yaml` saves it as it is.
            typer.echo(exc.yaml, nl=False)
            fail(f"{exc}\n(the mapping to edit is on standard output: redirect it to a file)", 2)
        except ImportBusy as exc:
            bar.stop()
            fail(f"{exc} (nothing was imported)", EX_TEMPFAIL)
    rescored = _after_import(eng, report) if rescore and report.usable else None
    if as_json:
        print_json({
            "run_id": report.run_id,
            "files": {name: counts.model_dump() for name, counts in report.files.items()},
            "total": report.total.model_dump(),
            "quarantined": [e.model_dump() for e in report.quarantine],
            "changed_partners": len(report.changed_partners),
            "rescore": rescored.model_dump(mode="json") if rescored else None,
        })
    else:
        console.print(_table(report))
        _print_quarantine(report)
        if rescored is not None:
            console.print(f"rescored {rescored.rescored:,} partners as of {rescored.as_of} in {rescored.seconds} s "
                          f"({rescored.mode}: {rescored.reason})")
    if not report.usable:
        reason = "no input files found" if not report.files else "every row was quarantined"
        fail(f"nothing usable was imported from {folder}: {reason}", 1)


def _after_import(eng: Engine, report: ImportReport) -> IncrementalReport | None:
    """A demo store's "today" moves to its newest data; scores stored for today are brought up to date for the
    partners the import changed (readiness.scoring.incremental). Without stored scores for today nothing is
    rescored here: the next call list or `partnerpilot rescore` scores everyone."""
    from readiness.dates import newest_data_date
    from readiness.scoring import clear_caches, rescore_changed

    clear_caches()
    settings = get_settings()
    with session_scope(eng) as s:
        demo = settings.demo_marker()
        newest = newest_data_date(s) if demo is not None else None
        if demo is not None and newest is not None and newest > demo.as_of:
            settings.mark_demo_store(demo.dataset, newest)
        as_of = settings.today()
        if not s.scalar(select(func.count()).select_from(ScoreSnapshot).where(ScoreSnapshot.as_of == as_of)):
            return None
        return rescore_changed(s, as_of, report.changed_partners, baselines_may_move=report.moves_baselines)


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)


__all__ = ["import_command", "register"]
