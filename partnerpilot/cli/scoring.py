"""`partnerpilot score | rescore | call-list | grow-list | impact | backtest | calibrate`: readiness scoring from the
command line. Scores are shown through `readiness.presentation.shown_score` (rounded once), with the as-of date."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from partnerpilot.cli.common import AS_OF_HELP, console, fail, print_json, resolve_as_of, session
from readiness.errors import ReadinessError
from readiness.models import Partner
from readiness.presentation import as_of_text, shown_score
from readiness.scoring import (
    PartnerScore,
    backtest,
    calibrate,
    call_list,
    growth_list,
    list_counts,
    load_config,
    program_impact,
    refresh_snapshots,
    revenue_impact,
    score_all,
    score_partner,
)
from readiness.scoring.calibrate import fit_tiers
from readiness.scoring.plays import DORMANT_PLAYS


def score_json(s: PartnerScore) -> dict[str, Any]:
    """A score as JSON, every score field shown as people see it (rounded once)."""
    out = s.model_dump(mode="json")
    out["score"] = shown_score(s.score)
    for block in ("dimensions", "gtm"):
        for d in out[block]:
            d["score"] = shown_score(d["score"])
    return out


def _explain(s: PartnerScore) -> None:
    outlook = f" - {s.outlook}: {s.outlook_reason}" if s.outlook else ""
    console.print(f"[bold]{s.name}[/bold] ({s.partner_id}) {shown_score(s.score)} {s.tier} {s.segment}{outlook}  "
                  f"[dim]{as_of_text(s.as_of)}[/dim]")
    for d in s.dimensions + s.gtm:
        console.print(f"  {d.label}: {shown_score(d.score)} (weight {d.weight:g}, +{d.contribution:.1f})")
        for sub in d.subsignals:
            console.print(f"    - {sub.label}: value {sub.value:.2f}, +{sub.contribution:.1f}  "
                          f"[dim]{'; '.join(sub.evidence)}[/dim]")
        for note in d.adjustments:
            console.print(f"    * {note}")
    for f in s.dormant_flags:
        console.print(f"  [yellow]{f.label}[/yellow]: {'; '.join(f.evidence)}")
    for k, p in enumerate(s.plays):
        console.print(f"  [cyan]{'play' if k == 0 else 'also'}: {p.label}[/cyan] (strength {p.strength:.2f}): "
                      f"{'; '.join(p.evidence)}")
    if s.recent_engagement:
        console.print(f"  recent engagement: {'; '.join(s.recent_engagement)}")
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
        print_json(score_json(scores[0]) if partner_id else [score_json(x) for x in scores])
        return
    if explain or partner_id:
        for x in scores:
            _explain(x)
        return
    table = Table("partner", "name", "score", "tier", "segment", "outlook", "E", "R", "M", "C",
                  title=f"readiness {as_of_text(day)}")
    for x in scores:
        table.add_row(x.partner_id, x.name, str(shown_score(x.score)), x.tier, x.segment, x.outlook or "",
                      *(str(shown_score(d.score)) for d in x.dimensions))
    console.print(table)


def _book(s: Session, pam: str | None, all_: bool) -> list[str] | None:
    return None if all_ else list(s.scalars(select(Partner.partner_id).where(Partner.pam_id == pam)))


def _list_scope(pam: str | None, all_: bool, as_of: str | None) -> tuple[str | None, date]:
    """The PAM a list is for (None: the program) and its date; a clear error when neither is given."""
    if not pam and not all_:
        fail("give --pam ID or --all", 2)
    return (None if all_ else pam), resolve_as_of(as_of)


def call_list_cmd(
    pam: str | None = typer.Option(None, "--pam", help="The PAM whose book to list."),
    all_: bool = typer.Option(False, "--all", help="Program-wide (channel leaders)."),
    limit: int = typer.Option(10, "--limit", min=1),
    play: str | None = typer.Option(None, "--play", help=f"Only this primary play: {', '.join(DORMANT_PLAYS)}."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array, best first."),
    refresh: bool = typer.Option(False, "--refresh", help="Re-score the book's snapshots first (after an import)."),
) -> None:
    """Dormant partners worth calling, by play: each with its evidence, recent engagement and an opening line."""
    scope, day = _list_scope(pam, all_, as_of)
    try:
        with session() as s:
            if refresh:
                refresh_snapshots(s, day, _book(s, pam, all_))
            entries = call_list(s, day, scope, limit=limit, play=play)
            counts = list_counts(s, day, scope)
    except ReadinessError as exc:
        fail(str(exc), 2)
    if as_json:
        print_json(entries)
        return
    table = Table("#", "partner", "name", "readiness", "at stake", "play", "why now", "opener",
                  title=f"dormant call list {as_of_text(day)}")
    for e in entries:
        why = e.reasons[0] + (f" [dim](recent: {'; '.join(e.recent_engagement)})[/dim]" if e.recent_engagement else "")
        table.add_row(str(e.rank), e.partner_id, e.name, f"{e.readiness} ({e.tier})", f"{e.revenue_at_stake:,.0f}",
                      e.play, why, e.opener)
    console.print(table)
    console.print(f"{counts['dormant_total']} dormant partners in scope; {counts['grow_to_sourcing_count']} co-selling "
                  "partners to grow into sourcing: partnerpilot grow-list")


def grow_list_cmd(
    pam: str | None = typer.Option(None, "--pam", help="The PAM whose book to list."),
    all_: bool = typer.Option(False, "--all", help="Program-wide (channel leaders)."),
    limit: int = typer.Option(10, "--limit", min=1),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array, best first."),
) -> None:
    """Co-selling partners that never source: grow co-sell into sourcing (not dormant, a different play)."""
    scope, day = _list_scope(pam, all_, as_of)
    try:
        with session() as s:
            entries = growth_list(s, day, scope, limit=limit)
    except ReadinessError as exc:
        fail(str(exc), 2)
    if as_json:
        print_json(entries)
        return
    table = Table("#", "partner", "name", "readiness", "co-sold", "open influenced", "evidence", "next step",
                  title=f"grow co-sell into sourcing {as_of_text(day)}")
    for e in entries:
        table.add_row(str(e.rank), e.partner_id, e.name, f"{e.readiness} ({e.tier})", str(e.influenced_count),
                      f"{e.influenced_open:,.0f}", e.reasons[0], e.next_step)
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


def _tier_table(rows: list[Any], title: str) -> Table:
    table = Table("tier", "partners", "produced", "conversion", "share of producers", title=title)
    for r in rows:
        table.add_row(r.tier, str(r.partners), str(r.positives), f"{r.conversion:.1%}", f"{r.share_of_positives:.0%}")
    return table


def backtest_cmd(
    as_of: str = typer.Option(..., "--as-of", help="Score with data up to this date only."),
    horizon: int = typer.Option(90, "--horizon", min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Does the score predict new sourced pipeline in (as_of, as_of + horizon]? AUC and conversion per tier."""
    day = resolve_as_of(as_of)
    with session() as s:
        report = backtest(s, day, horizon)
    if as_json:
        print_json(report)
        return
    console.print(report.model_dump(exclude={"tiers"}))
    console.print(_tier_table(report.tiers, f"new sourced pipeline within {horizon} days of {day}, by tier"))


