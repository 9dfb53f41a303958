"""`/readyz`: can this worker serve? The store, the conversation checkpointer, the knowledge index and Redis (when
configured), each checked with a time bound so a hung dependency makes the answer "not ready", never a hang."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from agent.services import get_services
from server.schemas import Check, Readiness
from server.shared import SharedState

log = structlog.get_logger("partnerpilot.server")
CHECK_TIMEOUT_S = 2.0


def _store() -> str:
    with get_services().session() as s:
        s.execute(text("SELECT 1"))
    return "answers"


def _checkpointer(checkpointer: Any) -> str:
    checkpointer.get_tuple({"configurable": {"thread_id": "__readyz__"}})
    return "answers"


class IndexProbe:
    """Chunks in the knowledge index: from the loaded knowledge base, else from the collection on disk (no model
    load). Opening the collection the first time takes a second or more, so it happens in the background and the
    probe says "opening" until it is done: a readiness answer never waits for it."""

    def __init__(self) -> None:
        self._collection: Any = None
        self._opening: threading.Thread | None = None
        self._error: str | None = None
        self._lock = threading.Lock()

    def _open(self) -> None:
        try:
            from knowledge.index import make_client, open_collection

            self._collection = open_collection(make_client())
            self._error = None
        except Exception as exc:
            self._error = f"{type(exc).__name__}: {str(exc)[:200]}"

    def __call__(self) -> str:
        kb = get_services().knowledge
        if kb is not None:
            count, where = len(kb.ids), "loaded"
        else:
            with self._lock:
                if self._collection is None and (self._opening is None or not self._opening.is_alive()):
                    if self._error is not None and self._opening is not None:
                        error, self._error, self._opening = self._error, None, None
                        raise RuntimeError(error)  # reported once; the next probe tries again
                    self._opening = threading.Thread(target=self._open, name="index-probe", daemon=True)
                    self._opening.start()
            if self._collection is None:
                raise RuntimeError("opening the knowledge index")
            count, where = int(self._collection.count()), "on disk"
        if count == 0:
            raise RuntimeError("the knowledge index is empty: run `partnerpilot knowledge index`")
        return f"{count} chunks ({where})"


def _redis(shared: SharedState) -> str:
    shared.ping()
    return shared.description


async def _timed(fn: Callable[[], str]) -> Check:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(run_in_threadpool(fn), timeout=CHECK_TIMEOUT_S)
        ok = True
    except TimeoutError:
        ok, detail = False, f"no answer within {CHECK_TIMEOUT_S:g} s"
    except Exception as exc:
        ok, detail = False, f"{type(exc).__name__}: {str(exc)[:200]}"
    if not ok:
        log.warning("readiness_check_failed", check=getattr(fn, "__name__", type(fn).__name__), detail=detail)
    return Check(ok=ok, ms=round((time.perf_counter() - started) * 1000, 1), detail=detail)


async def readiness(checkpointer: Any, index: IndexProbe, shared: SharedState) -> Readiness:
    names = ("store", "checkpointer", "index", "redis")
    fns: tuple[Callable[[], str], ...] = (_store, lambda: _checkpointer(checkpointer), index, lambda: _redis(shared))
    results = await asyncio.gather(*(_timed(fn) for fn in fns))
    checks = dict(zip(names, results, strict=True))
    return Readiness(status="ready" if all(c.ok for c in results) else "not_ready", checks=checks)


__all__ = ["IndexProbe", "readiness"]
