"""Book and program tools for PAMs and leaders: list and count partners by a property, the health of the book or
program, and two or three partners side by side. Thin wrappers over `readiness/` (score snapshots, lifecycle,
program health, GTM diagnosis); a PAM sees its book, a leader the whole program."""

from __future__ import annotations

from datetime import date
from typing import Any

from langchain.tools import tool
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.tools.base import Runtime, context_of, guarded, ok, services_session, subject
from agent.tools.read_cache import read_through
from readiness.errors import OutOfScope, ValidationFailed
from readiness.models import Partner, ScoreSnapshot
from readiness.scope import visible_partner_ids

SEGMENTS = ("active", "ready", "developing", "inactive", "dormant")
OUTLOOKS = ("not_yet", "not_ever")
STAGES = ("prospect", "signed", "onboarding", "activated", "productive")


def _book(runtime: Runtime) -> tuple[Any, list[str], str]:
    ctx = context_of(runtime)
    if ctx.role == "partner":
        raise OutOfScope("Book and program views are for partner account managers and channel leaders.")
    with services_session() as s:
        ids = visible_partner_ids(s, ctx.principal)
    return ctx, ids, "your book" if ctx.role == "pam" else "the program"


def snapshot_rows(session: Session, as_of: date, ids: list[str], pam_id: str | None) -> list[ScoreSnapshot]:
    """Score snapshots of these partners as of the date, refreshed first when any is missing."""
    from readiness.scoring import refresh_snapshots
    from readiness.scoring.snapshots import missing_snapshots

    if missing_snapshots(session, as_of, pam_id) > 0:
        refresh_snapshots(session, as_of, ids if pam_id is not None else None)
    rows: list[ScoreSnapshot] = []
    for k in range(0, len(ids), 5000):
        rows += session.scalars(select(ScoreSnapshot).where(ScoreSnapshot.as_of == as_of,
                                                            ScoreSnapshot.partner_id.in_(ids[k : k + 5000])))
    return rows


def is_dormant(row: ScoreSnapshot) -> bool:
    """A partner whose primary play is a dormant one: the call list's definition, so counts agree everywhere."""
    from readiness.scoring.plays import DORMANT_PLAYS

    return row.play in DORMANT_PLAYS


def _outlook(row: ScoreSnapshot) -> str:
    return str((row.dimensions or {}).get("outlook") or "")