def calibrate_cmd(
    as_of: str = typer.Option(..., "--as-of", help=AS_OF_HELP),
    horizon: int = typer.Option(90, "--horizon", min=1),
    tiers: bool = typer.Option(False, "--tiers", help="Fit tier thresholds (not dimension weights)."),
    write: Path | None = typer.Option(None, "--write", help="Write the calibrated config YAML here."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Fit dimension weights (or, with --tiers, tier thresholds) on outcomes known by as_of; show the result."""
    day = resolve_as_of(as_of)
    if tiers:
        _calibrate_tiers(day, horizon, write, as_json)
        return
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


def _calibrate_tiers(day: date, horizon: int, write: Path | None, as_json: bool) -> None:
    cfg = load_config()
    try:
        with session() as s:
            fit = fit_tiers(s, day, horizon, cfg)
    except ValueError as exc:
        fail(str(exc), 2)
    if write is not None and fit.ordered:
        write.write_text(cfg.model_copy(update={"tiers": fit.tiers}).to_yaml(), encoding="utf-8")
    if as_json:
        print_json({**fit.model_dump(mode="json"), "written_to": str(write) if write and fit.ordered else None})
        return
    t = fit.tiers
    console.print(f"fitted tiers: Tier 1 >= {t.tier1:g}, Tier 2 >= {t.tier2:g}, Tier 3 >= {t.tier3:g} (scores as of "
                  f"{fit.fit_as_of}, {fit.positives} of {fit.partners} partners produced within {horizon} days)")
    console.print(_tier_table(fit.table, "conversion per fitted tier"))
    if not fit.ordered:
        fail("conversion rates are not strictly ordered by tier on this history; thresholds not written", 1)
    if write is not None:
        console.print(f"written to {write}")


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
    app.command("grow-list")(grow_list_cmd)
    app.command("impact")(impact)
    app.command("backtest")(backtest_cmd)
    app.command("calibrate")(calibrate_cmd)
