"""Demo login for a local `make run`: pick a principal on the web page, no credential.

Because it needs no credential it is only ever on where nobody else can reach it or where nothing else
authenticates: when explicitly enabled, or by default when the server listens on loopback only; and never
alongside API keys (static tokens, store keys or OIDC) or on PostgreSQL (a deployment). Only the principals offered
on `/principals` can be signed in as. Tokens are HMAC-signed, short-lived (`PARTNERPILOT_DEMO_TOKEN_TTL_S`) and
revocable (`POST /logout`; the revocation is shared through Redis when configured).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.memory import is_postgres_url
from readiness.models import Pam, Partner
from readiness.scope import Principal
from readiness.settings import Settings
from server.schemas import PrincipalOption

DEMO_PREFIX = "ppd1"
DEMO_LEADER = "leader:program"


class DemoState(BaseModel):
    enabled: bool
    reason: str


class DemoClaims(BaseModel):
    principal: Principal
    token_id: str
    expires: int


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
        return True
    except ValueError:
        return False


def demo_state(settings: Settings, keys_in_store: bool, local_addr: str | None = None) -> DemoState:
    """Whether demo login is on, and why (printed by `partnerpilot up`, logged at start).

    `local_addr`: the address a request arrived on. The default (on for loopback) trusts `settings.host`, which
    `partnerpilot up` sets; a server started some other way on every interface still refuses a request that came
    in on a non-loopback address."""
    if is_postgres_url(settings.resolved_database_url):
        return DemoState(enabled=False, reason="the store is PostgreSQL (a deployment): sign in with an API key")
    if settings.api_tokens or settings.oidc_jwks or keys_in_store:
        return DemoState(enabled=False, reason="API keys are configured: sign in with a key")
    if settings.demo_login is False:
        return DemoState(enabled=False, reason="PARTNERPILOT_DEMO_LOGIN is false")
    if settings.demo_login:
        return DemoState(enabled=True, reason="PARTNERPILOT_DEMO_LOGIN is true")
    if local_addr is not None and _is_ip(local_addr) and not is_loopback(local_addr):
        return DemoState(enabled=False, reason=f"the request arrived on {local_addr}, not loopback")
    if is_loopback(settings.host):
        return DemoState(enabled=True, reason=f"the server listens on {settings.host} only and no keys are configured")
    return DemoState(enabled=False, reason=f"the server listens on {settings.host}, not loopback: create a key "
                                           "(partnerpilot keys create) or set PARTNERPILOT_DEMO_LOGIN=true")


def demo_principals(session: Session, partners_per_pam: int = 2) -> list[PrincipalOption]:
    """Who one can sign in as in demo mode: a channel leader (the whole program), every PAM, and the first partners
    of each book (and unassigned)."""
    pams = list(session.scalars(select(Pam).order_by(Pam.pam_id)))
    options = [PrincipalOption(as_=DEMO_LEADER, role="leader", label="Channel leader (whole program)")]
    options += [PrincipalOption(as_=f"pam:{p.pam_id}", role="pam", label=f"{p.name} (PAM)") for p in pams]
    for pam_id in [p.pam_id for p in pams] + [None]:
        q = select(Partner).order_by(Partner.partner_id).limit(partners_per_pam)
        q = q.where(Partner.pam_id == pam_id) if pam_id else q.where(Partner.pam_id.is_(None))
        options += [PrincipalOption(as_=f"partner:{p.partner_id}", role="partner", label=f"{p.name} (partner)")
                    for p in session.scalars(q)]
    return options


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DemoTokens:
    """Issue and verify signed demo tokens: `ppd1.<claims>.<hmac>`; claims: subject, expiry, token id."""

    def __init__(self, secret: str | None, ttl_s: int) -> None:
        self.secret = secret.encode() if secret else secrets.token_bytes(32)
        self.ttl_s = ttl_s

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.secret, payload.encode(), hashlib.sha256).digest())

    def issue(self, principal: Principal, now: float | None = None) -> tuple[str, datetime]:
        expires = int((now if now is not None else time.time()) + self.ttl_s)
        claims = {"sub": principal.actor, "exp": expires, "jti": secrets.token_hex(8)}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{DEMO_PREFIX}.{payload}.{self._sign(payload)}", datetime.fromtimestamp(expires, tz=UTC)

    def verify(self, token: str, now: float | None = None) -> DemoClaims | None:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != DEMO_PREFIX:
            return None
        if not hmac.compare_digest(parts[2], self._sign(parts[1])):
            return None
        try:
            claims = json.loads(_unb64(parts[1]))
            expires = int(claims["exp"])
            if expires < (now if now is not None else time.time()):
                return None
            role, _, pid = str(claims["sub"]).partition(":")
            return DemoClaims(principal=Principal(role=role, id=pid), token_id=str(claims["jti"]),  # type: ignore[arg-type]
                              expires=expires)
        except (ValueError, KeyError, TypeError):
            return None


def looks_like_demo_token(token: str) -> bool:
    return token.startswith(DEMO_PREFIX + ".")


__all__ = ["DemoClaims", "DemoState", "DemoTokens", "demo_principals", "demo_state", "is_loopback",
           "looks_like_demo_token"]