@tool
@read_through
@guarded
def list_partners(runtime: Runtime, segment: str = "", outlook: str = "", tier: int = 0, stage: str = "",
                  stalled: bool = False, limit: int = 10) -> str:
    """Count/list partners by segment (active|ready|developing|inactive|dormant), outlook (not_yet|not_ever),
    tier 1-4, stage (prospect|signed|onboarding|activated|productive), stalled. `total`: all matches."""
    from readiness.lifecycle import LifecycleFacts

    ctx, ids, scope = _book(runtime)
    limit = max(1, min(int(limit), 50))
    # Empty (the defaults) means any: a short schema for the model, no filter for the book.
    checks = (("segment", segment, SEGMENTS), ("outlook", outlook, OUTLOOKS), ("stage", stage, STAGES))
    for name, value, valid in checks:
        if value and value not in valid:
            raise ValidationFailed(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
    with services_session() as s:
        rows = snapshot_rows(s, ctx.as_of, ids, ctx.principal_id if ctx.role == "pam" else None)
        names = dict(s.execute(select(Partner.partner_id, Partner.name)
                               .where(Partner.partner_id.in_([r.partner_id for r in rows]))).all())
        facts = LifecycleFacts(s, ctx.as_of, [r.partner_id for r in rows])
        lifecycles = {r.partner_id: facts.lifecycle(r.partner_id) for r in rows}
    matched = []
    for r in rows:
        lc = lifecycles[r.partner_id]
        if segment == "dormant" and not is_dormant(r):
            continue
        if segment not in ("", "dormant") and r.segment != segment:
            continue
        if outlook and _outlook(r) != outlook:
            continue
        if tier and r.tier != f"Tier {tier}":
            continue
        if stage and lc.stage != stage:
            continue
        if stalled and not lc.stalled:
            continue
        matched.append((r, lc))
    by_stage = bool(stage) or stalled
    matched.sort(key=lambda x: (-(x[1].days_in_stage or 0), x[0].partner_id) if by_stage
                 else (-x[0].score, x[0].partner_id))
    filters = {k: v for k, v in {"segment": segment, "outlook": outlook, "tier": tier, "stage": stage,
                                 "stalled": stalled}.items() if v}
    return ok({"scope": scope, "as_of": ctx.as_of, "total": len(matched), "filters": filters, "partners": [
        {"partner_id": r.partner_id, "name": names.get(r.partner_id, r.partner_id), "segment": r.segment,
         "tier": r.tier, "readiness": round(r.score, 1), "outlook": _outlook(r), "stage": lc.stage,
         "days_in_stage": lc.days_in_stage}
        for r, lc in matched[:limit]]})


@tool
@read_through
@guarded
def get_book_health(runtime: Runtime) -> str:
    """How the book (leader: program) is doing: segments, dormant, activation, lifecycle, churn, revenue."""
    from collections import Counter

    from readiness.lifecycle import program_lifecycle
    from readiness.models import Pam
    from readiness.program import program_health

    ctx, ids, scope = _book(runtime)
    with services_session() as s:
        rows = snapshot_rows(s, ctx.as_of, ids, ctx.principal_id if ctx.role == "pam" else None)
        health = program_health(s, ctx.as_of, partner_ids=ids)
        lifecycle = program_lifecycle(s, ctx.as_of, partner_ids=ids)
        pams = dict(s.execute(select(Pam.pam_id, Pam.name)).all()) if ctx.role == "leader" else {}
        owners = dict(s.execute(select(Partner.partner_id, Partner.pam_id)).all()) if ctx.role == "leader" else {}
    segments = Counter(r.segment for r in rows)
    dormant = [r for r in rows if is_dormant(r)]
    data: dict[str, Any] = {
        "scope": scope, "as_of": ctx.as_of, "partners": len(rows), "segments": dict(sorted(segments.items())),
        "dormant": len(dormant), "activation_rate": round(segments.get("active", 0) / len(rows), 4) if rows else 0.0,
        "not_ever": sum(1 for r in rows if _outlook(r) == "not_ever"),
        "lifecycle": [{"stage": st.stage, "count": st.current, "stalled": st.stalled} for st in lifecycle.stages],
        "median_days_to_first_deal": health.time_to_first_deal_median_days,
        "churn_risk": len(health.churn_risk), "sourced_won_12m": round(health.sourced_revenue_trailing),
        "influenced_won_12m": round(health.influenced_revenue_trailing),
        "revenue_at_stake": round(sum(r.revenue_at_stake or 0.0 for r in dormant)),
    }
    if ctx.role == "leader":
        revenue = {p.pam_id: p.sourced_revenue for p in health.per_pam}
        books: dict[str | None, list[ScoreSnapshot]] = {}
        for r in rows:
            books.setdefault(owners.get(r.partner_id), []).append(r)
        data["books"] = [
            {"pam_id": pam, "name": pams.get(pam) if pam else None, "partners": len(members),
             "activation_rate": round(sum(m.segment == "active" for m in members) / len(members), 4),
             "sourced_won_12m": round(revenue.get(pam, 0.0))}
            for pam, members in sorted(books.items(), key=lambda kv: kv[0] or "")]
    return ok(data)


@tool
@read_through
@guarded
def compare_partners(runtime: Runtime, partners: list[str]) -> str:
    """Two or three partners (ids or names) side by side; `leader` scores higher."""
    from readiness.gtm import diagnose
    from readiness.scoring import score_all

    ctx = context_of(runtime)
    if ctx.role == "partner":
        raise OutOfScope("Comparing partners is for partner account managers and channel leaders.")
    wanted = [p for p in dict.fromkeys(partners or []) if str(p).strip()]
    if not 2 <= len(wanted) <= 3:
        raise ValidationFailed("Name two or three partners to compare.")
    with services_session() as s:
        refs = list({r.partner_id: r for r in (subject(s, ctx, p) for p in wanted)}.values())
        if len(refs) < 2:
            raise ValidationFailed("Those names point at the same partner; name two or three different partners.")
        scores = {sc.partner_id: sc for sc in score_all(s, ctx.as_of, [r.partner_id for r in refs],
                                                        with_momentum=False)}
        gaps = {r.partner_id: diagnose(s, r.partner_id, ctx.as_of).top_gap for r in refs}
    rows = []
    for r in refs:
        sc = scores[r.partner_id]
        top = gaps[r.partner_id]
        rows.append({"partner_id": r.partner_id, "name": r.name, "score": round(sc.score, 1), "tier": sc.tier,
                     "segment": sc.segment, "outlook": sc.outlook or "",
                     "dimensions": [{"key": d.key, "label": d.label, "score": round(d.score, 1)}
                                    for d in sc.dimensions],
                     "revenue_at_stake": round(sc.revenue_at_stake or 0.0),
                     "top_gap": {"gap": top.gap, "label": top.label, "status": top.status} if top else None})
    leader = max(rows, key=lambda x: x["score"])["partner_id"]
    return ok({"as_of": ctx.as_of, "partners": rows, "leader": leader})
