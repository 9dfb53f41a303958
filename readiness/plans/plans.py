"""30/60/90-day activation plans: creation tailored to the partner's gaps, status derived from evidence,
partner claims and PAM confirmation.

Status of a milestone as of a date (first rule that applies):
- skipped: decided at creation (already evidenced before the plan started, or its gap is already strong);
- done: a PAM confirmed it on or before as_of, or its acceptance evidence is in the store dated from the plan
  start up to as_of;
- claimed: the partner said it is done; waits for evidence or a PAM;
- overdue: past its due date;
- stalled: its phase has begun and nothing moved (evidence, claim) for `stall_days`;
- open: otherwise.
Statuses are recomputed on read (never cached), so any as_of gives a consistent view; only claims and
confirmations are stored.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field
from rapidfuzz import fuzz, process, utils
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from readiness.audit import audit
from readiness.errors import OutOfScope, ValidationFailed
from readiness.gtm.diagnosis import diagnose
from readiness.gtm.facts import PartnerFacts, load_facts
from readiness.models import ActivationPlan, Milestone, Pam, Partner, utcnow
from readiness.plans.evidence import Acceptance, evaluate, parse_acceptance
from readiness.scope import pam_id_of

DEFAULT_TEMPLATE = Path(__file__).resolve().parent / "templates.yaml"
MilestoneStatus = Literal["open", "claimed", "done", "overdue", "stalled", "skipped"]
FUZZY_THRESHOLD = 70.0


class NoPlan(ValidationFailed):
    """The partner has no active activation plan as of the date."""


class PlanSettings(BaseModel):
    stall_days: int = Field(21, ge=1)
    skip_lookback_days: int = Field(180, ge=0)


class MilestoneTemplate(BaseModel):
    key: str
    phase: Literal[30, 60, 90]
    title: str
    gap: str
    aliases: list[str] = Field(default_factory=list, description="phrases people use for it, for loose references")
    core: bool = True
    due_offset_days: int = Field(ge=1)
    acceptance: dict[str, object]
    next_step: str

    @property
    def spec(self) -> Acceptance:
        return parse_acceptance(self.acceptance)


class PlanTemplate(BaseModel):
    settings: PlanSettings = PlanSettings()
    milestones: list[MilestoneTemplate] = Field(min_length=1)

    def by_key(self) -> dict[str, MilestoneTemplate]:
        return {m.key: m for m in self.milestones}


@lru_cache(maxsize=8)
def load_template(path: Path | None = None) -> PlanTemplate:
    """The milestone templates (validated; acceptance specs too, so a bad YAML fails at load, not mid-plan)."""
    data = yaml.safe_load(Path(path or DEFAULT_TEMPLATE).read_text(encoding="utf-8"))
    template = PlanTemplate.model_validate(data)
    keys = [m.key for m in template.milestones]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate milestone keys in {path or DEFAULT_TEMPLATE}")
    for m in template.milestones:
        m.spec  # noqa: B018 - validates the acceptance spec
    return template


class MilestoneView(BaseModel):
    key: str
    title: str
    phase: int
    gap: str | None
    status: MilestoneStatus
    due_on: date
    acceptance: str = Field(description="what completes it, in words")
    evidence: list[str] = Field(default_factory=list)
    claimed_by: str | None = None
    completed_on: date | None = None
    next_step: str
    reason: str | None = Field(None, description="why skipped / stalled / overdue")
    last_progress_on: date | None = Field(None, description="last evidence, claim or phase start (stall clock)")


class PlanView(BaseModel):
    partner_id: str
    plan_id: int
    started_on: date
    as_of: date
    milestones: list[MilestoneView]
    next_milestone: MilestoneView | None
    done: int
    total: int = Field(description="milestones in play (skipped ones excluded)")
    progress: str = Field(description="done/total")


# ---------- creation ----------


def active_plan(session: Session, partner_id: str, as_of: date) -> ActivationPlan | None:
    return session.scalars(
        select(ActivationPlan)
        .where(ActivationPlan.partner_id == partner_id, ActivationPlan.status == "active",
               ActivationPlan.started_on <= as_of)
        .order_by(ActivationPlan.started_on.desc(), ActivationPlan.id.desc())
    ).first()


def get_or_create_plan(
    session: Session,
    partner_id: str,
    as_of: date,
    actor: str,
    thread_id: str | None = None,
    template: PlanTemplate | None = None,
) -> PlanView:
    """The partner's active plan; when there is none, a new one starting on as_of, tailored to its gaps."""
    template = template or load_template()
    facts = load_facts(session, partner_id, as_of)  # raises UnknownPartner
    plan = active_plan(session, partner_id, as_of)
    if plan is None:
        plan = _create(session, facts, as_of, actor, thread_id, template)
    return build_view(plan, facts, as_of, template)


