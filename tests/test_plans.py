"""30/60/90 activation plans: tailoring, evidence-derived status, claims, PAM confirmation, stalls and nudges."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, func, select

from readiness.db import session_scope
from readiness.errors import OutOfScope, ValidationFailed
from readiness.importers import import_dataset
from readiness.models import AuditLog
from readiness.nudges import nudges_due
from readiness.plans import (
    NoPlan,
    claim_milestone,
    confirm_milestone,
    get_or_create_plan,
    load_template,
    plan_status,
)
from readiness.plans.plans import PlanTemplate
from tests.test_gtm import AS_OF, load_lumenware

PARTNER = "p-021"  # Orchard Networks, pam-03: 3 trainings + 1 certification, no deal, vague ICP
PAM = "pam-03"
CLAIMANT = "partner:p-021"


def _write_evidence(folder: Path) -> Path:
    """New data arriving after the plan started, in the canonical format, as a later import would bring it."""
    folder.mkdir()
    with open(folder / "activity.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["event_id", "partner_id", "occurred_at", "kind", "detail", "value"])
        w.writerow(["ev-t-1", PARTNER, "2026-11-12T10:00:00Z", "joint_call", "Acme Insurance intro", ""])
        w.writerow(["ev-t-2", PARTNER, "2026-11-20T10:00:00Z", "demo_delivered", "Acme Insurance", ""])
        for i, day in enumerate(("2026-11-25", "2026-12-02", "2026-12-09")):
            w.writerow([f"ev-t-{3 + i}", PARTNER, f"{day}T09:00:00Z", "deal_registered", "", ""])
    with open(folder / "gtm_profiles.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["partner_id", "icp_statement", "use_cases", "positioning", "sales_motion", "updated_on"])
        w.writerow([PARTNER, "Insurance companies with 200-1,000 employees whose compliance leaders are preparing "
                    "for a new regulation", "Digital transformation; cloud services", "", "", "2026-11-06"])
    return folder


def _statuses(engine: Engine, as_of: date) -> dict[str, str]:
    with session_scope(engine) as s:
        return {m.key: m.status for m in plan_status(s, PARTNER, as_of).milestones}


def test_full_plan_lifecycle(engine: Engine, tmp_path: Path) -> None:
    load_lumenware(engine)
    with session_scope(engine) as s:
        plan = get_or_create_plan(s, PARTNER, AS_OF, actor=PAM, thread_id="t-1")
    # Nothing was evidenced before: every milestone is in play, due 30/60/90 days after the start.
    assert plan.progress == "0/10" and plan.started_on == AS_OF
    due = {m.key: m.due_on for m in plan.milestones}
    assert due["icp_statement"] == date(2026, 11, 30) and due["first_sourced_opportunity"] == date(2027, 1, 29)
    assert plan.next_milestone is not None and plan.next_milestone.key == "use_case_defined"

    with session_scope(engine) as s:  # idempotent: the active plan is returned, not a second one
        assert get_or_create_plan(s, PARTNER, date(2026, 11, 2), actor=PAM).plan_id == plan.plan_id

    report = import_dataset(engine, _write_evidence(tmp_path / "later"))
    assert report.total.quarantined == 0

    with session_scope(engine) as s:
        claimed = claim_milestone(s, PARTNER, "the use case one", CLAIMANT, date(2026, 11, 14), thread_id="t-2",
                                  note="wrote it up")
        assert claimed.key == "use_case_defined" and claimed.status == "claimed" and claimed.claimed_by == CLAIMANT
        claim_milestone(s, PARTNER, "joint_positioning", CLAIMANT, date(2026, 11, 14))
        claim_milestone(s, PARTNER, "partner_led_demo", CLAIMANT, date(2026, 11, 14), note="demo booked")
        again = claim_milestone(s, PARTNER, "use_case_defined", CLAIMANT, date(2026, 11, 14))
        assert again.status == "claimed"
        claims = s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "milestone.claim"))
        assert claims == 3  # three claims; the repeated one changed nothing

    mid = _statuses(engine, date(2026, 11, 15))
    assert mid["icp_statement"] == "done"  # the re-imported profile passes the rubric
    assert mid["joint_customer_conversations"] == "done"  # joint_call on 2026-11-12
    assert mid["partner_led_demo"] == "claimed"  # the demo event is dated 2026-11-20: not evidenced as of 11-15
    assert _statuses(engine, date(2026, 11, 13))["partner_led_demo"] == "open"  # before the claim
    assert mid["use_case_defined"] == "claimed"  # the words still fail the rubric: waits for the PAM

    with session_scope(engine) as s:
        with pytest.raises(OutOfScope):
            confirm_milestone(s, PARTNER, "use_case_defined", "pam-01", date(2026, 11, 16))  # not p-021's PAM
        with pytest.raises(OutOfScope):
            confirm_milestone(s, PARTNER, "use_case_defined", CLAIMANT, date(2026, 11, 16))  # a partner can't
        done = confirm_milestone(s, PARTNER, "use_case_defined", PAM, date(2026, 11, 16), thread_id="t-3")
        assert done.status == "done" and done.completed_on == date(2026, 11, 16)
        rejected = confirm_milestone(s, PARTNER, "joint_positioning", PAM, date(2026, 11, 16), decision="reject",
                                     note="no statement shared yet")
        assert rejected.status == "open" and any("rejected by pam-03" in e for e in rejected.evidence)

    december = _statuses(engine, date(2026, 12, 10))
    assert {k for k, v in december.items() if v == "done"} == {
        "icp_statement", "use_case_defined", "joint_customer_conversations", "partner_led_demo", "target_account_list"}
    assert december["joint_positioning"] == "overdue"  # due 2026-11-30, claim rejected
    with session_scope(engine) as s:
        view = plan_status(s, PARTNER, date(2026, 12, 10))
        assert view.progress == "5/10"
        target = next(m for m in view.milestones if m.key == "target_account_list")
        assert len([e for e in target.evidence if e.startswith("deal_registered")]) == 3
        demo = next(m for m in view.milestones if m.key == "partner_led_demo")
        assert demo.completed_on == date(2026, 11, 20) and demo.claimed_by == CLAIMANT  # evidence settled the claim

    # 90-day phase began 2026-12-30; by 2027-01-25 nothing moved on it for 26 days (> stall_days 21).
    late = _statuses(engine, date(2027, 1, 25))
    assert late["co_sell_launch"] == "stalled" and late["first_sourced_opportunity"] == "stalled"
    with session_scope(engine) as s:
        nudges = nudges_due(s, date(2027, 1, 25), partner_ids=[PARTNER])
    codes = [n.code for n in nudges]
    assert codes.count("milestone_stalled") == 1  # four stalled milestones, one nudge
    assert codes.count("milestone_overdue") == 1
    assert "certified_no_deal" not in codes  # deals were registered after the certification
    stalled = next(n for n in nudges if n.code == "milestone_stalled")
    assert stalled.audience == "partner" and stalled.next_step and stalled.due_since == date(2027, 1, 20)


def test_plan_skips_what_is_already_evidenced(engine: Engine) -> None:
    """p-007 delivered 4 demos (Jun-Oct 2026), registered 10 deals and has sourced opportunities created Aug-Sep
    2026, and its profile has a specific ICP and positioning: those milestones are skipped with the reason."""
    load_lumenware(engine)
    with session_scope(engine) as s:
        plan = get_or_create_plan(s, "p-007", AS_OF, actor="pam-01")
    by_key = {m.key: m for m in plan.milestones}
    for key in ("partner_led_demo", "target_account_list", "first_sourced_opportunity", "icp_statement"):
        assert by_key[key].status == "skipped", key
        assert by_key[key].reason and "already evidenced" in by_key[key].reason
    assert "demo_delivered" in (by_key["partner_led_demo"].reason or "")
    assert by_key["joint_pipeline_reviews"].status == "open"  # no plan_updated event in p-007's data
    assert plan.total == len([m for m in plan.milestones if m.status != "skipped"])


def test_unknown_milestone_and_missing_plan_are_clear_errors(engine: Engine) -> None:
    load_lumenware(engine)
    with session_scope(engine) as s:
        with pytest.raises(NoPlan, match="no activation plan"):
            plan_status(s, PARTNER, AS_OF)
        get_or_create_plan(s, PARTNER, AS_OF, actor=PAM)
        with pytest.raises(ValidationFailed, match="valid keys: use_case_defined, icp_statement"):
            claim_milestone(s, PARTNER, "hired a new CFO", CLAIMANT, AS_OF)


def test_template_is_configurable_and_validated(engine: Engine, tmp_path: Path) -> None:
    default = load_template()
    assert [m.phase for m in default.milestones] == [30, 30, 30, 60, 60, 60, 90, 90, 90, 90]
    milestone = {"key": "kickoff", "phase": 30, "title": "Kick-off call held", "gap": "enablement",
                 "due_offset_days": 10, "next_step": "Book the kick-off.", "acceptance": {"kind": "telepathy"}}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"milestones": [milestone]}))
    with pytest.raises(ValueError, match=r"telepathy|kind"):
        load_template(bad)  # a typo in a program's YAML fails at load, not in the middle of a plan

    custom = PlanTemplate.model_validate(
        {"settings": {"stall_days": 5}, "milestones": [{**milestone, "acceptance": {"kind": "confirmation"}}]})
    load_lumenware(engine)
    with session_scope(engine) as s:
        plan = get_or_create_plan(s, PARTNER, AS_OF, actor=PAM, template=custom)
        assert [m.key for m in plan.milestones] == ["kickoff"]
        assert plan.milestones[0].acceptance == "confirmed by the partner's PAM"
        later = plan_status(s, PARTNER, date(2026, 11, 6), template=custom)
        assert later.milestones[0].status == "stalled"  # 6 days without progress > the custom stall_days 5


def test_cli_round_trip(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """diagnose, plan create/claim/confirm, signals add/list/review and nudges through the `partnerpilot` CLI."""
    import json

    from typer.testing import CliRunner

    from partnerpilot.cli import app, common

    load_lumenware(engine)
    monkeypatch.setattr(common, "_engine", engine)
    run = CliRunner().invoke
    asof = ["--as-of", AS_OF.isoformat()]

    out = run(app, ["diagnose", "p-006", *asof, "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["gaps"][0]["status"] == "missing"

    assert run(app, ["plan", "create", PARTNER, "--actor", PAM, *asof]).exit_code == 0
    claim = run(app, ["plan", "claim", PARTNER, "partner demo", "--actor", CLAIMANT, *asof, "--json"])
    assert json.loads(claim.output)["status"] == "claimed"
    confirm = run(app, ["plan", "confirm", PARTNER, "partner_led_demo", "--actor", PAM, *asof, "--json"])
    assert json.loads(confirm.output)["status"] == "done"
    bad = run(app, ["plan", "confirm", PARTNER, "nonsense", "--actor", PAM, *asof])
    assert bad.exit_code == 2 and "valid keys" in bad.output

    add = ["signals", "add", PARTNER, "--dimension", "use_case", "--level", "medium", "--evidence", "first case study",
           "--source", "partner", "--actor", CLAIMANT, "--key", "cli-1", *asof, "--json"]
    first, second = json.loads(run(app, add).output), json.loads(run(app, add).output)
    assert first["created"] and not second["created"] and first["id"] == second["id"]
    review = run(app, ["signals", "review", str(first["id"]), "--actor", PAM, "--decision", "confirm", "--json"])
    assert json.loads(review.output)["status"] == "confirmed"
    listed = json.loads(run(app, ["signals", "list", PARTNER, "--json"]).output)
    assert [r["status"] for r in listed] == ["claimed", "confirmed"]
    wrong = run(app, ["signals", "add", PARTNER, "--dimension", "mood", "--value", "5", "--evidence", "x",
                      "--source", "pam", "--actor", PAM])
    assert wrong.exit_code == 2 and "unknown dimension" in wrong.output

    nudges = json.loads(run(app, ["nudges", "--pam", PAM, *asof, "--json"]).output)
    assert nudges and all(n["partner_id"] for n in nudges)


def test_two_requests_creating_a_plan_at_once_share_one_plan(any_engine: Engine,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A chat and a PAM both find no plan for p-021 and both create one: the second gets the first's plan and
    the store holds a single active plan (a unique index arbitrates, on SQLite and PostgreSQL)."""
    import threading

    from readiness.models import ActivationPlan
    from readiness.plans import plans as plans_mod

    import_dataset(any_engine, Path(__file__).resolve().parent.parent / "evals" / "datasets" / "lumenware")
    both_looked = threading.Barrier(2, timeout=30)
    real_active_plan = plans_mod.active_plan

    def racing_active_plan(session, partner_id, as_of):  # type: ignore[no-untyped-def]
        found = real_active_plan(session, partner_id, as_of)
        both_looked.wait()  # neither has written yet: both will create
        return found

    monkeypatch.setattr(plans_mod, "active_plan", racing_active_plan)
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def create(actor: str) -> None:
        try:
            with session_scope(any_engine) as s:
                results[actor] = get_or_create_plan(s, PARTNER, AS_OF, actor=actor).plan_id
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(a,)) for a in (PAM, CLAIMANT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert results[PAM] == results[CLAIMANT]
    with session_scope(any_engine) as s:
        active = s.scalar(select(func.count()).select_from(ActivationPlan).where(
            ActivationPlan.partner_id == PARTNER, ActivationPlan.status == "active"))
    assert active == 1


def test_a_pam_confirms_as_the_authenticated_actor(engine: Engine) -> None:
    """Tools pass the principal's audit identity ("pam:pam-03"); the book check uses the PAM's own id, and the
    milestone is done in the store (issue 13: "'pam:pam-01' is not a PAM")."""
    from readiness.models import Milestone

    load_lumenware(engine)
    with session_scope(engine) as s:
        get_or_create_plan(s, PARTNER, AS_OF, actor=CLAIMANT)
        with pytest.raises(OutOfScope):
            confirm_milestone(s, PARTNER, "icp_statement", "pam:pam-01", AS_OF)  # another book's PAM
        with pytest.raises(OutOfScope):
            confirm_milestone(s, PARTNER, "icp_statement", "leader:lead-1", AS_OF)  # not a PAM
        confirm_milestone(s, PARTNER, "icp_statement", f"pam:{PAM}", AS_OF, thread_id="t-9")
    with session_scope(engine) as s:
        stored = s.scalars(select(Milestone).where(Milestone.key == "icp_statement")).one()
        assert stored.status == "done" and stored.completed_on == AS_OF
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "milestone.confirm")).one()
        assert audit.actor == f"pam:{PAM}" and audit.thread_id == "t-9"
