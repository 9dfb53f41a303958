"""Optional OIDC: a JWT bearer verified against a configured JWKS (a file, or an https URL fetched and cached by
PyJWT), with one claim naming the principal (`pam:pam-02`). Issuer and audience are checked when configured;
`exp` is always required."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import structlog

from readiness.scope import Principal
from readiness.settings import Settings

log = structlog.get_logger("partnerpilot.oidc")
ROLES = frozenset({"partner", "pam", "leader", "admin"})


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


class OidcVerifier:
    def __init__(self, settings: Settings) -> None:
        source = settings.oidc_jwks or ""
        self.algorithms = [a.strip() for a in settings.oidc_algorithms.split(",") if a.strip()]
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.claim = settings.oidc_principal_claim
        self._client: jwt.PyJWKClient | None = None
        self._keys: jwt.PyJWKSet | None = None
        if source.startswith(("https://", "http://")):
            self._client = jwt.PyJWKClient(source, cache_keys=True, lifespan=300, timeout=5)
        else:
            self._keys = jwt.PyJWKSet.from_dict(json.loads(Path(source).read_text(encoding="utf-8")))

    def _signing_key(self, token: str) -> Any:
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        kid = jwt.get_unverified_header(token).get("kid")
        keys = self._keys.keys if self._keys is not None else []
        for k in keys:
            if kid is None or k.key_id == kid:
                return k.key
        raise jwt.InvalidKeyError("no key in the JWKS matches the token's kid")

    def verify(self, token: str) -> tuple[str, Principal] | None:
        """(subject, principal) for a valid token, None otherwise (the reason is logged, never returned)."""
        try:
            claims = jwt.decode(token, self._signing_key(token), algorithms=self.algorithms, audience=self.audience,
                                issuer=self.issuer, leeway=30,
                                options={"require": ["exp"], "verify_aud": self.audience is not None})
        except (jwt.PyJWTError, ValueError) as exc:
            log.info("oidc_rejected", reason=type(exc).__name__)
            return None
        role, _, pid = str(claims.get(self.claim, "")).partition(":")
        if role not in ROLES or not pid or len(pid) > 64:
            log.info("oidc_rejected", reason="principal_claim")
            return None
        return str(claims.get("sub") or pid), Principal(role=role, id=pid)  # type: ignore[arg-type]


__all__ = ["OidcVerifier", "looks_like_jwt"]
