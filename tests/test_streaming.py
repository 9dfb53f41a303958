"""The thread-to-async bridge of `/stream`: order kept, waiting tokens merged, errors raised in the request, and
the turn run to its end even when the client stops reading."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from server.streaming import events_from_thread
from server.turns import TurnEvent


def _turn(done: threading.Event, fail: bool = False) -> Iterator[TurnEvent]:
    yield TurnEvent(type="tool_call", name="get_readiness_score", args={})
    for piece in ("Your ", "score ", "is ", "41."):
        yield TurnEvent(type="token", text=piece)
    time.sleep(0.05)  # a pause: the next tokens are a separate batch
    yield TurnEvent(type="token", text=" Next")
    if fail:
        raise RuntimeError("tool exploded")
    yield TurnEvent(type="message", text="Your score is 41. Next")
    yield TurnEvent(type="end", refused=False, fallback=False)
    done.set()


async def _collect(events: Iterator[TurnEvent], stop_after: int | None = None) -> list[TurnEvent]:
    out = []
    stream = events_from_thread(events)
    try:
        async for e in stream:
            out.append(e)
            if stop_after is not None and len(out) >= stop_after:
                break
    finally:
        await stream.aclose()
    return out


def test_events_keep_their_order_and_waiting_tokens_go_out_together() -> None:
    done = threading.Event()
    events = asyncio.run(_collect(_turn(done)))
    kinds = [e.type for e in events]
    assert kinds[0] == "tool_call" and kinds[-2:] == ["message", "end"]
    tokens = [e.text for e in events if e.type == "token"]
    assert "".join(t or "" for t in tokens) == "Your score is 41. Next"
    assert 2 <= len(tokens) <= 5 and done.is_set()


def test_an_error_in_the_turn_is_raised_to_the_request() -> None:
    with pytest.raises(RuntimeError, match="tool exploded"):
        asyncio.run(_collect(_turn(threading.Event(), fail=True)))


def test_the_turn_runs_to_its_end_when_the_client_stops_reading() -> None:
    done = threading.Event()
    events = asyncio.run(_collect(_turn(done), stop_after=1))
    assert len(events) == 1 and done.wait(timeout=5)


def test_the_turn_runs_and_releases_when_the_stream_is_never_read() -> None:
    # A client that disconnects before the response is first iterated: the turn must still run to its end, so the
    # turn service's `finally` (thread lock, pool slot, idempotency key) runs.
    done, released = threading.Event(), threading.Event()

    def turn() -> Iterator[TurnEvent]:
        try:
            yield from _turn(done)
        finally:
            released.set()

    async def never_read(pool: ThreadPoolExecutor) -> None:
        events_from_thread(turn(), pool)  # as the turn service calls it, on its own pool

    with ThreadPoolExecutor(max_workers=1) as pool:
        asyncio.run(never_read(pool))
        assert done.wait(timeout=5) and released.wait(timeout=5)
