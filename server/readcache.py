"""Per-worker caches keyed by the store's data version (readiness.dataversion), read once per request by
authentication, before anything else of the request is read.

- Key resolution: a bearer key's principal, found valid under data version n, is valid for as long as the version
  is n (revoking a key, or removing its partner or PAM, changes the store and so the version) and the key has not
  expired (checked on every use). Only the credential kinds resolved from the store and static tokens are kept.
- REST reads: a read's JSON, under (route, caller, parameters, as-of date, data version). Every read cached this
  way is a function of the store, the caller and its parameters only, so the same request under the same version
  gets the same bytes; a 403 or 404 is kept alike. Entries of older versions are simply never asked for again and
  age out of the LRU; none is kept longer than scoring keeps its program baselines (MAX_AGE_S).

Nothing is cached when the version cannot be read (a store without the counter, or one that does not answer).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from fastapi import HTTPException, Request, Response

from readiness.scoring.priors import CACHE_TTL_S
from readiness.settings import get_settings

V = TypeVar("V")
READ_ENTRIES = 4096
# Scoring keeps its program baselines and activation curve in process for this long after they were computed
# (readiness.scoring.priors, revenue): a cached read, which may rest on them, is kept no longer either.
MAX_AGE_S = CACHE_TTL_S
KEY_ENTRIES = 10_000


class Lru:
    """A small thread-safe LRU map (sync routes run on a thread pool)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
            return found

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def _shared_key(request: Request, key: tuple[Hashable, ...]) -> tuple[Hashable, ...] | None:
    version = getattr(request.state, "data_version", None)
    return None if version is None else ("shared", version, get_settings().today(), *key)


def shared_get(request: Request, key: tuple[Hashable, ...]) -> Any:
    """What `shared_put` kept under this key, data version and as-of date, whoever asked; None when nothing is."""
    full = _shared_key(request, key)
    if full is None:
        return None
    found = request.app.state.read_cache.get(full)
    return found[1] if found is not None and time.monotonic() - found[0] < MAX_AGE_S else None


def shared_put(request: Request, key: tuple[Hashable, ...], value: Any) -> None:
    full = _shared_key(request, key)
    if full is not None:
        request.app.state.read_cache.put(full, (time.monotonic(), value))


def shared_value(request: Request, key: tuple[Hashable, ...], compute: Callable[[], V]) -> V:
    """`compute()`, or what it returned last time under the same data version and as-of date, whoever asked: for
    the part of a read that does not depend on the caller (a partner's details once the caller may see them), so
    a partner and its PAM, or two PAMs, share one computation. Exceptions are not kept."""
    found = shared_get(request, key)
    if found is None:
        found = compute()
        shared_put(request, key, found)
    return found  # type: ignore[no-any-return]


class _Refused:
    """A cached 403 or 404: raised again as it was."""

    __slots__ = ("detail", "headers", "status_code")

    def __init__(self, exc: HTTPException) -> None:
        self.status_code, self.detail, self.headers = exc.status_code, exc.detail, exc.headers


def cached_read(request: Request, key: tuple[Hashable, ...], compute: Callable[[], V]) -> V | Response:
    """`compute()` (the route's answer), or the JSON it gave last time under the same data version, caller and
    `key` (the route and its parameters). The bytes are made by the route's own response field exactly as FastAPI
    makes them (validated, then Pydantic's JSON by alias), so a cached answer reads as a computed one."""
    version = getattr(request.state, "data_version", None)
    principal = getattr(request.state, "principal", None)
    field = getattr(request.scope.get("route"), "response_field", None)
    if version is None or principal is None or field is None:
        return compute()
    cache: Lru = request.app.state.read_cache
    full = (version, get_settings().today(), principal.role, principal.id, *key)
    now = time.monotonic()
    found = cache.get(full)
    hit = found[1] if found is not None and now - found[0] < MAX_AGE_S else None
    if hit is None:
        try:
            value = compute()
        except HTTPException as exc:
            if exc.status_code in (403, 404):
                cache.put(full, (now, _Refused(exc)))
            raise
        valid, errors = field.validate(value, {}, loc=("response",))
        if errors:
            return value  # FastAPI reports it as it would have
        hit = field.serialize_json(valid, by_alias=True)
        cache.put(full, (now, hit))
    if isinstance(hit, _Refused):
        raise HTTPException(hit.status_code, detail=hit.detail, headers=hit.headers)
    return Response(content=hit, media_type="application/json")


__all__ = ["KEY_ENTRIES", "MAX_AGE_S", "READ_ENTRIES", "Lru", "cached_read", "shared_get", "shared_put", "shared_value"]
