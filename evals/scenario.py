"""The scenario format (a contract: keep it, extend only with optional keys). Unknown keys are errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScenarioPrincipal(_Strict):
    role: Literal["partner", "pam", "leader"]
    id: str


class Fact(_Strict):
    """A fact the answer must state, read from tool output rather than written into the scenario.

    Either `tool` (a tool called in this turn: its result's `data`) or `row` (row N of the latest list a tool
    returned before this turn). `path` is a dotted path into that data or row (`score`, `top_gap.label`,
    `partners.2.name`); numbers are stated when the answer shows them rounded as the product shows them (0 or 1
    decimals, money as $12,345), strings case-insensitively. See docs/EVALS.md.
    """

    tool: str | None = None
    where: dict[str, Any] | None = None  # choose the call of `tool` whose arguments or data match these
    row: int | None = None  # 1-based; -1 is the last row
    list: str | None = None  # the list tool `row` refers to; default the latest list shown
    path: str = "name"
    subject: bool = False  # with `row`: this turn's calls that take a partner are about that row's partner
    stated: bool = True  # false: only the `subject` check

    @model_validator(mode="after")
    def _one_source(self) -> Fact:
        if (self.tool is None) == (self.row is None):
            raise ValueError("a fact reads either a `tool` of this turn or a `row` of an earlier list")
        if self.subject and self.row is None:
            raise ValueError("`subject` applies to a `row` fact")
        return self


class Expect(_Strict):
    tools: list[str] | None = None
    match: Literal["strict", "unordered", "subset", "superset"] = "superset"
    tool_args: dict[str, dict[str, Any]] | None = None
    mentions: list[str] = Field(default_factory=list)
    mentions_any: list[str] = Field(default_factory=list)
    not_mentions: list[str] = Field(default_factory=list)
    citations: list[str] = Field(default_factory=list)
    refuses: bool | None = None
    facts: list[Fact] = Field(default_factory=list)
    # The label a reader gives the message (agent/prompts/intent_definitions.yaml; several for a multi-part
    # message): scores the planner's intent classifier on the suite; not a pass/fail check.
    intents: list[str] = Field(default_factory=list)


class Turn(_Strict):
    user: str
    expect: Expect = Field(default_factory=Expect)


class Scenario(_Strict):
    id: str
    description: str
    dataset: str
    as_of: date
    principal: ScenarioPrincipal
    turns: list[Turn] = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)  # optional extension: grouping in reports
    path: Path | None = Field(default=None, exclude=True)

    @property
    def dataset_path(self) -> Path:
        assert self.path is not None
        return (self.path.parent / self.dataset).resolve()


class LoadError(BaseModel):
    path: str
    error: str


def load_scenarios(dirs: list[Path]) -> tuple[list[Scenario], list[LoadError]]:
    """Every *.yaml under the folders; a file that fails to load is reported, never skipped silently."""
    scenarios: list[Scenario] = []
    errors: list[LoadError] = []
    seen: dict[str, Path] = {}
    for d in dirs:
        files = sorted(d.rglob("*.yaml")) if d.is_dir() else [d]
        for f in files:
            try:
                raw = yaml.safe_load(f.read_text(encoding="utf-8"))
                sc = Scenario.model_validate(raw)
                sc.path = f.resolve()
                if not sc.dataset_path.is_dir():
                    raise ValueError(f"dataset folder {sc.dataset_path} does not exist")
                if sc.id in seen:
                    raise ValueError(f"duplicate scenario id {sc.id!r} (also in {seen[sc.id]})")
                seen[sc.id] = f
                scenarios.append(sc)
            except (yaml.YAMLError, ValidationError, ValueError, OSError) as exc:
                errors.append(LoadError(path=str(f), error=" ".join(str(exc).split())[:500]))
    return scenarios, errors
