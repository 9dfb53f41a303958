"""State the server's workers must share: per-key rate-limit counters and revoked demo tokens (and, best effort, the
REST read cache of server.readcache).

With `PARTNERPILOT_REDIS_URL` set, Redis holds both, so a limit or a revocation holds on every worker; when Redis
is configured but unreachable, calls raise `SharedUnavailable` and the request fails with a clear 503 rather than
running unlimited (failing open would let a revoked token back in). Without Redis the state lives in this process:
right for one worker, and `partnerpilot up` refuses several workers without Redis.

Rate limits are fixed one-minute windows per key: one INCR per request.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol

from sqlalchemy.engine import make_url

RATE_PREFIX = "pp:rl:"
REVOKED_PREFIX = "pp:revoked:"


class SharedUnavailable(RuntimeError):
    """The configured shared store (Redis) does not answer; the message says which one and how to fix it."""


class SharedState(Protocol):
    description: str

    def hit(self, bucket: str, limit: int, window_s: int = 60) -> tuple[bool, int]:
        """Count one request in `bucket`: (allowed, seconds until the window resets)."""
        ...

    def revoke(self, token_id: str, ttl_s: int) -> None: ...

    def is_revoked(self, token_id: str) -> bool: ...

    def ping(self) -> None:
        """Raise SharedUnavailable when the store does not answer."""
        ...

    def get_blob(self, key: str) -> bytes | None:
        """A value another worker cached (server.readcache); None when there is none or it cannot be read."""
        ...

    def set_blobs(self, items: dict[str, bytes], ttl_s: int) -> None:
        """Cache values for the other workers, best effort."""
        ...


def _window(now: float, window_s: int) -> tuple[int, int]:
    """(window index, seconds until it ends, at least 1)."""
    index = int(now // window_s)
    return index, max(1, math.ceil((index + 1) * window_s - now))


class LocalState:
    """In-process counters and revocations (one worker)."""

    description = "in-process (one worker)"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}
        self._revoked: dict[str, float] = {}

    def hit(self, bucket: str, limit: int, window_s: int = 60) -> tuple[bool, int]:
        index, retry = _window(time.time(), window_s)
        with self._lock:
            if len(self._counts) > 10_000:  # drop finished windows so the table stays small
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= index}
            count = self._counts.get((bucket, index), 0) + 1
            self._counts[(bucket, index)] = count
        return count <= limit, retry

    def revoke(self, token_id: str, ttl_s: int) -> None:
        with self._lock:
            now = time.time()
            self._revoked = {k: t for k, t in self._revoked.items() if t > now}
            self._revoked[token_id] = now + ttl_s

    def is_revoked(self, token_id: str) -> bool:
        with self._lock:
            until = self._revoked.get(token_id)
        return until is not None and until > time.time()

    def ping(self) -> None:
        return None

    def get_blob(self, key: str) -> bytes | None:
        return None  # one worker: its own cache holds whatever it computed

    def set_blobs(self, items: dict[str, bytes], ttl_s: int) -> None:
        return None


class RedisState:
    """Counters and revocations in Redis, shared by every worker."""

    def __init__(self, url: str, timeout_s: float = 0.5) -> None:
        import redis

        self._errors: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        self.description = f"Redis at {make_url(url).render_as_string(hide_password=True)}" if "://" in url else url
        self.client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s,
                                           health_check_interval=30)

    def _unavailable(self, exc: Exception) -> SharedUnavailable:
        return SharedUnavailable(f"{self.description} is unreachable ({type(exc).__name__}): rate limits and "
                                 "revocations cannot be checked; start Redis or unset PARTNERPILOT_REDIS_URL")

    def hit(self, bucket: str, limit: int, window_s: int = 60) -> tuple[bool, int]:
        index, retry = _window(time.time(), window_s)
        key = f"{RATE_PREFIX}{bucket}:{index}"
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, window_s + 5)
            count = int(pipe.execute()[0])
        except self._errors as exc:
            raise self._unavailable(exc) from exc
        return count <= limit, retry

    def revoke(self, token_id: str, ttl_s: int) -> None:
        try:
            self.client.set(f"{REVOKED_PREFIX}{token_id}", "1", ex=max(1, ttl_s))
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    def is_revoked(self, token_id: str) -> bool:
        try:
            return bool(self.client.exists(f"{REVOKED_PREFIX}{token_id}"))
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    def ping(self) -> None:
        try:
            self.client.ping()
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    # A cache: when Redis does not answer, the worker computes (the rate limit reports the outage).
    def get_blob(self, key: str) -> bytes | None:
        try:
            found = self.client.get(key)
        except self._errors:
            return None
        return found if isinstance(found, bytes) else None

    def set_blobs(self, items: dict[str, bytes], ttl_s: int) -> None:
        try:
            pipe = self.client.pipeline(transaction=False)
            for key, value in items.items():
                pipe.set(key, value, ex=ttl_s)
            pipe.execute()
        except self._errors:
            return None


def shared_state(redis_url: str | None) -> SharedState:
    return RedisState(redis_url) if redis_url else LocalState()


__all__ = ["LocalState", "RedisState", "SharedState", "SharedUnavailable", "shared_state"]
