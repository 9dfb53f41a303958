"""Program-level baselines as of a date: which partner types, regions and specializations produce sourced
pipeline, typical closed-won deal sizes and how many deals an active partner wins a year.

Computed from the whole program (not only the partners being scored) and cached per store and date for a few
minutes: they move slowly, and a single-partner rescore must not rescan the program.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import compress
from operator import itemgetter
from typing import Any

import numpy as np
from sqlalchemy import Text, and_, case, func, select, type_coerce
from sqlalchemy.orm import Session

from readiness.models import Opportunity, Partner
from readiness.scoring.features import Features, as_day, spec_list, to_day
from readiness.scoring.rawsql import fetch_rows

# No fingerprint query: counting a large table on every single-partner rescore would cost more than the
# rescore. Imports should call `readiness.scoring.clear_caches()`; otherwise entries expire after this long.
CACHE_TTL_S = 120.0
SMOOTHING = 10.0  # pseudo-partners at the base rate: small groups fall back to the program average


@dataclass
class Priors:
    as_of: date
    base_rate: float
    type_rate: dict[str, float]
    region_rate: dict[str, float]
    spec_rate: dict[str, float]
    deal_size_by_type: dict[str, float] = field(default_factory=dict)
    deal_size_program: float | None = None
    won_deals_total: int = 0
    deals_per_year: float | None = None
    active_partners: int = 0

    def ratio(self, table: dict[str, float], key: str | None) -> float:
        if self.base_rate <= 0:
            return 1.0
        return table.get(key or "", self.base_rate) / self.base_rate

    def to_json(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in self.__dataclass_fields__}, "as_of": self.as_of.isoformat()}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Priors:
        return cls(**{**raw, "as_of": date.fromisoformat(raw["as_of"])})


_cache: dict[tuple[str, date, int], tuple[float, Priors]] = {}


def cached_priors(session: Session, as_of: date, active_window_days: int) -> Priors | None:
    hit = _cache.get((str(session.get_bind().url), as_of, active_window_days))
    return hit[1] if hit and time.monotonic() - hit[0] < CACHE_TTL_S else None


def program_priors(session: Session, as_of: date, active_window_days: int) -> Priors:
    priors = cached_priors(session, as_of, active_window_days)
    if priors is None:
        priors = _compute(session, as_of, active_window_days)
        remember(session, as_of, active_window_days, priors)
    return priors


def remember(session: Session, as_of: date, active_window_days: int, priors: Priors) -> None:
    """Use these baselines for this store and date (an incremental rescore installs the stored ones)."""
    _cache[(str(session.get_bind().url), as_of, active_window_days)] = (time.monotonic(), priors)


def clear_cache() -> None:
    _cache.clear()


def _smoothed(prod: Counter[str], total: Counter[str], base: float) -> dict[str, float]:
    return {k: (prod.get(k, 0) + SMOOTHING * base) / (n + SMOOTHING) for k, n in total.items()}


def _spec_counts(lists: Counter[Any]) -> Counter[str]:
    """Partners per specialization, from partners per distinct stored list (a program reuses a few hundred)."""
    out: Counter[str] = Counter()
    for raw, n in lists.items():
        for spec in spec_list(raw):
            out[spec] += n
    return out


def _counts(values: list[Any], keep: list[bool]) -> Counter[Any]:
    """How many kept rows hold each value: `compress` and Counter both loop in C (no generator per row)."""
    return Counter(compress(values, keep))


def _by_region(values: list[str | None], keep: list[bool]) -> Counter[str]:
    """As `_counts`, with an unknown region (None) counted under ""."""
    out = _counts(values, keep)
    if None in out:
        out[""] += out.pop(None)
    return out


def _assemble(as_of: date, types: list[str], regions: list[str | None], specs: list[Any], member: list[bool],
              producer: list[bool], active_won: list[float], sizes: list[tuple[str, float, int]]) -> Priors:
    """Baselines from the partners' type, region and specializations (columns), which of them are members of the
    program on as_of and which members produce, the closed-won counts of the last year of the active producers,
    and (type, summed amount, deals) of closed-won sourced deals with an amount. Counters over columns (C loops):
    100,000 partners in a few hundredths of a second."""
    tot_t, prod_t = _counts(types, member), _counts(types, producer)
    tot_r, prod_r = _by_region(regions, member), _by_region(regions, producer)
    tot_s = _spec_counts(_counts(specs, member))
    prod_s = _spec_counts(_counts(specs, producer))
    n, n_prod = sum(member), sum(producer)
    base = n_prod / n if n else 0.0
    won_total = int(sum(c for _, _, c in sizes))
    program_size = (sum(float(a) for _, a, _ in sizes) / won_total) if won_total else None
    return Priors(
        as_of=as_of, base_rate=base, type_rate=_smoothed(prod_t, tot_t, base),
        region_rate=_smoothed(prod_r, tot_r, base), spec_rate=_smoothed(prod_s, tot_s, base),
        deal_size_by_type={t: float(a) / c for t, a, c in sizes if c >= 3},
        deal_size_program=program_size, won_deals_total=won_total,
        deals_per_year=float(np.mean(active_won)) if active_won else None, active_partners=len(active_won),
    )


def _spec_key(raw: Any) -> Any:
    """The stored specializations as a hashable key: SQLite returns the JSON text, PostgreSQL the parsed list."""
    return raw if isinstance(raw, str | None) else json.dumps(raw)


def _compute(session: Session, as_of: date, window: int) -> Priors:
    won = and_(Opportunity.stage == "closed_won", Opportunity.close_date <= as_of)
    # Raw rows (dates as the driver returns them, converted once per distinct value): the fit of the activation
    # curve computes these for a whole program while a full rescore runs.
    per_partner = fetch_rows(session, select(
            Opportunity.partner_id, func.max(Opportunity.created_on),
            func.sum(case((and_(won, Opportunity.close_date > as_of - timedelta(days=365)), 1), else_=0)),
        )
        .join(Partner, Partner.partner_id == Opportunity.partner_id)
        .where(Opportunity.attribution == "sourced", Opportunity.created_on <= as_of)
        .group_by(Opportunity.partner_id)
        .order_by(Opportunity.partner_id))
    producers = {r[0] for r in per_partner}
    cutoff = to_day(as_of - timedelta(days=window))
    active_won = [float(r[2] or 0) for r in per_partner if r[1] is not None and as_day(r[1]) > cutoff]
    rows = fetch_rows(session, select(Partner.partner_id, Partner.type, Partner.region,
                                      type_coerce(Partner.specializations, Text), Partner.joined_on))
    # Partners who had not joined yet on as_of are not in the program on that date.
    n = len(rows)
    joined = np.fromiter(map(as_day, map(itemgetter(4), rows)), dtype=np.int64, count=n)
    member_arr = joined <= to_day(as_of)
    producing = np.fromiter(map(producers.__contains__, map(itemgetter(0), rows)), dtype=bool, count=n)
    sizes = fetch_rows(session, select(Partner.type, func.sum(Opportunity.amount), func.count())
        .join(Partner, Partner.partner_id == Opportunity.partner_id)
        .where(Opportunity.attribution == "sourced", won, Opportunity.created_on <= as_of,
               Opportunity.amount.is_not(None))
        .group_by(Partner.type)
        .order_by(Partner.type))
    return _assemble(as_of, [r[1] for r in rows], [r[2] for r in rows], list(map(_spec_key, map(itemgetter(3), rows))),
                     member_arr.tolist(), (member_arr & producing).tolist(), active_won,
                     [(t, float(a or 0.0), int(c)) for t, a, c in sizes])


def priors_from_features(feats: Features, window: int) -> Priors:
    """The same baselines as `program_priors`, from a whole program's features (they hold every input: partner
    attributes, sourced deals per partner, closed-won amounts), so a full rescore does not read partners and
    opportunities twice. Exact for the whole program only."""
    s = feats.sourced
    member = feats.joined <= feats.as_of_day
    producer = member & (s.count > 0)
    cutoff = feats.as_of_day - window
    active = np.flatnonzero((s.count > 0) & (s.last > cutoff))
    active_won = [float(v) for v in s.won365[active]]
    sized: dict[str, list[float]] = {}
    for i in np.flatnonzero(s.won_sized > 0):
        acc = sized.setdefault(feats.types[i], [0.0, 0.0])
        acc[0] += float(s.won_amount[i])
        acc[1] += float(s.won_sized[i])
    sizes = [(t, a, int(c)) for t, (a, c) in sorted(sized.items())]
    return _assemble(feats.as_of, feats.types, feats.regions, feats.specializations, member.tolist(),
                     producer.tolist(), active_won, sizes)
