"""Property: whatever a principal asks a tool, with whatever arguments, nothing outside its scope comes back or changes.

Hypothesis draws a principal (any partner of the lumenware program, any PAM, a channel leader) and a tool call with
arguments a model or a hostile client might send: other partners' ids and names, misspellings, different case and
spacing, look-alike letters, ids that do not exist, None, junk text. Every `partner_id`, every partner name and
every partner id in the result must belong to the principal's visible set (names or ids the caller itself wrote
and the tool merely echoes excepted), and no write may land on a partner outside it. The visible set is read from
the dataset's partners.csv, not from the product's own scope code, so removing a scope check makes this fail.

Arguments are drawn to the tools' own JSON schemas (what LangChain validates before a tool runs), so a malformed
type never reaches a tool; hostile values of the right type do.
"""

from __future__ import annotations

import csv
import inspect
import json
import re
import shutil
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from agent.context import Context
from agent.services import configure
from agent.tools import ALL_TOOLS
from readiness.db import make_engine, session_scope
from readiness.models import ActivationPlan, Milestone, ReadinessSignal, ScoreSnapshot
from tests.conftest import LUMENWARE

AS_OF = date(2026, 10, 31)
# Bounded: about 10 s for the main property on this 2-core machine (measured alone).
MAX_EXAMPLES = 200
TIME_BUDGET_S = 120.0
pytestmark = pytest.mark.xdist_group("agent")


def _partners() -> list[dict[str, str]]:
    with (LUMENWARE / "partners.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


PARTNERS = _partners()
IDS = [p["partner_id"] for p in PARTNERS]
NAMES = {p["partner_id"]: p["name"] for p in PARTNERS}
PAMS = sorted({p["pam_id"] for p in PARTNERS})
# A name no partner has anything like (checked below), and ids in the dataset's pattern that nobody holds.
UNKNOWN_NAMES = ["Copperfield Analytics", "Brightwater Logic", "Quorra Dynamics"]
UNKNOWN_IDS = ["p-099", "p-404", "p-777"]
HOMOGLYPHS = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "B": "\u0412"}


def visible(role: str, pid: str) -> set[str]:
    """Who the principal may see, from the dataset itself."""
    if role == "leader":
        return set(IDS)
    if role == "pam":
        return {p["partner_id"] for p in PARTNERS if p["pam_id"] == pid}
    return {pid}


# ---------------------------------------------------------------- strategies
def _misspell(name: str, i: int) -> str:
    i %= max(1, len(name) - 1)
    return name[:i] + name[i + 1 :] if i % 2 else name[:i] + name[i + 1 : i + 2] + name[i : i + 1] + name[i + 2 :]


def _homoglyph(name: str) -> str:
    return "".join(HOMOGLYPHS.get(c, c) for c in name)


partner_refs = st.one_of(
    st.sampled_from(IDS),
    st.sampled_from(list(NAMES.values())),
    st.builds(_misspell, st.sampled_from(list(NAMES.values())), st.integers(0, 40)),
    st.builds(lambda n: n.lower(), st.sampled_from(list(NAMES.values()))),
    st.builds(lambda n: f"  {n.upper()} ", st.sampled_from(list(NAMES.values()))),
    st.builds(_homoglyph, st.sampled_from(list(NAMES.values()))),
    st.builds(lambda n: n.split()[0], st.sampled_from(list(NAMES.values()))),  # "Summit": ambiguous prefixes
    st.builds(lambda i: i.upper().replace("-", ""), st.sampled_from(IDS)),
    st.sampled_from(UNKNOWN_NAMES + UNKNOWN_IDS + ["", " ", "%", "*", "me", "all partners", "' OR 1=1 --"]),
    st.text(max_size=30),
)
optional_refs = st.one_of(st.none(), partner_refs)
junk_text = st.one_of(partner_refs, st.text(max_size=60))
principals = st.one_of(
    st.tuples(st.just("partner"), st.sampled_from(IDS)),
    st.tuples(st.just("pam"), st.sampled_from(PAMS)),
    st.tuples(st.just("leader"), st.just("lead-01")),
)
_BY_NAME: dict[str, st.SearchStrategy[Any]] = {
    "partner": optional_refs,
    "partners": st.lists(partner_refs, min_size=0, max_size=4),
    "query": junk_text,
    "milestone": st.one_of(st.sampled_from(["icp_statement", "use_case_defined", "partner_led_demo",
                                            "first_sourced_opportunity", "the ICP one"]), junk_text),
    "evidence": junk_text,
    "note": st.one_of(st.none(), junk_text),
    "limit": st.integers(-10, 10_000),
}


