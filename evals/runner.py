"""Runs scenarios through the real graph and judges them.

Modes: `offline` (the deterministic planner), `replay` (the `openai` model against recorded vcrpy cassettes, no
network) and `record` (the `openai` model against a live OpenAI-compatible endpoint, writing cassettes).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from evals.judge import TurnRecord, TurnVerdict, judge
from evals.metrics import summarize
from evals.scenario import Scenario, load_scenarios

Mode = Literal["offline", "replay", "record"]
ROOT = Path(__file__).resolve().parent
CASSETTES = ROOT / "cassettes"
SECRET_HEADERS = ["authorization", "api-key", "x-api-key", "openai-organization", "openai-project", "cookie",
                  "set-cookie"]


class CassetteMissing(RuntimeError):
    pass


def _dataset_hash(path: Path) -> str:
    h = hashlib.sha256(str(path).encode())
    for f in sorted(path.iterdir()):
        if f.is_file():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


class StoreCache:
    """Imports each dataset once into a SQLite file; every scenario gets a fresh copy (scenarios write)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def fresh_copy(self, dataset: Path, dest: Path) -> Path:
        from readiness.importers import import_into_sqlite_file

        cached = self.root / f"{_dataset_hash(dataset)}.db"
        if not cached.exists():
            tmp = cached.with_suffix(".tmp")
            tmp.unlink(missing_ok=True)
            import_into_sqlite_file(tmp, dataset)
            tmp.replace(cached)
        shutil.copyfile(cached, dest)
        return dest


def cassette_header(path: Path) -> dict[str, str]:
    header: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.startswith("#"):
                break
            key, _, value = line[1:].partition(":")
            header[key.strip()] = value.strip()
    return header


def _vcr_context(mode: Mode, scenario: Scenario) -> AbstractContextManager[Any]:
    if mode == "offline":
        return nullcontext()
    import vcr

    path = CASSETTES / f"{scenario.id}.yaml"
    if mode == "replay" and not path.exists():
        raise CassetteMissing(
            f"no cassette for {scenario.id}: record it with `partnerpilot eval run --mode record --scenarios "
            f"{scenario.path}` against a live endpoint (OPENAI_BASE_URL, PARTNERPILOT_MODEL)"
        )
    recorder = vcr.VCR(
        record_mode="none" if mode == "replay" else "all",
        match_on=["method", "uri", "body"],
        filter_headers=SECRET_HEADERS,
        decode_compressed_response=True,
    )
    return recorder.use_cassette(str(path))


def _stamp_cassette(path: Path, endpoint: str, model: str, passed: bool) -> None:
    """Header: what was recorded, against what, and the verdict then (replay must reproduce it)."""
    if not path.exists():
        return
    body = path.read_text(encoding="utf-8")
    stamp = (f"# endpoint: {endpoint}\n# model: {model}\n"
             f"# recorded: {datetime.now(UTC).isoformat(timespec='seconds')}\n"
             f"# verdict: {'pass' if passed else 'fail'}\n"
             "# authorization and api-key headers are filtered; replay with `partnerpilot eval run --mode replay`\n")
    path.write_text(stamp + body, encoding="utf-8")


