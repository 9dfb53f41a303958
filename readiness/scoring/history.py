"""Point-in-time partner attributes: headcount, customer overlap, competitive conflict and GTM profile fields as
they were on the scoring date.

Where an import brought dated values (`partner_attribute_history`), the value in effect on as_of is the newest one
dated on or before it; an attribute whose history starts after as_of was unknown then. Without any dated value
only the current one exists (partners.csv / gtm_profiles.csv), and explanations say so. A GTM profile with no
history that was last edited after as_of is not read at all: its text did not exist in that form on the date.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from itertools import groupby, repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Date, bindparam, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from readiness.models import GTMProfile, PartnerAttributeValue
from readiness.scoring.rawsql import compile_query, dbapi_connection, ids_params, in_ids, run_query

if TYPE_CHECKING:
    from readiness.scoring.features import Features

NUMERIC_ATTRIBUTES = ("employee_count", "customer_overlap_accounts")
DATED_ATTRIBUTES = (*NUMERIC_ATTRIBUTES, "competitive_conflict")
GTM_FIELDS = ("icp_statement", "use_cases", "positioning", "sales_motion")
ATTRIBUTES = (*DATED_ATTRIBUTES, *GTM_FIELDS)
MAX_IN_LIST = 25_000  # as for features: larger scopes read every row and drop the others
NEVER = -10**6


# Whether a store has dated values, per store, for a few minutes: a store without any pays one tiny query per
# scoring instead of the history statements.
_CACHE_TTL_S = 120.0
_has: dict[str, tuple[float, bool]] = {}


def has_history(session: Session) -> bool:
    key = str(session.get_bind().url)
    hit = _has.get(key)
    if hit is not None and time.monotonic() - hit[0] < _CACHE_TTL_S:
        return hit[1]
    found = session.scalar(select(PartnerAttributeValue.entry_id).limit(1)) is not None
    if found:  # only "yes" is remembered: a store that gets its first dated values is seen at once
        _has[key] = (time.monotonic(), found)
    return found


def clear_cache() -> None:
    _has.clear()


@dataclass
class History:
    """Dated values as of a date. `current[attribute]`: (partner ids, ISO days, values) of the value in effect per
    partner, as parallel lists (a whole program has hundreds of thousands: they are applied with C loops);
    `later`: (partner, attribute) pairs whose history starts after the date (unknown then)."""

    current: dict[str, tuple[list[str], list[str], list[str | None]]] = field(default_factory=dict)
    later: set[tuple[str, str]] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.current or self.later)

    def of(self, partner_id: str, attribute: str) -> tuple[date, str | None] | None:
        """The value in effect for one partner (small scopes only: a linear search)."""
        ids, days, values = self.current.get(attribute, ([], [], []))
        for pid, day, value in zip(ids, days, values, strict=True):
            if pid == partner_id:
                return _iso_date(str(day)), value
        return None

    def partners(self, attributes: tuple[str, ...]) -> set[str]:
        out = {pid for pid, attr in self.later if attr in attributes}
        for attr in attributes:
            out.update(self.current.get(attr, ([], [], []))[0])
        return out


@cache
def _statements(dialect: str, scoped: bool) -> tuple[Any, Any]:
    """Built once with bound parameters (as_of, the attributes, the partner ids when scoped), so SQLAlchemy's
    compiled cache serves every call: the newest dated row on or before as_of per (partner, attribute), and the
    pairs with a dated row after it. The first is one pass over the (partner, attribute, valid_from) index: SQLite
    returns the other columns of the row holding max(), PostgreSQL has DISTINCT ON; elsewhere a window function."""
    h = PartnerAttributeValue
    as_of, attrs = bindparam("as_of", type_=Date), bindparam("attrs", expanding=True)

    def scope(stmt: Any) -> Any:
        stmt = stmt.where(h.attribute.in_(attrs))
        return stmt.where(in_ids(h.partner_id, dialect)) if scoped else stmt

    if dialect == "sqlite":
        current = scope(select(h.attribute, h.partner_id, func.max(h.valid_from), h.value)
                        .where(h.valid_from <= as_of)).group_by(h.attribute, h.partner_id)
    elif dialect == "postgresql":
        current = scope(select(h.attribute, h.partner_id, h.valid_from, h.value).where(h.valid_from <= as_of)
                        .ext(distinct_on(h.attribute, h.partner_id))
                        .order_by(h.attribute, h.partner_id, h.valid_from.desc()))
    else:
        ranked = scope(
            select(h.attribute, h.partner_id, h.valid_from, h.value,
                   func.row_number().over(partition_by=(h.attribute, h.partner_id),
                                          order_by=h.valid_from.desc()).label("rn"))
            .where(h.valid_from <= as_of)).subquery()
        current = (select(ranked.c.attribute, ranked.c.partner_id, ranked.c.valid_from, ranked.c.value)
                   .where(ranked.c.rn == 1).order_by(ranked.c.attribute))
    later = scope(select(h.partner_id, h.attribute).where(h.valid_from > as_of)).group_by(h.partner_id, h.attribute)
    return current, later


def values_as_of(session: Session, as_of: date, partner_ids: list[str] | None,
                 attributes: tuple[str, ...] = ATTRIBUTES) -> History:
    """The dated values in effect on as_of (see `History`); empty when the store has no dated value at all."""
    if not has_history(session):
        return History()
    scoped = partner_ids is not None and len(partner_ids) <= MAX_IN_LIST
    current_stmt, later_stmt = _statements(session.get_bind().dialect.name, scoped)
    params: dict[str, Any] = {"as_of": as_of, "attrs": list(attributes)}
    if scoped:
        params.update(ids_params(list(partner_ids or []), session.get_bind().dialect.name))
    # Raw DBAPI rows, grouped by attribute in index order and transposed in C: a whole program has hundreds of
    # thousands of pairs, and per-value type processing would cost more than the query.
    dbapi = dbapi_connection(session)
    history = History()
    rows = run_query(dbapi, compile_query(session, current_stmt, params))
    for attr, group in groupby(rows, key=itemgetter(0)):
        _, ids, days, values = zip(*group, strict=True)
        history.current[attr] = (list(ids), list(days), list(values))
    # Pairs with a value dated after as_of but none on or before it: history starts later, unknown on as_of.
    later = run_query(dbapi, compile_query(session, later_stmt, params))
    if later:
        have = {attr: set(cols[0]) for attr, cols in history.current.items()}
        history.later = {(pid, attr) for pid, attr in later if pid not in have.get(attr, ())}
    return history


@lru_cache(maxsize=65536)
def _iso_date(text: str) -> date:
    """A date from ISO text (SQLite) or a date's str() (PostgreSQL returns dates): parsed once per value."""
    return date.fromisoformat(text[:10])


