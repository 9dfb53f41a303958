"""`make bench` runs every benchmark module's main() and prints one table; a failing benchmark fails the run."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import run_all


def test_every_benchmark_module_with_a_main_is_found() -> None:
    names = run_all.discover()
    assert {"agent_bench", "import_bench", "scoring_bench"} <= set(names)
    assert "run_all" not in names


def test_the_last_json_a_benchmark_prints_is_read_and_flattened_into_rows() -> None:
    out = 'progress 10%\n{"p95_ms": 8.1, "runs": [{"n": 1}], "sizes": [1, 2], "ok": true}\n'
    result = run_all.last_json(out)
    assert dict(run_all.flatten(result)) == {"p95_ms": "8.1", "runs[0].n": "1", "sizes": "1, 2", "ok": "True"}
    with pytest.raises(ValueError):
        run_all.last_json("no json here")


def test_a_benchmark_that_fails_is_a_row_and_the_run_exits_1(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    def fake(name: str, timeout: float) -> dict[str, Any]:
        if name == "import_bench":
            return {"name": name, "ok": False, "error": "exit 3", "seconds": 0.1}
        return {"name": name, "ok": True, "result": {"p95_ms": 1.0}, "seconds": 0.1}

    monkeypatch.setattr(run_all, "run_one", fake)
    assert run_all.main(["--only", "agent_bench"]) == 0
    assert run_all.main([]) == 1
    printed = capsys.readouterr().out
    assert "FAILED" in printed and "exit 3" in printed and "p95_ms" in printed


def test_a_real_benchmark_process_is_run_and_read(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "__init__.py").write_text("")
    (tmp_path / "benchmarks" / "tiny_bench.py").write_text(
        "import json, sys\n\ndef main():\n    print('warming up', file=sys.stderr)\n"
        "    print(json.dumps({'rows_per_s': 123.4, 'argv': sys.argv[1:]}))\n")
    monkeypatch.setattr(run_all, "ROOT", tmp_path)
    run = run_all.run_one("tiny_bench", timeout=60)
    assert run["ok"] and run["result"] == {"rows_per_s": 123.4, "argv": []}
