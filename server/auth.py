"""Authentication: the only source of identity and tenancy for the HTTP API.

Every route that needs a caller depends on `current_principal` (one dependency: REST, chat, and whatever mounts on
this app), which turns the bearer token into a `Principal`, or answers 401, 429 or 503. Bearer tokens, in the order
tried:
- static development tokens from `PARTNERPILOT_API_TOKENS` (`tok1=pam:pam-02,tok2=partner:p-014`);
- API keys managed in the store (`pp_…`, `partnerpilot keys`); a key's resolution is kept in the worker only while
  the store's data version (read first on every request) is unchanged and the key unexpired, so a revoked or expired
  key fails at once on every worker;
- OIDC JWTs verified against `PARTNERPILOT_OIDC_JWKS`, when configured;
- demo tokens from `POST /login` (see server.demo), only while demo login is on.
Each credential then passes the per-key rate limit (server.shared).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Literal

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.orm import Session

from agent.context import Context
from agent.services import get_services
from readiness.dataversion import read_version
from readiness.errors import OutOfScope
from readiness.keys import active_keys_exist, looks_like_key, resolve_key_expiry
from readiness.lru import Lru
from readiness.scope import Principal, Role, validate_principal
from readiness.settings import Settings
from server.demo import DemoState, DemoTokens, demo_principals, demo_state, looks_like_demo_token
from server.oidc import OidcVerifier, looks_like_jwt
from server.readcache import KEY_ENTRIES
from server.shared import SharedState, SharedUnavailable

AUTH_HEADERS = {"WWW-Authenticate": "Bearer"}
# Declares the bearer scheme in the OpenAPI document; the token itself is read by `authenticate_request`.
bearer_scheme = HTTPBearer(auto_error=False, description="An API key (`partnerpilot keys create`), a development "
                           "token, an OIDC JWT, or a demo token from POST /login.")


class Credential(BaseModel):
    """An authenticated bearer: who it acts as, what kind it is, and the bucket its rate limit counts in."""

    principal: Principal
    kind: Literal["token", "key", "oidc", "demo"]
    bucket: str
    token_id: str | None = None  # demo tokens: the id a logout revokes
    expires: int | None = None
    key_expires: float | None = None  # API keys: when the key expires (epoch seconds), for the resolution cache


def _token_digest(token: str) -> bytes:
    """The cache holds a digest, not the secret."""
    return hashlib.sha256(token.encode()).digest()


def parse_principal(spec: str) -> Principal:
    role, _, pid = spec.strip().partition(":")
    if role not in {"partner", "pam", "leader", "admin"} or not pid:
        raise ValueError(f"a principal looks like partner:ID, pam:ID, leader:ID or admin:ID, got {spec!r}")
    return Principal(role=role, id=pid)  # type: ignore[arg-type]


def parse_api_tokens(raw: str | None) -> dict[str, Principal]:
    """`tok1=pam:pam-02,tok2=partner:p-014` → {token: principal}; a malformed entry is a configuration error."""
    tokens: dict[str, Principal] = {}
    for item in (raw or "").split(","):
        if not item.strip():
            continue
        token, sep, spec = item.strip().partition("=")
        if not sep or not token:
            raise ValueError(f"PARTNERPILOT_API_TOKENS entry must be token=role:id, got {item.strip()[:40]!r}")
        tokens[token] = parse_principal(spec)
    return tokens


class Authenticator:
    def __init__(self, settings: Settings, shared: SharedState) -> None:
        self.settings = settings
        self.shared = shared
        self.static = parse_api_tokens(settings.api_tokens)
        self.demo = DemoTokens(settings.secret_key, settings.demo_token_ttl_s)
        self.oidc = OidcVerifier(settings) if settings.oidc_jwks else None
        self.resolved = Lru(KEY_ENTRIES)  # token digest -> (data version, credential)

    def remembered(self, token: str, version: int | None) -> Credential | None:
        """The credential this token resolved to under this data version, while a key has not expired. Revoking a
        key (or removing its partner or PAM) changes the store, so the version: the next request resolves it anew
        on every worker."""
        if version is None:
            return None
        found = self.resolved.get(_token_digest(token))
        if found is None or found[0] != version:
            return None
        cred: Credential = found[1]
        if cred.key_expires is not None and cred.key_expires <= time.time():
            return None
        return cred

    def remember(self, token: str, version: int | None, cred: Credential) -> None:
        if version is not None and cred.kind in ("key", "token"):  # demo and OIDC tokens are checked every time
            self.resolved.put(_token_digest(token), (version, cred))

    def demo_state(self, session: Session, local_addr: str | None = None) -> DemoState:
        return demo_state(self.settings, active_keys_exist(session), local_addr)

    def _static(self, token: str) -> Credential | None:
        for i, (known, principal) in enumerate(self.static.items()):
            if hmac.compare_digest(known.encode(), token.encode()):
                return Credential(principal=principal, kind="token", bucket=f"token:{i}")
        return None

    def authenticate(self, session: Session, token: str, local_addr: str | None = None) -> Credential | None:
        found = self._static(token)
        if found is not None:
            return found
        if looks_like_key(token):
            resolved = resolve_key_expiry(session, token)
            return None if resolved is None else Credential(
                principal=resolved[1], kind="key", bucket=f"key:{resolved[0]}",
                key_expires=None if resolved[2] is None else resolved[2].timestamp())
        if looks_like_demo_token(token):
            claims = self.demo.verify(token)
            if claims is None or not self.demo_state(session, local_addr).enabled or self.shared.is_revoked(
                    claims.token_id):
                return None
            return Credential(principal=claims.principal, kind="demo", bucket=f"demo:{claims.principal.actor}",
                              token_id=claims.token_id, expires=claims.expires)
        if self.oidc is not None and looks_like_jwt(token):
            verified = self.oidc.verify(token)
            return None if verified is None else Credential(principal=verified[1], kind="oidc",
                                                            bucket=f"oidc:{verified[0]}")
        return None


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def local_address(request: Request) -> str | None:
    """The address the request arrived on (the server side of the connection), when the server reports one."""
    server = request.scope.get("server")
    return str(server[0]) if server else None


def unavailable(exc: SharedUnavailable) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc), headers={"Retry-After": "5"})


def authenticate_request(request: Request) -> Credential:
    """The request's credential, or 401; stored on `request.state` for logs and logout."""
    token = bearer_token(request)
    if token is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, headers=AUTH_HEADERS,
                            detail="authentication required: send Authorization: Bearer <key>")
    auth: Authenticator = request.app.state.auth
    # Read before anything else of this request: the key resolution and the REST read caches are keyed by it.
    version = read_version(get_services().engine)
    cred = auth.remembered(token, version)
    if cred is None:
        try:
            with get_services().session() as s:
                cred = auth.authenticate(s, token, local_address(request))
                if cred is not None:
                    validate_principal(s, cred.principal)
        except SharedUnavailable as exc:
            raise unavailable(exc) from exc
        except OutOfScope:
            cred = None  # the credential names a partner or PAM no longer in the store
        if cred is not None:
            auth.remember(token, version, cred)
    request.state.data_version = version
    if cred is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="invalid, expired or revoked bearer token",
                            headers=AUTH_HEADERS)
    request.state.principal = cred.principal
    request.state.credential = cred
    return cred


