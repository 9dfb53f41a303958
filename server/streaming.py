"""Bridge a synchronous event iterator (a graph turn) to an async stream without a thread hop per event.

Starlette's `iterate_in_threadpool` runs every `next()` in the thread pool: a streamed turn of ~100 token events
paid ~100 hand-offs, about a third of the turn's CPU. Here one pool thread runs the whole turn and hands each event
to the event loop; consecutive token events that are already waiting are sent as one. The turn runs to its end
even when the client goes away, so its checkpoint is always complete.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Executor

from starlette.concurrency import run_in_threadpool

from server.turns import TurnEvent

_DONE = object()


def events_from_thread(events: Iterator[TurnEvent], executor: Executor | None = None) -> AsyncIterator[TurnEvent]:
    """`executor`: where the turn runs (the turn pool, server.turn_service); default Starlette's threadpool.

    The turn starts now, not on the first read: a client that goes away before the response is first iterated still
    gets its turn run to the end, and the turn's locks and pool slot (released when `events` finishes) are never
    left held by a stream nobody reads. Must be called from the event loop's thread."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()

    def hand_over(item: object) -> None:
        # The loop may be gone (server shutting down): the turn still runs to its end.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        try:
            for event in events:
                hand_over(event)
        except BaseException as exc:  # handed to the consumer, which re-raises it in the request's task
            hand_over(exc)
        finally:
            hand_over(_DONE)

    runner = asyncio.wrap_future(executor.submit(pump)) if executor is not None else \
        asyncio.ensure_future(run_in_threadpool(pump))
    return _drain(queue, runner)


async def _drain(queue: asyncio.Queue[object], runner: asyncio.Future[None]) -> AsyncIterator[TurnEvent]:
    pending: object | None = None
    try:
        while True:
            item = pending if pending is not None else await queue.get()
            pending = None
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, TurnEvent)
            if item.type == "token":
                text = item.text or ""
                while not queue.empty():  # tokens already waiting go out as one event
                    nxt = queue.get_nowait()
                    if isinstance(nxt, TurnEvent) and nxt.type == "token":
                        text += nxt.text or ""
                    else:
                        pending = nxt
                        break
                item = item.model_copy(update={"text": text})
            yield item
    finally:
        await asyncio.shield(runner)  # the turn finishes (and checkpoints) whatever the client did


__all__ = ["events_from_thread"]
