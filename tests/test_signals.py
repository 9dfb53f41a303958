"""Readiness signal write-back: validation, append-only review history, audit, idempotency and concurrency."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from readiness.db import session_scope
from readiness.errors import OutOfScope, UnknownPartner, ValidationFailed
from readiness.models import AuditLog, Pam, Partner, ReadinessSignal
from readiness.signals import SignalIn, record_signal, review_signal, signal_history

AS_OF = date(2026, 10, 31)


def _seed(engine: Engine) -> None:
    with session_scope(engine) as s:
        s.add_all([Pam(pam_id="pam-01", name="Ana PAM"), Pam(pam_id="pam-02", name="Bo PAM")])
        s.flush()
        s.add(Partner(partner_id="p-1", name="Acme Partners", type="si", pam_id="pam-01",
                      joined_on=date(2026, 1, 5)))


def _signal(**kw: object) -> SignalIn:
    base: dict[str, object] = {"partner_id": "p-1", "dimension": "capability", "level": "high",
                               "evidence": "hired two certified engineers", "source": "partner",
                               "actor": "partner:p-1", "thread_id": "thread-9"}
    return SignalIn.model_validate({**base, **kw})


def _count(s: Session, model: type, *where: object) -> int:
    return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dimension": "charisma"}, "unknown dimension 'charisma'; valid: engagement"),
        ({"value": 150.0, "level": None}, "between 0 and 100"),
        ({"value": -1.0}, "between 0 and 100"),
        ({"level": "huge"}, "unknown level"),
        ({"level": None, "value": None}, "needs a level"),
        ({"source": "rumour"}, "unknown source"),
    ],
)
def test_invalid_signals_are_refused_with_a_clear_message(engine: Engine, change: dict, message: str) -> None:
    _seed(engine)
    with session_scope(engine) as s:
        with pytest.raises(ValidationFailed, match=message):
            record_signal(s, _signal(**change), AS_OF)
        assert _count(s, ReadinessSignal) == 0
        with pytest.raises(ValidationFailed):  # plain dicts with the wrong types: same error class
            record_signal(s, {"partner_id": "p-1", "dimension": "icp", "value": "lots", "actor": "x"}, AS_OF)


def test_unknown_partner(engine: Engine) -> None:
    _seed(engine)
    with session_scope(engine) as s, pytest.raises(UnknownPartner):
        record_signal(s, _signal(partner_id="p-404"), AS_OF)


def test_partner_claim_is_audited_and_a_retry_returns_the_original(engine: Engine) -> None:
    _seed(engine)
    with session_scope(engine) as s:
        first = record_signal(s, _signal(idempotency_key="k-1"), AS_OF)
    with session_scope(engine) as s:
        retry = record_signal(s, _signal(idempotency_key="k-1", evidence="retried by the agent"), AS_OF)
        assert first.created and not retry.created
        assert retry.id == first.id and retry.evidence == "hired two certified engineers"
        assert first.status == "claimed"  # partner's own word: counts only once a PAM confirms
        assert _count(s, ReadinessSignal) == 1
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "signal.record")).all()
        assert len(audit) == 1
        assert (audit[0].actor, audit[0].thread_id, audit[0].entity_id) == ("partner:p-1", "thread-9", str(first.id))
        pam = record_signal(s, _signal(source="pam", actor="pam-01", idempotency_key="k-2"), AS_OF)
        assert pam.status == "recorded"


def test_pam_review_appends_and_history_shows_both(engine: Engine) -> None:
    _seed(engine)
    with session_scope(engine) as s:
        original = record_signal(s, _signal(dimension="icp", level="medium", idempotency_key="k-3"), AS_OF)
        with pytest.raises(OutOfScope):
            review_signal(s, original.id, "partner:p-1", "confirm")  # not a PAM
        with pytest.raises(OutOfScope):
            review_signal(s, original.id, "pam-02", "confirm")  # a PAM, but not this partner's
        with pytest.raises(ValidationFailed, match="override needs"):
            review_signal(s, original.id, "pam-01", "override")
        override = review_signal(s, original.id, "pam-01", "override", value=35.0, note="ICP still generic")
        again = review_signal(s, original.id, "pam-01", "override", value=35.0, note="double click")
        assert again.id == override.id and not again.created
    with session_scope(engine) as s:
        history = signal_history(s, "p-1")
        assert [(h.id, h.status, h.supersedes_id) for h in history] == [
            (original.id, "claimed", None), (override.id, "overridden", original.id)]
        assert history[0].level == "medium"  # the original row is never edited
        assert history[1].value == 35.0 and history[1].source == "pam" and history[1].actor == "pam-01"


def test_a_signal_rescores_the_partner_at_once(engine: Engine) -> None:
    from readiness.signals import _rescorer

    assert _rescorer() is not None, "signal write-back must rescore through readiness.scoring"
    _seed(engine)
    with session_scope(engine) as s:
        out = record_signal(s, _signal(source="pam", actor="pam-01", idempotency_key="k-9"), AS_OF)
    assert out.score is not None and out.tier is not None


def test_eight_concurrent_writers_lose_nothing_and_duplicate_nothing(any_engine: Engine) -> None:
    """8 threads, each with its own session, start together. All send the same 3 shared keys (a retry storm) and
    3 keys of their own: exactly 3 + 8*3 rows, each shared key created once and returned to everyone."""
    _seed(any_engine)
    threads_n, barrier = 8, threading.Barrier(8)
    results: list[tuple[str, int, bool]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            keys = [f"shared-{i}" for i in range(3)] + [f"own-{n}-{i}" for i in range(3)]
            for key in keys:
                with session_scope(any_engine) as s:
                    out = record_signal(s, _signal(idempotency_key=key, evidence=f"writer {n}"), AS_OF)
                with lock:
                    results.append((key, out.id, out.created))
        except BaseException as exc:  # surfaced below; a thread must not swallow it
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(results) == threads_n * 6
    created = Counter(key for key, _, was_created in results if was_created)
    assert all(created[key] == 1 for key, _, _ in results), created
    ids_per_key: dict[str, set[int]] = {}
    for key, sid, _ in results:
        ids_per_key.setdefault(key, set()).add(sid)
    assert all(len(ids) == 1 for ids in ids_per_key.values())
    with session_scope(any_engine) as s:
        assert _count(s, ReadinessSignal) == 3 + threads_n * 3
        assert _count(s, AuditLog, AuditLog.action == "signal.record") == 3 + threads_n * 3
