"""Raw per-partner features as of a date: SQL aggregation (one row per partner and kind) into numpy arrays.

Only rows with a timestamp <= as_of are read. An opportunity's stage is the CRM's *current* stage, so a deal
counts as won only when its close date is also <= as_of: otherwise a backtest would learn from the future.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np
from sqlalchemy import Text, and_, case, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from readiness.models import GTMProfile, Opportunity, Partner
from readiness.scoring import activity
from readiness.scoring.history import History, apply_history, profiles_as_of, values_as_of
from readiness.scoring.rawsql import compile_query, dbapi_connection, fetch_rows, ids_params, in_ids, run_query
from readiness.settings import get_settings

EPOCH = date(1970, 1, 1)
KINDS = (
    "portal_login", "onboarding_started", "training_completed", "certification_earned", "event_attended",
    "content_downloaded", "content_shared", "deal_registered", "co_sell_request", "ae_meeting", "joint_call",
    "demo_delivered", "workshop_delivered", "case_study_published", "customer_overlap_detected", "mdf_requested",
    "plan_updated",
)
# Up to this many ids, statements filter with IN (...): SQLite seeks the index per id, about as fast per partner
# as a full scan (measured on 100,000 partners: 20,000 ids 0.9 s, all 4.1 s), and it stays under both SQLite's
# (32,766) and PostgreSQL's (65,535) bound-parameter limits. Larger scopes read everything and drop rows.
MAX_IN_LIST = 25_000
# GTM profile texts are loaded and judged only for small scopes (a chat, a book's shortlist): the text rubric
# costs far more per partner than the numeric scoring.
MAX_PROFILES = 2000
NEVER = -10**6  # "day" of something that never happened


def to_day(d: date) -> int:
    return (d - EPOCH).days


def from_day(day: int) -> date:
    return EPOCH + timedelta(days=int(day))


@lru_cache(maxsize=65536)
def _iso_day(text: str) -> int:
    return to_day(date.fromisoformat(text[:10]))


_DAYS: dict[object, int] = {None: NEVER}


def as_day(v: object) -> int:
    """A date, or SQLite's ISO text for one, as a day number (NEVER when missing); a program has a few thousand
    distinct dates, so each is converted once and then found in a dict (a whole program converts 150,000)."""
    try:
        return _DAYS[v]
    except KeyError:
        pass
    except TypeError:  # unhashable: not a date
        return NEVER
    day = _iso_day(v) if isinstance(v, str) else to_day(v) if isinstance(v, date) else NEVER
    if len(_DAYS) < 100_000:
        _DAYS[v] = day
    return day


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
    n90: np.ndarray  # created within the last 90 days (recent engagement)
    co_sell: np.ndarray  # created within the co-sell window (plays.co_sell_window_days)
    open_amount: np.ndarray  # amount of opportunities not closed yet
    won_sized: np.ndarray  # closed-won with an amount (the program's typical deal size counts only those)



@dataclass
class Features:
    as_of: date
    ids: list[str]
    names: list[str]
    pam_ids: list[str | None]
    types: list[str]
    regions: list[str | None]
    specializations: list[tuple[str, ...]]
    joined: np.ndarray  # day or NEVER
    employees: np.ndarray  # nan when unknown
    overlap_accounts: np.ndarray  # nan when unknown
    conflict: list[str | None]
    kinds: dict[str, KindStats]
    sourced: OppStats
    influenced: OppStats
    gtm_profiles: dict[str, GTMProfile] = field(default_factory=dict)
    # Per dated attribute: whether the value in effect comes from dated history (False: only the current value
    # from partners.csv exists) and the day it took effect (NEVER when undated).
    dated: dict[str, np.ndarray] = field(default_factory=dict)
    since: dict[str, np.ndarray] = field(default_factory=dict)
    profiles_loaded: bool = False  # GTM profile texts were read for this scope (see load_features)

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


def spec_list(raw: object) -> tuple[str, ...]:
    """Specializations from the JSON column; parsed once per distinct value (programs reuse a few combinations)."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        return _json_list(raw)
    return tuple(raw) if isinstance(raw, list | tuple) else ()


def _partners(session: Session, partner_ids: list[str] | None) -> list[Any]:
    """Partner attributes in id order, the JSON column read as text. A small scope goes through SQLAlchemy (its
    compiled cache); a whole program is read raw: 100,000 rows must not cost 100,000 date and JSON parses."""
    stmt = select(
        Partner.partner_id, Partner.name, Partner.pam_id, Partner.type, Partner.region,
        type_coerce(Partner.specializations, Text), Partner.joined_on, Partner.employee_count,
        Partner.customer_overlap_accounts, Partner.competitive_conflict,
    ).order_by(Partner.partner_id)
    if partner_ids is None:
        return fetch_rows(session, stmt)
    if len(partner_ids) <= MAX_PROFILES:
        return list(session.connection().execute(stmt.where(Partner.partner_id.in_(partner_ids))).all())
    if len(partner_ids) <= MAX_IN_LIST:  # an incremental rescore: seek each partner, rows raw
        dialect = session.get_bind().dialect.name
        return run_query(dbapi_connection(session), compile_query(
            session, stmt.where(in_ids(Partner.partner_id, dialect)), ids_params(partner_ids, dialect)))
    wanted = set(partner_ids)
    return [r for r in fetch_rows(session, stmt) if r[0] in wanted]


