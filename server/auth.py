"""Authentication: the only source of identity and tenancy for the HTTP API.

Two kinds of bearer token:
- static API tokens from `PARTNERPILOT_API_TOKENS` (`tok1=pam:pam-02,tok2=partner:p-014`), for integrations;
- signed demo tokens from `POST /login`, only when demo login is on (`PARTNERPILOT_DEMO_LOGIN`, default on when
  the store is the embedded default SQLite file, i.e. a local `make run`). They are HMAC-SHA256 signed with
  `PARTNERPILOT_SECRET_KEY`, or a random per-process key when unset (tokens then die with the process).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime

from fastapi import HTTPException, Request, status
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from readiness.models import Pam, Partner
from readiness.scope import Principal
from readiness.settings import Settings
from server.schemas import PrincipalOption

DEMO_PREFIX = "ppd1"


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARTNERPILOT_", extra="ignore")

    api_tokens: str | None = Field(default=None, description="token=role:id pairs, comma separated.")
    secret_key: str | None = Field(default=None, description="HMAC key for demo tokens; random per process if unset.")
    demo_login: bool | None = Field(default=None, description="Allow POST /login; default on for the embedded store.")
    demo_token_ttl_s: int = Field(default=12 * 3600, gt=0)


def demo_login_enabled(auth: AuthSettings, settings: Settings) -> bool:
    """Explicit setting, else on only for the embedded default store (a local `make run`, not a deployment)."""
    return auth.demo_login if auth.demo_login is not None else settings.database_url is None


def parse_principal(spec: str) -> Principal:
    role, _, pid = spec.strip().partition(":")
    if role not in {"partner", "pam", "leader"} or not pid:
        raise ValueError(f"a principal looks like partner:ID or pam:ID, got {spec!r}")
    return Principal(role=role, id=pid)  # type: ignore[arg-type]


def parse_api_tokens(raw: str | None) -> dict[str, Principal]:
    """`tok1=pam:pam-02,tok2=partner:p-014` → {token: principal}; a malformed entry is a configuration error."""
    tokens: dict[str, Principal] = {}
    for item in (raw or "").split(","):
        if not item.strip():
            continue
        token, sep, spec = item.strip().partition("=")
        if not sep or not token:
            raise ValueError(f"PARTNERPILOT_API_TOKENS entry must be token=role:id, got {item.strip()!r}")
        tokens[token] = parse_principal(spec)
    return tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Authenticator:
    def __init__(self, auth: AuthSettings, settings: Settings) -> None:
        self.static = parse_api_tokens(auth.api_tokens)
        self.secret = auth.secret_key.encode() if auth.secret_key else secrets.token_bytes(32)
        self.demo_enabled = demo_login_enabled(auth, settings)
        self.ttl_s = auth.demo_token_ttl_s

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.secret, payload.encode(), hashlib.sha256).digest())

    def issue_demo_token(self, principal: Principal, now: float | None = None) -> tuple[str, datetime]:
        expires = int((now if now is not None else time.time()) + self.ttl_s)
        payload = _b64(json.dumps({"sub": principal.actor, "exp": expires}, separators=(",", ":")).encode())
        token = f"{DEMO_PREFIX}.{payload}.{self._sign(payload)}"
        return token, datetime.fromtimestamp(expires, tz=UTC)

    def _demo_principal(self, token: str, now: float) -> Principal | None:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != DEMO_PREFIX or not self.demo_enabled:
            return None
        if not hmac.compare_digest(parts[2], self._sign(parts[1])):
            return None
        try:
            claims = json.loads(_unb64(parts[1]))
            if int(claims["exp"]) < now:
                return None
            return parse_principal(str(claims["sub"]))
        except (ValueError, KeyError, TypeError):
            return None

    def authenticate(self, token: str, now: float | None = None) -> Principal | None:
        for known, principal in self.static.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return principal
        return self._demo_principal(token, now if now is not None else time.time())


def demo_principals(session: Session, partners_per_pam: int = 2) -> list[PrincipalOption]:
    """Who one can sign in as in demo mode: every PAM, and the first partners of each book (and unassigned)."""
    pams = list(session.scalars(select(Pam).order_by(Pam.pam_id)))
    options = [PrincipalOption(as_=f"pam:{p.pam_id}", role="pam", label=f"{p.name} (PAM)") for p in pams]
    for pam_id in [p.pam_id for p in pams] + [None]:
        q = select(Partner).order_by(Partner.partner_id).limit(partners_per_pam)
        q = q.where(Partner.pam_id == pam_id) if pam_id else q.where(Partner.pam_id.is_(None))
        options += [PrincipalOption(as_=f"partner:{p.partner_id}", role="partner", label=f"{p.name} (partner)")
                    for p in session.scalars(q)]
    return options


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated principal, or 401."""
    token = bearer_token(request)
    principal = request.app.state.auth.authenticate(token) if token else None
    if principal is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid bearer token" if token else "authentication required: send Authorization: "
            "Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.principal = principal
    return principal


__all__ = [
    "AuthSettings",
    "Authenticator",
    "bearer_token",
    "demo_login_enabled",
    "demo_principals",
    "parse_api_tokens",
    "parse_principal",
    "require_principal",
]
