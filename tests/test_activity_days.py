"""SQLite's per-(partner, kind) day lists (`activity_days`, migration 0012) stay exactly the events' days after every
kind of write, and scoring from them gives bit-for-bit the numbers the events table gives."""

from __future__ import annotations

import csv
import importlib.util
import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, delete, select, update

from readiness import activity_days
from readiness.db import MIGRATIONS_DIR, session_scope
from readiness.importers import import_dataset
from readiness.importers import pipeline as import_pipeline
from readiness.models import ActivityEvent, Partner
from readiness.scoring import activity, clear_caches
from readiness.scoring.score import compute_frame
from readiness.seed import generate_program, load_into_store
from readiness.settings import get_settings
from readiness.signals import record_signal

AS_OF = date(2026, 10, 31)
PARTNERS = 300


def _stored(engine: Engine) -> dict[tuple[str, str], list[int]]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT partner_id, kind, days FROM activity_days").all()
    return {(p, k): [ord(c) for c in days] for p, k, days in rows}


def _from_events(engine: Engine) -> dict[tuple[str, str], list[int]]:
    out: dict[tuple[str, str], list[int]] = {}
    with engine.connect() as conn:
        for p, k, day in conn.exec_driver_sql(
                "SELECT partner_id, kind, day FROM activity_events ORDER BY partner_id, kind, day"):
            out.setdefault((p, k), []).append(day)
    return out


def _assert_exact(engine: Engine) -> None:
    stored = _stored(engine)
    assert stored == _from_events(engine)
    assert stored and all(days == sorted(days) for days in stored.values())
    with engine.connect() as conn:
        assert activity_days.present(conn.connection.driver_connection.cursor())


