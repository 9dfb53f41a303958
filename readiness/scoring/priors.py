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
from typing import Any

import numpy as np
from sqlalchemy import Text, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from readiness.models import Opportunity, Partner
from readiness.scoring.features import Features, spec_list
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


Group = tuple[str, str | None, Any, int, int]  # type, region, specializations, members, producers among them


def _assemble(as_of: date, groups: list[Group], active: tuple[int, float],
              sizes: list[tuple[str, float, int]]) -> Priors:
    """Baselines from the program's members counted per (type, region, specializations) with the producers among
    them, the active producers (how many, their closed-won deals in the last year), and (type, summed amount,
    deals) of closed-won sourced deals with an amount. Integer counts: exact in any order."""
    tot_t: Counter[str] = Counter()
    prod_t: Counter[str] = Counter()
    tot_r: Counter[str] = Counter()
    prod_r: Counter[str] = Counter()
    tot_l: Counter[Any] = Counter()
    prod_l: Counter[Any] = Counter()
    for type_, region, specs, members, producers in groups:
        tot_t[type_] += members
        tot_r[region or ""] += members
        tot_l[specs] += members
        if producers:
            prod_t[type_] += producers
            prod_r[region or ""] += producers
            prod_l[specs] += producers
    n, n_prod = sum(tot_t.values()), sum(prod_t.values())
    base = n_prod / n if n else 0.0
    won_total = int(sum(c for _, _, c in sizes))
    program_size = (sum(float(a) for _, a, _ in sizes) / won_total) if won_total else None
    active_count, active_won = active
    return Priors(
        as_of=as_of, base_rate=base, type_rate=_smoothed(prod_t, tot_t, base),
        region_rate=_smoothed(prod_r, tot_r, base),
        spec_rate=_smoothed(_spec_counts(prod_l), _spec_counts(tot_l), base),
        deal_size_by_type={t: float(a) / c for t, a, c in sizes if c >= 3},
        deal_size_program=program_size, won_deals_total=won_total,
        # The mean of whole numbers: their sum is exact, so this is the mean numpy would give.
        deals_per_year=active_won / active_count if active_count else None, active_partners=active_count,
    )


def _spec_key(raw: Any) -> Any:
    """The stored specializations as a hashable key: SQLite returns the JSON text, PostgreSQL the parsed list."""
    return raw if isinstance(raw, str | None) else json.dumps(raw)


def _compute(session: Session, as_of: date, window: int) -> Priors:
    """Counted by the database, grouped per (type, region, specializations): a program has a few hundred such
    groups, so a hundred thousand partners never come back as rows (the activation-curve fit computes these for a
    whole program while a full rescore runs)."""
    won = and_(Opportunity.stage == "closed_won", Opportunity.close_date <= as_of)
    sourced = and_(Opportunity.attribution == "sourced", Opportunity.created_on <= as_of)
    # Membership in the producers' set: SQLite builds it in one pass over the opportunities, where a correlated
    # EXISTS seeks the index and reads the table once per partner (0.4 -> 0.25 s CPU for 100,000 partners).
    produces = Partner.partner_id.in_(select(Opportunity.partner_id).where(sourced))
    specs = cast(Partner.specializations, Text)
    # Partners who had not joined yet on as_of are not in the program on that date.
    groups = fetch_rows(session, select(Partner.type, Partner.region, specs, func.count(),
                                        func.sum(case((produces, 1), else_=0)))
                        .where(or_(Partner.joined_on.is_(None), Partner.joined_on <= as_of))
                        .group_by(Partner.type, Partner.region, specs))
    per_partner = (
        select(func.max(Opportunity.created_on).label("last"),
               func.sum(case((and_(won, Opportunity.close_date > as_of - timedelta(days=365)), 1), else_=0))
               .label("won365"))
        .join(Partner, Partner.partner_id == Opportunity.partner_id)
        .where(sourced)
        .group_by(Opportunity.partner_id)
        .subquery()
    )
    active = fetch_rows(session, select(func.count(), func.sum(per_partner.c.won365))
                        .where(per_partner.c.last > as_of - timedelta(days=window)))[0]
    sizes = fetch_rows(session, select(Partner.type, func.sum(Opportunity.amount), func.count())
        .join(Partner, Partner.partner_id == Opportunity.partner_id)
        .where(Opportunity.attribution == "sourced", won, Opportunity.created_on <= as_of,
               Opportunity.amount.is_not(None))
        .group_by(Partner.type)
        .order_by(Partner.type))
    return _assemble(as_of, [(t, r, _spec_key(sp), int(m), int(p or 0)) for t, r, sp, m, p in groups],
                     (int(active[0] or 0), float(active[1] or 0)),
                     [(t, float(a or 0.0), int(c)) for t, a, c in sizes])


def priors_from_features(feats: Features, window: int) -> Priors:
    """The same baselines as `program_priors`, from a whole program's features (they hold every input: partner
    attributes, sourced deals per partner, closed-won amounts), so a full rescore does not read partners and
    opportunities twice. Exact for the whole program only."""
    s = feats.sourced
    member = feats.joined <= feats.as_of_day
    # Members per (type, region, specializations, producing): Counter and compress loop in C.
    counted = Counter(compress(zip(feats.types, feats.regions, feats.specializations, (s.count > 0).tolist(),
                                   strict=True), member.tolist()))
    per_group: dict[tuple[str, str | None, Any], list[int]] = {}
    for (type_, region, specs, producing), k in counted.items():
        tally = per_group.setdefault((type_, region, specs), [0, 0])
        tally[0] += k
        tally[1] += k if producing else 0
    groups = [(t, r, sp, m, p) for (t, r, sp), (m, p) in per_group.items()]
    cutoff = feats.as_of_day - window
    active = np.flatnonzero((s.count > 0) & (s.last > cutoff))
    active_won = (len(active), float(sum(s.won365[active].tolist())))
    sized: dict[str, list[float]] = {}
    for i in np.flatnonzero(s.won_sized > 0):
        acc = sized.setdefault(feats.types[i], [0.0, 0.0])
        acc[0] += float(s.won_amount[i])
        acc[1] += float(s.won_sized[i])
    sizes = [(t, a, int(c)) for t, (a, c) in sorted(sized.items())]
    return _assemble(feats.as_of, groups, active_won, sizes)
