"""Conversation turns, run safely: one at a time per thread, on a bounded pool, at most once per Idempotency-Key.

Every conversational route (`/invoke`, `/stream`, `/v1/chat/completions`, MCP's `ask_partnerpilot`) runs its turns
through the one `TurnService` the lifespan owns (`app.state.turns`):
- **Threads are claimed atomically**: a new thread id (server-generated, or chosen by the client) is recorded with
  its owner in `turn_threads` (primary key), so two principals starting the same id at once cannot share it: the
  second is told the thread does not exist (404), as for any thread of someone else's.
- **One turn at a time per thread**: an in-process lock plus, across workers, a Redis lock (when
  `PARTNERPILOT_REDIS_URL` is set) or else a PostgreSQL advisory lock (store on PostgreSQL). A turn on a busy
  thread is refused at once with 409 and `Retry-After`; it is never run beside the other and never lost.
- **A bounded pool**: turns run on their own `ThreadPoolExecutor` (`turn_workers`), with at most `turn_queue` more
  waiting; beyond that 503 with `Retry-After`. Starlette's threadpool (health checks, REST) never waits for turns.
- **Idempotency-Key**: a retried request with the same key (per principal) returns the first turn's result and runs
  nothing; a concurrent duplicate waits for the first (bounded) and then gets its result, or 409. The same key with
  a different request is 422.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
from fastapi import HTTPException, status
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from agent.context import Context
from agent.memory import is_postgres_url, libpq_url, thread_owner
from agent.services import get_services
from readiness.models import TurnIdempotency, TurnThread
from readiness.scope import Principal
from readiness.settings import Settings
from server.turns import TurnEvent, TurnResult, run_turn, stream_turn

log = structlog.get_logger("partnerpilot.turns")
BUSY_RETRY_AFTER_S = 2
FULL_RETRY_AFTER_S = 5
_POLL_S = 0.1
_TURN_LOCK_CLASS = 7_416_017  # PostgreSQL advisory lock namespace (first key) of thread locks


def _busy(detail: str = "another turn is running on this thread; retry when it has answered") -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail=detail, headers={"Retry-After": str(BUSY_RETRY_AFTER_S)})


def request_hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()


# ---- cross-worker thread locks --------------------------------------------------------------------------------


class Held(Protocol):
    def release(self) -> None: ...


class _Nothing:
    def release(self) -> None:
        return None


class CrossWorkerLocks(Protocol):
    description: str

    def try_acquire(self, thread_id: str) -> Held | None: ...

    def close(self) -> None: ...


class NoLocks:
    """SQLite: one worker process, so the in-process lock is the whole story."""

    description = "in-process only (SQLite: one worker)"

    def try_acquire(self, thread_id: str) -> Held | None:
        return _Nothing()

    def close(self) -> None:
        return None


class RedisLocks:
    """A Redis lock per thread (SET NX with an expiry, released by its token), shared by every worker."""

    def __init__(self, url: str, ttl_s: int) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self.ttl_s = ttl_s
        self.description = "Redis lock per thread"

    def try_acquire(self, thread_id: str) -> Held | None:
        # thread_local=False: the turn's pool thread releases what the request's thread acquired.
        lock = self.client.lock(f"partnerpilot:turn:{thread_id}", timeout=self.ttl_s, blocking=False,
                                thread_local=False)
        return _RedisHeld(lock) if lock.acquire() else None

    def close(self) -> None:
        self.client.close()


class _RedisHeld:
    def __init__(self, lock: Any) -> None:
        self.lock = lock

    def release(self) -> None:
        import redis

        with suppress(redis.exceptions.LockError):  # expired meanwhile (a turn longer than the TTL): nothing to free
            self.lock.release()


class PostgresLocks:
    """A session-level PostgreSQL advisory lock per thread, held on a connection of its own for the turn."""

    def __init__(self, url: str, size: int) -> None:
        from psycopg_pool import ConnectionPool

        self.pool = ConnectionPool(libpq_url(url), min_size=0, max_size=size, kwargs={"autocommit": True},
                                   check=ConnectionPool.check_connection, open=True)
        self.description = "PostgreSQL advisory lock per thread"

    def try_acquire(self, thread_id: str) -> Held | None:
        key = int.from_bytes(hashlib.sha256(thread_id.encode()).digest()[:4], "big", signed=True)
        conn = self.pool.getconn(timeout=10)
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (_TURN_LOCK_CLASS, key)).fetchone()
        except Exception:
            self.pool.putconn(conn)
            raise
        if not (row and row[0]):
            self.pool.putconn(conn)
            return None
        return _PgHeld(self.pool, conn, key)

    def close(self) -> None:
        self.pool.close()


class _PgHeld:
    def __init__(self, pool: Any, conn: Any, key: int) -> None:
        self.pool, self.conn, self.key = pool, conn, key

    def release(self) -> None:
        try:
            self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_TURN_LOCK_CLASS, self.key))
        finally:
            self.pool.putconn(self.conn)


def cross_worker_locks(settings: Settings) -> CrossWorkerLocks:
    if settings.redis_url:
        return RedisLocks(settings.redis_url, settings.turn_lock_ttl_s)
    if is_postgres_url(settings.resolved_database_url):
        return PostgresLocks(settings.resolved_database_url, settings.turn_workers + settings.turn_queue)
    return NoLocks()


# ---- the store: thread claims and idempotency keys ------------------------------------------------------------


def claim_thread(checkpointer: Any, owner: str, thread_id: str | None) -> str:
    """The thread this turn runs on: a new server-generated id, or the client's id when it is new (claimed now) or
    already this owner's. Someone else's thread is reported as not found, so thread ids cannot be probed."""
    if thread_id is None:
        thread_id = uuid.uuid4().hex
    with get_services().session() as s:
        row = s.get(TurnThread, thread_id)
    if row is not None:
        if row.owner != owner:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="thread not found")
        return thread_id
    # Threads from before claims were recorded carry their owner in checkpoint metadata only.
    existing = thread_owner(checkpointer, thread_id)
    if existing is not None and existing != owner:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="thread not found")
    try:
        with get_services().session() as s:
            s.add(TurnThread(thread_id=thread_id, owner=owner))
    except IntegrityError:  # claimed by a concurrent request just now: it is ours only if that was us
        with get_services().session() as s:
            row = s.get(TurnThread, thread_id)
        if row is None or row.owner != owner:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="thread not found") from None
    return thread_id


class Reservation:
    """What an Idempotency-Key lookup found: a fresh reservation (run the turn), or the first turn's result."""

    def __init__(self, owner: str, key: str, done: TurnResult | None = None, running: bool = False) -> None:
        self.owner, self.key, self.done, self.running = owner, key, done, running


