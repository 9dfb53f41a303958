"""Raw per-partner features as of a date: SQL aggregation (one row per partner and kind) into numpy arrays.

Only rows with a timestamp <= as_of are read. An opportunity's stage is the CRM's *current* stage, so a deal
counts as won only when its close date is also <= as_of: otherwise a backtest would learn from the future.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import Select, Text, and_, case, func, select, type_coerce
from sqlalchemy.orm import Session

from readiness.models import ActivityEvent, GTMProfile, Opportunity, Partner

EPOCH = date(1970, 1, 1)
KINDS = (
    "portal_login", "onboarding_started", "training_completed", "certification_earned", "event_attended",
    "content_downloaded", "content_shared", "deal_registered", "co_sell_request", "ae_meeting", "joint_call",
    "demo_delivered", "workshop_delivered", "case_study_published", "customer_overlap_detected", "mdf_requested",
    "plan_updated",
)
# Above this many ids an IN (...) list costs more than reading everything and dropping rows in numpy.
MAX_IN_LIST = 2000
NEVER = -10**6  # "day" of something that never happened


def to_day(d: date) -> int:
    return (d - EPOCH).days


def from_day(day: int) -> date:
    return EPOCH + timedelta(days=int(day))


def _as_day(v: object) -> int:
    if v is None:
        return NEVER
    if isinstance(v, str):
        return to_day(date.fromisoformat(v[:10]))
    if isinstance(v, date):
        return to_day(v)
    return NEVER


@dataclass
class KindStats:
    """Per-kind arrays over partners: all-time count, decayed count, last/first day, counts in recent windows."""

    count: np.ndarray
    decayed: np.ndarray
    last: np.ndarray
    first: np.ndarray
    n90: np.ndarray
    prev90: np.ndarray  # count in (as_of-180, as_of-90]
    max_value: np.ndarray


@dataclass
class OppStats:
    count: np.ndarray
    amount: np.ndarray
    last: np.ndarray
    recent: np.ndarray  # created within the active window
    n365: np.ndarray
    won: np.ndarray
    won_amount: np.ndarray
    won365: np.ndarray


@dataclass
class Features:
    as_of: date
    ids: list[str]
    names: list[str]
    pam_ids: list[str | None]
    types: list[str]
    regions: list[str | None]
    specializations: list[list[str]]
    joined: np.ndarray  # day or NEVER
    employees: np.ndarray  # nan when unknown
    overlap_accounts: np.ndarray  # nan when unknown
    conflict: list[str | None]
    kinds: dict[str, KindStats]
    sourced: OppStats
    influenced: OppStats
    gtm_profiles: dict[str, GTMProfile] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def as_of_day(self) -> int:
        return to_day(self.as_of)

    def index(self) -> dict[str, int]:
        return {pid: i for i, pid in enumerate(self.ids)}


def _zeros(n: int) -> np.ndarray:
    return np.zeros(n, dtype=float)


@lru_cache(maxsize=65536)
def _json_list(raw: str) -> tuple[str, ...]:
    value = json.loads(raw)
    return tuple(value) if isinstance(value, list) else ()


def spec_list(raw: object) -> list[str]:
    """Specializations from the JSON column; parsed once per distinct value (programs reuse a few combinations)."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return list(_json_list(raw))
    return list(raw) if isinstance(raw, list | tuple) else []


def raw_rows(session: Session, stmt: Select[Any]) -> list[tuple[Any, ...]]:
    """Run a Core statement on the DBAPI cursor: plain tuples, no Row objects (about 1M rows for a big program).

    Only for statements whose parameters need no type conversion (ints, floats, strings)."""
    conn = session.connection()
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    args: Any = tuple(params[k] for k in compiled.positiontup or ()) if compiled.positional else params
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), args)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _partners(session: Session, partner_ids: list[str] | None) -> list[Any]:
    # Core, not ORM rows, and the JSON column read as text: 100,000 partners must not cost 100,000 json.loads.
    stmt = select(
        Partner.partner_id, Partner.name, Partner.pam_id, Partner.type, Partner.region,
        type_coerce(Partner.specializations, Text), Partner.joined_on, Partner.employee_count,
        Partner.customer_overlap_accounts, Partner.competitive_conflict,
    ).order_by(Partner.partner_id)
    conn = session.connection()
    if partner_ids is not None:
        if len(partner_ids) <= MAX_IN_LIST:
            stmt = stmt.where(Partner.partner_id.in_(partner_ids))
        else:
            wanted = set(partner_ids)
            return [r for r in conn.execute(stmt).all() if r[0] in wanted]
    return list(conn.execute(stmt).all())


