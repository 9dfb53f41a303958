"""Readiness scoring on lumenware: expectations read off the raw CSVs (evals/datasets/lumenware)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from readiness.db import init_db, make_engine, session_scope
from readiness.errors import UnknownPartner, ValidationFailed
from readiness.importers import import_dataset
from readiness.models import ActivityEvent, Opportunity, ReadinessSignal
from readiness.scoring import load_config, priors, revenue, score_all, score_partner

LUMENWARE = Path(__file__).resolve().parent.parent / "evals" / "datasets" / "lumenware"
AS_OF = date(2026, 10, 31)


def clear_caches() -> None:
    priors.clear_cache()
    revenue.clear_cache()


def lumenware_engine(folder: Path) -> Engine:
    engine = make_engine(f"sqlite:///{folder / 'lumenware.db'}")
    init_db(engine)
    import_dataset(engine, LUMENWARE)
    clear_caches()
    return engine


@pytest.fixture(scope="module")
def lw(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return lumenware_engine(tmp_path_factory.mktemp("lw"))


@pytest.fixture
def s(lw: Engine):  # type: ignore[no-untyped-def]
    with session_scope(lw) as session:
        yield session
        session.rollback()


def test_recent_sourced_producer_is_active_and_outscores_every_dormant_partner(s: Session) -> None:
    """p-007 Larkspur Services: 10 sourced opportunities (4 closed-won), the last registered 2026-09-23, 3
    certifications, 4 AE meetings, 40 logins up to 2026-10-27. It is producing now: active, no outlook, and
    scores above every partner that is not producing."""
    scores = {x.partner_id: x for x in score_all(s, AS_OF)}
    p7 = scores["p-007"]
    assert p7.segment == "active" and p7.outlook is None
    assert p7.tier in ("Tier 1", "Tier 2")
    assert p7.dormant_flags == []
    assert p7.score > max(x.score for x in scores.values() if x.segment != "active")


def test_the_sample_programs_producers_reach_tier_1(s: Session) -> None:
    """The six partners with sourced deals registered in Aug-Oct 2026 (p-007, p-012, p-037, p-038, p-041, p-044)
    scored 62-67, all Tier 2, before issue 14 (average market fit gave 0.5, capping that dimension near 70). Now
    most of them are Tier 1, none is below Tier 2, and each one's best dimension scores 80 or more."""
    producers = ["p-007", "p-012", "p-037", "p-038", "p-041", "p-044"]
    scores = score_all(s, AS_OF, producers, with_momentum=False)
    assert {x.tier for x in scores} <= {"Tier 1", "Tier 2"}
    assert sum(x.tier == "Tier 1" for x in scores) >= 3
    assert all(max(d.score for d in x.dimensions) >= 80 for x in scores)


def test_competitive_conflict_is_not_ever_and_caps_market_alignment(s: Session) -> None:
    """p-022 Harbor Consulting: competitive_conflict "Exclusive agreement with a competitor", 0 overlap, one
    login in 2025. Structurally blocked: not_ever with the conflict as the reason; alignment capped."""
    x = score_partner(s, "p-022", AS_OF)
    assert x.outlook == "not_ever"
    assert "competitive conflict" in (x.outlook_reason or "")
    alignment = next(d for d in x.dimensions if d.key == "market_alignment")
    assert alignment.score <= load_config().conflict_cap
    assert any("capped" in a for a in alignment.adjustments)