class FeatureLoad:
    """Reading features as of a date in two steps, so a whole-program rescore can do other reads (program
    baselines, readiness signals) while worker processes aggregate the activity table: `start_features` starts the
    workers, `finish` reads partners, history and opportunities here, then collects the activity."""

    def __init__(self, session: Session, as_of: date, partner_ids: list[str] | None, half_life_days: float,
                 active_window_days: int, with_profiles: bool, all_profiles: bool, co_sell_window_days: int) -> None:
        self.session, self.as_of, self.partner_ids = session, as_of, partner_ids
        self.half_life, self.window, self.co_sell_window = half_life_days, active_window_days, co_sell_window_days
        self.with_profiles, self.all_profiles = with_profiles, all_profiles
        self.ids: list[str] | None = None
        self.pending: activity.PendingActivity | activity.ThreadedActivity | None = None
        if partner_ids is None or len(partner_ids) > MAX_IN_LIST:
            activity.big_read_settings(session)
        if partner_ids is None or len(partner_ids) >= activity.SHARD_MIN_IDS:
            everyone = [r[0] for r in fetch_rows(session, select(Partner.partner_id).order_by(Partner.partner_id))]
            wanted = None if partner_ids is None else set(partner_ids)
            self.ids = everyone if wanted is None else [pid for pid in everyone if pid in wanted]
            in_list = partner_ids is not None and len(self.ids) <= MAX_IN_LIST
            self.pending = activity.start(session, self.ids, to_day(as_of), half_life_days, KINDS, in_list,
                                          get_settings().scoring_workers)

    def __enter__(self) -> FeatureLoad:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pending is not None:
            self.pending.close()

    def finish(self) -> Features:
        session, as_of, partner_ids = self.session, self.as_of, self.partner_ids
        rows = _partners(session, partner_ids)
        if self.ids is not None and len(rows) != len(self.ids):  # partners added (or gone) since the ids were read
            known = set(self.ids)
            rows = [r for r in rows if r[0] in known]
            if len(rows) != len(self.ids) and self.pending is not None:  # positions no longer line up: read here
                self.pending.close()
                self.pending = None
        n = len(rows)
        ids = [r[0] for r in rows]
        idx = {pid: i for i, pid in enumerate(ids)}
        feats = Features(
            as_of=as_of, ids=ids, names=[r[1] for r in rows], pam_ids=[r[2] for r in rows],
            types=[r[3] for r in rows], regions=[r[4] for r in rows],
            specializations=list(map(spec_list, map(itemgetter(5), rows))),
            joined=np.fromiter(map(as_day, map(itemgetter(6), rows)), dtype=float, count=n),
            employees=np.array([np.nan if r[7] is None else r[7] for r in rows], dtype=float),
            overlap_accounts=np.array([np.nan if r[8] is None else r[8] for r in rows], dtype=float),
            conflict=[(r[9] or "").strip() or None for r in rows],
            kinds={}, sourced=_empty_opps(n), influenced=_empty_opps(n),
        )
        history = values_as_of(session, as_of, partner_ids) if n else History()
        apply_history(feats, history)
        _load_opportunities(session, feats, idx, as_of, self.window, partner_ids, self.co_sell_window)
        if self.with_profiles and n and (n <= MAX_PROFILES or self.all_profiles):
            feats.gtm_profiles = profiles_as_of(session, ids if n <= MAX_PROFILES else None, idx, as_of, history)
            feats.profiles_loaded = True
        pending, self.pending = self.pending, None
        _load_activity(session, feats, to_day(as_of), self.half_life, partner_ids, pending)
        return feats


def start_features(session: Session, as_of: date, partner_ids: list[str] | None, half_life_days: float,
                   active_window_days: int, with_profiles: bool = True, all_profiles: bool = False,
                   co_sell_window_days: int = 365) -> FeatureLoad:
    """`with_profiles`: load GTM profile texts for a small scope; `all_profiles`: for any scope (slow on a big
    program: needed only when GTM counts in the total, so that a full rescore and a chat agree)."""
    return FeatureLoad(session, as_of, partner_ids, half_life_days, active_window_days, with_profiles, all_profiles,
                       co_sell_window_days)


def load_features(session: Session, as_of: date, partner_ids: list[str] | None, half_life_days: float,
                  active_window_days: int, with_profiles: bool = True, all_profiles: bool = False,
                  co_sell_window_days: int = 365) -> Features:
    with start_features(session, as_of, partner_ids, half_life_days, active_window_days, with_profiles,
                        all_profiles, co_sell_window_days) as load:
        return load.finish()


