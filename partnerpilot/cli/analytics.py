"""`partnerpilot pipeline | lifecycle | program`: pipeline, lifecycle and program-health analytics."""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from partnerpilot.cli.common import AS_OF_HELP, console, fail, print_json, resolve_as_of, session
from readiness.lifecycle import program_lifecycle
from readiness.models import Pam, Partner
from readiness.pipeline import PipelineSummary, pipeline_summary
from readiness.program import program_health

PAM_HELP = "Only partners in this PAM's book."


def _scope(s: Session, pam: str | None, partner: str | None) -> list[str] | None:
    if partner:
        if s.get(Partner, partner) is None:
            fail(f"unknown partner {partner!r}", 2)
        return [partner]
    if pam:
        if s.get(Pam, pam) is None:
            fail(f"unknown PAM {pam!r}", 2)
        return list(s.scalars(select(Partner.partner_id).where(Partner.pam_id == pam)))
    return None


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def pipeline(
    pam: str | None = typer.Option(None, "--pam", help=PAM_HELP),
    partner: str | None = typer.Option(None, "--partner", help="Only this partner."),
    coverage_target: float = typer.Option(3.0, "--coverage-target", min=0.1, help="Target coverage multiple."),
    quota: float | None = typer.Option(None, "--quota", min=0.0, help="Quarterly sourced target (default: run-rate)."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Partner-sourced vs influenced pipeline, coverage, stage flow, stalled deals and the weekly forecast."""
    day = resolve_as_of(as_of)
    with session() as s:
        summary = pipeline_summary(s, day, _scope(s, pam, partner), coverage_target=coverage_target, quota=quota)
    if as_json:
        print_json(summary)
        return
    _print_pipeline(summary)


def _print_pipeline(p: PipelineSummary) -> None:
    scope = "whole program" if p.partners_in_scope is None else f"{p.partners_in_scope} partners"
    t = Table("", "amount", "count", title=f"Pipeline as of {p.as_of} ({scope}; {', '.join(p.currencies) or '-'})")
    for label, ac in (("open sourced", p.open_sourced), ("open influenced", p.open_influenced),
                      ("open, no partner role", p.open_unattributed),
                      (f"won sourced ({p.trailing_days}d)", p.won_sourced_trailing),
                      (f"won influenced ({p.trailing_days}d)", p.won_influenced_trailing)):
        t.add_row(label, _money(ac.amount), str(ac.count))
    console.print(t)
    cov = "-" if p.coverage_ratio is None else f"{p.coverage_ratio:.2f}x"
    console.print(f"coverage (next {p.coverage_window_days}d sourced / quarterly quota {_money(p.quota)}, "
                  f"{p.quota_basis}): [bold]{cov}[/bold] vs target {p.coverage_target:.1f}x; "
                  f"gap {_money(p.coverage_gap)}; sourced win rate {_pct(p.win_rate_sourced)}")
    st = Table("stage", "reached", "advanced", "conversion", "avg days", title="Stage flow (estimated)")
    for s in p.stages:
        avg = "-" if s.avg_days_in_stage is None else f"{s.avg_days_in_stage:.0f}"
        st.add_row(s.stage, str(s.reached), str(s.advanced), _pct(s.conversion_rate), avg)
    console.print(st)
    if p.stalled:
        sl = Table("opportunity", "partner", "stage", "attribution", "amount", "why",
                   title=f"{len(p.stalled)} stalled (sourced {_money(p.stalled_amount_sourced)})")
        for o in p.stalled[:15]:
            sl.add_row(o.opportunity_id, o.partner_id, o.stage, o.attribution, _money(o.amount), o.reason)
        console.print(sl)
    if p.forecast:
        ft = Table("week", "commit", "best case", "pipeline", "influenced", title="Forecast by close week (sourced)")
        for w in p.forecast:
            inf = w.influenced.commit + w.influenced.best_case + w.influenced.pipeline
            ft.add_row(w.week_start.isoformat(), _money(w.sourced.commit), _money(w.sourced.best_case),
                       _money(w.sourced.pipeline), _money(inf))
        console.print(ft)


def lifecycle(
    pam: str | None = typer.Option(None, "--pam", help=PAM_HELP),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Lifecycle stages, stage conversion, the bottleneck and partners stalled in a stage."""
    day = resolve_as_of(as_of)
    with session() as s:
        report = program_lifecycle(s, day, _scope(s, pam, None))
    if as_json:
        print_json(report)
        return
    t = Table("stage", "now", "reached", "to next", "median days", "stalled",
              title=f"Lifecycle of {report.partners} partners as of {report.as_of}")
    for st in report.stages:
        med = "-" if st.median_days_to_next is None else f"{st.median_days_to_next:.0f}"
        t.add_row(st.stage, str(st.current), str(st.reached), _pct(st.conversion_to_next), med, str(st.stalled))
    console.print(t)
    if report.bottleneck:
        console.print(f"bottleneck: [bold]{report.bottleneck}[/bold] ({report.bottleneck_reason})")
    for lc in report.stalled[:20]:
        console.print(f"  stalled {lc.partner_id}: {lc.stalled_reason} (since {lc.entered_on})")


def program(
    pam: str | None = typer.Option(None, "--pam", help=PAM_HELP),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Program health: time to first deal, enablement effect, churn risk, sourced revenue per partner and PAM."""
    day = resolve_as_of(as_of)
    with session() as s:
        h = program_health(s, day, _scope(s, pam, None))
    if as_json:
        print_json(h)
        return
    ttfd = "-" if h.time_to_first_deal_median_days is None else f"{h.time_to_first_deal_median_days:.0f} days"
    console.print(f"[bold]Program health[/bold] as of {h.as_of}: {h.partners} partners, {h.active_partners} active; "
                  f"median time to first deal {ttfd} ({h.partners_with_first_deal} partners)")
    console.print(f"sourced revenue ({h.trailing_days}d) {_money(h.sourced_revenue_trailing)}, "
                  f"{_money(h.sourced_revenue_per_partner)} per partner, "
                  f"{_money(h.sourced_revenue_per_productive_partner)} per productive partner; "
                  f"influenced {_money(h.influenced_revenue_trailing)} (not counted as sourced)")
    et = Table("enablement", "with", "produced", "without", "produced", "lift", title="Enablement vs sourced pipeline")
    for e in h.enablement:
        lift = "-" if e.lift is None else f"{e.lift:.2f}x"
        et.add_row(e.detail or f"any {e.kind}", str(e.with_partners), _pct(e.with_rate), str(e.without_partners),
                   _pct(e.without_rate), lift)
    console.print(et)
    pt = Table("PAM", "partners", "productive", "sourced revenue", "per partner", title="Sourced revenue by PAM")
    for r in h.per_pam:
        pt.add_row(r.name or r.pam_id or "(no PAM)", str(r.partners), str(r.productive_partners),
                   _money(r.sourced_revenue), _money(r.revenue_per_partner))
    console.print(pt)
    if h.churn_risk:
        console.print(f"[yellow]{len(h.churn_risk)} active partners at churn risk[/yellow] (engagement fell):")
        for c in h.churn_risk[:15]:
            console.print(
                f"  {c.partner_id} {c.name}: {c.events_prev_90} -> {c.events_last_90} events ({c.change:+.0%})"
            )


def register(app: typer.Typer) -> None:
    app.command("pipeline")(pipeline)
    app.command("lifecycle")(lifecycle)
    app.command("program")(program)