def reserve(owner: str, key: str, fingerprint: str, stale_after_s: float) -> Reservation:
    now = datetime.now(UTC)
    try:
        with get_services().session() as s:
            s.add(TurnIdempotency(owner=owner, key=key, request_hash=fingerprint, status="running",
                                  created_at=now, updated_at=now))
        return Reservation(owner, key)
    except IntegrityError:
        pass
    with get_services().session() as s:
        row = s.get(TurnIdempotency, (owner, key))
        if row is None:  # the first attempt failed and let go of it just now: try again
            return reserve(owner, key, fingerprint, stale_after_s)
        if row.request_hash != fingerprint:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                detail="this Idempotency-Key was used for a different request")
        if row.status == "done" and row.result:
            return Reservation(owner, key, done=TurnResult.model_validate_json(row.result))
        updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
        if now - updated > timedelta(seconds=stale_after_s):
            # Its worker died mid-turn: take the reservation over (only one taker wins the compare-and-set).
            took = s.execute(update(TurnIdempotency).where(
                TurnIdempotency.owner == owner, TurnIdempotency.key == key,
                TurnIdempotency.updated_at == row.updated_at).values(updated_at=now))
            if took.rowcount == 1:  # type: ignore[attr-defined]
                return Reservation(owner, key)
    return Reservation(owner, key, running=True)


