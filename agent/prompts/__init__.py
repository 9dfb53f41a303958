"""Prompt files: system prompts per role, intent examples, slot lexicons, answer templates.

The system prompt is static per role and comes first, so an inference server can cache it together with the tool
schemas across conversations; who is talking and today's date follow in a short second system message.
"""

from __future__ import annotations

from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent


def _role(role: str) -> str:
    return "partner" if role == "partner" else "pam"


def system_prompt(role: str) -> str:
    return (PROMPTS_DIR / f"system_{_role(role)}.md").read_text(encoding="utf-8").strip()


def principal_prompt(role: str, **values: str) -> str:
    return (PROMPTS_DIR / f"principal_{_role(role)}.md").read_text(encoding="utf-8").strip().format(**values)
