"""The checkpointers the server uses: LangGraph's SQLite and PostgreSQL savers, plus what must happen each time a
thread's checkpoint is written, so no route has to remember it:

- the thread's row in the listing table is upserted (agent.thread_index), from the checkpoint and the owner the run
  stamped into its metadata;
- the thread keeps only its newest `checkpoint_keep` checkpoints (agent.retention);
- at most hourly, threads idle past `thread_retention_days` are deleted with their rows.

The checkpoint is the truth and is written first; if the bookkeeping after it fails, the failure is logged and the
turn stands (the next write of the thread, or `partnerpilot threads prune`, catches up).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from agent import retention, thread_index

OWNER_KEY = "owner"
SWEEP_EVERY_S = 3600.0
SWEEP_BATCH = 200  # threads deleted per sweep after a turn: the rest wait for the next sweep or the CLI
log = structlog.get_logger(__name__)


class Keeping(BaseModel):
    keep: int = Field(default=3, ge=1)
    retention_days: int = Field(default=0, ge=0)  # 0: threads are never deleted for age


class PruneReport(BaseModel):
    threads: int  # threads the checkpointer held before
    indexed: int  # threads given a listing row they lacked (written before the table existed)
    deleted_threads: int  # idle past the retention window
    checkpoints_before: int
    checkpoints_after: int


class ThreadKeeping:
    """Mixin over a LangGraph saver: after each `put`, the listing row, retention and the age sweep."""

    keeping: Keeping
    engine_of: Callable[[], Engine]
    _last_sweep: float
    _sweep_lock: threading.Lock

    def start_keeping(self, keeping: Keeping, engine_of: Callable[[], Engine]) -> None:
        self.keeping = keeping
        self.engine_of = engine_of
        self._last_sweep = time.monotonic()  # the first sweep an interval after start, not on the first turn
        self._sweep_lock = threading.Lock()

    def put(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
            new_versions: ChannelVersions) -> RunnableConfig:
        saved: RunnableConfig = super().put(config, checkpoint, metadata, new_versions)  # type: ignore[misc]
        conf = config.get("configurable", {})
        thread_id, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
        try:
            retention.keep_latest(self, thread_id, self.keeping.keep, ns)  # type: ignore[arg-type]
            owner = get_checkpoint_metadata(config, metadata).get(OWNER_KEY)
            row = thread_index.row_of(thread_id, str(owner), dict(checkpoint)) if owner and not ns else None
            if row is not None:
                thread_index.upsert(self.engine_of(), row)
        except Exception:
            log.exception("checkpoint_bookkeeping_failed", thread_id=thread_id)
        self._maybe_sweep()
        return saved

    def _maybe_sweep(self) -> None:
        if not self.keeping.retention_days or time.monotonic() - self._last_sweep < SWEEP_EVERY_S:
            return
        if not self._sweep_lock.acquire(blocking=False):
            return  # another turn is sweeping
        try:
            self._last_sweep = time.monotonic()
            delete_idle_threads(self, self.engine_of(), self.keeping.retention_days,  # type: ignore[arg-type]
                                limit=SWEEP_BATCH)
        except Exception:
            log.exception("thread_sweep_failed")
        finally:
            self._sweep_lock.release()


class KeptSqliteSaver(ThreadKeeping, SqliteSaver):
    pass


class KeptPostgresSaver(ThreadKeeping, PostgresSaver):
    pass


def delete_idle_threads(saver: BaseCheckpointSaver[Any], engine: Engine, days: int, limit: int = 10_000,
                        now: datetime | None = None) -> list[str]:
    """Delete threads whose last turn is older than `days`: checkpoints, writes, blobs and listing row."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    stale = thread_index.idle_since(engine, cutoff, limit)
    for thread_id in stale:
        saver.delete_thread(thread_id)
    if stale:
        thread_index.forget(engine, stale)
        log.info("threads_deleted_idle", count=len(stale), days=days)
    thread_index.expire_keys(engine, cutoff)
    return stale


def _checkpoints(saver: BaseCheckpointSaver[Any], threads: list[str]) -> int:
    return sum(retention.checkpoint_count(saver, t) for t in threads)


def prune_all(saver: BaseCheckpointSaver[Any], engine: Engine, keeping: Keeping, now: datetime | None = None,
              vacuum: bool = False) -> PruneReport:
    """Bring a whole checkpointer in line with the retention settings (`partnerpilot threads prune`): index threads
    written before the listing table, delete idle threads, keep the newest N checkpoints of every other thread."""
    threads = retention.thread_ids(saver)
    before = _checkpoints(saver, threads)
    known = thread_index.indexed(engine)
    added = 0
    for thread_id in threads:
        if thread_id in known:
            continue
        latest = saver.get_tuple({"configurable": {"thread_id": thread_id}})
        owner = (latest.metadata or {}).get(OWNER_KEY) if latest else None
        row = thread_index.row_of(thread_id, str(owner), dict(latest.checkpoint)) if latest and owner else None
        if row is not None:
            thread_index.upsert(engine, row)
            added += 1
    deleted = delete_idle_threads(saver, engine, keeping.retention_days, now=now) if keeping.retention_days else []
    remaining = [t for t in threads if t not in set(deleted)]
    for thread_id in remaining:
        retention.keep_latest(saver, thread_id, keeping.keep)
    if vacuum:
        retention.vacuum(saver)
    return PruneReport(threads=len(threads), indexed=added, deleted_threads=len(deleted), checkpoints_before=before,
                       checkpoints_after=_checkpoints(saver, remaining))


__all__ = ["OWNER_KEY", "Keeping", "KeptPostgresSaver", "KeptSqliteSaver", "PruneReport", "ThreadKeeping",
           "delete_idle_threads", "prune_all"]
