"""`partnerpilot score | rescore | call-list | impact | backtest | calibrate`: readiness scoring from the command
line."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import select

from partnerpilot.cli.common import AS_OF_HELP, console, fail, print_json, resolve_as_of, session
from readiness.errors import ReadinessError
from readiness.models import Partner
from readiness.scoring import (
    PartnerScore,
    backtest,
    calibrate,
    call_list,
    program_impact,
    refresh_snapshots,
    revenue_impact,
    score_all,
    score_partner,
)


def _explain(s: PartnerScore) -> None:
    console.print(f"[bold]{s.name}[/bold] ({s.partner_id}) {s.score:.1f} {s.tier} {s.segment}"
                  + (f" - {s.outlook}: {s.outlook_reason}" if s.outlook else ""))
    for d in s.dimensions + s.gtm:
        console.print(f"  {d.label}: {d.score:.1f} (weight {d.weight:g}, +{d.contribution:.1f})")
        for sub in d.subsignals:
            console.print(f"    - {sub.label}: value {sub.value:.2f}, +{sub.contribution:.1f}  "
                          f"[dim]{'; '.join(sub.evidence)}[/dim]")
        for note in d.adjustments:
            console.print(f"    * {note}")
    for f in s.dormant_flags:
        console.print(f"  [yellow]{f.label}[/yellow]: {'; '.join(f.evidence)}")
    console.print(f"  momentum 30d {s.momentum_30}, 90d {s.momentum_90}")


def score(
    partner_id: str | None = typer.Argument(None, help="One partner id; omit for all (or --pam)."),
    pam: str | None = typer.Option(None, "--pam", help="Only this PAM's book."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    explain: bool = typer.Option(False, "--explain", help="Show every sub-signal with its evidence."),
) -> None:
    """Readiness score (0-100), tier, segment and dimension breakdown."""
    day = resolve_as_of(as_of)
    try:
        with session() as s:
            if partner_id:
                scores = [score_partner(s, partner_id, day)]
            else:
                ids = None
                if pam:
                    ids = list(s.scalars(select(Partner.partner_id).where(Partner.pam_id == pam)))
                    if not ids:
                        fail(f"no partners for PAM {pam!r}", 2)
                scores = sorted(score_all(s, day, ids), key=lambda x: -x.score)
    except ReadinessError as exc:
        fail(str(exc), 2)
    if as_json:
        print_json(scores[0] if partner_id else scores)
        return
    if explain or partner_id:
        for x in scores:
            _explain(x)
        return
    table = Table("partner", "name", "score", "tier", "segment", "outlook", "E", "R", "M", "C")
    for x in scores:
        table.add_row(x.partner_id, x.name, f"{x.score:.1f}", x.tier, x.segment, x.outlook or "",
                      *(f"{d.score:.0f}" for d in x.dimensions))
    console.print(table)


def call_list_cmd(
    pam: str | None = typer.Option(None, "--pam", help="The PAM whose book to list."),
    all_: bool = typer.Option(False, "--all", help="Program-wide (channel leaders)."),
    limit: int = typer.Option(10, "--limit", min=1),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array, best first."),
    refresh: bool = typer.Option(False, "--refresh", help="Re-score the book's snapshots first (after an import)."),
) -> None:
    """Dormant partners worth calling, ranked by revenue at stake and readiness."""
    if not pam and not all_:
        fail("give --pam ID or --all", 2)
    day = resolve_as_of(as_of)
    try:
        with session() as s:
            if refresh:
                book = None if all_ else list(s.scalars(select(Partner.partner_id).where(Partner.pam_id == pam)))
                refresh_snapshots(s, day, book)
            entries = call_list(s, day, None if all_ else pam, limit=limit)
    except ReadinessError as exc:
        fail(str(exc), 2)
    if as_json:
        print_json(entries)
        return
    table = Table("#", "partner", "name", "readiness", "at stake", "open with", "why now")
    for e in entries:
        table.add_row(str(e.rank), e.partner_id, e.name, f"{e.readiness:.0f}", f"{e.revenue_at_stake:,.0f}",
                      e.open_with_gap, e.reasons[0] if e.reasons else "")
    console.print(table)


def impact(
    partner_id: str | None = typer.Argument(None, help="One partner; omit for the program."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    share: float = typer.Option(0.2, "--share", min=0.0, max=1.0, help="Activation share for the program lift."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Revenue at stake: expected upside, cost of inaction, activation ROI (every figure traced)."""
    day = resolve_as_of(as_of)
    try:
        with session() as s:
            result = revenue_impact(s, partner_id, day) if partner_id else program_impact(s, day, share)
    except ReadinessError as exc:
        fail(str(exc), 2)
    if as_json:
        print_json(result)
        return
    for k, v in result.model_dump(exclude={"trace"}).items():
        console.print(f"{k}: {v}")
    for line in result.trace:
        console.print(f"  [dim]{line}[/dim]")


def backtest_cmd(
    as_of: str = typer.Option(..., "--as-of", help="Score with data up to this date only."),
    horizon: int = typer.Option(90, "--horizon", min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Does the score predict new sourced pipeline in (as_of, as_of + horizon]?"""
    day = resolve_as_of(as_of)
    with session() as s:
        report = backtest(s, day, horizon)
    if as_json:
        print_json(report)
        return
    console.print(report.model_dump())


def calibrate_cmd(
    as_of: str = typer.Option(..., "--as-of", help=AS_OF_HELP),
    horizon: int = typer.Option(90, "--horizon", min=1),
    write: Path | None = typer.Option(None, "--write", help="Write the calibrated config YAML here."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Fit dimension weights on outcomes known by as_of; show the backtest before and after."""
    day = resolve_as_of(as_of)
    with session() as s:
        report = calibrate(s, day, horizon, write=write)
    if as_json:
        print_json(report)
        return
    console.print(f"fitted weights: {report.fitted_weights}  (fit on {report.fit_partners} partners as of "
                  f"{report.fit_as_of}, {report.fit_positives} positives)")
    console.print(f"AUC before {report.before.auc}, after {report.after.auc}")
    if report.note:
        console.print(report.note)
    if report.written_to:
        console.print(f"written to {report.written_to}")


def rescore(
    pam: str | None = typer.Option(None, "--pam", help="Only this PAM's book; default the whole program."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Re-score every partner (or a book) and store the snapshots: the job to run after each import."""
    day = resolve_as_of(as_of)
    started = time.perf_counter()
    try:
        with session() as s:
            ids = None
            if pam is not None:
                ids = list(s.scalars(select(Partner.partner_id).where(Partner.pam_id == pam)))
                if not ids:
                    fail(f"no partners in the book of {pam!r}", 2)
            n = refresh_snapshots(s, day, ids)
    except ReadinessError as exc:
        fail(str(exc), 2)
    summary = {"as_of": day, "pam": pam, "partners": n, "seconds": round(time.perf_counter() - started, 2)}
    if as_json:
        print_json(summary)
        return
    console.print(f"rescored {n:,} partners as of {day} in {summary['seconds']} s; snapshots stored")


def register(app: typer.Typer) -> None:
    app.command("score")(score)
    app.command("rescore")(rescore)
    app.command("call-list")(call_list_cmd)
    app.command("impact")(impact)
    app.command("backtest")(backtest_cmd)
    app.command("calibrate")(calibrate_cmd)
