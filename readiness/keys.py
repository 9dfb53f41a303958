"""API keys managed in the store: create (the secret is shown once), list, revoke, and resolve a presented key.

A key reads `pp_<key_id>_<secret>`: `key_id` (12 hex characters) is public and names the key in lists, logs and
revocations; the secret is 32 random bytes. Only the SHA-256 of the whole key is stored: with 256 random bits a
slow password hash adds nothing, and a lookup stays one indexed read. The server resolves a key again whenever the
store's data version has moved (a revocation moves it; server.auth), so a revoked or expired key fails at once on
every worker.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from readiness.audit import audit
from readiness.errors import UnknownPartner, ValidationFailed
from readiness.models import ApiKey, Pam, Partner, utcnow
from readiness.scope import Principal

KeyRole = Literal["partner", "pam", "leader", "admin"]
KEY_PREFIX = "pp_"
_KEY = re.compile(r"^pp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


class KeyInfo(BaseModel):
    """A key as listed: never the secret."""

    key_id: str
    role: KeyRole
    principal_id: str
    name: str | None
    created_at: datetime
    created_by: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    status: Literal["active", "expired", "revoked"]


class NewKey(BaseModel):
    key: str = Field(description="The bearer secret. Shown once; only its hash is stored.")
    info: KeyInfo


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _aware(dt: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for timezone-aware columns; they were written in UTC.
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def _status(row: ApiKey, now: datetime) -> Literal["active", "expired", "revoked"]:
    if row.revoked_at is not None:
        return "revoked"
    expires = _aware(row.expires_at)
    if expires is not None and expires <= now:
        return "expired"
    return "active"


def _info(row: ApiKey, now: datetime | None = None) -> KeyInfo:
    return KeyInfo(key_id=row.key_id, role=row.role, principal_id=row.principal_id,  # type: ignore[arg-type]
                   name=row.name, created_at=_aware(row.created_at) or utcnow(), created_by=row.created_by,
                   expires_at=_aware(row.expires_at), revoked_at=_aware(row.revoked_at),
                   status=_status(row, now or utcnow()))


def expiry_of(day: date) -> datetime:
    """A key valid through `day` (UTC) expires at the start of the next day."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def create_key(
    session: Session,
    role: KeyRole,
    principal_id: str | None = None,
    name: str | None = None,
    expires_at: datetime | None = None,
    created_by: str = "cli",
) -> NewKey:
    """A new key for a partner, a PAM (both must exist), a channel leader or an administrator (their principal id
    is the key id). Audited; the returned secret is never stored."""
    if role in ("partner", "pam"):
        if not principal_id:
            raise ValidationFailed(f"a {role} key needs the {role}'s id")
        model = Partner if role == "partner" else Pam
        if session.get(model, principal_id) is None:
            raise UnknownPartner(f"unknown {role} {principal_id!r}")
    elif role not in ("leader", "admin"):
        raise ValidationFailed(f"role must be partner, pam, leader or admin, got {role!r}")
    now = utcnow()
    if expires_at is not None and _aware(expires_at) <= now:  # type: ignore[operator]
        raise ValidationFailed("the expiry date is in the past")
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    row = ApiKey(key_id=key_id, secret_hash=hash_key(key), role=role,
                 principal_id=principal_id if role in ("partner", "pam") else key_id,  # type: ignore[arg-type]
                 name=(name or "").strip()[:200] or None, created_at=now, created_by=created_by,
                 expires_at=expires_at)
    session.add(row)
    session.flush()
    audit(session, created_by, "key.create", "api_key", key_id, detail={"role": role, "principal_id": row.principal_id,
                                                                         "name": row.name})
    return NewKey(key=key, info=_info(row, now))


def list_keys(session: Session, include_revoked: bool = True) -> list[KeyInfo]:
    q = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not include_revoked:
        q = q.where(ApiKey.revoked_at.is_(None))
    now = utcnow()
    return [_info(r, now) for r in session.scalars(q)]


def revoke_key(session: Session, key_id: str, actor: str = "cli") -> KeyInfo:
    """Revoke a key (idempotent: revoking a revoked key changes nothing)."""
    row = session.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).first()
    if row is None:
        raise ValidationFailed(f"no API key with id {key_id[:32]!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit(session, actor, "key.revoke", "api_key", key_id, detail={"role": row.role,
                                                                       "principal_id": row.principal_id})
        session.flush()
    return _info(row)


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def resolve_key(session: Session, token: str, now: datetime | None = None) -> tuple[str, Principal] | None:
    """(key_id, principal) for a valid, active key; None for a malformed, unknown, revoked or expired one."""
    found = resolve_key_expiry(session, token, now)
    return None if found is None else (found[0], found[1])


def resolve_key_expiry(session: Session, token: str, now: datetime | None = None
                       ) -> tuple[str, Principal, datetime | None] | None:
    """`resolve_key` and when the key expires (None: never), for callers that remember the answer."""
    m = _KEY.match(token)
    if m is None:
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.key_id == m.group(1))).first()
    if row is None or not hmac.compare_digest(row.secret_hash, hash_key(token)):
        return None
    if _status(row, now or utcnow()) != "active":
        return None
    return row.key_id, Principal(role=row.role, id=row.principal_id), _aware(row.expires_at)  # type: ignore[arg-type]


def active_keys_exist(session: Session) -> bool:
    """Whether any key could still authenticate (demo login must stay off alongside keys)."""
    now = utcnow()
    q = select(ApiKey.expires_at).where(ApiKey.revoked_at.is_(None))
    return any(e is None or _aware(e) > now for e in session.scalars(q))  # type: ignore[operator]


__all__ = [
    "KEY_PREFIX",
    "KeyInfo",
    "KeyRole",
    "NewKey",
    "active_keys_exist",
    "create_key",
    "expiry_of",
    "hash_key",
    "list_keys",
    "looks_like_key",
    "resolve_key",
    "resolve_key_expiry",
    "revoke_key",
]
