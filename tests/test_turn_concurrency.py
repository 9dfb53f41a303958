"""Turns under concurrency, on a real uvicorn server (tests/live.py) over the lumenware program:
- parallel turns on one thread: every accepted turn is in the history exactly once, the others get 409 with
  Retry-After (before: 60 × 200 in 20 trials, 23 turns missing from /history);
- the same Idempotency-Key sent 8 times at once: one turn, one signal (before: 3 turns kept of 8, a row per send);
- two principals starting the same client-chosen thread id at once: one gets it, the other a 404 (before: both 200,
  one thread silently lost);
- 45 turns hanging on the LLM: /healthz and /readyz still answer within 100 ms, and the pool's overflow gets 503.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from readiness.models import ReadinessSignal
from readiness.settings import get_settings
from tests.api_support import app_for, make_keys
from tests.fake_llm import FakeLLM
from tests.live import serve
from tests.test_workers import pg_program, two_workers  # noqa: F401  (fixtures of the worker tests)

pytestmark = pytest.mark.xdist_group("server")
CERTIFIED = "note that we have three people certified now"


@pytest.fixture
def live(store: Engine) -> Iterator[tuple[str, dict[str, str]]]:
    keys, _ = make_keys(store)
    with serve(app_for()) as base:
        yield base, {name: f"Bearer {key}" for name, key in keys.items()}


def _user_messages(base: str, auth: str, thread: str) -> list[str]:
    r = httpx.get(f"{base}/history/{thread}", headers={"Authorization": auth}, timeout=30)
    assert r.status_code == 200, r.text
    return [m["content"] for m in r.json()["messages"] if m["role"] == "user"]


def _signals(engine: Engine, partner: str) -> int:
    from readiness.db import session_scope

    with session_scope(engine) as s:
        return int(s.scalar(select(func.count()).select_from(ReadinessSignal)
                            .where(ReadinessSignal.partner_id == partner)) or 0)


def _at_once(n: int, send: Any) -> list[httpx.Response]:
    barrier = threading.Barrier(n)

    def one(i: int) -> httpx.Response:
        barrier.wait()
        return send(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_parallel_turns_on_one_thread_are_each_kept_once_or_refused_with_409(
    live: tuple[str, dict[str, str]],
) -> None:
    base, auth = live
    h = {"Authorization": auth["p004"]}
    first = httpx.post(f"{base}/invoke", json={"message": "what's my readiness score?"}, headers=h, timeout=60)
    thread = first.json()["thread_id"]
    accepted, refused = ["what's my readiness score?"], 0
    for trial in range(20):
        texts = [f"what's my readiness score? ({trial}.{j})" for j in range(3)]
        replies = _at_once(3, lambda j, texts=texts: httpx.post(
            f"{base}/invoke", json={"message": texts[j], "thread_id": thread}, headers=h, timeout=60))
        for text, r in zip(texts, replies, strict=True):
            if r.status_code == 200:
                accepted.append(text)
                assert r.json()["thread_id"] == thread and r.json()["answer"]
            else:
                assert r.status_code == 409, r.text
                assert int(r.headers["retry-after"]) > 0 and "another turn" in r.json()["detail"]
                refused += 1
    kept = _user_messages(base, auth["p004"], thread)
    print(f"\n20 trials x 3 parallel turns: {len(accepted) - 1} x 200, {refused} x 409, "
          f"{len(accepted) - len(kept)} accepted turns missing from /history")
    assert sorted(kept) == sorted(accepted), "every accepted turn is in the history exactly once"
    assert len(accepted) - 1 + refused == 60 and len(accepted) > 20


def test_the_same_idempotency_key_eight_times_at_once_is_one_turn_and_one_signal(
    live: tuple[str, dict[str, str]], store: Engine,
) -> None:
    base, auth = live
    h = {"Authorization": auth["p004"], "Idempotency-Key": "retry-7f3a"}
    before = _signals(store, "p-004")
    replies = _at_once(8, lambda _i: httpx.post(f"{base}/invoke", json={"message": CERTIFIED}, headers=h,
                                                timeout=60))
    assert [r.status_code for r in replies] == [200] * 8, [r.text for r in replies]
    bodies = [r.json() for r in replies]
    assert len({b["thread_id"] for b in bodies}) == 1 and len({b["answer"] for b in bodies}) == 1
    assert "record_readiness_signal" in [c["name"] for c in bodies[0]["tool_calls"]]
    thread = bodies[0]["thread_id"]
    assert _user_messages(base, auth["p004"], thread) == [CERTIFIED]
    assert _signals(store, "p-004") == before + 1
    # Retried later, on the stream route too: the first result, nothing written.
    again = httpx.post(f"{base}/invoke", json={"message": CERTIFIED}, headers=h, timeout=60)
    assert again.json() == bodies[0]
    streamed = httpx.post(f"{base}/stream", json={"message": CERTIFIED, "thread_id": thread},
                          headers={**h, "Idempotency-Key": "retry-stream"}, timeout=60)
    assert streamed.status_code == 200
    replay = httpx.post(f"{base}/stream", json={"message": CERTIFIED, "thread_id": thread},
                        headers={**h, "Idempotency-Key": "retry-stream"}, timeout=60)
    assert "event: message" in replay.text and "event: end" in replay.text
    assert _user_messages(base, auth["p004"], thread) == [CERTIFIED, CERTIFIED]
    assert _signals(store, "p-004") == before + 1
    # The same key for another request is a client error, and keys are per principal.
    other = httpx.post(f"{base}/invoke", json={"message": "what's my score?"}, headers=h, timeout=60)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]
    theirs = httpx.post(f"{base}/invoke", json={"message": CERTIFIED},
                        headers={"Authorization": auth["p014"], "Idempotency-Key": "retry-7f3a"}, timeout=60)
    assert theirs.status_code == 200 and theirs.json()["thread_id"] != thread


def test_without_a_key_a_resent_message_is_a_new_turn_and_its_signal_is_recorded_once(
    live: tuple[str, dict[str, str]], store: Engine,
) -> None:
    """What happens without Idempotency-Key (README, Turns): each send is a turn of its own, kept in the history;
    the write tools' own statement keys keep the signal to one row."""
    base, auth = live
    h = {"Authorization": auth["p004"]}
    before = _signals(store, "p-004")
    first = httpx.post(f"{base}/invoke", json={"message": CERTIFIED}, headers=h, timeout=60).json()
    for _ in range(2):
        r = httpx.post(f"{base}/invoke", json={"message": CERTIFIED, "thread_id": first["thread_id"]}, headers=h,
                       timeout=60)
        assert r.status_code == 200
    assert _user_messages(base, auth["p004"], first["thread_id"]) == [CERTIFIED] * 3
    assert _signals(store, "p-004") == before + 1


