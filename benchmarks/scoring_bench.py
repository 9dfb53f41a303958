"""Scoring benchmark (not a test): prints JSON.

Store: 100,000 partners and about 10M activity events generated with `readiness.seed`, cached as a SQLite file
under /tmp between runs. Measures the full vectorized rescore (into the snapshot table), one-partner rescore,
the call list for one PAM, and the naive per-partner loop on a sample (extrapolated to the whole program).

    .venv/bin/python benchmarks/scoring_bench.py [--partners 100000] [--events-per-partner 100]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from sqlalchemy import delete, func, select

from readiness.db import init_db, make_engine, session_scope
from readiness.models import ActivityEvent, Pam, Partner, ScoreSnapshot
from readiness.scoring import call_list, clear_caches, refresh_snapshots, rescore_partner
from readiness.scoring.score import compute_frame
from readiness.seed import generate_program, load_into_store

AS_OF = date(2026, 10, 31)


def _store(partners: int, events: float) -> Path:
    path = Path(f"/tmp/pp_scoring_bench/store_{partners // 1000}k.db")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = make_engine(f"sqlite:///{path}")
        init_db(engine)
        load_into_store(engine, generate_program(partners, 42, AS_OF, events_per_partner=events))
        engine.dispose()
    return path


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the workers that read shards of the store)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@contextmanager
def _clock() -> Iterator[dict[str, float]]:
    """Wall and CPU seconds. SQLite runs in this process and its workers, so CPU time is the figure a busy
    machine distorts least; wall time below CPU time is the parallel read at work."""
    out: dict[str, float] = {}
    wall, cpu = time.perf_counter(), _cpu()
    yield out
    out["wall_s"] = round(time.perf_counter() - wall, 2)
    out["cpu_s"] = round(_cpu() - cpu, 2)


def _p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, round(0.95 * len(xs)) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--partners", type=int, default=100_000)
    ap.add_argument("--events-per-partner", type=float, default=100.0)
    ap.add_argument("--naive-sample", type=int, default=200)
    args = ap.parse_args()
    path = _store(args.partners, args.events_per_partner)
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    out: dict[str, object] = {"store": str(path)}
    with session_scope(engine) as s:
        out["partners"] = s.execute(select(func.count()).select_from(Partner)).scalar_one()
        out["events"] = s.execute(select(func.count()).select_from(ActivityEvent)).scalar_one()
        # Cold: no snapshot for the date yet and no cached program baselines or activation curve, as for the first
        # rescore after an import. Warm: the same again, every snapshot row overwritten.
        s.execute(delete(ScoreSnapshot).where(ScoreSnapshot.as_of == AS_OF))
        s.commit()
        clear_caches()
        with _clock() as cold:
            refresh_snapshots(s, AS_OF)  # includes the baselines and the activation curve (a sample at as_of-90)
        s.commit()
        out["full_rescore_cold"] = cold
        with _clock() as frame_t:
            frame = compute_frame(s, AS_OF)
        out["full_score_frame"] = frame_t
        with _clock() as warm:
            n = refresh_snapshots(s, AS_OF)
        s.commit()
        out["full_rescore_warm"] = warm
        out["full_rescore_partners"] = n

        ids = random.Random(7).sample(frame.ids, 60)
        rescore_partner(s, ids[0], AS_OF)  # warm program caches (priors, activation curve)
        one = []
        for pid in ids[1:]:
            t = time.perf_counter()
            rescore_partner(s, pid, AS_OF)
            one.append(time.perf_counter() - t)
        out["one_partner_rescore_ms"] = {"median": round(1000 * statistics.median(one), 1),
                                         "p95": round(1000 * _p95(one), 1), "runs": len(one)}
        pam = s.scalars(select(Pam.pam_id).order_by(Pam.pam_id)).first()
        book = s.execute(select(func.count()).select_from(Partner).where(Partner.pam_id == pam)).scalar_one()
        call_list(s, AS_OF, pam, limit=10)
        cl = []
        for _ in range(40):
            t = time.perf_counter()
            call_list(s, AS_OF, pam, limit=10)
            cl.append(time.perf_counter() - t)
        out["call_list_ms"] = {"pam": pam, "book_size": book, "median": round(1000 * statistics.median(cl), 1),
                               "p95": round(1000 * _p95(cl), 1), "runs": len(cl),
                               "freshness": "snapshots from the full rescore; shortlist re-scored live per call"}
        sample = random.Random(11).sample(frame.ids, args.naive_sample)
        with _clock() as naive:
            for pid in sample:  # the naive way: one query set and one scoring pass per partner
                compute_frame(s, AS_OF, [pid])
        per = naive["wall_s"] / len(sample)
        extrapolated = per * len(frame.ids)
        out["naive_loop"] = {"sample": len(sample), **naive, "per_partner_ms": round(1000 * per, 2),
                             "extrapolated_full_wall_s": round(extrapolated, 1),
                             "ratio_vs_vectorized_wall": round(extrapolated / frame_t["wall_s"], 1),
                             "note": "measured on a random sample, extrapolated linearly to all partners"}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
