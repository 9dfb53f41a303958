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
from pydantic import BaseModel

from evals.judge import TurnContext, TurnRecord, TurnVerdict, judge
from evals.leaks import ScopeDirectory
from evals.metrics import summarize
from evals.scenario import Scenario, load_scenarios

Mode = Literal["offline", "replay", "record"]
ROOT = Path(__file__).resolve().parent
CASSETTES = ROOT / "cassettes"
# Bumped when the judge changes what passes: a recorded verdict is only compared with one of the same judge.
JUDGE_VERSION = "2"
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
    """Header: what was recorded, against what, by which judge, and the verdict then (replay must reproduce it)."""
    if not path.exists():
        return
    body = path.read_text(encoding="utf-8")
    stamp = (f"# endpoint: {endpoint}\n# model: {model}\n"
             f"# recorded: {datetime.now(UTC).isoformat(timespec='seconds')}\n"
             f"# judge: {JUDGE_VERSION}\n"
             f"# verdict: {'pass' if passed else 'fail'}\n"
             "# authorization and api-key headers are filtered; replay with `partnerpilot eval run --mode replay`\n")
    path.write_text(stamp + body, encoding="utf-8")


def _guard_decision(new: list[Any]) -> str | None:
    """The input guard's decision for this turn, read from the message it wrote (before any model ran)."""
    for m in new:
        if isinstance(m, AIMessage):
            return (m.additional_kwargs or {}).get("guard")
    return None


def _turn_record(scenario: Scenario, index: int, user: str, new: list[Any], state: dict[str, Any],
                 ms: float) -> TurnRecord:
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    prompt = completion = 0
    for m in new:
        if isinstance(m, AIMessage):
            calls += [{"name": c["name"], "args": c["args"], "id": c.get("id")} for c in m.tool_calls]
            usage = m.usage_metadata or {}
            prompt += int(usage.get("input_tokens", 0))
            completion += int(usage.get("output_tokens", 0))
        elif isinstance(m, ToolMessage):
            try:
                parsed = json.loads(m.content) if isinstance(m.content, str) else {}
            except json.JSONDecodeError:
                parsed = {"raw": str(m.content)[:500]}
            results.append({"name": m.name, "result": parsed, "id": m.tool_call_id})
    answer = next((m for m in reversed(new) if isinstance(m, AIMessage) and not m.tool_calls), None)
    return TurnRecord(
        scenario=scenario.id, turn=index, user=user, answer=str(answer.content) if answer else "",
        tool_calls=calls, tool_results=results, refused=bool(state.get("refused")), guard=_guard_decision(new),
        fallback=bool(state.get("fallback")), fallback_reason=state.get("fallback_reason"), ms=ms,
        prompt_tokens=prompt, completion_tokens=completion,
    )


class ScenarioRun(BaseModel):
    records: list[TurnRecord]
    # Replay only: recorded responses the run did not ask for (the conversation took another path).
    unplayed: int = 0


