"""Activation-plan tools: read the 30/60/90 plan, record milestone progress."""

from __future__ import annotations

from typing import Any, Literal

from langchain.tools import tool

from agent.tools.base import (
    Runtime,
    check_write_budget,
    context_of,
    guarded,
    idempotency_key,
    ok,
    services_session,
    subject,
    thread_id,
)
from agent.tools.read_cache import read_through
from readiness.errors import OutOfScope, ValidationFailed


def plan_view(plan: Any, name: str) -> dict[str, Any]:
    def m(x: Any) -> dict[str, Any]:
        return {"key": x.key, "title": x.title, "phase": x.phase, "status": x.status,
                "due_on": x.due_on.isoformat() if x.due_on else None, "acceptance": x.acceptance,
                "next_step": x.next_step}

    nxt = plan.next_milestone
    overdue = sum(1 for x in plan.milestones if x.status == "overdue")
    return {"partner_id": plan.partner_id, "name": name, "as_of": plan.as_of.isoformat(),
            "started_on": plan.started_on.isoformat(), "done": plan.done, "total": plan.total,
            "milestones": [m(x) for x in plan.milestones], "next_milestone": m(nxt) if nxt else None,
            "overdue": overdue, "on_track": overdue == 0}


@tool
@read_through
@guarded
def get_activation_plan(runtime: Runtime, partner: str | None = None) -> str:
    """The 30/60/90-day plan: milestones, status, due dates, overdue count, on_track, next milestone."""
    from readiness.plans import get_or_create_plan

    ctx = context_of(runtime)
    with services_session() as s:
        ref = subject(s, ctx, partner)
        plan = get_or_create_plan(s, ref.partner_id, ctx.as_of, actor=ctx.principal.actor)
        return ok(plan_view(plan, ref.name))


@tool
@guarded
def update_milestone(
    runtime: Runtime,
    milestone: str,
    status: Literal["done", "confirmed", "rejected"] = "done",
    partner: str | None = None,
    note: str | None = None,
) -> str:
    """A partner claims a milestone done (awaits evidence or its PAM); a PAM confirms or rejects one.
    `milestone`: key or words."""
    from readiness.plans import claim_milestone, confirm_milestone, get_or_create_plan, resolve_milestone

    ctx = context_of(runtime)
    check_write_budget(runtime)
    key_args = {"milestone": milestone, "status": status, "partner": partner}
    with services_session() as s:
        ref = subject(s, ctx, partner)
        plan = get_or_create_plan(s, ref.partner_id, ctx.as_of, actor=ctx.principal.actor)
        key = resolve_milestone(plan, milestone)
        if key is None:
            valid = ", ".join(f"{m.key} ({m.title})" for m in plan.milestones)
            raise ValidationFailed(f"I couldn't tell which milestone you mean. The plan has: {valid}.")
        if ctx.role == "partner":
            result = claim_milestone(s, ref.partner_id, key, actor=ctx.principal.actor, as_of=ctx.as_of,
                                     thread_id=thread_id(runtime), note=note,
                                     idempotency_key=idempotency_key(runtime, "update_milestone", key_args))
        else:
            if status == "done":
                status = "confirmed"
            if status not in {"confirmed", "rejected"}:
                raise OutOfScope("PAMs confirm or reject milestones.")
            decision = "confirm" if status == "confirmed" else "reject"
            result = confirm_milestone(s, ref.partner_id, key, actor=ctx.principal.actor, as_of=ctx.as_of,
                                       decision=decision, thread_id=thread_id(runtime))
            if decision == "confirm":
                return ok({"partner_id": ref.partner_id, "milestone": key, "status": result.status,
                           "message": f"Confirmed: '{result.title}' is done for {ref.name}."})
            return ok({"partner_id": ref.partner_id, "milestone": key, "status": result.status,
                       "message": f"Rejected {ref.name}'s claim on '{result.title}': it is {result.status} again."})
        return ok({"partner_id": ref.partner_id, "milestone": key, "status": result.status,
                   "message": milestone_message(ref.name, result, ctx.role)})


def milestone_message(name: str, m: Any, role: str) -> str:
    if m.status == "done":
        text = f"'{m.title}' is done for {name}."
    elif m.status == "claimed":
        text = (f"Recorded: {name} says '{m.title}' is done. It shows as claimed until the evidence arrives "
                f"({m.acceptance}) or your PAM confirms it.")
    else:
        text = f"'{m.title}' for {name} is now {m.status}."
    if m.reason:
        text += f" {m.reason}"
    return text