def test_breakdown_adds_up_and_cites_the_events(s: Session) -> None:
    """p-005 Zephyr Data: 4 sourced deals, the last created 2026-02-09; 2 certification_earned. The breakdown
    must add up (sub-signals -> dimension -> total) and name those facts."""
    x = score_partner(s, "p-005", AS_OF)
    for d in x.dimensions:
        assert sum(sub.contribution for sub in d.subsignals) == pytest.approx(d.score, abs=0.05)
        assert all(0 <= sub.value <= 1 for sub in d.subsignals)
    assert sum(d.contribution for d in x.dimensions) == pytest.approx(x.score, abs=0.05)
    history = next(sub for d in x.dimensions for sub in d.subsignals if sub.key == "deal_history")
    assert "4 sourced opportunities" in history.evidence[0] and "2026-02-09" in history.evidence[0]
    certs = next(sub for d in x.dimensions for sub in d.subsignals if sub.key == "technical_competence")
    assert certs.evidence[0].startswith("2 certification_earned")
    assert x.momentum_90 is not None and x.momentum_90 < 0  # gone quiet since February
    assert x.strengths() and x.weaknesses()
    assert {g.key for g in x.gtm} == {"use_case", "icp", "sales_motion", "delivery_credibility",
                                      "business_communication"}


@pytest.mark.parametrize(("as_of", "flag"), [
    (date(2026, 7, 20), "no_login_30"),   # p-003's only portal_login is 2026-06-13: 37 days
    (date(2026, 8, 20), "no_login_60"),   # 68 days
    (date(2026, 10, 31), "no_login_90"),  # 140 days
])
def test_no_login_windows_pick_the_longest_that_applies(s: Session, as_of: date, flag: str) -> None:
    codes = [f.code for f in score_partner(s, "p-003", as_of).dormant_flags]
    assert flag in codes
    assert len([c for c in codes if c.startswith("no_login_")]) == 1


def test_scores_use_no_data_after_as_of(lw: Engine, tmp_path: Path) -> None:
    """Scoring p-037 as of 2026-06-30 must not change when every row after that date is deleted."""
    day = date(2026, 6, 30)
    with session_scope(lw) as s:
        before = score_partner(s, "p-037", day).model_dump()
    copy = lumenware_engine(tmp_path)
    with session_scope(copy) as s:
        s.execute(delete(ActivityEvent).where(ActivityEvent.day > (day - date(1970, 1, 1)).days))
        s.execute(delete(Opportunity).where(Opportunity.created_on > day))
    clear_caches()
    with session_scope(copy) as s:
        after = score_partner(s, "p-037", day).model_dump()
    assert after == before


def test_readiness_signals_follow_the_counting_rule(tmp_path: Path) -> None:
    """pam-recorded counts; partner-claimed does not until confirmed; rejected never; a later override wins."""
    eng = lumenware_engine(tmp_path)

    def capability() -> float:
        clear_caches()
        with session_scope(eng) as s:
            return next(d.score for d in score_partner(s, "p-006", AS_OF).dimensions if d.key == "capability")

    base = capability()

    def add(**kw: object) -> int:
        with session_scope(eng) as s:
            row = ReadinessSignal(partner_id="p-006", dimension="capability", actor="t", evidence="test",
                                  idempotency_key=f"k{kw.pop('key')}", **kw)
            s.add(row)
            s.flush()
            return row.id

    claim = add(key=1, source="partner", status="claimed", value=95.0)
    assert capability() == pytest.approx(base)
    add(key=2, source="pam", status="confirmed", supersedes_id=claim)
    confirmed = capability()
    assert confirmed > base + 10
    add(key=3, source="pam", status="overridden", supersedes_id=claim, value=0.0)
    assert capability() < base
    with session_scope(eng) as s:  # a rejected signal never counts
        s.add(ReadinessSignal(partner_id="p-006", dimension="engagement", actor="t", source="agent", status="recorded",
                              value=100.0, idempotency_key="k5"))
    with session_scope(eng) as s:
        first = s.query(ReadinessSignal).filter_by(idempotency_key="k5").one()
        s.add(ReadinessSignal(partner_id="p-006", dimension="engagement", actor="pam-01", source="pam",
                              status="rejected", supersedes_id=first.id, idempotency_key="k6"))
    clear_caches()
    with session_scope(eng) as s:
        eng_dim = next(d for d in score_partner(s, "p-006", AS_OF).dimensions if d.key == "engagement")
    assert eng_dim.adjustments == []