def load_features(session: Session, as_of: date, partner_ids: list[str] | None, half_life_days: float,
                  active_window_days: int, with_profiles: bool = True) -> Features:
    rows = _partners(session, partner_ids)
    n = len(rows)
    ids = [r[0] for r in rows]
    idx = {pid: i for i, pid in enumerate(ids)}
    as_of_day = to_day(as_of)
    feats = Features(
        as_of=as_of, ids=ids, names=[r[1] for r in rows], pam_ids=[r[2] for r in rows], types=[r[3] for r in rows],
        regions=[r[4] for r in rows], specializations=[spec_list(r[5]) for r in rows],
        joined=np.array([_as_day(r[6]) for r in rows], dtype=float),
        employees=np.array([np.nan if r[7] is None else r[7] for r in rows], dtype=float),
        overlap_accounts=np.array([np.nan if r[8] is None else r[8] for r in rows], dtype=float),
        conflict=[(r[9] or "").strip() or None for r in rows],
        kinds={}, sourced=_empty_opps(n), influenced=_empty_opps(n),
    )
    _load_activity(session, feats, idx, as_of_day, half_life_days, partner_ids)
    _load_opportunities(session, feats, idx, as_of, active_window_days, partner_ids)
    if with_profiles and n and n <= MAX_IN_LIST:
        profiles = session.scalars(select(GTMProfile).where(GTMProfile.partner_id.in_(ids))).all()
        feats.gtm_profiles = {p.partner_id: p for p in profiles}
    return feats


def _empty_opps(n: int) -> OppStats:
    return OppStats(*(_zeros(n) for _ in range(3)), *(_zeros(n) for _ in range(5)))


def _load_activity(session: Session, feats: Features, idx: dict[str, int], as_of_day: int, half_life: float,
                   partner_ids: list[str] | None) -> None:
    n = feats.n
    # One 2-D array per statistic (kind x partner); each KindStats holds row views into them.
    stats = {name: np.zeros((len(KINDS), n)) for name in ("count", "decayed", "n90", "prev90", "max_value")}
    stats["last"] = np.full((len(KINDS), n), float(NEVER))
    stats["first"] = np.full((len(KINDS), n), float(NEVER))
    feats.kinds = {k: KindStats(**{name: arr[j] for name, arr in stats.items()}) for j, k in enumerate(KINDS)}
    if not n:
        return
    age = as_of_day - ActivityEvent.day
    lam = math.log(2) / half_life
    in_ids = partner_ids is not None and len(partner_ids) <= MAX_IN_LIST
    # Only columns of the (partner_id, kind, day) index: SQLite answers from the covering index without touching
    # the table. Unknown kinds come back too and are dropped below (kept in the store, scored as nothing).
    stmt = (
        select(
            ActivityEvent.partner_id, ActivityEvent.kind, func.count(), func.sum(func.exp(-lam * age)),
            func.max(ActivityEvent.day), func.min(ActivityEvent.day),
            func.sum(case((ActivityEvent.day > as_of_day - 90, 1), else_=0)),
            func.sum(case((and_(ActivityEvent.day > as_of_day - 180, ActivityEvent.day <= as_of_day - 90), 1),
                          else_=0)),
        )
        .where(ActivityEvent.day <= as_of_day)
        .group_by(ActivityEvent.partner_id, ActivityEvent.kind)
    )
    if in_ids:
        stmt = stmt.where(ActivityEvent.partner_id.in_(feats.ids))
    rows = raw_rows(session, stmt)
    if rows:
        cols = list(zip(*rows, strict=True))
        kind_idx = {k: j for j, k in enumerate(KINDS)}
        ii = np.fromiter((idx.get(p, -1) for p in cols[0]), dtype=np.int64, count=len(rows))
        kk = np.fromiter((kind_idx.get(k, -1) for k in cols[1]), dtype=np.int64, count=len(rows))
        ok = (ii >= 0) & (kk >= 0)
        ii, kk = ii[ok], kk[ok]
        for name, col in (("count", 2), ("decayed", 3), ("last", 4), ("first", 5), ("n90", 6), ("prev90", 7)):
            stats[name][kk, ii] = np.asarray(cols[col], dtype=float)[ok]
    # The overlap size an event reports (its value) is the only value scoring reads. A correlated subquery per
    # partner seeks the (partner_id, kind, day) index instead of scanning every event.
    det = feats.kinds["customer_overlap_detected"]
    latest_overlap = (
        select(func.max(ActivityEvent.value))
        .where(ActivityEvent.partner_id == Partner.partner_id, ActivityEvent.kind == "customer_overlap_detected",
               ActivityEvent.day <= as_of_day)
        .correlate(Partner)
        .scalar_subquery()
    )
    vstmt = select(Partner.partner_id, latest_overlap)
    if in_ids:
        vstmt = vstmt.where(Partner.partner_id.in_(feats.ids))
    for pid, maxv in raw_rows(session, vstmt):
        i = idx.get(pid)
        if i is not None and maxv is not None:
            det.max_value[i] = maxv