def _for_schema(name: str, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if name in _BY_NAME:
        return _BY_NAME[name]
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    options = schema.get("anyOf") or [schema]
    parts: list[st.SearchStrategy[Any]] = []
    for option in options:
        kind = option.get("type")
        parts.append({"null": st.none(), "integer": st.integers(-10, 10_000), "boolean": st.booleans(),
                      "number": st.floats(-10, 10_000, allow_nan=False), "array": st.lists(partner_refs, max_size=4),
                      }.get(kind, junk_text))
    return st.one_of(*parts)


@st.composite
def tool_calls(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    tool = draw(st.sampled_from(ALL_TOOLS))
    args: dict[str, Any] = {}
    for name, schema in tool.args.items():
        if "default" in schema and draw(st.booleans()):
            continue  # leave optional arguments out as often as not
        args[name] = draw(_for_schema(name, schema))
    return tool.name, args


# ---------------------------------------------------------------- running a tool as a principal
class EmptyKnowledge:
    """Playbook search hits hold no partner data; an empty index spares the 40 s index build."""

    def search(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []


@pytest.fixture(scope="module")
def store(lumenware_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    db = tmp_path_factory.mktemp("scope") / "store.db"
    shutil.copyfile(lumenware_db, db)
    engine = make_engine(f"sqlite:///{db}")
    yield engine
    engine.dispose()


def call(engine: Engine, role: str, pid: str, name: str, args: dict[str, Any], n: int = 0) -> dict[str, Any]:
    configure(engine, knowledge=EmptyKnowledge())
    tool = next(t for t in ALL_TOOLS if t.name == name)

    class Runtime:
        context = Context(role=role, principal_id=pid, as_of=AS_OF, provider="offline")
        config: dict[str, Any] = {"configurable": {"thread_id": f"prop-{n}"}}
        state: dict[str, Any] = {"messages": []}
        tool_call_id = f"call-{n}"

    fn = tool.func  # type: ignore[attr-defined]
    takes_runtime = "runtime" in inspect.signature(fn).parameters
    return json.loads(fn(runtime=Runtime(), **args) if takes_runtime else fn(**args))


def footprint(engine: Engine) -> dict[str, tuple[Any, ...]]:
    """What the writes can change, per partner: signals and their statuses, plans, milestone statuses, snapshots."""
    prints: dict[str, list[Any]] = {}
    with session_scope(engine) as s:
        queries = [
            select(ReadinessSignal.partner_id, func.count(), func.group_concat(ReadinessSignal.status))
            .group_by(ReadinessSignal.partner_id),
            select(ActivationPlan.partner_id, func.count(), func.max(ActivationPlan.id)).group_by(
                ActivationPlan.partner_id),
            select(ActivationPlan.partner_id, func.count(), func.group_concat(Milestone.status))
            .join(Milestone, Milestone.plan_id == ActivationPlan.id).group_by(ActivationPlan.partner_id),
            select(ScoreSnapshot.partner_id, func.count(), func.max(ScoreSnapshot.id)).group_by(
                ScoreSnapshot.partner_id),
        ]
        for n, q in enumerate(queries):
            for partner_id, *rest in s.execute(q):
                prints.setdefault(partner_id, [None] * len(queries))[n] = tuple(rest)
    return {k: tuple(v) for k, v in prints.items()}


# ---------------------------------------------------------------- what must hold
_ID = re.compile(r"(?<![\w-])p-\d{3}(?![\w-])", re.I)


def _strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _ids_in(obj: Any) -> Iterator[str]:
    """Every value of a `partner_id` key (and compare_partners' `leader`, a partner_id too)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in {"partner_id", "leader"} and isinstance(v, str):
                yield v
            yield from _ids_in(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _ids_in(v)


def _spans(text: str, needle: str) -> list[tuple[int, int]]:
    if not needle.strip():
        return []
    return [m.span() for m in re.finditer(re.escape(needle.strip()), text, re.I)]


def out_of_scope_mentions(result: dict[str, Any], seen: set[str], args: dict[str, Any]) -> list[str]:
    """Partner ids and names outside `seen` in the result, except where the tool echoes the caller's own words."""
    wrote = [s for s in _strings(args) if s.strip()]
    found = [f"partner_id {i}" for i in _ids_in(result) if i not in seen]
    for text in _strings(result):
        echoed = [span for w in wrote for span in _spans(text, w)]
        inside = [span for i in seen for span in _spans(text, NAMES[i])]

        def excused(a: int, b: int, covers: list[tuple[int, int]] = echoed + inside) -> bool:
            return any(ca <= a and b <= cb for ca, cb in covers)

        for m in _ID.finditer(text):
            if m.group().lower() not in seen and not excused(*m.span()):
                found.append(f"id {m.group()} in {text[:80]!r}")
        for pid, name in NAMES.items():
            if pid in seen:
                continue
            for a, b in _spans(text, name):
                if not excused(a, b):
                    found.append(f"name {name!r} in {text[:80]!r}")
    return found


def test_unknown_names_really_are_unknown() -> None:
    """The property's 'unknown' references must not fuzzy-match anyone, or they would be outsiders in disguise."""
    from readiness.scope import MATCH_THRESHOLD, PartnerRef, match_partners

    refs = [PartnerRef(partner_id=i, name=n) for i, n in NAMES.items()]
    for name in UNKNOWN_NAMES + UNKNOWN_IDS:
        assert not match_partners(name, refs, threshold=MATCH_THRESHOLD - 20), name


_started: list[float] = []


@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])
@given(principal=principals, calls=st.lists(tool_calls(), min_size=1, max_size=3))
def test_no_tool_returns_or_changes_anything_outside_the_callers_scope(
    store: Engine, principal: tuple[str, str], calls: list[tuple[str, dict[str, Any]]]
) -> None:
    if not _started:
        _started.append(time.monotonic())
    assert time.monotonic() - _started[0] < TIME_BUDGET_S, "the property test outgrew its time budget"
    role, pid = principal
    seen = visible(role, pid)
    for n, (name, args) in enumerate(calls):
        before = footprint(store)
        result = call(store, role, pid, name, args, n)
        after = footprint(store)
        assert isinstance(result.get("ok"), bool), result
        if not result["ok"]:
            assert result.get("code") != "internal", f"{name}({args}) as {role}:{pid} crashed: {result}"
        leaks = out_of_scope_mentions(result, seen, args)
        assert not leaks, f"{name}({args}) as {role}:{pid} returned out-of-scope data: {leaks[:5]}"
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        assert changed <= seen, f"{name}({args}) as {role}:{pid} wrote to {sorted(changed - seen)}"


# ---------------------------------------------------------------- existence must not leak either
PARTNER_TOOLS = [t.name for t in ALL_TOOLS if "partner" in t.args and t.name not in {
    "update_milestone", "record_readiness_signal"}]


def _normalised(result: dict[str, Any], ref: str) -> str:
    return re.sub(re.escape(ref), "<REF>", json.dumps(result, sort_keys=True, ensure_ascii=False), flags=re.I)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pam=st.sampled_from(PAMS), tool=st.sampled_from(PARTNER_TOOLS), kind=st.sampled_from(["id", "name", "typo"]),
       data=st.data())
def test_another_books_partner_reads_exactly_like_an_unknown_one(
    store: Engine, pam: str, tool: str, kind: str, data: st.DataObject
) -> None:
    outsider = data.draw(st.sampled_from(sorted(set(IDS) - visible("pam", pam))))
    unknown = data.draw(st.integers(0, 2))
    if kind == "id":
        known_ref, unknown_ref = outsider, UNKNOWN_IDS[unknown]
    elif kind == "name":
        known_ref, unknown_ref = NAMES[outsider], UNKNOWN_NAMES[unknown]
    else:
        known_ref, unknown_ref = _misspell(NAMES[outsider], 5), _misspell(UNKNOWN_NAMES[unknown], 5)
    from readiness.scope import PartnerRef, match_partners

    book = [PartnerRef(partner_id=i, name=NAMES[i]) for i in visible("pam", pam)]
    assume(not match_partners(known_ref, book))  # a typo that lands on a partner in the book is another question
    known = call(store, "pam", pam, tool, {"partner": known_ref})
    other = call(store, "pam", pam, tool, {"partner": unknown_ref})
    assert _normalised(known, known_ref) == _normalised(other, unknown_ref)
