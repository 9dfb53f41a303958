"""`partnerpilot diagnose | plan show|create|claim|confirm | signals add|list|review`; the nudges listing here is
served as `partnerpilot nudges` by partnerpilot.cli.nudges (with `nudges send`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from partnerpilot.cli.common import AS_OF_HELP, console, fail, print_json, resolve_as_of, session
from readiness.errors import ReadinessError
from readiness.gtm import Diagnosis, diagnose
from readiness.nudges import nudges_due
from readiness.plans import PlanView, claim_milestone, confirm_milestone, get_or_create_plan, plan_status
from readiness.presentation import shown_score
from readiness.signals import SignalIn, SignalOut, record_signal, review_signal, signal_history

plan_app = typer.Typer(help="30/60/90-day activation plans.", no_args_is_help=True)
signals_app = typer.Typer(help="Readiness signals: record, list, review.", no_args_is_help=True)

JSON_HELP = "Print JSON."
_STATUS_STYLE = {"done": "green", "claimed": "cyan", "overdue": "red", "stalled": "yellow", "skipped": "dim",
                 "open": "white", "strong": "green", "partial": "yellow", "missing": "red"}


@contextmanager
def _store() -> Iterator[Session]:
    """A session whose domain errors become a clean CLI error instead of a traceback."""
    try:
        with session() as s:
            yield s
    except ReadinessError as exc:
        fail(str(exc), 2)


def _styled(status: str) -> str:
    return f"[{_STATUS_STYLE.get(status, 'white')}]{status}[/]"


# ---------- diagnose ----------


def diagnose_cmd(
    partner_id: str = typer.Argument(..., help="Partner id."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Diagnose a partner's GTM gaps (ICP, use case, sales motion, delivery, communication, AE engagement)."""
    day = resolve_as_of(as_of)
    with _store() as s:
        d = diagnose(s, partner_id, day)
    if as_json:
        print_json(d)
        return
    _print_diagnosis(d)


def _print_diagnosis(d: Diagnosis) -> None:
    t = Table("dimension", "status", "conf.", "evidence", "missing", "playbooks",
              title=f"GTM diagnosis: {d.name} ({d.partner_id}) as of {d.as_of}, phase {d.phase}")
    for a in d.assessments:
        t.add_row(a.label, _styled(a.status), f"{a.confidence:.2f}", "\n".join(a.evidence),
                  "\n".join(a.missing_elements), "\n".join(p.id for p in a.playbooks))
    console.print(t)
    console.print(d.summary)


# ---------- plans ----------


def _print_plan(v: PlanView) -> None:
    t = Table("key", "phase", "status", "due", "acceptance", "evidence / next step",
              title=f"Activation plan #{v.plan_id} for {v.partner_id}: started {v.started_on}, "
                    f"progress {v.progress} as of {v.as_of}")
    for m in v.milestones:
        detail = m.reason or (m.evidence[0] if m.status == "done" and m.evidence else m.next_step)
        t.add_row(m.key, str(m.phase), _styled(m.status), str(m.due_on), m.acceptance, detail)
    console.print(t)
    if v.next_milestone:
        console.print(f"next: [bold]{v.next_milestone.title}[/bold] — {v.next_milestone.next_step}")