def _partner_ids(obj: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "partner_id" and isinstance(v, str):
                found.add(v)
            else:
                found |= _partner_ids(v)
    elif isinstance(obj, list):
        for v in obj:
            found |= _partner_ids(v)
    return found


def _turn_record(scenario: Scenario, index: int, user: str, new: list[Any], state: dict[str, Any], ms: float,
                 visible: set[str]) -> TurnRecord:
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    prompt = completion = 0
    leaked: set[str] = set()
    for m in new:
        if isinstance(m, AIMessage):
            calls += [{"name": c["name"], "args": c["args"]} for c in m.tool_calls]
            usage = m.usage_metadata or {}
            prompt += int(usage.get("input_tokens", 0))
            completion += int(usage.get("output_tokens", 0))
        elif isinstance(m, ToolMessage):
            try:
                parsed = json.loads(m.content) if isinstance(m.content, str) else {}
            except json.JSONDecodeError:
                parsed = {"raw": str(m.content)[:500]}
            results.append({"name": m.name, "result": parsed})
            if isinstance(parsed, dict) and parsed.get("ok"):
                leaked |= _partner_ids(parsed.get("data")) - visible
    answer = next((m for m in reversed(new) if isinstance(m, AIMessage) and not m.tool_calls), None)
    return TurnRecord(
        scenario=scenario.id, turn=index, user=user, answer=str(answer.content) if answer else "",
        tool_calls=calls, tool_results=results, refused=bool(state.get("refused")),
        fallback=bool(state.get("fallback")), fallback_reason=state.get("fallback_reason"), ms=ms,
        prompt_tokens=prompt, completion_tokens=completion,
        out_of_scope_ids=sorted(leaked),
    )


def run_scenario(scenario: Scenario, mode: Mode, cache: StoreCache, workdir: Path, model: str,
                 knowledge: Any = None) -> list[TurnRecord]:
    from agent.context import Context
    from agent.graph import build_graph
    from agent.services import configure, get_services
    from readiness.db import init_db, make_engine
    from readiness.scope import visible_partner_ids

    db = cache.fresh_copy(scenario.dataset_path, workdir / f"{scenario.id}.db")
    engine = make_engine(f"sqlite:///{db}")
    init_db(engine)
    configure(engine, knowledge=knowledge)
    provider = "offline" if mode == "offline" else "openai"
    path = CASSETTES / f"{scenario.id}.yaml"
    base_url: str | None = None
    retries: int | None = None
    if mode == "replay":
        header = cassette_header(path)
        base_url, model, retries = header.get("endpoint"), header.get("model", model), 0
    ctx = Context(role=scenario.principal.role, principal_id=scenario.principal.id, as_of=scenario.as_of,
                  provider=provider, model=model, base_url=base_url, max_retries=retries)
    with get_services().session() as s:
        visible = set(visible_partner_ids(s, ctx.principal))
    graph = build_graph(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": f"eval-{scenario.id}"}, "recursion_limit": 25}
    records: list[TurnRecord] = []
    if mode == "record":
        path.unlink(missing_ok=True)  # a fresh recording, not appended to an old one
    try:
        with _vcr_context(mode, scenario):
            for i, turn in enumerate(scenario.turns):
                before = len(graph.get_state(config).values.get("messages", [])) if i else 0
                start = time.perf_counter()
                state = graph.invoke({"messages": [HumanMessage(content=turn.user)]}, config=config, context=ctx)
                ms = (time.perf_counter() - start) * 1000
                new = state["messages"][before + 1 :]
                records.append(_turn_record(scenario, i, turn.user, new, state, ms, visible))
    finally:
        engine.dispose()
    return records


def run_suite(
    scenario_dirs: list[Path],
    mode: Mode = "offline",
    json_out: Path | None = None,
    report_out: Path | None = None,
    transcripts_dir: Path | None = None,
    compare_dir: Path | None = None,
    model: str | None = None,
    only_with_cassettes: bool = False,
) -> dict[str, Any]:
    from agent.services import configure
    from knowledge.index import build_index
    from knowledge.retriever import KnowledgeBase
    from readiness.db import make_engine
    from readiness.settings import get_settings

    settings = get_settings()
    scenarios, load_errors = load_scenarios(scenario_dirs)
    if only_with_cassettes:
        scenarios = [s for s in scenarios if (CASSETTES / f"{s.id}.yaml").exists()]
    if mode == "replay":
        model = model or next((cassette_header(CASSETTES / f"{s.id}.yaml").get("model") for s in scenarios
                               if (CASSETTES / f"{s.id}.yaml").exists()), None)
    model = model or (settings.model if mode != "offline" else "offline")
    build_index()
    kb = KnowledgeBase()
    cache = StoreCache(settings.home / "eval-cache")
    results: list[dict[str, Any]] = []
    judged: list[tuple[TurnRecord, TurnVerdict]] = []
    transcript_lines: list[str] = []
    replay_checks: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pp-eval-") as tmp:
        configure(make_engine("sqlite://"), knowledge=kb)
        for sc in scenarios:
            failures: list[str] = []
            try:
                records = run_scenario(sc, mode, cache, Path(tmp), model, knowledge=kb)
            except CassetteMissing as exc:
                results.append({"id": sc.id, "passed": False, "failures": [str(exc)]})
                continue
            except Exception as exc:  # one crashing scenario is a failure, not the end of the suite
                results.append({"id": sc.id, "passed": False,
                                "failures": [f"scenario crashed: {type(exc).__name__}: {str(exc)[:300]}"]})
                continue
            for rec, turn in zip(records, sc.turns, strict=True):
                verdict = judge(rec, turn.expect)
                judged.append((rec, verdict))
                failures += [f"turn {rec.turn + 1}: {f}" for f in verdict.failures]
                transcript_lines.append(rec.model_dump_json())
            results.append({"id": sc.id, "passed": not failures, "failures": failures})
            cassette = CASSETTES / f"{sc.id}.yaml"
            if mode == "record":
                _stamp_cassette(cassette, settings.openai_base_url or "https://api.openai.com/v1", model, not failures)
            if mode == "replay":
                recorded = cassette_header(cassette).get("verdict")
                stale = any(r.fallback and r.fallback_reason == "error" for r in records)
                replay_checks.append({"id": sc.id, "recorded": recorded, "now": "pass" if not failures else "fail",
                                      "stale": stale})
    for err in load_errors:
        results.append({"id": err.path, "passed": False, "failures": [f"failed to load: {err.error}"]})
    summary = summarize(results, judged, model)
    report: dict[str, Any] = {"mode": mode, "model": model, "summary": summary, "results": results}
    if mode == "replay":
        # Replay reproduces the recordings: same verdict per scenario, no missing or stale cassette.
        changed = [c["id"] for c in replay_checks if c["stale"] or c["recorded"] != c["now"]]
        report["replay"] = {"cassettes": len(replay_checks), "reproduced": len(replay_checks) - len(changed),
                            "changed_or_stale": changed}
    if transcripts_dir:
        transcripts_dir.mkdir(parents=True, exist_ok=True)
        (transcripts_dir / f"transcripts-{mode}.jsonl").write_text("\n".join(transcript_lines) + "\n")
    if compare_dir:
        report["trajectory_changes"] = compare_transcripts(transcript_lines, compare_dir, mode)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2))
    if report_out:
        report_out.parent.mkdir(parents=True, exist_ok=True)
        report_out.write_text(markdown_report(report))
    return report