def complete(owner: str, key: str, result: TurnResult) -> None:
    with get_services().session() as s:
        s.execute(update(TurnIdempotency).where(TurnIdempotency.owner == owner, TurnIdempotency.key == key).values(
            status="done", thread_id=result.thread_id, result=result.model_dump_json(),
            updated_at=datetime.now(UTC)))


def release_key(owner: str, key: str) -> None:
    """The turn did not run or failed: a retry with this key runs it."""
    with get_services().session() as s:
        s.execute(delete(TurnIdempotency).where(TurnIdempotency.owner == owner, TurnIdempotency.key == key,
                                                TurnIdempotency.status == "running"))


# ---- the service ----------------------------------------------------------------------------------------------


class Admitted:
    """A turn allowed to run: its thread, its locks and its pool slot, all released once by `release()`."""

    def __init__(self, service: TurnService, thread_id: str, held: Held, reservation: Reservation | None) -> None:
        self.service, self.thread_id, self.held, self.reservation = service, thread_id, held, reservation
        self._released = False

    def release(self, result: TurnResult | None) -> None:
        if self._released:
            return
        self._released = True
        try:
            if self.reservation is not None:
                if result is not None:
                    complete(self.reservation.owner, self.reservation.key, result)
                else:
                    release_key(self.reservation.owner, self.reservation.key)
        finally:
            try:
                self.held.release()
            finally:
                self.service._unlock_local(self.thread_id)
                self.service._slots.release()


