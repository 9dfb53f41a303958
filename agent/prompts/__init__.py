"""Prompt files: system prompts per role, intent examples, slot lexicons, answer templates."""

from __future__ import annotations

from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent


def system_prompt(role: str, **values: str) -> str:
    name = "system_partner.md" if role == "partner" else "system_pam.md"
    return (PROMPTS_DIR / name).read_text(encoding="utf-8").format(**values)