@plan_app.command("show")
def plan_show(
    partner_id: str = typer.Argument(..., help="Partner id."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show the active plan with each milestone's status recomputed from evidence."""
    day = resolve_as_of(as_of)
    with _store() as s:
        v = plan_status(s, partner_id, day)
    print_json(v) if as_json else _print_plan(v)


@plan_app.command("create")
def plan_create(
    partner_id: str = typer.Argument(..., help="Partner id."),
    actor: str = typer.Option("cli", "--actor", help="Who creates it (audited)."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Create a plan starting on as_of, tailored to the partner's gaps (returns the active one if it exists)."""
    day = resolve_as_of(as_of)
    with _store() as s:
        v = get_or_create_plan(s, partner_id, day, actor)
    print_json(v) if as_json else _print_plan(v)


@plan_app.command("claim")
def plan_claim(
    partner_id: str = typer.Argument(..., help="Partner id."),
    milestone: str = typer.Argument(..., help="Milestone key (or a loose reference to its title)."),
    actor: str = typer.Option(..., "--actor", help="Who claims it."),
    note: str | None = typer.Option(None, "--note", help="What was done."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Record the partner's claim that a milestone is done (waits for evidence or PAM confirmation)."""
    day = resolve_as_of(as_of)
    with _store() as s:
        m = claim_milestone(s, partner_id, milestone, actor, day, note=note)
    print_json(m) if as_json else console.print(f"{m.key}: {_styled(m.status)} — {m.next_step}")


@plan_app.command("confirm")
def plan_confirm(
    partner_id: str = typer.Argument(..., help="Partner id."),
    milestone: str = typer.Argument(..., help="Milestone key (or a loose reference to its title)."),
    actor: str = typer.Option(..., "--actor", help="The partner's PAM id."),
    reject: bool = typer.Option(False, "--reject", help="Reject the partner's claim instead."),
    note: str | None = typer.Option(None, "--note", help="Why."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """A PAM confirms a milestone (or rejects a claim)."""
    day = resolve_as_of(as_of)
    with _store() as s:
        m = confirm_milestone(s, partner_id, milestone, actor, day, "reject" if reject else "confirm", note=note)
    print_json(m) if as_json else console.print(f"{m.key}: {_styled(m.status)}")


# ---------- signals ----------


def _print_signals(rows: list[SignalOut]) -> None:
    t = Table("id", "dimension", "level", "value", "status", "source", "actor", "supersedes", "evidence")
    for r in rows:
        t.add_row(str(r.id), r.dimension, r.level or "-", "-" if r.value is None else f"{r.value:g}", r.status,
                  r.source, r.actor, str(r.supersedes_id or ""), r.evidence or "")
    console.print(t)


@signals_app.command("add")
def signals_add(
    partner_id: str = typer.Argument(..., help="Partner id."),
    dimension: str = typer.Option(..., "--dimension", help="engagement, revenue_potential, ..., icp, use_case, ..."),
    level: str | None = typer.Option(None, "--level", help="low | medium | high"),
    value: float | None = typer.Option(None, "--value", help="0-100"),
    evidence: str = typer.Option(..., "--evidence", help="What supports it."),
    source: str = typer.Option(..., "--source", help="partner | pam | agent | import"),
    actor: str = typer.Option(..., "--actor", help="Who reports it."),
    key: str | None = typer.Option(None, "--key", help="Idempotency key: the same key records once."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Record a readiness signal (append-only, audited) and rescore the partner."""
    if level is None and value is None:
        fail("give --level or --value", 2)
    day = resolve_as_of(as_of)
    with _store() as s:
        out = record_signal(s, SignalIn(partner_id=partner_id, dimension=dimension, level=level, value=value,
                                        evidence=evidence, source=source, actor=actor, idempotency_key=key), day)
    if as_json:
        print_json(out)
        return
    state = "recorded" if out.created else "already recorded (same key)"
    score = f"; score now {shown_score(out.score)} ({out.tier})" if out.score is not None else ""
    console.print(f"signal #{out.id} {state}: {out.dimension} status {out.status}{score}")


@signals_app.command("list")
def signals_list(
    partner_id: str = typer.Argument(..., help="Partner id."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Every signal of a partner, with the reviews that supersede them."""
    with _store() as s:
        rows = signal_history(s, partner_id)
    print_json(rows) if as_json else _print_signals(rows)


@signals_app.command("review")
def signals_review(
    signal_id: int = typer.Argument(..., help="Signal id."),
    actor: str = typer.Option(..., "--actor", help="The partner's PAM id."),
    decision: str = typer.Option(..., "--decision", help="confirm | reject | override"),
    value: float | None = typer.Option(None, "--value", help="Corrected value (override)."),
    level: str | None = typer.Option(None, "--level", help="Corrected level (override)."),
    note: str | None = typer.Option(None, "--note", help="Why."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """A PAM confirms, rejects or overrides a signal (a new row that supersedes it)."""
    day = resolve_as_of(as_of)
    with _store() as s:
        out = review_signal(s, signal_id, actor, decision, value=value, level=level, note=note,  # type: ignore[arg-type]
                            as_of=day)
    print_json(out) if as_json else console.print(f"signal #{out.id}: {out.status} (supersedes #{out.supersedes_id})")


# ---------- nudges ----------


def nudges_cmd(
    pam: str | None = typer.Option(None, "--pam", help="Only partners in this PAM's book."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Nudges due: stalled milestones, no login, deals without an AE, certified but not selling."""
    day = resolve_as_of(as_of)
    with _store() as s:
        rows = nudges_due(s, day, pam_id=pam)
    if as_json:
        print_json(rows)
        return
    t = Table("partner", "to", "code", "since", "reason", "next step", title=f"{len(rows)} nudges as of {day}")
    for n in rows:
        t.add_row(f"{n.name} ({n.partner_id})", n.audience, n.code, str(n.due_since), n.reason, n.next_step)
    console.print(t)


def register(app: typer.Typer) -> None:
    app.command("diagnose")(diagnose_cmd)
    app.add_typer(plan_app, name="plan")
    app.add_typer(signals_app, name="signals")
