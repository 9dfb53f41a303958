"""`partnerpilot chat --as partner:ID | pam:ID`: talk to the agent in the terminal.

Reads one message per line from stdin, so it works interactively and scripted
(`printf 'hi\\n/quit\\n' | partnerpilot chat --as pam:pam-01`). Answers stream as the agent produces them; tool
activity, refusals and offline fallbacks are shown. Threads live in the same checkpointer as the server's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import uuid
import warnings
from typing import TYPE_CHECKING, Any, TextIO

import typer
from rich.markup import escape
from rich.table import Table

from partnerpilot.cli.common import AS_OF_HELP, console, engine, fail, resolve_as_of, session
from readiness.errors import OutOfScope
from readiness.scope import validate_principal
from readiness.settings import get_settings

if TYPE_CHECKING:
    from agent.context import Context
    from server.turn_service import TurnService
    from server.turns import TurnEvent

GREETING = "hello"
PILOT = "[bold cyan]pilot ›[/bold cyan] "
HELP = "Commands: /reset (new thread), /threads (your threads), /help, /quit."


def _args(args: dict[str, Any] | None) -> str:
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in (args or {}).items())


class ChatSession:
    """One principal's terminal conversation over a graph with a checkpointer. Turns go through the same turn
    service as the server's (thread claim, one turn at a time per thread across processes, bounded pool), so a
    terminal and a web session on one thread cannot interleave turns."""

    def __init__(self, turns: TurnService, checkpointer: Any, ctx: Context, thread_id: str) -> None:
        self.turns = turns
        self.checkpointer = checkpointer
        self.ctx = ctx
        self.owner = ctx.principal.actor
        self.thread_id = thread_id

    def turn(self, message: str) -> None:
        from fastapi import HTTPException

        speaking = False  # the "pilot ›" prefix is on screen and answer text follows on this line
        pending = ""  # answer text streamed token by token in the current model round

        def say(text: str) -> None:
            nonlocal speaking
            if not speaking:
                console.print(PILOT, end="")
                speaking = True
            console.out(text, end="", highlight=False)

        def line(markup: str) -> None:
            nonlocal speaking
            if speaking:
                console.print()
                speaking = False
            console.print(markup, highlight=False)

        async def run() -> None:
            _thread, events = await self.turns.stream(self.ctx.principal, self.ctx, self.thread_id, message)
            async for event in events:
                show(event)

        def show(event: TurnEvent) -> None:
            nonlocal pending, speaking
            if event.type == "token" and event.text:
                say(event.text)
                pending += event.text
            elif event.type == "message":
                if not pending and event.text:
                    say(event.text)
                pending = ""
            elif event.type == "tool_call":
                line(f"  [dim]⚙ {escape(event.name or '')}({escape(_args(event.args))})[/dim]")
            elif event.type == "tool_result":
                mark = "[yellow]refused[/yellow]" if event.refused else (
                    "[green]ok[/green]" if event.ok else "[red]failed[/red]")
                line(f"  [dim]↳ {escape(event.name or '')}[/dim] {mark}")
            elif event.type == "end":
                if speaking:  # finish the answer's line
                    console.print()
                    speaking = False
                if event.refused:
                    line("[yellow](refused: outside what you may see, or outside the guardrails)[/yellow]")
                if event.fallback:
                    line("[dim](the model endpoint failed; the offline planner answered this turn)[/dim]")

        try:
            asyncio.run(run())
        except HTTPException as exc:  # not admitted: the thread is busy elsewhere, or the pool is full
            line(f"[yellow]{escape(str(exc.detail))}[/yellow]")
        except Exception as exc:  # a failed turn should not end the session
            line(f"[red]the turn failed:[/red] {escape(str(exc))}")

    def reset(self) -> None:
        self.thread_id = uuid.uuid4().hex
        console.print(f"[dim]new thread {self.thread_id}[/dim]")
        self.turn(GREETING)

    def show_threads(self) -> None:
        from agent.memory import list_threads

        rows = list_threads(self.checkpointer, self.owner)
        if not rows:
            console.print("[dim]no threads yet[/dim]")
            return
        table = Table("thread", "updated", "messages", "started with")
        for t in rows:
            current = " (current)" if t.thread_id == self.thread_id else ""
            updated = t.updated_at.strftime("%Y-%m-%d %H:%M") if t.updated_at else ""
            table.add_row(t.thread_id + current, updated, str(t.messages), t.title)
        console.print(table)


def _read_line(stream: TextIO, interactive: bool) -> str | None:
    if interactive:
        try:
            return console.input("[bold green]you ›[/bold green] ")
        except EOFError:
            return None
    line = stream.readline()
    if not line:
        return None
    text = line.rstrip("\r\n")
    console.print(f"[bold green]you ›[/bold green] {escape(text)}", highlight=False)  # a readable transcript when piped
    return text


def _load_planner() -> None:
    """Load the offline planner's intent model before the first turn (fitting it on a first run takes minutes)."""
    from agent.planner.classifier import model_is_cached, warm_up

    if not model_is_cached():
        console.print("[dim]fitting the intent model from agent/training (first run only; cached under "
                      "PARTNERPILOT_HOME)...[/dim]")
    warm_up()


