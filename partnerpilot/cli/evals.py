"""`partnerpilot eval run`: the scenario suite with metrics and gates."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from partnerpilot.cli.common import console, fail, print_json

eval_app = typer.Typer(help="Run the conversation eval suite.", no_args_is_help=True)
DEFAULT_SCENARIOS = Path(__file__).resolve().parents[2] / "evals" / "scenarios"


def _thresholds(items: list[str], flag: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            fail(f"{flag} takes METRIC=VALUE, got {item!r}", 2)
    return out


@eval_app.command("run")
def run(
    scenarios: list[Path] = typer.Option(None, "--scenarios", help="Scenario folder or file (repeatable)."),
    mode: str = typer.Option("offline", "--mode", help="offline | replay | record"),
    json_out: Path | None = typer.Option(None, "--json", help="Write the JSON report here."),
    report: Path | None = typer.Option(None, "--report", help="Write a Markdown report here."),
    transcripts: Path | None = typer.Option(None, "--transcripts", help="Folder for the run's JSONL transcripts."),
    compare: Path | None = typer.Option(None, "--compare", help="Diff trajectories against transcripts in DIR."),
    fail_under: list[str] = typer.Option([], "--fail-under", help="METRIC=VALUE: fail if the metric is lower."),
    fail_over: list[str] = typer.Option([], "--fail-over", help="METRIC=VALUE: fail if the metric is higher."),
    recorded_only: bool = typer.Option(False, "--recorded-only", help="Only scenarios that have a cassette."),
    model: str | None = typer.Option(None, "--model", help="Model name for record mode."),
) -> None:
    """Run scenarios as their principals and judge every turn."""
    from evals.runner import run_suite

    if mode not in {"offline", "replay", "record"}:
        fail("--mode is offline, replay or record", 2)
    under, over = _thresholds(fail_under, "--fail-under"), _thresholds(fail_over, "--fail-over")
    result = run_suite(scenarios or [DEFAULT_SCENARIOS], mode=mode, json_out=json_out, report_out=report,  # type: ignore[arg-type]
                       transcripts_dir=transcripts, compare_dir=compare, model=model,
                       only_with_cassettes=recorded_only or mode == "replay")
    summary = result["summary"]
    replay = result.get("replay")
    table = Table("metric", "value", title=f"eval ({mode}, {result['model']})")
    for k, v in summary.items():
        table.add_row(k, str(v))
    console.print(table)
    if replay is None:
        for r in result["results"]:
            if not r["passed"]:
                console.print(f"[red]FAIL[/red] {r['id']}: " + "; ".join(r["failures"])[:400])
    if result.get("trajectory_changes"):
        print_json(result["trajectory_changes"])
    broken = [f"{k}={summary[k]} < {v}" for k, v in under.items() if summary.get(k, 0) < v]
    broken += [f"{k}={summary[k]} > {v}" for k, v in over.items() if summary.get(k, 0) > v]
    unknown = [k for k in [*under, *over] if k not in summary]
    if unknown:
        fail(f"unknown metric(s): {unknown}; known: {list(summary)}", 2)
    if replay is not None:
        # Replay's gate is reproducibility; the model's own scores are reported, its failures in the report file.
        from evals.runner import replay_lines

        for line in replay_lines(result):
            console.print(line)
        if report is not None and summary["passed"] < summary["scenarios"]:
            console.print(f"the model's failures: {report}")
        if replay["changed_or_stale"] or not replay["cassettes"]:
            which = replay["changed_or_stale"] or "all (no cassette found)"
            broken.append(f"replay differs from the recordings for {which}; re-record with "
                          "`partnerpilot eval run --mode record --scenarios FILE` against a live endpoint")
    if broken:
        fail("gate failed: " + ", ".join(broken), 1)
    if replay is None:
        guard = f" ({summary['passed_by_guard']} declined by the input guard)" if summary["passed_by_guard"] else ""
        console.print(f"{summary['passed']} passed{guard}, {summary['scenarios'] - summary['passed']} failed")


@eval_app.command("rejudge")
def rejudge_cmd(
    transcripts: Path = typer.Argument(..., help="A transcripts JSONL written by `eval run --transcripts`."),
    scenarios: list[Path] = typer.Option(None, "--scenarios", help="Scenario folder or file (repeatable)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the JSON report here."),
    report: Path | None = typer.Option(None, "--report", help="Write a Markdown report here."),
) -> None:
    """Judge recorded answers again with the current judge and scenarios, without running the agent."""
    import json

    from evals.runner import markdown_report, rejudge

    if not transcripts.is_file():
        fail(f"no transcripts file at {transcripts}", 2)
    result = rejudge(scenarios or [DEFAULT_SCENARIOS], transcripts)
    if json_out:
        json_out.write_text(json.dumps(result, indent=2))
    if report:
        report.write_text(markdown_report(result))
    table = Table("metric", "value", title=f"rejudged {transcripts.name}")
    for k, v in result["summary"].items():
        table.add_row(k, str(v))
    console.print(table)
    if result["not_recorded"]:
        console.print(f"{len(result['not_recorded'])} scenarios have no recorded turns (not judged)")


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
