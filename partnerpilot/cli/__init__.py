"""`partnerpilot` command: one Typer app, each command family in its own module."""

from __future__ import annotations

import importlib

import typer

from partnerpilot.cli.common import console, fail

app = typer.Typer(
    help="PartnerPilot: partner readiness, activation plans and the activation agent.", no_args_is_help=True
)

# Each module exposes `register(app)`; the list is the single place a command family is wired in.
COMMAND_MODULES = [
    "partnerpilot.cli.data",
    "partnerpilot.cli.imports",
    "partnerpilot.cli.knowledge",
    "partnerpilot.cli.evals",
    "partnerpilot.cli.seed",
    "partnerpilot.cli.scoring",
    "partnerpilot.cli.analytics",
    "partnerpilot.cli.gtm",
    "partnerpilot.cli.chat",
    "partnerpilot.cli.up",
    "partnerpilot.cli.keys",
    "partnerpilot.cli.mcp",
    "partnerpilot.cli.nudges",
    "partnerpilot.cli.threads",
]

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
        raise SystemExit(130) from None


__all__ = ["app", "fail", "main"]