def chat(
    as_: str = typer.Option(..., "--as", help="Who is talking: partner:ID or pam:ID."),
    thread: str | None = typer.Option(None, "--thread", help="Resume this thread (yours only)."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
) -> None:
    """Chat with the PartnerPilot agent (streamed answers, tool activity, /reset, /threads, /quit)."""
    # Imported here so other commands do not pay for loading the agent stack.
    from agent.context import Context
    from agent.graph import build_graph
    from agent.memory import open_checkpointer, thread_owner
    from agent.services import configure
    from server.observability import configure_logging
    from server.turn_service import TurnService

    configure_logging(logging.WARNING)  # warnings to stderr; the transcript stays on stdout
    # langchain-core re-serialises the injected tool runtime on every tool call and pydantic warns about the
    # context dataclass each time; it is harmless noise in an interactive terminal.
    warnings.filterwarnings("ignore", message="Pydantic serializer warnings", category=UserWarning)
    try:
        ctx = Context.parse_as(as_, as_of=resolve_as_of(as_of))
    except ValueError as exc:
        fail(str(exc), 2)
    configure(engine())
    try:
        with session() as s:
            validate_principal(s, ctx.principal)
    except OutOfScope as exc:
        fail(str(exc), 2)
    if ctx.provider != "openai":
        _load_planner()

    with open_checkpointer(get_settings()) as checkpointer:
        graph = build_graph(checkpointer=checkpointer)
        turns = TurnService(get_settings(), graph, checkpointer)
        owner = ctx.principal.actor
        resumed = False
        if thread is not None:
            existing = thread_owner(checkpointer, thread)
            if existing is not None and existing != owner:
                turns.close()
                fail(f"thread {thread!r} not found", 2)
            resumed = existing is not None
        try:
            _converse(ChatSession(turns, checkpointer, ctx, thread or uuid.uuid4().hex), graph, resumed)
        finally:
            turns.close()


def _converse(sess: ChatSession, graph: Any, resumed: bool) -> None:
    """The greeting or the resumed thread's last answer, then one turn per line until /quit or end of input."""
    from agent.memory import run_config
    from server.turns import history_of

    owner = sess.owner
    console.print(f"[dim]PartnerPilot chat as {owner}, as of {sess.ctx.as_of.isoformat()}, thread "
                  f"{sess.thread_id}. {HELP}[/dim]")
    if resumed:
        messages = history_of(list(graph.get_state(run_config(sess.thread_id, owner)).values["messages"]))
        last = next((m for m in reversed(messages) if m.role == "assistant" and m.content), None)
        console.print(f"[dim]resuming: {sum(m.role == 'user' for m in messages)} earlier turns[/dim]")
        if last:
            console.print(PILOT + escape(last.content), highlight=False)
    else:
        sess.turn(GREETING)

    interactive = sys.stdin.isatty()
    while (line := _read_line(sys.stdin, interactive)) is not None:
        text = line.strip()
        if not text:
            continue
        if text in {"/quit", "/exit"}:
            break
        if text == "/reset":
            sess.reset()
        elif text == "/threads":
            sess.show_threads()
        elif text == "/help":
            console.print(HELP)
        elif text.startswith("/"):
            console.print(f"[yellow]unknown command {text}[/yellow]. {HELP}")
        else:
            sess.turn(text)
    console.print("[dim]bye[/dim]")


intents_app = typer.Typer(help="The offline planner's intent classifier: fit, cross-validate, score on the suites.",
                          no_args_is_help=True)


@intents_app.command("train")
def intents_train() -> None:
    """Fit the intent model now (or load it when the cache under PARTNERPILOT_HOME matches the training data)."""
    import time

    from agent.planner.classifier import cache_key, get_model

    started = time.perf_counter()
    model = get_model()
    console.print(f"intent model {cache_key()}: {len(model.classes)} intents, {model.examples} training texts, "
                  f"ready in {time.perf_counter() - started:.1f} s")


@intents_app.command("cv")
def intents_cv(folds: int = typer.Option(5, help="Cross-validation folds (grouped by written line).")) -> None:
    """Cross-validated accuracy of the intent classifier on its own training data."""
    from agent.planner.classifier import cross_validate

    r = cross_validate(folds=folds)
    console.print(f"{r.folds}-fold grouped CV over {r.examples} written examples: accuracy {r.accuracy:.3f} "
                  f"(noisy variants {r.noisy_accuracy:.3f}), macro-F1 {r.macro_f1:.3f}, ECE {r.ece:.3f}, "
                  f"{r.seconds:.0f} s")
    table = Table("intent", "accuracy")
    for intent, acc in r.per_intent.items():
        table.add_row(intent, f"{acc:.3f}")
    console.print(table)
    console.print("most frequent confusions: " + "; ".join(f"{t}→{p} ×{n}" for t, p, n in r.confusions[:8]))


@intents_app.command("labels")
def intents_labels(
    scenarios: list[str] = typer.Option(["evals/scenarios", "evals/blind"], "--scenarios",
                                        help="Scenario folders whose turns carry `intents` labels."),
) -> None:
    """Accuracy of the planner's reading against the readers' `intents` labels, turn by turn through the graph."""
    from pathlib import Path

    from agent.planner.evaluate import label_accuracy

    configure_quiet()
    r = label_accuracy([Path(s) for s in scenarios])
    console.print(f"{r.understander}: {r.turns} labelled turns, exact {r.exact:.3f}, first intent {r.first:.3f}")
    console.print("most frequent confusions (label→read): "
                  + "; ".join(f"{a}→{b} ×{n}" for a, b, n in r.confusions[:10]))


def configure_quiet() -> None:
    from server.observability import configure_logging

    configure_logging(logging.WARNING)
    warnings.filterwarnings("ignore", message="Pydantic serializer warnings", category=UserWarning)


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
    app.add_typer(intents_app, name="intents")
