"""The store migrates on both backends and keeps what it is given."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine, inspect, select

from readiness.db import init_db, session_scope
from readiness.models import ActivityEvent, Pam, Partner


def test_migrations_create_every_table_and_are_idempotent(any_engine: Engine) -> None:
    init_db(any_engine)  # second run is a no-op
    tables = set(inspect(any_engine).get_table_names())
    assert {
        "pams", "partners", "activity_events", "opportunities", "gtm_profiles", "readiness_signals",
        "activation_plans", "milestones", "score_snapshots", "audit_log", "quarantined_rows",
    } <= tables


def test_partner_round_trip_keeps_lists_and_dates(any_engine: Engine) -> None:
    with session_scope(any_engine) as s:
        s.add(Pam(pam_id="pam-x", name="Ana Example", email="ana@example.test"))
        s.add(Partner(partner_id="p-x", name="Example Co", type="si", pam_id="pam-x",
                      specializations=["security", "analytics"], joined_on=date(2025, 3, 1)))
        s.add(ActivityEvent(event_id="e1", partner_id="p-x", kind="portal_login", day=20000,
                            occurred_at=datetime(2024, 10, 6, tzinfo=UTC)))
    with session_scope(any_engine) as s:
        p = s.get(Partner, "p-x")
        assert p is not None and p.specializations == ["security", "analytics"]
        assert p.joined_on == date(2025, 3, 1)
        assert s.scalars(select(ActivityEvent.kind)).one() == "portal_login"


def test_failed_transaction_leaves_store_unchanged(any_engine: Engine) -> None:
    with session_scope(any_engine) as s:
        s.add(Pam(pam_id="pam-keep", name="Kept"))
    try:
        with session_scope(any_engine) as s:
            s.add(Pam(pam_id="pam-new", name="New"))
            s.flush()
            raise RuntimeError("crash halfway")
    except RuntimeError:
        pass
    with session_scope(any_engine) as s:
        assert [p.pam_id for p in s.scalars(select(Pam))] == ["pam-keep"]
