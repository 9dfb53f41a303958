"""The soak benchmark's bookkeeping: how acknowledged turns are matched against a thread's stored history."""

from __future__ import annotations

import os

from benchmarks.run_all import discover
from benchmarks.soak import compare, tree_rss_mb


def test_history_match_counts_lost_and_extra_turns_in_order() -> None:
    sent = ["hello", "score?", "why?", "hello"]
    assert compare(sent, sent) == 4
    assert compare(sent, ["hello", "why?", "hello"]) == 3  # one acknowledged turn lost
    assert compare(sent, ["hello", "score?", "score?", "why?", "hello"]) == 4  # one stored twice: 1 extra
    assert compare(sent, ["hello", "hello", "why?", "score?"]) == 2  # out of order is not a match
    assert compare([], ["hello"]) == 0 and compare(["hello"], []) == 0


def test_server_memory_is_read_for_the_process_tree() -> None:
    assert tree_rss_mb(os.getpid()) > 10
    assert tree_rss_mb(2**22 + 7) == 0.0  # no such process


def test_run_all_picks_the_soak_benchmark_up() -> None:
    assert "soak" in discover()
