"""`facts`: values the answer must state, read from tool output rather than written into the scenario.

A fact names where a value comes from (a tool called in this turn, or row N of a list shown in an earlier turn), so
it stays right when the data or the scoring changes and fails when the answer states something else (docs/EVALS.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evals.numbers import parse_iso_date, states_date, states_number
from evals.scenario import Fact


class FactError(ValueError):
    """The fact cannot be read: the tool was not called, the path does not exist, no list was shown."""


@dataclass(frozen=True)
class Call:
    """One tool call of a turn with its parsed result (`{}` when the call has no result)."""

    name: str
    args: dict[str, Any]
    result: dict[str, Any]

    @property
    def data(self) -> Any:
        return self.result.get("data") if self.result.get("ok") else None


def pair_calls(tool_calls: Sequence[dict[str, Any]], tool_results: Sequence[dict[str, Any]]) -> list[Call]:
    """Calls joined to their results by call id (by order among calls of the same tool when ids are missing)."""
    by_id = {r["id"]: r for r in tool_results if r.get("id")}
    unmatched = [r for r in tool_results if not r.get("id")]
    calls = []
    for c in tool_calls:
        hit = by_id.get(c.get("id") or "")
        if hit is None:
            hit = next((r for r in unmatched if r["name"] == c["name"]), None)
            if hit is not None:
                unmatched.remove(hit)
        result = hit.get("result") if hit else None
        calls.append(Call(c["name"], dict(c.get("args") or {}), result if isinstance(result, dict) else {}))
    return calls


def _index(items: list[Any], segment: str) -> Any:
    i = int(segment)
    if i == 0 or abs(i) > len(items):
        raise FactError(f"index {i} is outside a list of {len(items)}")
    return items[i - 1 if i > 0 else i]


def read_path(data: Any, path: str) -> Any:
    """A dotted path into tool data; list indexes are 1-based (negative from the end), `*` is every element."""
    value = data
    parts = [p for p in path.split(".") if p]
    for n, part in enumerate(parts):
        if part == "*":
            if not isinstance(value, list):
                raise FactError(f"`*` in {path!r} is not over a list")
            rest = ".".join(parts[n + 1 :])
            return [read_path(v, rest) if rest else v for v in value]
        if isinstance(value, list) and re.fullmatch(r"-?\d+", part):
            value = _index(value, part)
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise FactError(f"path {path!r} does not exist (at {part!r})")
    return value


def _normal(text: str) -> str:
    """Case, underscores, hyphens, punctuation and spacing do not matter: "Sales-motion maturity" is stated as
    "sales motion maturity", `not_yet` as "not yet"."""
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def stated(answer: str, value: Any) -> bool:
    """Whether the answer states the value: numbers as the product rounds and formats them, dates in any usual
    form, strings as `_normal` reads them."""
    if isinstance(value, bool) or value is None or isinstance(value, dict):
        raise FactError(f"a {type(value).__name__} value cannot be stated; point the path at a number or a string")
    if isinstance(value, list):
        if not value:
            raise FactError("the path reads an empty list")
        return all(stated(answer, v) for v in value)
    if isinstance(value, int | float):
        return states_number(answer, float(value))
    text = str(value).strip()
    if not text:
        raise FactError("the path reads an empty string")
    day = parse_iso_date(text)
    if day is not None:
        return states_date(answer, day)
    return _normal(text) in _normal(answer)


def args_match(actual: Any, expected: Any) -> bool:
    """Expected arguments compared as a subset; strings case-insensitively."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and args_match(actual[k], v) for k, v in expected.items())
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.strip().lower() == actual.strip().lower()
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(args_match(a, e) for a, e in zip(actual, expected, strict=True))
    return bool(expected == actual)


def partner_rows(data: Any) -> list[dict[str, Any]] | None:
    """The list of partners a result's data holds (call list, matches, comparison), if it holds one."""
    if not isinstance(data, dict):
        return None
    for value in data.values():
        if isinstance(value, list) and value and all(isinstance(v, dict) and "partner_id" in v for v in value):
            return value
    return None


def latest_list(earlier: Sequence[Sequence[Call]], tool: str | None) -> tuple[str, list[dict[str, Any]]]:
    """The rows of the latest list of partners shown before this turn. A `tool` that returns one partner (its
    data has a `partner_id`) is a list of one: row 1 is the partner that earlier turn was about."""
    for turn in reversed(earlier):
        for call in reversed(turn):
            if tool is not None and call.name != tool:
                continue
            rows = partner_rows(call.data)
            if rows:
                return call.name, rows
            if tool is not None and isinstance(call.data, dict) and isinstance(call.data.get("partner_id"), str):
                return call.name, [call.data]
    raise FactError(f"no list of partners{f' from {tool}' if tool else ''} was shown before this turn")


def _about(call: Call, row: dict[str, Any]) -> bool:
    data = call.data
    if isinstance(data, dict) and isinstance(data.get("partner_id"), str):
        return bool(data["partner_id"] == row["partner_id"])
    ref = str(call.args.get("partner") or "").strip().lower()
    return ref in {str(row["partner_id"]).lower(), str(row.get("name", "")).lower()}


def check_fact(fact: Fact, answer: str, calls: Sequence[Call], earlier: Sequence[Sequence[Call]]) -> str | None:
    """None when the fact holds, else why it does not."""
    try:
        if fact.tool is not None:
            made = [c for c in calls if c.name == fact.tool]
            if not made:
                raise FactError(f"{fact.tool} was not called in this turn")
            if fact.where:
                made = [c for c in made if args_match(c.args, fact.where) or args_match(c.data, fact.where)]
                if not made:
                    raise FactError(f"no call of {fact.tool} matches {fact.where}")
            if made[0].data is None:
                raise FactError(f"{fact.tool} returned no data ({made[0].result.get('code', 'no result')})")
            source, value = f"{fact.tool}.{fact.path}", read_path(made[0].data, fact.path)
        else:
            assert fact.row is not None
            name, rows = latest_list(earlier, fact.list)
            row = _index(rows, str(fact.row))
            source, value = f"row {fact.row} of {name}: {fact.path}", read_path(row, fact.path)
            if fact.subject:
                about = [c for c in calls if c.args.get("partner") or (isinstance(c.data, dict)
                                                                     and "partner_id" in c.data)]
                if not about:
                    return f"fact {source}: no call in this turn is about row {fact.row} ({row['partner_id']})"
                wrong = [f"{c.name}({c.args.get('partner', '')})" for c in about if not _about(c, row)]
                if wrong:
                    return f"fact {source}: {', '.join(wrong)} is not about row {fact.row} ({row['partner_id']})"
        if fact.stated and not stated(answer, value):
            return f"fact {source} = {value!r} is not stated in the answer"
    except FactError as exc:
        return f"fact {fact.model_dump(exclude_defaults=True)} cannot be read: {exc}"
    return None
