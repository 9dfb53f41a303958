"""ASGI middleware around every route: request ids, logs and metrics, security headers, and the body guard.

Pure ASGI (not BaseHTTPMiddleware) so streamed responses pass through untouched and the body guard runs before any
route or FastAPI parses a byte:
- a body over the limit is refused with 413 as soon as the declared length or the bytes read exceed it, without
  reading the rest (the upload route has its own, larger limit);
- a JSON body that is not UTF-8 or holds a lone surrogate (`"\\ud800"`, which no UTF-8 text can carry and which
  would fail later, deep in a database driver or a tokenizer) is refused with 400.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog

from readiness.settings import Settings
from server.observability import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = structlog.get_logger("partnerpilot.server")

UPLOAD_PATHS = ("/v1/imports",)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")

CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
# FastAPI's API explorer pages load Swagger UI / ReDoc from a CDN with inline bootstrapping.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
            "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
            "https://cdn.redoc.ly; worker-src 'self' blob:; frame-ancestors 'none'; object-src 'none'")
DOCS_PATHS = ("/docs", "/redoc")


async def send_json(send: Send, status: int, body: dict[str, Any], close: bool = False) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if close:  # the rest of an oversize body is never read: the connection cannot be reused
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_SURROGATE.search(value))
    if isinstance(value, dict):
        return any(has_lone_surrogate(k) or has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_lone_surrogate(v) for v in value)
    return False


def unicode_problem(body: bytes) -> str | None:
    """Why a JSON body's text is unusable, or None. Malformed JSON is left to the route (a 422 naming it)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the request body is not valid UTF-8 (byte {exc.start})"
    if not _ESCAPED_SURROGATE.search(body):
        return None  # escaped surrogate pairs are fine; only a surrogate left unpaired after decoding is not
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return "the request body holds invalid Unicode (a lone surrogate escape such as \\ud800)" \
        if has_lone_surrogate(parsed) else None


class BodyGuard:
    """Size limit before parsing, and invalid Unicode refused, on every route."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def limit_for(self, path: str) -> int:
        if path.startswith(UPLOAD_PATHS):
            return self.settings.max_upload_bytes
        return self.settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is None and _header(scope, b"transfer-encoding") is None:
            await self.app(scope, receive, send)  # no body
            return
        limit = self.limit_for(scope.get("path", ""))
        too_large = {"detail": f"the request body is larger than the limit of {limit:,} bytes"}
        if length is not None and (not length.isdigit() or int(length) > limit):
            await send_json(send, 413 if length.isdigit() else 400,
                            too_large if length.isdigit() else {"detail": "invalid Content-Length"}, close=True)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await send_json(send, 413, too_large, close=True)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = (_header(scope, b"content-type") or "").lower()
        if not content_type or "json" in content_type:  # FastAPI reads a body without a type as JSON
            problem = unicode_problem(body)
            if problem is not None:
                await send_json(send, 400, {"detail": problem})
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the client's disconnect, which streaming routes watch for

        await self.app(scope, replay, send)


def route_template(scope: Scope) -> str:
    """The matched route's template with the prefixes of the routers it was included through ("/v1/partners/
    {partner_id}"): metric labels and logs must never carry raw paths, or unknown paths would grow the label set.

    FastAPI hands over the route as declared in its router, without the include prefixes; those are the leading
    segments of the request path that the template's own segments do not cover."""
    leaf = getattr(scope.get("route"), "path", None)
    path = scope.get("path", "")
    if leaf is None:
        return "/static" if path.startswith("/static/") else "unmatched"
    own = len(leaf.strip("/").split("/")) if leaf.strip("/") else 0
    segments = [p for p in path.strip("/").split("/") if p]
    prefix = segments[: max(0, len(segments) - own)]
    return ("/" + "/".join(prefix) if prefix else "") + (leaf if leaf != "/" or not prefix else "")


def security_headers(path: str, content_type: str, authenticated: bool) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
               (b"referrer-policy", b"no-referrer")]
    if content_type.startswith("text/html"):
        csp = DOCS_CSP if path in DOCS_PATHS else CSP
        headers.append((b"content-security-policy", csp.encode()))
    if authenticated:  # per-caller data must not sit in shared caches
        headers.append((b"cache-control", b"no-store"))
    return headers


class RequestContext:
    """Request id (the client's `X-Request-ID` when well-formed, else a new one) bound into every log line of the
    request; one structured log line and Prometheus observations per request; security headers on every response."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        responded = False
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex[:16]
        authenticated = _header(scope, b"authorization") is not None
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                responded = True
                status = int(message["status"])
                headers = list(message.get("headers", []))
                content_type = next((v.decode("latin-1") for k, v in headers if k.lower() == b"content-type"), "")
                headers += [(b"x-request-id", request_id.encode()),
                            *security_headers(scope.get("path", ""), content_type.lower(), authenticated)]
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            # Details go to the log only; the client learns the request did not complete and can retry.
            log.error("unhandled_error", path=scope.get("path"), error=type(exc).__name__, exc_info=exc)
            if responded:
                raise
            await send_json(send_with_headers, 500, {
                "detail": "internal error: the request was not completed; please try again",
                "request_id": request_id})
        finally:
            route = route_template(scope)
            elapsed = time.perf_counter() - started
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            principal = (scope.get("state") or {}).get("principal")
            log.info("request", method=method, route=route, status=status, ms=round(elapsed * 1000, 1),
                     principal=principal.actor if principal is not None else None)
            structlog.contextvars.unbind_contextvars("request_id")


__all__ = ["BodyGuard", "RequestContext", "has_lone_surrogate", "route_template", "security_headers",
           "unicode_problem"]
