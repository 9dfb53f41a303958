"""Run every benchmark in `benchmarks/` (each module's `main()`, with its own defaults) and print one table.

    python -m benchmarks.run_all [--only NAME ...] [--json OUT]      (`make bench`)

Each benchmark runs in its own process (they fork workers, build stores of gigabytes, time themselves) and prints
JSON on stdout; its progress on stderr passes through. A benchmark that fails, or prints no JSON, is a row saying
so, and the run exits 1. Run it on a quiet machine: the figures are wall-clock.
"""

from __future__ import annotations

import argparse
import json
import pkgutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def discover() -> list[str]:
    """Every module of the package that defines `main`, except this one."""
    names = []
    for info in pkgutil.iter_modules([str(HERE)]):
        if info.name == "run_all" or info.name.startswith("_") or info.ispkg:
            continue
        source = (HERE / f"{info.name}.py").read_text(encoding="utf-8")
        if "\ndef main(" in source:
            names.append(info.name)
    return sorted(names)


def last_json(stdout: str) -> Any:
    """The last JSON value a benchmark printed (whole stdout, else its last line that parses)."""
    text = stdout.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    for start in [i for i, c in enumerate(text) if c in "{["][::-1]:
        try:
            value, end = decoder.raw_decode(text[start:])
        except json.JSONDecodeError:
            continue
        if not text[start + end :].strip():
            return value
    raise ValueError("no JSON on stdout")


def flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Scalar leaves as (dotted key, text); lists of scalars joined, other lists by their length."""
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for k, v in value.items():
            rows += flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return rows
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return [(prefix, ", ".join(map(str, value))[:80])]
        return [(f"{prefix}[{i}]" + (f".{k}" if k else ""), t) for i, item in enumerate(value)
                for k, t in flatten(item)]
    text = str(value)
    return [(prefix or "value", text if len(text) <= 80 else text[:77] + "...")]


def run_one(name: str, timeout: float) -> dict[str, Any]:
    code = f"import sys; sys.argv = ['benchmarks.{name}']; from benchmarks.{name} import main; main()"
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"name": name, "ok": False, "error": f"timed out after {timeout:.0f} s", "seconds": timeout}
    seconds = round(time.perf_counter() - start, 1)
    if proc.returncode != 0:
        return {"name": name, "ok": False, "error": f"exit {proc.returncode}", "seconds": seconds}
    try:
        result = last_json(proc.stdout)
    except ValueError as exc:
        return {"name": name, "ok": False, "error": str(exc), "seconds": seconds}
    return {"name": name, "ok": True, "result": result, "seconds": seconds}


def table(runs: list[dict[str, Any]]) -> Table:
    t = Table(title="benchmarks (wall-clock on this machine)")
    t.add_column("benchmark", no_wrap=True)
    t.add_column("figure", overflow="fold")
    t.add_column("value", overflow="fold")
    for run in runs:
        t.add_row(run["name"], "wall time (s)", str(run["seconds"]))
        if not run["ok"]:
            t.add_row("", "FAILED", run["error"])
            continue
        for key, text in flatten(run["result"]):
            t.add_row("", key, text)
        t.add_section()
    return t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="Run only this benchmark (repeatable).")
    parser.add_argument("--json", type=Path, help="Also write every result here.")
    parser.add_argument("--timeout", type=float, default=3600.0, help="Seconds one benchmark may take.")
    args = parser.parse_args(argv)
    names = discover()
    unknown = sorted(set(args.only) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {names}")
    runs = []
    for name in args.only or names:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        runs.append(run_one(name, args.timeout))
    Console().print(table(runs))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))
    return 0 if all(r["ok"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