def enforce_rate_limit(request: Request, cred: Credential) -> None:
    limit = request.app.state.settings.rate_limit_per_minute
    if limit <= 0:
        return
    try:
        allowed, retry_after = request.app.state.auth.shared.hit(cred.bucket, limit)
    except SharedUnavailable as exc:
        raise unavailable(exc) from exc
    if not allowed:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(retry_after)},
                            detail=f"rate limit exceeded: {limit} requests per minute per key; retry in "
                                   f"{retry_after} s")


def current_principal(
    request: Request, _scheme: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)
) -> Principal:
    """FastAPI dependency for every authenticated route: the caller's principal (401 / 429 / 503 otherwise)."""
    cred = authenticate_request(request)
    enforce_rate_limit(request, cred)
    return cred.principal


def require_roles(*roles: Role) -> Callable[..., Principal]:
    """A dependency admitting only these roles (403 for the others, which are authenticated but not allowed)."""
    allowed = frozenset(roles)

    def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                detail=f"this route is for {' or '.join(sorted(allowed))} keys")
        return principal

    return dependency


def agent_role(principal: Principal) -> str:
    """The role the agent runs as: an administrator converses as a channel leader (the whole program)."""
    return "leader" if principal.role == "admin" else principal.role


def agent_context(principal: Principal, settings: Settings) -> Context:
    """The agent's context for a turn, from the authenticated principal only (every chat surface uses this)."""
    return Context(role=agent_role(principal), principal_id=principal.id, as_of=settings.today(),
                   provider=settings.resolved_provider, model=settings.model)


__all__ = [
    "Authenticator",
    "Credential",
    "agent_context",
    "agent_role",
    "authenticate_request",
    "bearer_token",
    "current_principal",
    "demo_principals",
    "local_address",
    "parse_api_tokens",
    "parse_principal",
    "require_roles",
]