def run_scenario(scenario: Scenario, mode: Mode, cache: StoreCache, workdir: Path, model: str,
                 knowledge: Any = None) -> ScenarioRun:
    from agent.context import Context
    from agent.graph import build_graph
    from agent.memory import TURN_OPTIONS
    from agent.services import configure
    from readiness.db import init_db, make_engine

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
    graph = build_graph(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": f"eval-{scenario.id}"}, "recursion_limit": 25}
    records: list[TurnRecord] = []
    unplayed = 0
    if mode == "record":
        path.unlink(missing_ok=True)  # a fresh recording, not appended to an old one
    try:
        with _vcr_context(mode, scenario) as cassette:
            for i, turn in enumerate(scenario.turns):
                before = len(graph.get_state(config).values.get("messages", [])) if i else 0
                start = time.perf_counter()
                state = graph.invoke({"messages": [HumanMessage(content=turn.user)]}, config=config, context=ctx,
                                     **TURN_OPTIONS)
                ms = (time.perf_counter() - start) * 1000
                new = state["messages"][before + 1 :]
                records.append(_turn_record(scenario, i, turn.user, new, state, ms))
            if mode == "replay" and cassette is not None:
                unplayed = sum(1 for n in range(len(cassette)) if not cassette.play_counts[n])
    finally:
        engine.dispose()
    return ScenarioRun(records=records, unplayed=unplayed)


def judge_scenario(scenario: Scenario, records: list[TurnRecord]) -> list[TurnVerdict]:
    """Every turn judged with what the judge knows of the scenario: earlier turns, the store's scope, the date."""
    from readiness.settings import get_settings

    directory = ScopeDirectory(scenario.dataset_path, scenario.principal)
    limits = {"max_input_chars": float(get_settings().max_input_chars)}
    verdicts = []
    for i, (rec, turn) in enumerate(zip(records, scenario.turns, strict=True)):
        ctx = TurnContext(earlier=[r.calls() for r in records[:i]], directory=directory, as_of=scenario.as_of,
                          limits=limits)
        verdicts.append(judge(rec, turn.expect, ctx))
    return verdicts


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
                run = run_scenario(sc, mode, cache, Path(tmp), model, knowledge=kb)
            except CassetteMissing as exc:
                results.append({"id": sc.id, "passed": False, "failures": [str(exc)]})
                continue
            except Exception as exc:  # one crashing scenario is a failure, not the end of the suite
                results.append({"id": sc.id, "passed": False,
                                "failures": [f"scenario crashed: {type(exc).__name__}: {str(exc)[:300]}"]})
                continue
            verdicts = judge_scenario(sc, run.records)
            for rec, verdict in zip(run.records, verdicts, strict=True):
                judged.append((rec, verdict))
                failures += [f"turn {rec.turn + 1}: {f}" for f in verdict.failures]
                transcript_lines.append(rec.model_dump_json())
            # Decided by the input guard: every turn was declined in code before any model ran.
            by_guard = all(r.guard is not None for r in run.records)
            results.append({"id": sc.id, "passed": not failures, "failures": failures, "guard_decided": by_guard})
            cassette = CASSETTES / f"{sc.id}.yaml"
            if mode == "record":
                _stamp_cassette(cassette, settings.openai_base_url or "https://api.openai.com/v1", model, not failures)
            if mode == "replay":
                header = cassette_header(cassette)
                stale = any(r.fallback and r.fallback_reason == "error" for r in run.records)
                comparable = header.get("judge") == JUDGE_VERSION
                replay_checks.append({"id": sc.id, "recorded": header.get("verdict"),
                                      "now": "pass" if not failures else "fail", "stale": stale,
                                      "unplayed": run.unplayed, "verdict_comparable": comparable})
    for err in load_errors:
        results.append({"id": err.path, "passed": False, "failures": [f"failed to load: {err.error}"]})
    summary = summarize(results, judged, model)
    report: dict[str, Any] = {"mode": mode, "model": model, "summary": summary, "results": results}
    if mode == "replay":
        report["replay"] = replay_report(replay_checks)
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


def rejudge(scenario_dirs: list[Path], transcripts: Path, model: str = "recorded") -> dict[str, Any]:
    """Judge recorded transcripts (JSONL from `--transcripts`) again with the current judge and scenarios, without
    running the agent: how a judge or expectation change moves the figures of the same answers."""
    scenarios, load_errors = load_scenarios(scenario_dirs)
    recorded: dict[str, list[TurnRecord]] = {}
    for line in transcripts.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = TurnRecord.model_validate_json(line)
            recorded.setdefault(rec.scenario, []).append(rec)
    results: list[dict[str, Any]] = []
    judged: list[tuple[TurnRecord, TurnVerdict]] = []
    not_recorded = [sc.id for sc in scenarios if sc.id not in recorded]
    for sc in scenarios:
        if sc.id in not_recorded:
            continue
        records = sorted(recorded[sc.id], key=lambda r: r.turn)
        if len(records) != len(sc.turns):
            results.append({"id": sc.id, "passed": False,
                            "failures": [f"{len(records)} recorded turns, the scenario has {len(sc.turns)}"]})
            continue
        failures: list[str] = []
        for rec, verdict in zip(records, judge_scenario(sc, records), strict=True):
            judged.append((rec, verdict))
            failures += [f"turn {rec.turn + 1}: {f}" for f in verdict.failures]
        results.append({"id": sc.id, "passed": not failures, "failures": failures,
                        "guard_decided": all(r.guard is not None for r in records)})
    for err in load_errors:
        results.append({"id": err.path, "passed": False, "failures": [f"failed to load: {err.error}"]})
    return {"mode": "rejudge", "model": model, "summary": summarize(results, judged, model), "results": results,
            "not_recorded": not_recorded}


def replay_report(checks: list[dict[str, Any]]) -> dict[str, Any]:
    """Reproducibility of the recordings, apart from the model's own scores.

    A recording is reproduced when replay asked for every recorded response and nothing else (no stale or missing
    interaction, no endpoint error answered by the fallback) and, when the recording was judged by this judge,
    the verdict is the same. A verdict recorded under an older judge is not compared: the judge changed, not the
    recording.
    """
    changed = [c["id"] for c in checks if c["stale"] or c["unplayed"]
               or (c["verdict_comparable"] and c["recorded"] != c["now"])]
    return {"cassettes": len(checks), "reproduced": len(checks) - len(changed), "changed_or_stale": changed,
            "verdicts_compared": sum(1 for c in checks if c["verdict_comparable"])}


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


def replay_lines(report: dict[str, Any]) -> list[str]:
    """Replay's two figures, on separate lines: are the recordings reproduced, and how does the model score."""
    s, r = report["summary"], report["replay"]
    compared = f"recorded verdicts compared on {r['verdicts_compared']} of {r['cassettes']}"
    if r["verdicts_compared"] < r["cassettes"]:
        compared += "; the others were judged by an older judge, only their conversations are compared"
    by_model = s["passed"] - s["passed_by_guard"]
    return [
        f"reproducibility: {r['reproduced']}/{r['cassettes']} recordings replayed exactly ({compared})",
        f"model {report['model']}: passed {s['passed']}/{s['scenarios']} ({by_model} answered by the model, "
        f"{s['passed_by_guard']} declined by the input guard before the model ran)",
    ]


def markdown_report(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [f"# Eval report ({report['mode']}, model {report['model']})", ""]
    if report.get("replay"):
        lines += [f"- {line}" for line in replay_lines(report)]
        if report["replay"]["changed_or_stale"]:
            lines.append(f"- not reproduced: {', '.join(report['replay']['changed_or_stale'])}")
        lines.append("")
    lines += ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in s.items()]
    failed = [r for r in report["results"] if not r["passed"]]
    title = "The model's failures" if report["mode"] != "offline" else "Failed scenarios"
    lines += ["", f"## {title} ({len(failed)})", ""]
    for r in failed:
        lines.append(f"- **{r['id']}**: " + "; ".join(r["failures"])[:900])
    if report.get("trajectory_changes"):
        lines += ["", "## Changed trajectories", ""]
        lines += [f"- {c['scenario']} turn {c['turn'] + 1}: {c['before']} → {c['after']}"
                  for c in report["trajectory_changes"]]
    return "\n".join(lines) + "\n"
