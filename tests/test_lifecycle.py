"""Lifecycle stages and program health on lumenware (expectations read from the raw CSV) and on tiny stores."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from statistics import median

import pytest
from sqlalchemy import Engine, insert

from readiness.db import session_scope
from readiness.lifecycle import StallThresholds, lifecycle_of, program_lifecycle
from readiness.models import ActivityEvent, Opportunity, Pam, Partner
from readiness.program import program_health
from tests.test_pipeline import AS_OF, _rows, load_dataset

EPOCH = date(1970, 1, 1)


@pytest.fixture
def lumen(engine: Engine) -> Engine:
    load_dataset(engine)
    return engine


@pytest.mark.parametrize(
    ("partner_id", "stage", "entered_on", "stalled"),
    [
        # joined 2026-09-11, onboarding_started 2026-09-14: 47 days in onboarding, under the 60-day limit
        ("p-002", "onboarding", date(2026, 9, 14), False),
        # only a training on 2025-11-07, no deals since: stuck in onboarding for almost a year
        ("p-003", "onboarding", date(2025, 11, 7), True),
        # influenced deals only (some won): influenced revenue never makes a partner productive
        ("p-001", "signed", date(2024, 2, 7), True),
        # first sourced win closed 2026-05-12 (op-00001)
        ("p-044", "productive", date(2026, 5, 12), False),
        # first sourced win closed 2026-06-29 (op-00040), first deal registered 2026-03-18
        ("p-037", "productive", date(2026, 6, 29), False),
    ],
)
def test_lifecycle_stage_follows_the_evidence(
    lumen: Engine, partner_id: str, stage: str, entered_on: date, stalled: bool
) -> None:
    with session_scope(lumen) as s:
        lc = lifecycle_of(s, partner_id, AS_OF)
    assert (lc.stage, lc.entered_on, lc.stalled) == (stage, entered_on, stalled)
    assert lc.days_in_stage == (AS_OF - entered_on).days
    history = {h.stage: h.entered_on for h in lc.history}
    if partner_id == "p-037":
        assert history["activated"] == date(2026, 3, 18)


def test_lifecycle_is_computed_as_of_the_date(lumen: Engine) -> None:
    with session_scope(lumen) as s:
        before_win = lifecycle_of(s, "p-044", date(2026, 5, 11))
        before_join = lifecycle_of(s, "p-002", date(2026, 9, 1))
    assert (before_win.stage, before_win.entered_on) == ("activated", date(2025, 12, 18))
    assert before_join.stage == "prospect"


def test_program_lifecycle_counts_stages_and_flags_stalled_partners(lumen: Engine) -> None:
    thresholds = StallThresholds(onboarding=60)
    with session_scope(lumen) as s:
        report = program_lifecycle(s, AS_OF, thresholds=thresholds)
        singles = {
            pid: lifecycle_of(s, pid, AS_OF, thresholds) for pid in (r["partner_id"] for r in _rows("partners.csv"))
        }
    counts = {st.stage: st.current for st in report.stages}
    assert sum(counts.values()) == report.partners == 48
    for stage in counts:
        assert counts[stage] == sum(1 for lc in singles.values() if lc.stage == stage)
    assert {lc.partner_id for lc in report.stalled} == {pid for pid, lc in singles.items() if lc.stalled}
    assert "p-003" in {lc.partner_id for lc in report.stalled}
    # Productive partners per the raw data: at least one sourced closed_won closed by as_of.
    productive = {
        r["partner_id"]
        for r in _rows("opportunities.csv")
        if r["attribution"] == "sourced" and r["stage"] == "closed_won" and date.fromisoformat(r["close_date"]) <= AS_OF
    }
    assert counts["productive"] == len(productive)
    assert report.bottleneck in ("signed", "onboarding", "activated")


def test_program_health_on_lumenware_matches_the_raw_data(lumen: Engine) -> None:
    opps, events, partners = _rows("opportunities.csv"), _rows("activity.csv"), _rows("partners.csv")
    start = AS_OF - timedelta(days=365)
    won: dict[str, float] = defaultdict(float)
    for r in opps:
        if (
            r["attribution"] == "sourced"
            and r["stage"] == "closed_won"
            and start < date.fromisoformat(r["close_date"]) <= AS_OF
        ):
            won[r["partner_id"]] += float(r["amount"])
    first_deal: dict[str, date] = {}
    for d, pid in [
        (date.fromisoformat(r["created_on"]), r["partner_id"]) for r in opps if r["attribution"] == "sourced"
    ] + [
        (date.fromisoformat(e["occurred_at"][:10]), e["partner_id"]) for e in events if e["kind"] == "deal_registered"
    ]:
        first_deal[pid] = min(first_deal.get(pid, d), d)
    observed_from = min(date.fromisoformat(e["occurred_at"][:10]) for e in events)
    joined = {p["partner_id"]: date.fromisoformat(p["joined_on"]) for p in partners}
    ttfd = [(d - joined[p]).days for p, d in first_deal.items() if observed_from <= joined[p] <= d]
    cert = {
        e["partner_id"]: date.fromisoformat(e["occurred_at"][:10])
        for e in sorted(events, key=lambda e: e["occurred_at"], reverse=True)
        if e["kind"] == "certification_earned" and e["detail"] == "Lumen Associate"
    }
    sourced_dates = defaultdict(list)
    for r in opps:
        if r["attribution"] == "sourced":
            sourced_dates[r["partner_id"]].append(date.fromisoformat(r["created_on"]))
    with_prod = sum(1 for p, d in cert.items() if any(x >= d for x in sourced_dates[p]))
    without = [p["partner_id"] for p in partners if p["partner_id"] not in cert]

    with session_scope(lumen) as s:
        h = program_health(s, AS_OF)
    assert h.sourced_revenue_trailing == sum(won.values())
    assert h.influenced_revenue_trailing == sum(
        float(r["amount"])
        for r in opps
        if r["attribution"] == "influenced"
        and r["stage"] == "closed_won"
        and start < date.fromisoformat(r["close_date"]) <= AS_OF
    )
    by_pam = {r.pam_id: r.sourced_revenue for r in h.per_pam}
    for pam in {p["pam_id"] for p in partners}:
        assert by_pam[pam] == sum(won[p["partner_id"]] for p in partners if p["pam_id"] == pam)
    assert h.time_to_first_deal_median_days == median(ttfd)
    assoc = next(e for e in h.enablement if e.detail == "Lumen Associate")
    assert (assoc.with_partners, assoc.with_produced) == (len(cert), with_prod)
    assert (assoc.without_partners, assoc.without_produced) == (
        len(without),
        sum(1 for p in without if sourced_dates[p]),
    )


def _event(pid: str, day: date, n: int, kind: str = "portal_login") -> dict:
    at = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    return {
        "event_id": f"{pid}-{kind}-{day}-{n}",
        "partner_id": pid,
        "occurred_at": at,
        "day": (day - EPOCH).days,
        "kind": kind,
        "known_kind": True,
    }


def test_churn_risk_flags_active_partners_whose_engagement_fell(engine: Engine) -> None:
    as_of = date(2026, 10, 31)
    with engine.begin() as conn:
        conn.execute(insert(Pam.__table__), [{"pam_id": "pam-1", "name": "A"}])
        conn.execute(
            insert(Partner.__table__),
            [
                {"partner_id": pid, "name": pid, "type": "si", "joined_on": date(2025, 1, 1), "pam_id": "pam-1"}
                for pid in ("falling", "steady", "dormant")
            ],
        )
        conn.execute(
            insert(Opportunity.__table__),
            [
                {
                    "opportunity_id": f"o-{pid}",
                    "partner_id": pid,
                    "amount": 10.0,
                    "stage": "closed_won",
                    "attribution": "sourced",
                    "created_on": date(2026, 3, 1),
                    "close_date": date(2026, 6, 1),
                }
                for pid in ("falling", "steady")
            ],
        )
        rows = []
        for k in range(10):  # 10 events 91-180 days ago for everyone
            for pid in ("falling", "steady", "dormant"):
                rows.append(_event(pid, as_of - timedelta(days=100 + k), k))
        for k in range(9):
            rows.append(_event("steady", as_of - timedelta(days=5 + k), k))
        rows.append(_event("falling", as_of - timedelta(days=3), 0))
        conn.execute(insert(ActivityEvent.__table__), rows)
    with session_scope(engine) as s:
        h = program_health(s, as_of)
    # "dormant" lost engagement too but never produced, so it is not an ACTIVE partner at risk of churning.
    assert [(c.partner_id, c.events_prev_90, c.events_last_90) for c in h.churn_risk] == [("falling", 10, 1)]
    assert h.active_partners == 2
    assert h.sourced_revenue_per_partner == pytest.approx(20 / 3, abs=0.01)