def test_two_principals_starting_the_same_thread_id_at_once_never_share_it(
    live: tuple[str, dict[str, str]],
) -> None:
    base, auth = live
    who = ["p004", "p014"]
    for trial in range(8):
        thread = f"shared-{trial}"
        replies = _at_once(2, lambda i, thread=thread: httpx.post(
            f"{base}/invoke", json={"message": "what's my readiness score?", "thread_id": thread},
            headers={"Authorization": auth[who[i]]}, timeout=60))
        codes = sorted(r.status_code for r in replies)
        assert codes == [200, 404], [r.text for r in replies]
        winner = who[[r.status_code for r in replies].index(200)]
        loser = who[1 - who.index(winner)]
        assert _user_messages(base, auth[winner], thread) == ["what's my readiness score?"]
        assert httpx.get(f"{base}/history/{thread}", headers={"Authorization": auth[loser]}).status_code == 404


@pytest.fixture
def hung_llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    fake = FakeLLM("hang")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.setenv("PARTNERPILOT_PROVIDER", "openai")
    monkeypatch.setenv("PARTNERPILOT_TURN_BUDGET_S", "3")
    monkeypatch.setenv("PARTNERPILOT_TURN_WORKERS", "8")
    monkeypatch.setenv("PARTNERPILOT_TURN_QUEUE", "40")
    get_settings.cache_clear()
    yield fake
    fake.close()
    get_settings.cache_clear()