def _numbers(values: list[str | None]) -> np.ndarray:
    """Stored counts as floats (NaN for none); numpy parses the usual whole-number texts in C."""
    try:
        return np.array([v if v not in (None, "") else "nan" for v in values], dtype=float)
    except ValueError:  # an odd value somewhere: one at a time
        return np.fromiter(map(_number, values), dtype=float, count=len(values))


def _number(value: str | None) -> float:
    try:
        return float(value) if value not in (None, "") else float("nan")
    except ValueError:
        return float("nan")


@lru_cache(maxsize=65536)
def _day_of(text: str) -> float:
    from readiness.scoring.features import to_day

    return float(to_day(_iso_date(text)))


def apply_history(feats: Features, history: History) -> None:
    """Replace the current attribute values in `feats` by those in effect on feats.as_of, where history exists."""
    for attr in DATED_ATTRIBUTES:
        feats.dated[attr] = np.zeros(feats.n, dtype=bool)
        feats.since[attr] = np.full(feats.n, float(NEVER))
    if not feats.n or not history:
        return
    idx = feats.index()
    arrays = {"employee_count": feats.employees, "customer_overlap_accounts": feats.overlap_accounts}
    for attr in DATED_ATTRIBUTES:
        ids, days, values = history.current.get(attr, ([], [], []))
        n = len(ids)
        pos = np.fromiter(map(idx.get, ids, repeat(-1, n)), dtype=np.int64, count=n)
        ok = pos >= 0
        feats.dated[attr][pos[ok]] = True
        feats.since[attr][pos[ok]] = np.fromiter(map(_day_of, map(str, days)), dtype=float, count=n)[ok]
        if attr in arrays:
            arrays[attr][pos[ok]] = _numbers(values)[ok]
        else:
            for i, value in zip(pos[ok].tolist(), (v for v, good in zip(values, ok, strict=True) if good),
                                strict=True):
                feats.conflict[i] = (value or "").strip() or None
    for pid, attr in history.later:  # history starts after as_of: the value on as_of is unknown, not today's
        i = idx.get(pid)
        if i is None or attr not in DATED_ATTRIBUTES:
            continue
        if attr in arrays:
            arrays[attr][i] = np.nan
        else:
            feats.conflict[i] = None
        feats.dated[attr][i] = True


def profiles_as_of(session: Session, ids: list[str] | None, idx: dict[str, int], as_of: date,
                   history: History) -> dict[str, GTMProfile]:
    """GTM profiles as they read on as_of: dated field values where they exist, else the stored profile when it
    was last edited on or before as_of. Detached objects (never added to the session)."""
    stmt = select(GTMProfile)
    if ids is not None:
        stmt = stmt.where(GTMProfile.partner_id.in_(ids))
    stored = {p.partner_id: p for p in session.scalars(stmt) if p.partner_id in idx}
    current = {(pid, attr): (_iso_date(str(day)), value) for attr in GTM_FIELDS
               for pid, day, value in zip(*history.current.get(attr, ([], [], [])), strict=True)}
    later = {k for k in history.later if k[1] in GTM_FIELDS}
    dated = {pid for pid, _ in (*current, *later)}
    out: dict[str, GTMProfile] = {}
    for pid in set(stored) | {p for p in dated if p in idx}:
        base = stored.get(pid)
        if pid not in dated:
            if base is not None and (base.updated_on is None or base.updated_on <= as_of):
                out[pid] = base
            continue
        fields: dict[str, Any] = {}
        newest: date | None = None
        for name in GTM_FIELDS:
            hit = current.get((pid, name))
            if hit is not None:
                newest = max(newest or hit[0], hit[0])
                raw = hit[1]
            elif (pid, name) in later or base is None or (base.updated_on and base.updated_on > as_of):
                raw = None
            else:
                value = getattr(base, name)
                raw = ";".join(value) if isinstance(value, list) else value
            fields[name] = [u.strip() for u in raw.split(";") if u.strip()] if name == "use_cases" and raw else (
                [] if name == "use_cases" else raw)
        out[pid] = GTMProfile(partner_id=pid, updated_on=newest, **fields)
    return out


__all__ = ["ATTRIBUTES", "DATED_ATTRIBUTES", "GTM_FIELDS", "History", "apply_history", "clear_cache", "has_history",
           "profiles_as_of", "values_as_of"]
