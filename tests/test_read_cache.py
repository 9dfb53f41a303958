"""The store's data version and the server's caches keyed by it (readiness.dataversion, server.readcache).

A commit that changes rows moves the version, whoever makes it (this app, another engine, a raw bulk load); reads
and upserts that change nothing leave it alone. Cached REST reads and key resolutions are never served across a
change: a write through another engine shows in the next read, a revoked key is refused at once, an expired one
too, and a cached answer is byte for byte the computed one.
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, insert, select, update

from readiness.dataversion import read_version
from readiness.db import make_engine, session_scope
from readiness.keys import create_key, revoke_key
from readiness.models import Pam, ScoreSnapshot
from readiness.scoring import score_all
from readiness.scoring.snapshots import upsert_snapshots
from readiness.signals import record_signal
from tests.api_support import Api, api, store  # noqa: F401  (fixtures)
from tests.conftest import LUMENWARE, LUMENWARE_AS_OF, signal_from_elsewhere

AS_OF = date.fromisoformat(LUMENWARE_AS_OF)


def test_commits_that_change_rows_move_the_version_and_the_others_do_not(any_engine: Engine) -> None:
    engine = any_engine
    v0 = read_version(engine)
    assert v0 is not None
    with session_scope(engine) as s:  # a read-only transaction
        s.scalars(select(Pam)).all()
    assert read_version(engine) == v0
    with session_scope(engine) as s:
        s.add(Pam(pam_id="pam-x", name="Pat Example"))
    v1 = read_version(engine)
    assert v1 is not None and v1 > v0
    with engine.begin() as conn:  # Core, and an update that matches no row
        conn.execute(update(Pam.__table__).where(Pam.pam_id == "nobody").values(name="x"))
    assert read_version(engine) == v1
    with engine.begin() as conn:
        conn.execute(insert(Pam.__table__).values(pam_id="pam-y", name="Yan Example"))
    assert read_version(engine) > v1  # type: ignore[operator]
    v2 = read_version(engine)
    with pytest.raises(RuntimeError), session_scope(engine) as s:  # rolled back: nothing changed
        s.add(Pam(pam_id="pam-z", name="Zed Example"))
        s.flush()
        raise RuntimeError("abandon")
    assert read_version(engine) == v2


def test_a_snapshot_upsert_of_the_values_already_stored_changes_nothing(any_engine: Engine) -> None:
    from readiness.importers import import_dataset

    engine = any_engine
    import_dataset(engine, LUMENWARE)
    with session_scope(engine) as s:
        scores = score_all(s, AS_OF, ["p-004", "p-014"], with_momentum=False)
        upsert_snapshots(s, scores)
    v1 = read_version(engine)
    with session_scope(engine) as s:  # the call list re-scores its shortlist on every read: the same values
        upsert_snapshots(s, score_all(s, AS_OF, ["p-004", "p-014"], with_momentum=False))
    assert read_version(engine) == v1
    with session_scope(engine) as s:
        changed = scores[0].model_copy(update={"score": scores[0].score + 1})
        upsert_snapshots(s, [changed])
    assert read_version(engine) > v1  # type: ignore[operator]
    with session_scope(engine) as s:
        row = s.scalars(select(ScoreSnapshot).where(ScoreSnapshot.partner_id == changed.partner_id,
                                                    ScoreSnapshot.as_of == AS_OF)).one()
        assert row.score == changed.score


def test_a_write_through_another_engine_shows_in_the_next_cached_read(api: Api) -> None:  # noqa: F811
    path = "/v1/partners/p-004/signals"
    first = api.client.get(path, headers=api.h("pam2"))
    again = api.client.get(path, headers=api.h("pam2"))
    assert first.status_code == again.status_code == 200 and first.content == again.content
    score = api.client.get("/v1/partners/p-004/score", headers=api.h("pam2")).json()
    signal_from_elsewhere(str(api.engine.url), "p-004", "passed the advanced certification", "pam:pam-02", AS_OF)
    after = api.client.get(path, headers=api.h("pam2")).json()
    assert len(after) == len(first.json()) + 1 and after[-1]["evidence"] == "passed the advanced certification"
    rescored = api.client.get("/v1/partners/p-004/score", headers=api.h("pam2")).json()
    capability = {d["key"]: d for d in rescored["dimensions"]}["capability"]
    assert capability["adjustments"] and rescored != score


def test_a_cached_read_is_the_computed_one_and_refusals_stay_refusals(api: Api) -> None:  # noqa: F811
    app = api.client.app
    paths = ["/v1/partners/p-004/score", "/v1/call-list?limit=5", "/v1/nudges", "/v1/book", "/v1/partners"]
    cold = [api.client.get(p, headers=api.h("pam2")) for p in paths]
    warm = [api.client.get(p, headers=api.h("pam2")) for p in paths]
    assert [r.status_code for r in cold] == [200] * len(paths)
    assert [r.content for r in cold] == [r.content for r in warm]
    assert [r.headers["content-type"] for r in warm] == ["application/json"] * len(paths)
    app.state.read_cache.clear()  # computed again from scratch: the same bytes
    assert [api.client.get(p, headers=api.h("pam2")).content for p in paths] == [r.content for r in cold]
    for _ in range(2):  # out of scope and unknown: the same 404, cached or not
        outside = api.client.get("/v1/partners/p-014/score", headers=api.h("pam2"))
        unknown = api.client.get("/v1/partners/p-999/score", headers=api.h("pam2"))
        assert outside.status_code == unknown.status_code == 404 and outside.json() == unknown.json()
        assert api.client.get("/v1/call-list", headers=api.h("p004")).status_code == 403
    # Each caller's own answer: a partner's nudges are not its PAM's.
    assert api.client.get("/v1/nudges", headers=api.h("p004")).json()["scope"] == "partner:p-004"


def test_a_key_revoked_or_expired_after_it_was_cached_is_refused_at_once(api: Api,  # noqa: F811
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime, timedelta

    with session_scope(api.engine) as s:
        made = create_key(s, "pam", "pam-02", name="short-lived")
        dated = create_key(s, "pam", "pam-02", name="dated", expires_at=datetime.now(UTC) + timedelta(hours=1))
    auth = {"Authorization": f"Bearer {made.key}"}
    assert api.client.get("/v1/me", headers=auth).status_code == 200
    other = make_engine(str(api.engine.url))
    try:
        with session_scope(other) as s:
            revoke_key(s, made.info.key_id)
    finally:
        other.dispose()
    assert api.client.get("/v1/me", headers=auth).status_code == 401
    dated_auth = {"Authorization": f"Bearer {dated.key}"}
    assert api.client.get("/v1/me", headers=dated_auth).status_code == 200
    import server.auth

    later = datetime.now(UTC) + timedelta(hours=2)  # two hours on, nothing written in between
    monkeypatch.setattr(server.auth, "time", SimpleNamespace(time=later.timestamp))
    monkeypatch.setattr("readiness.keys.utcnow", lambda: later)
    assert api.client.get("/v1/me", headers=dated_auth).status_code == 401


@pytest.mark.parametrize("pam", ["pam-01", "pam-02", "pam-03"])
def test_a_partner_answered_with_its_book_reads_as_answered_alone(api: Api, pam: str) -> None:  # noqa: F811
    from readiness.models import Partner
    from server.api.book import _partner_nudges
    from server.api.partners import _diagnoses_near, _scores_near

    with session_scope(api.engine) as s:
        book = list(s.scalars(select(Partner.partner_id).where(Partner.pam_id == pam)))
    for near in (_scores_near, _diagnoses_near, _partner_nudges):
        together = near(book[0], len(book))  # type: ignore[operator]
        assert sorted(together) == sorted(book)
        for pid in book:
            alone = near(pid, 1)[pid]  # type: ignore[operator]
            assert together[pid].model_dump_json() == alone.model_dump_json(), (near.__name__, pid)


def test_workers_share_cached_reads_through_redis_until_the_store_changes(api: Api) -> None:  # noqa: F811
    from fastapi.testclient import TestClient

    import server.api.partners as partners
    from tests.api_support import REDIS_URL, app_for, redis_problem, require_service

    require_service(redis_problem(REDIS_URL))
    with TestClient(app_for(redis_url=REDIS_URL)) as a, TestClient(app_for(redis_url=REDIS_URL)) as b:
        first = a.get("/v1/partners/p-004/score", headers=api.h("pam2"))
        assert first.status_code == 200

        def not_again(*_: object, **__: object) -> None:
            raise AssertionError("computed again: the other worker's answer was not used")

        with pytest.MonkeyPatch.context() as patched:
            patched.setattr(partners, "_scores_near", not_again)
            assert b.get("/v1/partners/p-004/score", headers=api.h("pam2")).content == first.content
            assert b.get("/v1/partners/p-004/score", headers=api.h("p004")).content == first.content  # other caller
            assert b.get("/v1/partners/p-014/score", headers=api.h("pam2")).status_code == 404  # scope: per caller
        with session_scope(api.engine) as s:
            record_signal(s, {"partner_id": "p-004", "dimension": "capability", "level": "high",
                              "evidence": "passed the advanced certification", "actor": "pam:pam-02",
                              "source": "pam"}, as_of=AS_OF)
        after = b.get("/v1/partners/p-004/score", headers=api.h("pam2"))
        assert after.status_code == 200 and after.content != first.content
        assert a.get("/v1/partners/p-004/score", headers=api.h("pam2")).content == after.content