def _insert_active_plan(session: Session, partner_id: str, as_of: date) -> ActivationPlan | None:
    """A new active plan row, or None when the partner already has one: one active plan per partner is a unique
    index, and INSERT .. ON CONFLICT DO NOTHING lets it arbitrate two requests creating the plan at once
    (no savepoint: pysqlite's would commit the caller's transaction early)."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        plan = ActivationPlan(partner_id=partner_id, started_on=as_of, status="active")
        session.add(plan)
        session.flush()
        return plan
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    new_id = session.execute(
        insert(ActivationPlan).values(partner_id=partner_id, started_on=as_of, status="active", created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["partner_id"], index_where=ActivationPlan.status == "active")
        .returning(ActivationPlan.id)
    ).scalar()
    return session.get(ActivationPlan, new_id) if new_id is not None else None


def _create(
    session: Session, facts: PartnerFacts, as_of: date, actor: str, thread_id: str | None, template: PlanTemplate
) -> ActivationPlan:
    diagnosis = diagnose(session, facts.partner.partner_id, as_of, catalog=[])
    strong = {a.gap for a in diagnosis.assessments if a.status == "strong"}
    plan = _insert_active_plan(session, facts.partner.partner_id, as_of)
    if plan is None:  # created by another request since we looked: that plan is the partner's plan
        winner = session.scalars(select(ActivationPlan).where(
            ActivationPlan.partner_id == facts.partner.partner_id, ActivationPlan.status == "active")).one()
        return winner
    lookback = as_of - timedelta(days=template.settings.skip_lookback_days)
    for position, t in enumerate(template.milestones):
        m = Milestone(plan_id=plan.id, key=t.key, position=position, phase=t.phase, title=t.title, gap=t.gap,
                      acceptance=t.acceptance, due_on=as_of + timedelta(days=t.due_offset_days), status="open",
                      evidence=[])
        before = evaluate(t.spec, facts, since=lookback, until=as_of)
        if before.met:
            m.status = "skipped"
            m.evidence = [f"skipped: already evidenced before the plan started ({'; '.join(before.items[-3:])})"]
        elif not t.core and t.gap in strong:
            m.status = "skipped"
            m.evidence = [f"skipped: no {t.gap} gap (diagnosed strong on {as_of})"]
        session.add(m)
    session.flush()
    session.refresh(plan)
    audit(session, actor, "plan.create", "activation_plan", plan.id, thread_id,
          {"partner_id": plan.partner_id, "started_on": as_of.isoformat(),
           "skipped": [m.key for m in plan.milestones if m.status == "skipped"]})
    return plan


# ---------- status ----------


def plan_status(
    session: Session,
    partner_id: str,
    as_of: date,
    stall_days: int | None = None,
    template: PlanTemplate | None = None,
) -> PlanView:
    """Recompute every milestone of the active plan from the evidence in the store as of a date."""
    template = template or load_template()
    facts = load_facts(session, partner_id, as_of)
    plan = active_plan(session, partner_id, as_of)
    if plan is None:
        raise NoPlan(f"{facts.partner.name} ({partner_id}) has no activation plan as of {as_of}; create one first")
    return build_view(plan, facts, as_of, template, stall_days)


def _claimed_on(m: Milestone) -> date | None:
    return m.claimed_at.date() if m.claimed_at else None


def _milestone_view(
    m: Milestone, plan: ActivationPlan, facts: PartnerFacts, as_of: date, template: PlanTemplate, stall_days: int
) -> MilestoneView:
    t = template.by_key().get(m.key)
    spec = parse_acceptance(m.acceptance)
    base = {
        "key": m.key, "title": m.title, "phase": m.phase, "gap": m.gap, "due_on": m.due_on,
        "acceptance": spec.describe(), "next_step": t.next_step if t else f"Complete: {m.title}.",
    }
    notes = list(m.evidence or [])

    def view(status: MilestoneStatus, **extra: object) -> MilestoneView:
        return MilestoneView.model_validate({**base, "status": status, **extra})

    if m.status == "skipped":
        return view("skipped", evidence=notes, reason=notes[0] if notes else None, next_step="Nothing to do.")
    if m.status == "done" and m.completed_on and m.completed_on <= as_of:
        return view("done", evidence=notes, completed_on=m.completed_on, claimed_by=m.claimed_by,
                    next_step="Nothing to do.")
    found = evaluate(spec, facts, since=plan.started_on, until=as_of)
    claimed_on = _claimed_on(m)
    is_claimed = m.status == "claimed" and claimed_on is not None and claimed_on <= as_of
    if found.met:
        return view("done", evidence=found.items + notes, completed_on=found.last_on or as_of,
                    claimed_by=m.claimed_by if is_claimed else None, next_step="Nothing to do.")
    progress = f" ({found.count}/{found.needed} so far)" if found.count else ""
    if is_claimed:
        return view("claimed", evidence=found.items + notes, claimed_by=m.claimed_by,
                    next_step=f"Waiting for evidence ({spec.describe()}) or PAM confirmation.")
    if m.due_on < as_of:
        return view("overdue", evidence=found.items + notes, reason=f"due {m.due_on}, not done{progress}",
                    next_step=f"Overdue since {m.due_on}: {base['next_step']}")
    phase_start = plan.started_on + timedelta(days=max(0, m.phase - 30))
    moved = max(d for d in (phase_start, found.last_on, m.last_progress_on, claimed_on) if d is not None)
    if as_of >= phase_start and (as_of - moved).days >= stall_days:
        return view("stalled", evidence=found.items + notes, last_progress_on=moved,
                    reason=f"no progress since {moved} ({(as_of - moved).days} days){progress}")
    return view("open", evidence=found.items + notes, last_progress_on=moved)


def build_view(
    plan: ActivationPlan, facts: PartnerFacts, as_of: date, template: PlanTemplate, stall_days: int | None = None
) -> PlanView:
    """The plan as of a date from already-loaded facts (callers iterating many partners load facts once)."""
    stall = stall_days or template.settings.stall_days
    views = [_milestone_view(m, plan, facts, as_of, template, stall) for m in plan.milestones]
    in_play = [v for v in views if v.status != "skipped"]
    done = sum(v.status == "done" for v in in_play)
    actionable = [v for v in in_play if v.status in ("overdue", "stalled", "open")]
    waiting = [v for v in in_play if v.status == "claimed"]
    return PlanView(
        partner_id=plan.partner_id, plan_id=plan.id, started_on=plan.started_on, as_of=as_of, milestones=views,
        next_milestone=(actionable or waiting or [None])[0], done=done, total=len(in_play),
        progress=f"{done}/{len(in_play)}",
    )


# ---------- claims and confirmations ----------


_FILLER = frozenset((
    "the", "a", "an", "one", "our", "my", "we", "i", "did", "done", "have", "has", "finished", "completed",
    "complete", "milestone", "step", "that", "this", "it", "is", "for", "of", "to", "with", "on", "confirm",
    "approve", "reject", "mark", "tick", "off", "their", "they", "ran", "last", "week", "as", "please", "verified",
))


def _content_words(text: str) -> list[str]:
    # Filler words ("the", "one", "we did") would otherwise match titles like "One use case ...".
    return [w for w in utils.default_process(text.replace("-", " ")).split() if w not in _FILLER]


def _by_alias(words: list[str], keys: list[str], template: PlanTemplate) -> str | None:
    """The milestone whose most specific alias phrase (most words) the words contain; "" when two milestones tie
    (ambiguous), None when no alias matches."""
    aliases = {m.key: m.aliases for m in template.milestones}
    best: dict[str, int] = {}
    for key in keys:
        for phrase in [*aliases.get(key, []), key.replace("_", " ")]:
            tokens = utils.default_process(phrase.replace("-", " ")).split()
            if tokens and all(any(fuzz.ratio(t, w) >= 85 for w in words) for t in tokens):
                best[key] = max(best.get(key, 0), len(tokens))
    if not best:
        return None
    top = max(best.values())
    winners = [k for k, n in best.items() if n == top]
    return winners[0] if len(winners) == 1 else ""


def milestone_from_text(text: str, template: PlanTemplate | None = None) -> str | None:
    """The milestone a statement names by one of its aliases ("we ran our first customer workshop" ->
    partner_led_demo), or None. Without a plan: for deciding whether a progress report is a milestone claim."""
    template = template or load_template()
    words = _content_words(text or "")
    return _by_alias(words, [m.key for m in template.milestones], template) or None if words else None


def resolve_milestone(plan: PlanView, text: str, template: PlanTemplate | None = None) -> str | None:
    """A milestone key from a loose reference ("the ICP one", "we ran the customer workshop, tick it off"), or None.

    The most specific alias phrase (most words) contained in the text wins; a tie between milestones is ambiguous.
    Without any alias hit, fuzzy matching against keys and titles decides.
    """
    if not text or not text.strip():
        return None
    normalized = text.strip().lower().replace(" ", "_").replace("-", "_")
    if normalized in {v.key for v in plan.milestones}:
        return normalized
    words = _content_words(text)
    if not words:
        return None
    template = template or load_template()
    winner = _by_alias(words, [v.key for v in plan.milestones], template)
    if winner is not None:
        return winner or None
    query = " ".join(words)
    choices = {v.key: utils.default_process(f"{v.key.replace('_', ' ')} {v.title}") for v in plan.milestones}
    hit = process.extractOne(query, choices, scorer=fuzz.token_set_ratio)
    if hit is None or hit[1] < FUZZY_THRESHOLD:
        return None
    return str(hit[2])


def _milestone(session: Session, partner_id: str, ref: str, as_of: date, template: PlanTemplate) -> Milestone:
    facts = load_facts(session, partner_id, as_of)
    plan = active_plan(session, partner_id, as_of)
    if plan is None:
        raise NoPlan(f"{facts.partner.name} ({partner_id}) has no activation plan as of {as_of}; create one first")
    by_key = {m.key: m for m in plan.milestones}
    if ref in by_key:
        return by_key[ref]
    key = resolve_milestone(build_view(plan, facts, as_of, template), ref, template)
    if key is None:
        raise ValidationFailed(f"unknown milestone {ref!r}; valid keys: {', '.join(by_key)}")
    return by_key[key]


def _note(m: Milestone, text: str) -> None:
    m.evidence = [*(m.evidence or []), text]  # reassign: JSON columns track replacement, not mutation


def claim_milestone(
    session: Session,
    partner_id: str,
    milestone_key: str,
    actor: str,
    as_of: date,
    thread_id: str | None = None,
    idempotency_key: str | None = None,
    note: str | None = None,
    template: PlanTemplate | None = None,
) -> MilestoneView:
    """Record the partner's own "we did it": claimed until evidence arrives or a PAM confirms.

    Idempotent by state: claiming a milestone that is already claimed, done or skipped changes nothing."""
    template = template or load_template()
    m = _milestone(session, partner_id, milestone_key, as_of, template)
    if m.status == "open":
        m.status = "claimed"
        m.claimed_by = actor
        m.claimed_at = datetime.combine(as_of, time(12), tzinfo=UTC)
        m.last_progress_on = as_of
        _note(m, f"claimed by {actor} on {as_of}" + (f": {note}" if note else ""))
        audit(session, actor, "milestone.claim", "milestone", m.id, thread_id,
              {"partner_id": partner_id, "key": m.key, "note": note, "idempotency_key": idempotency_key})
        session.flush()
    return _view_one(session, partner_id, m.key, as_of, template)


def confirm_milestone(
    session: Session,
    partner_id: str,
    milestone_key: str,
    actor: str,
    as_of: date,
    decision: Literal["confirm", "reject"] = "confirm",
    thread_id: str | None = None,
    note: str | None = None,
    template: PlanTemplate | None = None,
) -> MilestoneView:
    """A PAM confirms a milestone (done) or rejects a partner's claim (back to open, with the reason kept)."""
    template = template or load_template()
    if decision not in ("confirm", "reject"):
        raise ValidationFailed(f"decision must be confirm or reject, got {decision!r}")
    # The actor is the audit identity ("pam:pam-02"); the book is checked on the PAM's own id.
    pam = session.get(Pam, pam_id_of(actor))
    m = _milestone(session, partner_id, milestone_key, as_of, template)
    owner = m.plan.partner_id
    partner = session.get(Partner, owner)
    if pam is None:
        raise OutOfScope(f"only the partner's PAM can {decision} a milestone, and {actor!r} is not a PAM")
    if partner is not None and partner.pam_id not in (None, pam.pam_id):
        raise OutOfScope(f"{actor} is not the PAM of {partner.name} ({owner})")
    if m.status == "skipped":
        raise ValidationFailed(f"milestone {m.key!r} was skipped when the plan was created; nothing to {decision}")
    if decision == "confirm":
        if m.status != "done":
            m.status = "done"
            m.completed_on = as_of
            m.last_progress_on = as_of
            _note(m, f"confirmed by {actor} on {as_of}" + (f": {note}" if note else ""))
    else:
        if m.status != "claimed":
            raise ValidationFailed(f"milestone {m.key!r} is {m.status}, not claimed; there is no claim to reject")
        m.status = "open"
        m.claimed_by = None
        m.claimed_at = None
        _note(m, f"claim rejected by {actor} on {as_of}" + (f": {note}" if note else ""))
    audit(session, actor, f"milestone.{decision}", "milestone", m.id, thread_id,
          {"partner_id": partner_id, "key": m.key, "note": note})
    session.flush()
    return _view_one(session, partner_id, m.key, as_of, template)


def _view_one(session: Session, partner_id: str, key: str, as_of: date, template: PlanTemplate) -> MilestoneView:
    view = plan_status(session, partner_id, as_of, template=template)
    return next(v for v in view.milestones if v.key == key)


__all__ = [
    "MilestoneView",
    "NoPlan",
    "PlanTemplate",
    "PlanView",
    "active_plan",
    "build_view",
    "claim_milestone",
    "confirm_milestone",
    "get_or_create_plan",
    "load_template",
    "plan_status",
    "resolve_milestone",
]