class TurnService:
    def __init__(self, settings: Settings, graph: Any, checkpointer: Any,
                 locks: CrossWorkerLocks | None = None) -> None:
        self.settings, self.graph, self.checkpointer = settings, graph, checkpointer
        self.pool = ThreadPoolExecutor(max_workers=settings.turn_workers, thread_name_prefix="turn")
        self._slots = threading.BoundedSemaphore(settings.turn_workers + settings.turn_queue)
        self._busy: set[str] = set()
        self._guard = threading.Lock()
        self.locks = locks if locks is not None else cross_worker_locks(settings)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.locks.close()

    # -- admission -------------------------------------------------------------------------------------------

    def _lock_local(self, thread_id: str) -> bool:
        with self._guard:
            if thread_id in self._busy:
                return False
            self._busy.add(thread_id)
            return True

    def _unlock_local(self, thread_id: str) -> None:
        with self._guard:
            self._busy.discard(thread_id)

    async def reserve(self, principal: Principal, key: str, fingerprint: str) -> Reservation:
        """The key's reservation, waiting (bounded) while a first attempt with the same key runs."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.idempotency_wait_s
        while True:
            found = await run_in_threadpool(reserve, principal.actor, key, fingerprint,
                                            float(self.settings.turn_lock_ttl_s))
            if not found.running:
                return found
            if loop.time() >= deadline:
                raise _busy("a turn with this Idempotency-Key is still running; retry when it has answered")
            await asyncio.sleep(_POLL_S)

    async def release(self, reservation: Reservation) -> None:
        """Let go of a reserved key whose turn will not run."""
        await run_in_threadpool(release_key, reservation.owner, reservation.key)

    async def admit(self, principal: Principal, thread_id: str | None, reservation: Reservation | None) -> Admitted:
        """Claim the thread, take a pool slot and the thread's locks, or raise 404 / 503 / 409."""
        try:
            thread = await run_in_threadpool(claim_thread, self.checkpointer, principal.actor, thread_id)
        except BaseException:
            if reservation is not None:
                await run_in_threadpool(release_key, reservation.owner, reservation.key)
            raise
        if not self._slots.acquire(blocking=False):
            if reservation is not None:
                await run_in_threadpool(release_key, reservation.owner, reservation.key)
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="too many turns in progress; retry soon",
                                headers={"Retry-After": str(FULL_RETRY_AFTER_S)})
        held: Held | None = None
        try:
            if self._lock_local(thread):
                try:
                    held = await run_in_threadpool(self.locks.try_acquire, thread)
                finally:
                    if held is None:
                        self._unlock_local(thread)
        finally:
            if held is None:
                self._slots.release()
                if reservation is not None:
                    await run_in_threadpool(release_key, reservation.owner, reservation.key)
        if held is None:
            raise _busy()
        return Admitted(self, thread, held, reservation)

    # -- turns -----------------------------------------------------------------------------------------------

    async def invoke(self, principal: Principal, ctx: Context, thread_id: str | None, message: str,
                     idempotency_key: str | None = None, reservation: Reservation | None = None) -> TurnResult:
        """Run one turn; `reservation`: an Idempotency-Key already reserved by the caller (see `reserve`)."""
        if idempotency_key and reservation is None:
            reservation = await self.reserve(principal, idempotency_key, request_hash(thread_id, message))
        if reservation is not None and reservation.done is not None:
            return reservation.done
        admitted = await self.admit(principal, thread_id, reservation)
        return await self.run_admitted(admitted, lambda: run_turn(self.graph, ctx, admitted.thread_id,
                                                                  principal.actor, message))

    async def run_admitted(self, admitted: Admitted, turn: Callable[[], TurnResult]) -> TurnResult:
        def job() -> TurnResult:
            result: TurnResult | None = None
            try:
                result = turn()
                return result
            finally:
                admitted.release(result)

        try:
            future = self.pool.submit(job)
        except RuntimeError:  # shutting down
            admitted.release(None)
            raise
        # A client that goes away does not stop the turn: it finishes, checkpoints, and records its key.
        return await asyncio.shield(asyncio.wrap_future(future))

    async def stream(self, principal: Principal, ctx: Context, thread_id: str | None, message: str,
                     idempotency_key: str | None = None,
                     reservation: Reservation | None = None) -> tuple[str, AsyncIterator[TurnEvent]]:
        """(thread id, the turn's events). Admission errors are raised here, before any event is sent."""
        if idempotency_key and reservation is None:
            reservation = await self.reserve(principal, idempotency_key, request_hash(thread_id, message))
        if reservation is not None and reservation.done is not None:
            return reservation.done.thread_id, _replayed(reservation.done)
        admitted = await self.admit(principal, thread_id, reservation)
        events = stream_turn(self.graph, ctx, admitted.thread_id, principal.actor, message)
        return admitted.thread_id, self.events(admitted, events)

    def events(self, admitted: Admitted, events: Iterator[TurnEvent]) -> AsyncIterator[TurnEvent]:
        from server.streaming import events_from_thread

        def recorded() -> Iterator[TurnEvent]:
            result: TurnResult | None = None
            answer, calls = "", []
            try:
                for event in events:
                    if event.type == "message":
                        answer = event.text or ""
                    elif event.type == "tool_call":
                        calls.append({"name": event.name, "args": event.args or {}})
                    elif event.type == "end":
                        result = TurnResult(thread_id=admitted.thread_id, answer=answer, refused=bool(event.refused),
                                            fallback=bool(event.fallback), tool_calls=calls)  # type: ignore[arg-type]
                    yield event
            finally:
                admitted.release(result)

        return events_from_thread(recorded(), self.pool)


async def _replayed(result: TurnResult) -> AsyncIterator[TurnEvent]:
    """A finished turn's result as the events a stream would have sent (an idempotent retry of `/stream`)."""
    for call in result.tool_calls:
        yield TurnEvent(type="tool_call", name=call.name, args=call.args)
    yield TurnEvent(type="message", text=result.answer)
    yield TurnEvent(type="end", thread_id=result.thread_id, refused=result.refused, fallback=result.fallback)


__all__ = ["BUSY_RETRY_AFTER_S", "FULL_RETRY_AFTER_S", "Reservation", "TurnService", "claim_thread",
           "cross_worker_locks", "request_hash"]
