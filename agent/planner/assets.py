"""Loads the planner's prompt assets once: the intent definitions (roles, steps: the one source of truth) and the
answer templates."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"


@cache
def load(name: str) -> dict[str, Any]:
    with (PROMPTS / name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def intents() -> dict[str, Any]:
    return load("intent_definitions.yaml")["intents"]


def answers() -> dict[str, str]:
    return load("answers.yaml")
