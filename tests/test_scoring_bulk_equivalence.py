"""The bulk scoring paths (whole-program rescore with reader workers and the curve fitted alongside; incremental
rescore; PostgreSQL's threaded read with the overlap folded into the aggregate) write exactly the snapshots the
naive per-partner loop computes, on a seeded program."""

from __future__ import annotations

import csv
import gc
import json
import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from readiness.db import init_db, make_engine, session_scope
from readiness.importers import import_dataset
from readiness.models import ActivityEvent, Partner, ScoreSnapshot
from readiness.scoring import activity, clear_caches, refresh_snapshots, rescore_changed, score_all
from readiness.scoring.snapshots import snapshot_row
from readiness.seed import generate_program, load_into_store
from readiness.settings import get_settings

AS_OF = date(2026, 10, 31)
PARTNERS = 600
SEED = 42
NUMBERS = ("score", "revenue_at_stake", "priority")
EXACT = ("tier", "segment", "pam_id", "on_call_list", "play")


@pytest.fixture
def bulk_paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every bulk mechanism on for a small program: reader workers (3), in-list shards, the curve fitted in a
    worker, the garbage collector paused."""
    monkeypatch.setattr(activity, "SHARD_MIN_PARTNERS", 1)
    monkeypatch.setattr(activity, "SHARD_MIN_IDS", 1)
    monkeypatch.setenv("PARTNERPILOT_SCORING_WORKERS", "3")
    get_settings.cache_clear()
    clear_caches()
    yield
    get_settings.cache_clear()
    clear_caches()


def _seeded(engine: Engine) -> Engine:
    load_into_store(engine, generate_program(PARTNERS, SEED, AS_OF))
    clear_caches()
    return engine


@pytest.fixture
def seeded_sqlite(sqlite_engine: Engine) -> Engine:
    return _seeded(sqlite_engine)


def _stored(session: Session, ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
    stmt = select(ScoreSnapshot).where(ScoreSnapshot.as_of == AS_OF)
    if ids is not None:
        stmt = stmt.where(ScoreSnapshot.partner_id.in_(ids))
    return {r.partner_id: {"score": r.score, "tier": r.tier, "segment": r.segment, "pam_id": r.pam_id,
                           "revenue_at_stake": r.revenue_at_stake, "on_call_list": r.on_call_list, "play": r.play,
                           "priority": r.priority, "dimensions": r.dimensions} for r in session.scalars(stmt)}


def _naive(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    """One query set and one explained score per partner, made into its snapshot row (`snapshot_row`)."""
    out = {}
    for pid in ids:
        (score,) = score_all(session, AS_OF, [pid], with_momentum=False)
        row = snapshot_row(score)
        out[pid] = {**row, "dimensions": json.loads(json.dumps(row["dimensions"]))}
    return out


def _close(a: float, b: float, tol: float = 1e-9) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def _assert_same(bulk: dict[str, Any], naive: dict[str, Any], pid: str) -> None:
    for key in NUMBERS:
        assert _close(bulk[key], naive[key]), (pid, key, bulk[key], naive[key])
    for key in EXACT:
        assert bulk[key] == naive[key], (pid, key, bulk[key], naive[key])
    b, n = bulk["dimensions"], naive["dimensions"]
    assert b.keys() == n.keys(), pid
    for block in ("dimensions", "gtm"):
        assert b[block].keys() == n[block].keys(), (pid, block)
        # Both are rounded to 2 decimals once, numpy's rounding in bulk and Python's per partner: the same value may
        # round a cent apart at a half, never more.
        for k in b[block]:
            assert abs(b[block][k] - n[block][k]) <= 0.01 + 1e-9, (pid, block, k, b[block][k], n[block][k])
    assert _close(b["revenue_at_stake"], n["revenue_at_stake"]), pid
    assert [b[k] for k in ("gtm_basis", "outlook", "flags", "callable")] == \
        [n[k] for k in ("gtm_basis", "outlook", "flags", "callable")], pid


def test_a_full_rescore_writes_the_snapshots_of_the_per_partner_loop(seeded_sqlite: Engine, bulk_paths: None) -> None:
    with session_scope(seeded_sqlite) as s:
        assert refresh_snapshots(s, AS_OF) == PARTNERS
        assert gc.isenabled()  # paused for the bulk read and write only
    with session_scope(seeded_sqlite) as s:
        bulk = _stored(s)
        # The loop costs tens of milliseconds a partner: a random sample, and every partner with a play.
        sample = sorted(set(random.Random(0).sample(sorted(bulk), 80)) | {p for p, v in bulk.items() if v["play"]})
        naive = _naive(s, sample[:160])
    assert len(bulk) == PARTNERS
    assert len({naive[p]["play"] for p in naive}) > 3 and len({naive[p]["tier"] for p in naive}) > 2
    for pid in naive:
        _assert_same(bulk[pid], naive[pid], pid)


def _events(folder: Path, ids: list[str]) -> Path:
    rng = random.Random(3)
    kinds = ("portal_login", "ae_meeting", "event_attended", "deal_registered", "demo_delivered",
             "training_completed")
    folder.mkdir()
    with (folder / "activity.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["event_id", "partner_id", "occurred_at", "kind", "detail", "value"])
        for k in range(400):
            w.writerow([f"eq-{k}", rng.choice(ids), f"2026-10-{1 + k % 30:02d}T10:00:00Z", rng.choice(kinds), "", ""])
    return folder


def test_an_incremental_rescore_writes_the_snapshots_of_the_per_partner_loop(seeded_sqlite: Engine, bulk_paths: None,
                                                                             tmp_path: Path) -> None:
    with session_scope(seeded_sqlite) as s:
        refresh_snapshots(s, AS_OF)
    with session_scope(seeded_sqlite) as s:
        before = _stored(s)
        ids = sorted(before)
    report = import_dataset(seeded_sqlite, _events(tmp_path / "new", random.Random(1).sample(ids, 60)))
    assert len(report.changed_partners) > 40 and not report.moves_baselines
    with session_scope(seeded_sqlite) as s:
        result = rescore_changed(s, AS_OF, report.changed_partners, baselines_may_move=False)
    assert result.mode == "incremental" and result.rescored == len(report.changed_partners)
    with session_scope(seeded_sqlite) as s:
        after = _stored(s)
        changed = sorted(report.changed_partners)
        naive = _naive(s, changed)
    assert any(after[pid]["score"] != before[pid]["score"] for pid in changed)
    for pid in changed:
        _assert_same(after[pid], naive[pid], pid)
    assert {p: v for p, v in after.items() if p not in report.changed_partners} == \
        {p: v for p, v in before.items() if p not in report.changed_partners}


def test_the_gc_pause_is_lifted_when_scoring_fails(seeded_sqlite: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from readiness.scoring import snapshots

    def broken(*_: object, **__: object) -> None:
        assert not gc.isenabled()  # a whole program is scored with collection paused
        raise RuntimeError("store went away")

    monkeypatch.setattr(snapshots, "_refresh", broken)
    with session_scope(seeded_sqlite) as s, pytest.raises(RuntimeError):
        refresh_snapshots(s, AS_OF)
    assert gc.isenabled()


@pytest.mark.postgres
def test_on_postgresql_the_threaded_read_gives_sqlites_snapshots(postgres_engine: Engine, bulk_paths: None,
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL reads the activity on a second connection in a thread, with the largest overlap folded into the
    aggregate; SQLite reads it in worker processes, the overlap by index seeks. Same program, same snapshots."""
    used: list[int] = []
    real = activity.ThreadedActivity.__init__

    def spy(self: activity.ThreadedActivity, *args: Any) -> None:
        used.append(1)
        real(self, *args)

    monkeypatch.setattr(activity.ThreadedActivity, "__init__", spy)
    _seeded(postgres_engine)
    with session_scope(postgres_engine) as s:
        refresh_snapshots(s, AS_OF)
    assert used
    with session_scope(postgres_engine) as s:
        on_pg = _stored(s)
    lite = make_engine(f"sqlite:///{tmp_path / 'lite.db'}")
    init_db(lite)
    _seeded(lite)
    with session_scope(lite) as s:
        refresh_snapshots(s, AS_OF)
    with session_scope(lite) as s:
        on_sqlite = _stored(s)
    lite.dispose()
    assert on_pg.keys() == on_sqlite.keys() and len(on_pg) == PARTNERS
    assert any(v["dimensions"]["dimensions"]["revenue_potential"] > 0 for v in on_pg.values())
    for pid in on_pg:
        _assert_same(on_pg[pid], on_sqlite[pid], pid)


@pytest.mark.postgres
def test_on_postgresql_no_second_connection_reads_beside_uncommitted_writes(postgres_engine: Engine) -> None:
    """Another connection cannot see this transaction's writes, so the read must stay on it."""
    from datetime import UTC, datetime

    _seeded(postgres_engine)
    with session_scope(postgres_engine) as s:
        assert activity.can_read_alongside(s)
        pid = s.scalars(select(Partner.partner_id).limit(1)).one()
        s.add(ActivityEvent(event_id="alongside-test", partner_id=pid, kind="portal_login", day=20_000,
                            occurred_at=datetime(2024, 10, 4, tzinfo=UTC)))
        assert not activity.can_read_alongside(s)  # pending in the session
        s.flush()
        assert not activity.can_read_alongside(s)  # written in the transaction
        s.rollback()
        assert activity.can_read_alongside(s)
