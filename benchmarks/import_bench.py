"""Activity import throughput: N generated events into a fresh SQLite store, end to end.

    .venv/bin/python -m benchmarks.import_bench --rows 10000000

Prints JSON `{rows, seconds, rows_per_s, ...}`. Generation time is not counted; the timed part is
`import_dataset` (parse, validate, insert, index rebuild, commit).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from readiness.db import init_db, make_engine
from readiness.importers import import_dataset
from readiness.importers.rows import ACTIVITY_KINDS

KINDS = sorted(ACTIVITY_KINDS)


def write_dataset(folder: Path, rows: int, partners: int, seed: int = 7) -> int:
    """PAM, partners and `rows` activity events; returns the size of activity.csv in bytes."""
    rng = random.Random(seed)
    with (folder / "pams.csv").open("w", newline="", encoding="utf-8") as fh:
        fh.write("pam_id,name,email\npam-01,Bench Pam,bench@example.com\n")
    with (folder / "partners.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["partner_id", "name", "type", "region", "pam_id"])
        for i in range(partners):
            w.writerow([f"p-{i:05d}", f"Partner {i}", "reseller", "EMEA", "pam-01"])
    start = datetime(2024, 1, 1, tzinfo=UTC)
    span = 3 * 365 * 86400
    path = folder / "activity.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["event_id", "partner_id", "occurred_at", "kind", "detail", "value"])
        chunk: list[list[object]] = []
        for i in range(rows):
            at = start + timedelta(seconds=rng.randrange(span))
            kind = KINDS[rng.randrange(len(KINDS))]
            chunk.append([
                f"ev-{i:09d}", f"p-{rng.randrange(partners):05d}", at.strftime("%Y-%m-%dT%H:%M:%SZ"), kind,
                "Lumen Associate" if kind == "certification_earned" else "",
                rng.randrange(1, 50) if kind == "content_downloaded" else "",
            ])
            if len(chunk) == 100_000:
                w.writerows(chunk)
                chunk = []
        w.writerows(chunk)
    return path.stat().st_size


def run(rows: int, partners: int, progress: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="pp-import-bench-") as tmp:
        folder = Path(tmp) / "data"
        folder.mkdir()
        size = write_dataset(folder, rows, partners)
        engine = make_engine(f"sqlite:///{Path(tmp) / 'store.db'}")
        init_db(engine)
        callback = None
        if progress:
            def callback(label: str, done: int, total: int) -> None:
                print(f"\r{label}: {done / max(total, 1):6.1%}", end="", file=sys.stderr, flush=True)
        started, cpu_started = time.perf_counter(), time.process_time()
        report = import_dataset(engine, folder, progress=callback)
        seconds = time.perf_counter() - started
        # CPU time of this process: on a shared machine it shows what the importer costs apart from contention.
        cpu_seconds = time.process_time() - cpu_started
        if progress:
            print(file=sys.stderr)
        engine.dispose()
        activity = report.files["activity.csv"]
        return {
            "rows": rows,
            "seconds": round(seconds, 2),
            "rows_per_s": round(rows / seconds),
            "cpu_seconds": round(cpu_seconds, 2),
            "rows_per_cpu_s": round(rows / max(cpu_seconds, 1e-9)),
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "inserted": activity.inserted,
            "quarantined": activity.quarantined,
            "partners": partners,
            "csv_mb": round(size / 1e6, 1),
            "backend": "sqlite",
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--partners", type=int, default=5_000)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.rows, args.partners, not args.no_progress)))


if __name__ == "__main__":
    main()
