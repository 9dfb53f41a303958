"""Caches keyed by the store's data version (readiness.dataversion), which authentication reads once per request
before anything else of the request is read.

- Key resolution (server.auth): a bearer key's principal, found valid under data version n, is valid for as long as
  the version is n (revoking a key, or removing its partner or PAM, changes the store and so the version) and the
  key has not expired (checked on every use). Only the credential kinds resolved from the store and static tokens
  are kept; in the worker only.
- REST reads: a read's JSON under (data version, as-of date, caller or partner, route, parameters). Every
  read cached this way is a function of the store, the caller and its parameters only, so the same request under
  the same version gets the same bytes, made by the route's own response field as FastAPI makes them; a 403 or 404
  is kept alike. In the worker's memory first, then in Redis for the other workers (when configured). Entries of
  older versions are never asked for again and age out; none is used longer than scoring keeps its program
  baselines (MAX_AGE_S), whichever worker made it.
- Per-partner reads (score, details, diagnosis...) that do not depend on the caller once the caller may see the
  partner: the scope decision is kept per caller, the JSON per partner, so a partner and its PAM share one answer.

Nothing is cached when the version cannot be read (a store without the counter, or one that does not answer).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import orjson
from fastapi import HTTPException, Request, Response

from readiness.dataversion import StoreVersion
from readiness.lru import Lru
from readiness.scope import Principal
from readiness.scoring.priors import CACHE_TTL_S
from readiness.settings import get_settings

V = TypeVar("V")
READ_ENTRIES = 2048  # a few MB per worker: a book's dashboards hold a few hundred entries per data version
KEY_ENTRIES = 10_000
# Scoring keeps its program baselines and activation curve in process for this long after they were computed
# (readiness.scoring.priors, revenue): a cached read, which may rest on them, is used no longer either.
MAX_AGE_S = CACHE_TTL_S
REDIS_PREFIX = "pp:read:"


class _Refused:
    """A cached 403 or 404: raised again as it was."""

    __slots__ = ("detail", "headers", "status_code")

    def __init__(self, status_code: int, detail: Any, headers: dict[str, str] | None) -> None:
        self.status_code, self.detail, self.headers = status_code, detail, headers

    def raise_(self) -> None:
        raise HTTPException(self.status_code, detail=self.detail, headers=self.headers)


Entry = bytes | _Refused  # a read's JSON, or its refusal


def _encode(created: float, entry: Entry) -> bytes:
    if isinstance(entry, _Refused):
        return b"R%.3f|" % created + orjson.dumps([entry.status_code, entry.detail, entry.headers])
    return b"J%.3f|" % created + entry


def _decode(raw: bytes) -> tuple[float, Entry] | None:
    head, sep, body = raw.partition(b"|")
    if not sep or head[:1] not in (b"J", b"R"):
        return None
    created = float(head[1:])
    if head[:1] == b"J":
        return created, body
    status_code, detail, headers = orjson.loads(body)
    return created, _Refused(status_code, detail, headers)


class _Reads:
    """The two levels of one request's read cache: this worker's LRU, then Redis."""

    def __init__(self, request: Request, version: StoreVersion) -> None:
        self.request = request
        self.local: Lru = request.app.state.read_cache
        self.shared = request.app.state.auth.shared
        self.base = (version.n, version.stamp, get_settings().today().isoformat())

    def _redis_key(self, key: tuple[Hashable, ...]) -> str:
        digest = hashlib.blake2b(repr((*self.base, *key)).encode(), digest_size=16).hexdigest()
        return f"{REDIS_PREFIX}{digest}"

    def get(self, key: tuple[Hashable, ...]) -> Entry | None:
        now = time.time()
        found = self.local.get((*self.base, *key))
        if found is None:
            raw = self.shared.get_blob(self._redis_key(key))
            found = None if raw is None else _decode(raw)
            if found is not None:
                self.local.put((*self.base, *key), found)
        if found is None or now - found[0] >= MAX_AGE_S:
            return None
        return found[1]  # type: ignore[no-any-return]

    def put(self, entries: dict[tuple[Hashable, ...], Entry]) -> None:
        now = time.time()
        for key, entry in entries.items():
            self.local.put((*self.base, *key), (now, entry))
        self.shared.set_blobs({self._redis_key(k): _encode(now, e) for k, e in entries.items()}, int(MAX_AGE_S))

    def json_of(self, value: Any) -> bytes | None:
        """The route's answer as FastAPI writes it (its response field: validated, then Pydantic's JSON by alias);
        None when it does not validate (FastAPI then reports it, as it would have)."""
        field = self.request.scope["route"].response_field
        valid, errors = field.validate(value, {}, loc=("response",))
        return None if errors else field.serialize_json(valid, by_alias=True)  # type: ignore[no-any-return]


def _reads(request: Request) -> _Reads | None:
    version = getattr(request.state, "data_version", None)
    route = request.scope.get("route")
    if version is None or getattr(route, "response_field", None) is None:
        return None
    return _Reads(request, version)


def _respond(entry: Entry) -> Response:
    if isinstance(entry, _Refused):
        entry.raise_()
    return Response(content=entry, media_type="application/json")


def cached_read(request: Request, key: tuple[Hashable, ...], compute: Callable[[], V]) -> V | Response:
    """`compute()` (the route's answer), or the JSON it gave under the same store, data version, as-of date, caller
    and `key` (the route and its parameters)."""
    reads = _reads(request)
    principal: Principal | None = getattr(request.state, "principal", None)
    if reads is None or principal is None:
        return compute()
    full = ("caller", principal.role, principal.id, *key)
    entry = reads.get(full)
    if entry is None:
        try:
            value = compute()
        except HTTPException as exc:
            if exc.status_code in (403, 404):
                reads.put({full: _Refused(exc.status_code, exc.detail, exc.headers)})
            raise
        entry = reads.json_of(value)
        if entry is None:
            return value
        reads.put({full: entry})
    return _respond(entry)


def partner_read(request: Request, principal: Principal, partner_id: str, name: str, check: Callable[[], None],
                 compute: Callable[[], V], compute_many: Callable[[], dict[str, V]] | None = None) -> V | Response:
    """A read about one partner that, once `check()` lets the caller see it, is the same whoever asks: the scope
    decision is kept per caller, `compute()`'s JSON per partner. `compute_many()`, when given, answers for this
    partner and others at once (all kept): used on a miss instead of `compute()`."""
    reads = _reads(request)
    if reads is None:
        check()
        return compute()
    scope_key = ("scope", principal.role, principal.id, partner_id)
    scope = reads.get(scope_key)
    if scope is None:
        try:
            check()
        except HTTPException as exc:
            if exc.status_code in (403, 404):
                reads.put({scope_key: _Refused(exc.status_code, exc.detail, exc.headers)})
            raise
        reads.put({scope_key: b"ok"})
    elif isinstance(scope, _Refused):
        scope.raise_()
    entry = reads.get(("partner", name, partner_id))
    if entry is None:
        if compute_many is None:
            try:
                value = compute()
            except HTTPException as exc:  # about the partner, not the caller (no plan yet)
                if exc.status_code in (403, 404):
                    reads.put({("partner", name, partner_id): _Refused(exc.status_code, exc.detail, exc.headers)})
                raise
            entry = reads.json_of(value)
            if entry is None:
                return value
            reads.put({("partner", name, partner_id): entry})
        else:
            answers = compute_many()
            made = {("partner", name, pid): reads.json_of(v) for pid, v in answers.items()}
            reads.put({k: v for k, v in made.items() if v is not None})
            entry = made.get(("partner", name, partner_id))
            if entry is None:
                return answers[partner_id]
    return _respond(entry)


__all__ = ["KEY_ENTRIES", "MAX_AGE_S", "READ_ENTRIES", "cached_read", "partner_read"]