def compare_transcripts(lines: list[str], compare_dir: Path, mode: str) -> list[dict[str, Any]]:
    """Turns whose tool trajectory differs from the recorded transcripts in `compare_dir`."""
    recorded: dict[tuple[str, int], list[str]] = {}
    for f in sorted(compare_dir.glob("*.jsonl")):
        for line in f.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                recorded[(r["scenario"], r["turn"])] = [c["name"] for c in r["tool_calls"]]
    changes = []
    for line in lines:
        r = json.loads(line)
        key = (r["scenario"], r["turn"])
        now = [c["name"] for c in r["tool_calls"]]
        if key in recorded and recorded[key] != now:
            changes.append({"scenario": key[0], "turn": key[1], "before": recorded[key], "after": now})
    return changes


def markdown_report(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [f"# Eval report ({report['mode']}, model {report['model']})", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in s.items()]
    failed = [r for r in report["results"] if not r["passed"]]
    lines += ["", f"## Failed scenarios ({len(failed)})", ""]
    for r in failed:
        lines.append(f"- **{r['id']}**: " + "; ".join(r["failures"])[:600])
    if report.get("trajectory_changes"):
        lines += ["", "## Changed trajectories", ""]
        lines += [f"- {c['scenario']} turn {c['turn'] + 1}: {c['before']} → {c['after']}"
                  for c in report["trajectory_changes"]]
    return "\n".join(lines) + "\n"