def _load_opportunities(session: Session, feats: Features, idx: dict[str, int], as_of: date, window: int,
                        partner_ids: list[str] | None) -> None:
    if not feats.n:
        return
    won = and_(Opportunity.stage == "closed_won", Opportunity.close_date <= as_of)
    amount = func.coalesce(Opportunity.amount, 0.0)
    stmt = (
        select(
            Opportunity.partner_id, Opportunity.attribution, func.count(), func.sum(amount),
            func.max(Opportunity.created_on),
            func.sum(case((Opportunity.created_on > as_of - timedelta(days=window), 1), else_=0)),
            func.sum(case((Opportunity.created_on > as_of - timedelta(days=365), 1), else_=0)),
            func.sum(case((won, 1), else_=0)),
            func.sum(case((won, amount), else_=0.0)),
            func.sum(case((and_(won, Opportunity.close_date > as_of - timedelta(days=365)), 1), else_=0)),
        )
        .where(Opportunity.created_on <= as_of, Opportunity.attribution.in_(("sourced", "influenced")))
        .group_by(Opportunity.partner_id, Opportunity.attribution)
    )
    if partner_ids is not None and len(partner_ids) <= MAX_IN_LIST:
        stmt = stmt.where(Opportunity.partner_id.in_(feats.ids))
    rows = session.connection().execute(stmt).all()
    for pid, attribution, cnt, amt, last, recent, n365, nwon, won_amt, won365 in rows:
        i = idx.get(pid)
        if i is None:
            continue
        o = feats.sourced if attribution == "sourced" else feats.influenced
        o.count[i], o.amount[i], o.last[i], o.recent[i] = cnt, amt or 0.0, _as_day(last), recent or 0
        o.n365[i], o.won[i], o.won_amount[i], o.won365[i] = n365 or 0, nwon or 0, won_amt or 0.0, won365 or 0
    feats.sourced.last[feats.sourced.count == 0] = NEVER
    feats.influenced.last[feats.influenced.count == 0] = NEVER


def new_sourced_pipeline(session: Session, as_of: date, horizon_days: int) -> set[str]:
    """Partners with a sourced opportunity created in (as_of, as_of + horizon]: the backtest's outcome."""
    stmt = select(Opportunity.partner_id).where(
        Opportunity.attribution == "sourced", Opportunity.created_on > as_of,
        Opportunity.created_on <= as_of + timedelta(days=horizon_days),
    ).distinct()
    return set(session.scalars(stmt))