def _empty_opps(n: int) -> OppStats:
    return OppStats(*(_zeros(n) for _ in range(12)))


def _load_activity(session: Session, feats: Features, as_of_day: int, half_life: float,
                   partner_ids: list[str] | None,
                   pending: activity.PendingActivity | activity.ThreadedActivity | None = None) -> None:
    n = feats.n
    # One 2-D array per statistic (kind x partner); each KindStats holds row views into them.
    stats = {name: np.zeros((len(KINDS), n)) for name in ("count", "decayed", "n90", "prev90", "max_value")}
    stats["last"] = np.full((len(KINDS), n), float(NEVER))
    stats["first"] = np.full((len(KINDS), n), float(NEVER))
    feats.kinds = {k: KindStats(**{name: arr[j] for name, arr in stats.items()}) for j, k in enumerate(KINDS)}
    if not n:
        return
    in_list = partner_ids is not None and len(partner_ids) <= MAX_IN_LIST
    if pending is not None:
        rows = pending.result()
    else:
        rows = activity.aggregate(session, feats.ids, as_of_day, half_life, KINDS, in_list,
                                  get_settings().scoring_workers)
    for c, name in enumerate(activity.STATS):
        stats[name][rows.kind, rows.pos] = rows.values[:, c]
    # The overlap size an event reports (its value) is the only event value scoring reads.
    stats["max_value"][KINDS.index("customer_overlap_detected"), rows.overlap_pos] = rows.overlap_value


def _load_opportunities(session: Session, feats: Features, idx: dict[str, int], as_of: date, window: int,
                        partner_ids: list[str] | None, co_sell_window: int = 365) -> None:
    if not feats.n:
        return
    won = and_(Opportunity.stage == "closed_won", Opportunity.close_date <= as_of)
    # Open on as_of: not closed, or closed only after as_of (the stage is the CRM's current one).
    still_open = or_(Opportunity.stage.not_in(("closed_won", "closed_lost")), Opportunity.close_date > as_of)
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
            func.sum(case((Opportunity.created_on > as_of - timedelta(days=90), 1), else_=0)),
            func.sum(case((Opportunity.created_on > as_of - timedelta(days=co_sell_window), 1), else_=0)),
            func.sum(case((still_open, amount), else_=0.0)),
            func.sum(case((and_(won, Opportunity.amount.is_not(None)), 1), else_=0)),
        )
        .where(Opportunity.created_on <= as_of, Opportunity.attribution.in_(("sourced", "influenced")))
        .group_by(Opportunity.partner_id, Opportunity.attribution)
    )
    if partner_ids is not None and len(partner_ids) <= MAX_IN_LIST:
        dialect = session.get_bind().dialect.name
        rows = session.connection().execute(stmt.where(in_ids(Opportunity.partner_id, dialect)),
                                            ids_params(feats.ids, dialect)).all()
    else:  # a whole program: raw rows (dates as the driver returns them, converted once per distinct value)
        rows = fetch_rows(session, stmt)
    if rows:
        # Column-wise (a whole program has tens of thousands of rows): one (partner, attribution) pair per row, a
        # missing aggregate (None) counts as 0.
        cols = list(zip(*rows, strict=True))
        n = len(rows)
        pos = np.fromiter(map(idx.get, cols[0], repeat(-1, n)), dtype=np.int64, count=n)
        sourced = np.fromiter(map("sourced".__eq__, cols[1]), dtype=bool, count=n)
        last = np.fromiter(map(as_day, cols[4]), dtype=float, count=n)
        numbers = {name: np.nan_to_num(np.array(col, dtype=float), nan=0.0) for name, col in zip(
            ("count", "amount", None, "recent", "n365", "won", "won_amount", "won365", "n90", "co_sell",
             "open_amount", "won_sized"), cols[2:], strict=True) if name is not None}
        for o, mine in ((feats.sourced, sourced), (feats.influenced, ~sourced)):
            keep = mine & (pos >= 0)
            at = pos[keep]
            for name, values in numbers.items():
                getattr(o, name)[at] = values[keep]
            o.last[at] = last[keep]
    feats.sourced.last[feats.sourced.count == 0] = NEVER
    feats.influenced.last[feats.influenced.count == 0] = NEVER


def new_sourced_pipeline(session: Session, as_of: date, horizon_days: int) -> set[str]:
    """Partners with a sourced opportunity created in (as_of, as_of + horizon]: the backtest's outcome."""
    stmt = select(Opportunity.partner_id).where(
        Opportunity.attribution == "sourced", Opportunity.created_on > as_of,
        Opportunity.created_on <= as_of + timedelta(days=horizon_days),
    ).distinct()
    return set(session.scalars(stmt))