def test_health_answers_within_100ms_while_45_turns_hang_and_the_overflow_gets_503(
    store: Engine, hung_llm: FakeLLM,
) -> None:
    keys, _ = make_keys(store)
    h = {"Authorization": f"Bearer {keys['pam2']}"}
    with serve(app_for()) as base, httpx.Client(timeout=5) as probe:
        assert probe.get(f"{base}/healthz").status_code == 200
        deadline = time.monotonic() + 30  # /readyz opens the knowledge index in the background once: not measured
        while "opening" in probe.get(f"{base}/readyz").json()["checks"]["index"]["detail"]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        with ThreadPoolExecutor(50) as pool:
            ask = {"message": "Which dormant partners should I call?"}
            turns = [pool.submit(httpx.post, f"{base}/invoke", json=ask, headers=h, timeout=120) for _ in range(50)]
            deadline = time.monotonic() + 30  # each turn's guard runs the intent model before the LLM is asked
            while hung_llm.calls < 8 and time.monotonic() < deadline:
                time.sleep(0.02)
            started = time.monotonic()
            assert hung_llm.calls == 8, "eight turns hang on the LLM at once, the rest wait in the queue"
            ms: list[float] = []
            for path in ["/healthz", "/readyz"] * 10:
                t0 = time.perf_counter()
                r = probe.get(base + path)
                ms.append((time.perf_counter() - t0) * 1000)
                assert r.status_code in (200, 503) and r.json()["status"]
            assert time.monotonic() - started < 2.5, "probed while the first turns still hang"
            codes = [t.result().status_code for t in turns]
    p95 = statistics.quantiles(ms, n=20, method="inclusive")[-1]
    print(f"\nhealth probes while 45+ turns hang: p95 {p95:.1f} ms, max {max(ms):.1f} ms")
    assert p95 < 100, ms
    assert codes.count(200) == 48 and codes.count(503) == 2, codes


# ---- across workers: PostgreSQL store, Redis locks ------------------------------------------------------------


@pytest.mark.postgres
def test_a_thread_lock_is_exclusive_across_processes_on_postgres_and_on_redis() -> None:
    from server.turn_service import PostgresLocks, RedisLocks
    from tests.api_support import REDIS_URL, redis_problem, require_service
    from tests.conftest import POSTGRES_URL, require_postgres

    require_postgres()
    require_service(redis_problem(REDIS_URL))
    url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    thread = f"lock-{time.time_ns()}"
    # Two instances stand for two workers: each has its own connections, as separate processes would.
    for make in (lambda: PostgresLocks(url, 2), lambda: RedisLocks(REDIS_URL, 30)):
        a, b = make(), make()
        try:
            held = a.try_acquire(thread)
            assert held is not None and b.try_acquire(thread) is None
            held.release()
            again = b.try_acquire(thread)
            assert again is not None
            again.release()
        finally:
            a.close()
            b.close()


@pytest.mark.postgres
@pytest.mark.xdist_group("workers")
def test_two_workers_on_postgres_and_redis_keep_every_turn_once_and_honour_a_key(
    two_workers: tuple[str, str, Engine],  # noqa: F811
) -> None:
    from readiness.db import session_scope
    from readiness.keys import create_key

    a, b, engine = two_workers
    with session_scope(engine) as s:  # two keys: the workers' rate limit is 20 requests per key and minute
        h = {"Authorization": f"Bearer {create_key(s, 'partner', 'p-004').key}"}
        h2 = {"Authorization": f"Bearer {create_key(s, 'partner', 'p-004').key}"}
    first = httpx.post(f"{a}/invoke", json={"message": "what's my readiness score?"}, headers=h, timeout=60)
    assert first.status_code == 200, first.text
    thread = first.json()["thread_id"]
    accepted, refused = ["what's my readiness score?"], 0
    for trial in range(5):
        texts = [f"what's my readiness score? ({trial}.{j})" for j in range(3)]
        replies = _at_once(3, lambda j, texts=texts: httpx.post(
            f"{(a, b)[j % 2]}/invoke", json={"message": texts[j], "thread_id": thread}, headers=h, timeout=60))
        for text, r in zip(texts, replies, strict=True):
            assert r.status_code in (200, 409), r.text
            if r.status_code == 200:
                accepted.append(text)
            else:
                refused += 1
    kept = [m["content"] for m in httpx.get(f"{b}/history/{thread}", headers=h, timeout=30).json()["messages"]
            if m["role"] == "user"]
    assert sorted(kept) == sorted(accepted) and len(accepted) - 1 + refused == 15
    before = _signals(engine, "p-004")
    keyed = {**h2, "Idempotency-Key": "two-workers"}
    replies = _at_once(4, lambda i: httpx.post(f"{(a, b)[i % 2]}/invoke", json={"message": CERTIFIED},
                                               headers=keyed, timeout=90))
    assert [r.status_code for r in replies] == [200] * 4, [r.text for r in replies]
    assert len({r.json()["thread_id"] for r in replies}) == 1
    assert _signals(engine, "p-004") == before + 1

