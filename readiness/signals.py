"""Readiness signal write-back: structured, append-only, audited, idempotent facts about a partner.

- Append-only: a review never edits a row; it appends one pointing at the original (`supersedes_id`).
- Idempotent: the unique `idempotency_key` decides. A retry with the same key returns the original row
  (`created=False`). Concurrent writers race on the constraint: the loser's insert does nothing (or fails with an
  IntegrityError on other databases) and it re-reads the winner's row, so nothing is lost or duplicated.
- Partner-sourced signals are `claimed` until a PAM confirms them; scoring counts them only once confirmed.
- After a new signal the partner is rescored at once when `readiness.scoring.rescore_partner` exists.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from readiness.audit import audit
from readiness.errors import OutOfScope, UnknownPartner, ValidationFailed
from readiness.models import Pam, Partner, ReadinessSignal, utcnow
from readiness.scope import pam_id_of
from readiness.settings import get_settings

log = logging.getLogger(__name__)

SCORE_DIMENSIONS = ("engagement", "revenue_potential", "market_alignment", "capability")
GTM_DIMENSIONS = ("icp", "use_case", "sales_motion", "delivery_credibility", "business_communication", "ae_engagement")
DIMENSIONS = SCORE_DIMENSIONS + GTM_DIMENSIONS
LEVELS = ("low", "medium", "high")
SOURCES = ("partner", "pam", "agent", "import")
Decision = Literal["confirm", "reject", "override"]
_REVIEW_STATUS = {"confirm": "confirmed", "reject": "rejected", "override": "overridden"}


class SignalIn(BaseModel):
    """A signal to record. Types are loose on purpose: domain checks in `validate_signal` raise `ValidationFailed`
    with a message a user can act on, instead of a pydantic error dump."""

    partner_id: str
    dimension: str
    level: str | None = None
    value: float | None = None
    evidence: str = ""
    source: str = "agent"
    actor: str
    thread_id: str | None = None
    idempotency_key: str | None = Field(None, description="same key = same signal; default: a fresh key")


class SignalOut(BaseModel):
    id: int
    partner_id: str
    dimension: str
    level: str | None
    value: float | None
    evidence: str | None
    source: str
    actor: str
    thread_id: str | None
    status: str
    supersedes_id: int | None
    idempotency_key: str
    created_at: datetime
    created: bool = Field(True, description="False when an earlier call with the same key already recorded it")
    score: float | None = Field(None, description="the partner's readiness score after rescoring, when available")
    tier: str | None = None


def validate_signal(signal: SignalIn) -> None:
    if signal.dimension not in DIMENSIONS:
        raise ValidationFailed(f"unknown dimension {signal.dimension!r}; valid: {', '.join(DIMENSIONS)}")
    if signal.level is None and signal.value is None:
        raise ValidationFailed("a signal needs a level (low|medium|high) or a value 0-100")
    if signal.level is not None and signal.level not in LEVELS:
        raise ValidationFailed(f"unknown level {signal.level!r}; valid: {', '.join(LEVELS)}")
    if signal.value is not None and not 0 <= signal.value <= 100:
        raise ValidationFailed(f"value must be between 0 and 100, got {signal.value}")
    if signal.source not in SOURCES:
        raise ValidationFailed(f"unknown source {signal.source!r}; valid: {', '.join(SOURCES)}")
    if not signal.actor.strip():
        raise ValidationFailed("a signal needs an actor (who reports it)")


def _out(row: ReadinessSignal, created: bool, score: Any = None) -> SignalOut:
    return SignalOut(
        id=row.id, partner_id=row.partner_id, dimension=row.dimension, level=row.level, value=row.value,
        evidence=row.evidence, source=row.source, actor=row.actor, thread_id=row.thread_id, status=row.status,
        supersedes_id=row.supersedes_id, idempotency_key=row.idempotency_key, created_at=row.created_at,
        created=created, score=getattr(score, "score", None), tier=getattr(score, "tier", None),
    )


def _by_key(session: Session, key: str) -> ReadinessSignal | None:
    return session.scalars(select(ReadinessSignal).where(ReadinessSignal.idempotency_key == key)).first()


_COLUMNS = ("partner_id", "dimension", "level", "value", "evidence", "source", "actor", "thread_id", "status",
            "supersedes_id", "idempotency_key", "created_at")


def _insert_once(session: Session, row: ReadinessSignal) -> tuple[ReadinessSignal, bool]:
    """Insert unless the key exists; when another writer won the race, re-read its row. Returns (row, created).

    On SQLite and PostgreSQL the unique constraint arbitrates through INSERT .. ON CONFLICT DO NOTHING: no
    savepoint (pysqlite's savepoints would commit the caller's transaction early) and no aborted transaction.
    Other databases insert in a savepoint and treat an IntegrityError on the key as "someone else won"."""
    existing = _by_key(session, row.idempotency_key)
    if existing is not None:
        return existing, False
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite_insert if dialect == "sqlite" else pg_insert
        row.created_at = row.created_at or utcnow()
        values = {c: getattr(row, c) for c in _COLUMNS}
        new_id = session.execute(
            insert(ReadinessSignal).values(**values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(ReadinessSignal.id)
        ).scalar()
        if new_id is not None:
            return session.get_one(ReadinessSignal, new_id), True
    else:
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return row, True
        except IntegrityError:
            pass
    winner = _by_key(session, row.idempotency_key)
    if winner is None:  # the conflict was not on our key after all
        raise ValidationFailed(f"could not record signal {row.idempotency_key!r}: conflicting row")
    return winner, False


def _rescorer() -> Any:
    """`readiness.scoring.rescore_partner` when scoring is installed (built in parallel; may be absent)."""
    for module in ("readiness.scoring", "readiness.scoring.snapshots"):
        try:
            fn = getattr(importlib.import_module(module), "rescore_partner", None)
        except ImportError:
            continue
        if fn is not None:
            return fn
    return None


def _rescore(session: Session, partner_id: str, as_of: date) -> Any:
    rescore = _rescorer()
    if rescore is None:
        return None
    try:
        # A savepoint: a failed rescore (e.g. a concurrent snapshot upsert) must not lose the signal itself;
        # the score is derived and the next read recomputes it.
        with session.begin_nested():
            return rescore(session, partner_id, as_of)
    except SQLAlchemyError as exc:
        log.warning("rescore of %s after a signal failed: %s", partner_id, exc)
        return None


def record_signal(session: Session, signal: SignalIn | dict[str, Any], as_of: date | None = None) -> SignalOut:
    """Validate, store (once per idempotency key), audit and rescore. as_of: the date to rescore at."""
    if isinstance(signal, dict):
        try:
            signal = SignalIn.model_validate(signal)
        except ValidationError as exc:
            raise ValidationFailed(f"invalid signal: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc
    validate_signal(signal)
    if session.get(Partner, signal.partner_id) is None:
        raise UnknownPartner(f"unknown partner {signal.partner_id!r}")
    key = signal.idempotency_key or f"sig-{uuid.uuid4().hex}"
    row = ReadinessSignal(
        partner_id=signal.partner_id, dimension=signal.dimension, level=signal.level, value=signal.value,
        evidence=signal.evidence.strip() or None, source=signal.source, actor=signal.actor,
        thread_id=signal.thread_id, status="claimed" if signal.source == "partner" else "recorded",
        idempotency_key=key,
    )
    row, created = _insert_once(session, row)
    score = None
    if created:
        audit(session, signal.actor, "signal.record", "readiness_signal", row.id, signal.thread_id,
              {"partner_id": row.partner_id, "dimension": row.dimension, "level": row.level, "value": row.value,
               "source": row.source, "status": row.status, "idempotency_key": key})
        session.flush()
        score = _rescore(session, row.partner_id, as_of or get_settings().today())
    return _out(row, created, score)


def review_signal(
    session: Session,
    signal_id: int,
    actor: str,
    decision: Decision,
    value: float | None = None,
    level: str | None = None,
    note: str | None = None,
    thread_id: str | None = None,
    idempotency_key: str | None = None,
    as_of: date | None = None,
) -> SignalOut:
    """A PAM confirms, rejects or overrides a signal by appending a row that supersedes it."""
    if decision not in _REVIEW_STATUS:
        raise ValidationFailed(f"decision must be confirm, reject or override, got {decision!r}")
    original = session.get(ReadinessSignal, signal_id)
    if original is None:
        raise ValidationFailed(f"no readiness signal with id {signal_id}")
    pam_id = pam_id_of(actor)  # the audit identity ("pam:pam-02") or the bare id
    if session.get(Pam, pam_id) is None:
        raise OutOfScope(f"only a PAM can review a signal; {actor!r} is not a PAM")
    partner = session.get(Partner, original.partner_id)
    if partner is not None and partner.pam_id not in (None, pam_id):
        raise OutOfScope(f"{actor} is not the PAM of {partner.name} ({partner.partner_id})")
    if decision == "override":
        if value is None and level is None:
            raise ValidationFailed("an override needs the corrected value (0-100) or level")
    else:
        value, level = original.value, original.level
    candidate = SignalIn(partner_id=original.partner_id, dimension=original.dimension, level=level, value=value,
                         evidence=note or original.evidence or "", source="pam", actor=actor, thread_id=thread_id)
    validate_signal(candidate)
    # Default key: the same review of the same signal is the same row, so a retried click adds nothing.
    key = idempotency_key or "review-" + hashlib.sha256(
        f"{signal_id}|{decision}|{actor}|{value}|{level}".encode()).hexdigest()[:40]
    row = ReadinessSignal(
        partner_id=original.partner_id, dimension=original.dimension, level=level, value=value,
        evidence=candidate.evidence or None, source="pam", actor=actor, thread_id=thread_id,
        status=_REVIEW_STATUS[decision], supersedes_id=original.id, idempotency_key=key,
    )
    row, created = _insert_once(session, row)
    score = None
    if created:
        audit(session, actor, f"signal.{decision}", "readiness_signal", row.id, thread_id,
              {"partner_id": row.partner_id, "supersedes_id": original.id, "value": value, "level": level,
               "note": note})
        session.flush()
        score = _rescore(session, row.partner_id, as_of or get_settings().today())
    return _out(row, created, score)


def signal_history(session: Session, partner_id: str) -> list[SignalOut]:
    """Every signal row of a partner, oldest first (originals and the reviews that supersede them)."""
    if session.get(Partner, partner_id) is None:
        raise UnknownPartner(f"unknown partner {partner_id!r}")
    rows = session.scalars(
        select(ReadinessSignal).where(ReadinessSignal.partner_id == partner_id).order_by(ReadinessSignal.id)
    )
    return [_out(r, created=True) for r in rows]


__all__ = [
    "DIMENSIONS",
    "GTM_DIMENSIONS",
    "LEVELS",
    "SCORE_DIMENSIONS",
    "SOURCES",
    "SignalIn",
    "SignalOut",
    "record_signal",
    "review_signal",
    "signal_history",
    "validate_signal",
]