def test_config_is_validated_and_can_be_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 s: Session) -> None:
    cfg = load_config()
    assert {k: d.weight for k, d in cfg.dimensions.items()} == {
        "engagement": 37, "revenue_potential": 38, "market_alignment": 15, "capability": 10}  # fitted (issue 14)
    custom = tmp_path / "program.yaml"
    custom.write_text(cfg.with_dimension_weights({"engagement": 0, "revenue_potential": 0, "market_alignment": 0,
                                                  "capability": 100}).to_yaml())
    monkeypatch.setenv("PARTNERPILOT_SCORING_CONFIG", str(custom))
    x = score_partner(s, "p-004", AS_OF)
    cap = next(d for d in x.dimensions if d.key == "capability")
    assert x.score == pytest.approx(cap.score, abs=0.01)
    bad = tmp_path / "bad.yaml"
    bad.write_text("dimensions: {engagement: {label: E, weight: 1, subsignals: {}}}")
    with pytest.raises(ValidationFailed):
        load_config(bad)
    with pytest.raises(UnknownPartner):
        score_partner(s, "p-999", AS_OF)


def test_snapshot_fast_path_round_trips_through_the_orm(any_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots written by the bulk path (SQLite: raw executemany; PostgreSQL: COPY into a temporary table, then
    one upsert) read back through the ORM exactly as written, and a second write for the same partner and date
    updates the row instead of adding one."""
    from readiness.scoring import snapshots

    monkeypatch.setattr(snapshots, "PG_COPY_MIN_ROWS", 1)  # lumenware's 48 rows take the COPY path too
    from datetime import date as _date

    from sqlalchemy import func, select

    from readiness.db import session_scope
    from readiness.importers import import_dataset
    from readiness.models import ScoreSnapshot
    from readiness.scoring import refresh_snapshots, score_partner

    import_dataset(any_engine, LUMENWARE)
    as_of = _date(2026, 10, 31)
    with session_scope(any_engine) as s:
        n = refresh_snapshots(s, as_of)
    with session_scope(any_engine) as s:
        refresh_snapshots(s, as_of)  # idempotent: upsert, not insert
    with session_scope(any_engine) as s:
        assert s.scalar(select(func.count()).select_from(ScoreSnapshot)) == n == 48
        snap = s.scalars(select(ScoreSnapshot).where(ScoreSnapshot.partner_id == "p-007")).one()
        live = score_partner(s, "p-007", as_of)
        assert snap.as_of == as_of and snap.segment == live.segment and abs(snap.score - live.score) < 0.01
        assert snap.dimensions["dimensions"]["engagement"] == pytest.approx(
            next(d.score for d in live.dimensions if d.key == "engagement"), abs=0.01)
        assert snap.created_at is not None and isinstance(snap.on_call_list, bool)


def test_parallel_shard_read_gives_the_same_features_as_one_read(lw: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A big SQLite store is read by forked workers, one partner range each; every statistic of every partner
    and kind must equal the single-connection read (lumenware, with the size threshold lowered so it shards)."""
    import numpy as np

    from readiness.scoring import activity
    from readiness.scoring.features import load_features

    def features(workers: int):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(activity, "SHARD_MIN_PARTNERS", 1)
        with session_scope(lw) as s:
            assert activity.shard_count(s, 48, workers) == min(workers, 8)
            monkeypatch.setenv("PARTNERPILOT_SCORING_WORKERS", str(workers))
            from readiness.settings import get_settings

            get_settings.cache_clear()
            try:
                return load_features(s, AS_OF, None, 90, 120)
            finally:
                monkeypatch.delenv("PARTNERPILOT_SCORING_WORKERS")
                get_settings.cache_clear()

    one, three = features(1), features(3)
    assert one.ids == three.ids
    assert one.kinds["portal_login"].count.sum() > 0
    for kind, stats in one.kinds.items():
        for name in ("count", "decayed", "last", "first", "n90", "prev90", "max_value"):
            assert np.array_equal(getattr(stats, name), getattr(three.kinds[kind], name)), (kind, name)


def test_shards_are_not_used_while_the_connection_holds_uncommitted_writes(lw: Engine,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's own connection cannot see this transaction's writes, so the read must stay on it."""
    from readiness.scoring import activity

    monkeypatch.setattr(activity, "SHARD_MIN_PARTNERS", 1)
    with session_scope(lw) as s:
        s.add(ActivityEvent(event_id="shard-test", partner_id="p-001", kind="portal_login", day=20_000,
                            occurred_at=datetime(2024, 10, 4, tzinfo=UTC)))
        s.flush()
        assert activity.shard_count(s, 48, 2) == 1
        s.rollback()


def _failing_fit(*_: object) -> None:
    raise RuntimeError("worker lost")


def test_activation_curve_fitted_in_a_worker_equals_the_inline_fit(lw: Engine,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A full rescore fits the activation curve in a background worker; the curve it caches must be the one an
    inline fit gives, and a worker that fails leaves the rescore to fit inline instead of failing it."""
    from readiness.scoring import activity

    cfg = load_config()
    monkeypatch.setattr(activity, "SHARD_MIN_PARTNERS", 1)
    with session_scope(lw) as s:
        clear_caches()
        inline = revenue._fit_curve(s, AS_OF, cfg)
        with revenue.curve_fitted_alongside(s, AS_OF, cfg):
            pass
        assert revenue._cached(revenue._key(s, AS_OF, cfg)) == inline
        clear_caches()
        monkeypatch.setattr(revenue, "_fit_in_worker", _failing_fit)
        with revenue.curve_fitted_alongside(s, AS_OF, cfg):
            pass
        assert revenue._cached(revenue._key(s, AS_OF, cfg)) is None
        assert revenue.activation_curve(s, AS_OF, cfg) == inline


@pytest.mark.postgres
def test_on_postgresql_the_curve_is_fitted_in_a_thread_and_equals_the_inline_fit(
        postgres_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from readiness.scoring import activity

    import_dataset(postgres_engine, LUMENWARE)
    cfg = load_config()
    monkeypatch.setattr(activity, "SHARD_MIN_PARTNERS", 1)
    with session_scope(postgres_engine) as s:
        clear_caches()
        inline = revenue._fit_curve(s, AS_OF, cfg)
        clear_caches()
        with revenue.curve_fitted_alongside(s, AS_OF, cfg):
            pass
        assert revenue._cached(revenue._key(s, AS_OF, cfg)) == inline


def test_silence_is_read_from_the_partners_own_behaviour_not_system_detections(s: Session) -> None:
    """p-026 Yarrow Networks: training_completed 2026-01-07, its last own action a portal_login on 2026-06-12
    (141 days before as_of), then only a system-detected "44 shared target accounts" on 2026-09-22 (partner
    record: 30). Silent for months and below ready, so inactive, not developing; with a large and growing
    overlap, so not_yet and on its PAM's call list, opening the overlapping accounts with the detected 44 as the
    evidence. p-010 Willow Networks attended a field roadshow on 2026-09-24 and logged in on 2026-10-26, below
    ready: developing."""
    from readiness.scoring import call_list

    x = score_partner(s, "p-026", AS_OF)
    assert x.segment == "inactive" and x.outlook == "not_yet" and x.play == "open_overlap"
    flags = {f.code: f for f in x.dormant_flags}
    assert {"overlap_inactive", "trained_never_sold"} <= set(flags)
    assert flags["overlap_inactive"].evidence[0] == ("44 shared target accounts detected (partner record: 30, "
                                                     "current value only)")
    assert "p-026" in [e.partner_id for e in call_list(s, AS_OF, "pam-03", limit=20)]
    y = score_partner(s, "p-010", AS_OF)
    assert y.segment == "developing" and y.score < load_config().segments.ready_min_score


def _killed_shard(*_: object) -> None:
    os._exit(1)  # the worker process dies without an answer


def test_a_shard_whose_worker_dies_is_read_by_the_parent(lw: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed mid-read costs time, not data: the parent reads its shard and the counts are complete."""
    import numpy as np

    from readiness.scoring import activity
    from readiness.scoring.features import KINDS, load_features, to_day

    with session_scope(lw) as s:
        expected = load_features(s, AS_OF, None, 90, 120)  # 48 partners: one read, no worker
        monkeypatch.setattr(activity, "SHARD_MIN_PARTNERS", 1)
        monkeypatch.setattr(activity, "_read_shard", _killed_shard)
        rows = activity.aggregate(s, expected.ids, to_day(AS_OF), 90, KINDS, False, workers=2)
    logins = rows.kind == KINDS.index("portal_login")
    got = np.zeros(len(expected.ids))
    got[rows.pos[logins]] = rows.values[logins][:, activity.STATS.index("count")]
    assert got.sum() > 0 and np.array_equal(got, expected.kinds["portal_login"].count)


def test_full_rescore_and_chat_agree_when_gtm_counts_in_the_total(lw: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Profile texts are judged only for small scopes, unless GTM counts in the total: then a whole-program
    rescore judges them too, so its snapshot total equals the one-partner score (p-021 has a GTM profile).
    Each snapshot says what its GTM block rests on."""
    from sqlalchemy import select

    from readiness.models import ScoreSnapshot
    from readiness.scoring import features, refresh_snapshots

    monkeypatch.setattr(features, "MAX_PROFILES", 10)  # lumenware's 48 partners count as a big scope
    base = load_config()
    with_gtm = base.model_copy(update={"gtm": base.gtm.model_copy(update={"include_in_total": True, "weight": 20})})
    for cfg, basis in ((base, "behaviour"), (with_gtm, "behaviour and profile text")):
        with session_scope(lw) as s:
            refresh_snapshots(s, AS_OF, config=cfg)
            snap = s.scalars(select(ScoreSnapshot).where(ScoreSnapshot.partner_id == "p-021",
                                                         ScoreSnapshot.as_of == AS_OF)).one()
            assert snap.dimensions["gtm_basis"] == basis
            if cfg is with_gtm:
                assert snap.score == pytest.approx(score_partner(s, "p-021", AS_OF, cfg).score, abs=0.01)
            s.rollback()


def test_the_activation_curve_fit_is_scikit_learns_logistic_regression() -> None:
    """The curve is fitted without importing scikit-learn (0.9 s of CPU on every cold rescore) but must give its
    LogisticRegression(C=1) answer."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    for n in (40, 600, 5000):
        x = rng.uniform(0, 100, n)
        y = rng.random(n) < 1 / (1 + np.exp(-(-5.5 + 0.08 * x)))
        model = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(x.reshape(-1, 1), y)
        intercept, slope = revenue.logistic_fit(x, y, 1.0)
        assert intercept == pytest.approx(float(model.intercept_[0]), rel=1e-4)
        assert slope == pytest.approx(float(model.coef_[0][0]), rel=1e-4)


@pytest.mark.parametrize("day", [AS_OF, date(2026, 7, 31)])
def test_baselines_from_a_whole_programs_features_equal_the_ones_read_from_the_store(lw: Engine, tmp_path: Path,
                                                                                      day: date) -> None:
    """A full rescore derives the program baselines from the features it already read; a one-partner score reads
    them from the store. Both must be the same numbers (lumenware and a seeded program, today and in the past)."""
    from readiness.scoring.features import load_features
    from readiness.scoring.priors import _compute, priors_from_features
    from readiness.seed import generate_program, load_into_store

    seeded = make_engine(f"sqlite:///{tmp_path / 'seeded.db'}")
    init_db(seeded)
    load_into_store(seeded, generate_program(300, 11, AS_OF))
    for engine in (lw, seeded):
        with session_scope(engine) as s:
            stored = _compute(s, day, 120)
            derived = priors_from_features(load_features(s, day, None, 90, 120), 120)
        a, b = stored.to_json(), derived.to_json()
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], dict):
                assert a[key].keys() == b[key].keys() and all(
                    a[key][k] == pytest.approx(b[key][k], rel=1e-12) for k in a[key]), key
            elif isinstance(a[key], float):
                assert a[key] == pytest.approx(b[key], rel=1e-12), key
            else:
                assert a[key] == b[key], key