@pytest.fixture
def seeded(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    # Whole-program reads in worker processes even for this small program, as for 100,000 partners.
    monkeypatch.setattr(activity, "SHARD_MIN_PARTNERS", 1)
    monkeypatch.setattr(activity, "SHARD_MIN_IDS", 1)
    monkeypatch.setattr(activity, "DAY_LISTS_MIN_IDS", 1)
    monkeypatch.setenv("PARTNERPILOT_SCORING_WORKERS", "3")
    get_settings.cache_clear()
    load_into_store(sqlite_engine, generate_program(PARTNERS, 7, AS_OF))
    clear_caches()
    yield sqlite_engine
    get_settings.cache_clear()
    clear_caches()


def _write_events(folder: Path, ids: list[str], n: int, seed: int, start: date, days: int) -> Path:
    rng = random.Random(seed)
    folder.mkdir()
    kinds = ("portal_login", "ae_meeting", "event_attended", "training_completed", "brand_new_kind")
    with (folder / "activity.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["event_id", "partner_id", "occurred_at", "kind", "detail", "value"])
        for k in range(n):
            day = start + timedelta(days=rng.randrange(days))
            w.writerow([f"t{seed}-{k}", rng.choice(ids), f"{day.isoformat()}T10:00:00Z", rng.choice(kinds), "", ""])
    return folder


def _ids(engine: Engine) -> list[str]:
    with session_scope(engine) as s:
        return list(s.scalars(select(Partner.partner_id).order_by(Partner.partner_id)))


def _plain_sqlite_sum() -> bool:
    """Whether this SQLite's sum() adds in row order without compensation (as 3.40 does; newer releases compensate,
    and the numpy sums then agree to rounding instead of to the bit)."""
    with sqlite3.connect(":memory:") as conn:
        return conn.execute("SELECT sum(x) FROM (SELECT 1e16 AS x UNION ALL SELECT 1.0 UNION ALL SELECT -1e16)"
                            ).fetchone()[0] == 0.0


def _same_sums(a: np.ndarray, b: np.ndarray) -> None:
    if _plain_sqlite_sum():
        assert np.array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def _frames_agree(engine: Engine, as_of: date, monkeypatch: pytest.MonkeyPatch,
                  partner_ids: list[str] | None = None) -> int:
    """The frames from day lists (read by worker processes, and in this process) equal the frame from the events
    table, bit for bit. Returns how many reads in this process went to the day lists."""
    frames = []
    calls: list[int] = []
    real = activity.day_arrays

    def spy(*args: Any) -> activity.ActivityRows:
        calls.append(1)
        return real(*args)

    for mode in ("workers", "here", "events"):
        with monkeypatch.context() as m:
            m.setattr(activity, "day_arrays", spy)
            if mode == "here":
                m.setenv("PARTNERPILOT_SCORING_WORKERS", "1")
            if mode == "events":
                m.setattr(activity, "reads_day_lists", lambda _session: False)
            get_settings.cache_clear()
            clear_caches()
            with session_scope(engine) as s:
                frames.append(compute_frame(s, as_of, partner_ids))
        get_settings.cache_clear()
    *from_days, b = frames
    for a in from_days:
        assert a.ids == b.ids
        for kind, stats in a.feats.kinds.items():
            for name in ("count", "last", "first", "n90", "prev90", "max_value"):
                assert np.array_equal(getattr(stats, name), getattr(b.feats.kinds[kind], name)), (kind, name)
            _same_sums(stats.decayed, b.feats.kinds[kind].decayed)
        _same_sums(a.total, b.total)
    assert b.feats.kinds["portal_login"].decayed.sum() > 0
    return len(calls)


def test_the_seed_loader_and_the_migration_build_the_same_lists(seeded: Engine) -> None:
    _assert_exact(seeded)
    spec = importlib.util.spec_from_file_location("m0013", MIGRATIONS_DIR / "versions" / "0013_activity_days.py")
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.REBUILD == activity_days.REBUILD  # the bulk-load rebuild is the migration's backfill


def test_lists_stay_exact_after_an_import_out_of_order_days_a_delete_an_update_and_a_signal(
        seeded: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _ids(seeded)
    # Recent days (appended) and old ones (before a partner's latest: its list is rebuilt in order), a kind scoring
    # does not know.
    report = import_dataset(seeded, _write_events(tmp_path / "a", ids[:40], 300, 1, AS_OF - timedelta(days=400), 400))
    assert report.total.inserted == 300
    _assert_exact(seeded)
    _frames_agree(seeded, AS_OF, monkeypatch)
    with session_scope(seeded) as s:
        s.execute(delete(ActivityEvent).where(ActivityEvent.event_id.in_([f"t1-{k}" for k in range(0, 300, 3)])))
        first = s.scalars(select(ActivityEvent).order_by(ActivityEvent.event_id).limit(3)).all()
        s.execute(update(ActivityEvent).where(ActivityEvent.event_id == first[0].event_id)
                  .values(day=ActivityEvent.day - 30))
        s.execute(update(ActivityEvent).where(ActivityEvent.event_id == first[1].event_id)
                  .values(kind="joint_call", partner_id=ids[-1]))
        s.execute(delete(ActivityEvent).where(ActivityEvent.partner_id == ids[0],
                                              ActivityEvent.kind == "portal_login"))
    _assert_exact(seeded)
    assert (ids[0], "portal_login") not in _stored(seeded)
    with session_scope(seeded) as s:
        out = record_signal(s, {"partner_id": ids[5], "dimension": "engagement", "value": 80.0, "source": "pam",
                                "actor": "pam-01", "evidence": "weekly call"}, as_of=AS_OF)
        assert out.created
    _assert_exact(seeded)
    assert _frames_agree(seeded, AS_OF, monkeypatch) >= 1
    assert _frames_agree(seeded, AS_OF - timedelta(days=120), monkeypatch, ids[10:200]) >= 1


def test_a_bulk_import_rebuilds_the_lists_once(seeded: Engine, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    dropped: list[bool] = []
    real = activity_days.BulkLoad.suspend

    def spy(self: activity_days.BulkLoad) -> None:
        real(self)
        dropped.append(bool(self.saved))

    monkeypatch.setattr(activity_days.BulkLoad, "suspend", spy)
    monkeypatch.setattr(import_pipeline, "BULK_INDEX_MIN_ROWS", 10)
    with seeded.begin() as conn:  # an almost empty store: the import is bigger than what is there
        conn.execute(delete(ActivityEvent).where(ActivityEvent.partner_id > _ids(seeded)[3]))
    import_dataset(seeded, _write_events(tmp_path / "b", _ids(seeded), 5000, 2, AS_OF - timedelta(days=200), 200))
    assert dropped == [True]
    _assert_exact(seeded)
    _frames_agree(seeded, AS_OF, monkeypatch)


def test_a_day_the_lists_cannot_hold_sends_scoring_to_the_events(seeded: Engine,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    pid = _ids(seeded)[0]
    with session_scope(seeded) as s:
        s.add(ActivityEvent(event_id="epoch", partner_id=pid, occurred_at=datetime(1970, 1, 1, tzinfo=UTC), day=0,
                            kind="portal_login", known_kind=True))
    assert 0xFFFD in _stored(seeded)[(pid, "portal_login")]
    unreadable: list[int] = []
    real = activity._day_values

    def spy(*args: Any) -> Any:
        try:
            return real(*args)
        except activity.DaysUnreadable:
            unreadable.append(1)
            raise

    monkeypatch.setattr(activity, "_day_values", spy)
    _frames_agree(seeded, AS_OF, monkeypatch)
    assert unreadable
