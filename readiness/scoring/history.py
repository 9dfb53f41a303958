"""Point-in-time partner attributes: headcount, customer overlap, competitive conflict and GTM profile fields as
they were on the scoring date.

Where an import brought dated values (`partner_attribute_history`), the value in effect on as_of is the newest one
dated on or before it; an attribute whose history starts after as_of was unknown then. Without any dated value
only the current one exists (partners.csv / gtm_profiles.csv), and explanations say so. A GTM profile with no
history that was last edited after as_of is not read at all: its text did not exist in that form on the date.
"""

from __future__ import annotations

import time
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Date, bindparam, func, select
from sqlalchemy.orm import Session

from readiness.models import GTMProfile, PartnerAttributeValue

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


History = tuple[dict[tuple[str, str], tuple[date, str | None]], set[tuple[str, str]]]


@cache
def _statements(scoped: bool) -> tuple[Any, Any]:
    """Built once with bound parameters (as_of, the attributes, the partner ids when scoped), so SQLAlchemy's
    compiled cache serves every call: the newest dated row on or before as_of per (partner, attribute), by a window
    function (the same SQL on SQLite and PostgreSQL), and each pair's first date."""
    h = PartnerAttributeValue
    as_of, attrs = bindparam("as_of", type_=Date), bindparam("attrs", expanding=True)

    def scope(stmt: Any) -> Any:
        return stmt.where(h.partner_id.in_(bindparam("ids", expanding=True))) if scoped else stmt

    ranked = scope(
        select(h.partner_id, h.attribute, h.valid_from, h.value,
               func.row_number().over(partition_by=(h.partner_id, h.attribute),
                                      order_by=h.valid_from.desc()).label("rn"))
        .where(h.valid_from <= as_of, h.attribute.in_(attrs))).subquery()
    current = select(ranked.c.partner_id, ranked.c.attribute, ranked.c.valid_from, ranked.c.value).where(
        ranked.c.rn == 1)
    first = scope(select(h.partner_id, h.attribute, func.min(h.valid_from)).where(h.attribute.in_(attrs))
                  .group_by(h.partner_id, h.attribute))
    return current, first


def values_as_of(session: Session, as_of: date, partner_ids: list[str] | None,
                 attributes: tuple[str, ...] = ATTRIBUTES) -> History:
    """({(partner, attribute): (valid_from, value)} in effect on as_of, {(partner, attribute) with history that
    starts after as_of}); empty when the store has no dated value at all."""
    if not has_history(session):
        return {}, set()
    scoped = partner_ids is not None and len(partner_ids) <= MAX_IN_LIST
    current_stmt, first_stmt = _statements(scoped)
    params: dict[str, Any] = {"as_of": as_of, "attrs": list(attributes)}
    if scoped:
        params["ids"] = list(partner_ids or [])
    conn = session.connection()
    current = {(pid, attr): (_date(day), value)
               for pid, attr, day, value in conn.execute(current_stmt, params)}
    later = {(pid, attr) for pid, attr, first in conn.execute(first_stmt, params) if _date(first) > as_of}
    return current, later


def _date(v: Any) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


def _number(value: str | None) -> float:
    try:
        return float(value) if value not in (None, "") else float("nan")
    except ValueError:
        return float("nan")


def apply_history(feats: Features, history: History) -> None:
    """Replace the current attribute values in `feats` by those in effect on feats.as_of, where history exists."""
    from readiness.scoring.features import to_day

    for attr in DATED_ATTRIBUTES:
        feats.dated[attr] = np.zeros(feats.n, dtype=bool)
        feats.since[attr] = np.full(feats.n, float(NEVER))
    current, later = history
    if not feats.n or not (current or later):
        return
    idx = feats.index()
    arrays = {"employee_count": feats.employees, "customer_overlap_accounts": feats.overlap_accounts}
    for (pid, attr), (day, value) in current.items():
        i = idx.get(pid)
        if i is None or attr not in DATED_ATTRIBUTES:
            continue
        if attr in arrays:
            arrays[attr][i] = _number(value)
        else:
            feats.conflict[i] = (value or "").strip() or None
        feats.dated[attr][i] = True
        feats.since[attr][i] = to_day(day)
    for pid, attr in later:  # history starts after as_of: the value on as_of is unknown, not today's
        i = idx.get(pid)
        if i is None or attr not in DATED_ATTRIBUTES or (pid, attr) in current:
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
    current = {k: v for k, v in history[0].items() if k[1] in GTM_FIELDS}
    later = {k for k in history[1] if k[1] in GTM_FIELDS}
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
