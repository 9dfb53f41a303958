"""Pipeline analytics: partner-sourced vs influenced pipeline, coverage, stage flow, stalls, weekly forecast.

State is reconstructed as of `as_of` from the two dates the canonical format carries:
- an opportunity created after `as_of` does not exist yet;
- a closed opportunity whose close_date is after `as_of` was still open then (its stage then is unknown, so it
  counts in open pipeline and the forecast but not in stage statistics);
- otherwise the stage in the data is the stage at `as_of`.
Sourced, influenced and `none` attribution are always summed separately: influenced is never counted as sourced.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import mean
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from readiness.models import Opportunity

OPEN_STAGES = ("discovery", "validation", "proposal", "negotiation")
CLOSED_STAGES = ("closed_won", "closed_lost")
FORECAST_CATEGORIES = ("commit", "best_case", "pipeline")
TRAILING_DAYS = 365
COVERAGE_WINDOW_DAYS = 91  # one quarter ahead
ID_CHUNK = 900  # stays under every driver's bound-parameter limit


def scoped(session: Session, query: Select[Any], column: Any, partner_ids: Sequence[str] | None) -> Iterator[Any]:
    """Rows of `query`, restricted to `partner_ids` (None: whole program) in chunks of bound parameters."""
    if partner_ids is None:
        yield from session.execute(query)
        return
    ids = list(dict.fromkeys(partner_ids))
    for k in range(0, len(ids), ID_CHUNK):
        yield from session.execute(query.where(column.in_(ids[k : k + ID_CHUNK])))


class AmountCount(BaseModel):
    amount: float = 0.0
    count: int = 0

    def add(self, amount: float | None) -> None:
        self.amount += amount or 0.0
        self.count += 1


class StageStat(BaseModel):
    stage: str
    reached: int = Field(description="opportunities that reached this stage (estimated, see module doc)")
    advanced: int = Field(description="of those, how many reached a later stage or closed won")
    conversion_rate: float | None
    avg_days_in_stage: float | None


class StalledOpportunity(BaseModel):
    opportunity_id: str
    partner_id: str
    account_name: str | None
    stage: str
    attribution: str
    amount: float | None
    created_on: date | None
    close_date: date | None
    age_days: int | None
    reason: str


class ForecastBuckets(BaseModel):
    commit: float = 0.0
    best_case: float = 0.0
    pipeline: float = 0.0
    count: int = 0


class ForecastWeek(BaseModel):
    week_start: date
    sourced: ForecastBuckets = Field(default_factory=ForecastBuckets)
    influenced: ForecastBuckets = Field(default_factory=ForecastBuckets)


class PipelineSummary(BaseModel):
    as_of: date
    partners_in_scope: int | None = Field(description="None: the whole program")
    currencies: list[str]
    open_sourced: AmountCount
    open_influenced: AmountCount
    open_unattributed: AmountCount
    won_sourced_trailing: AmountCount
    won_influenced_trailing: AmountCount
    lost_sourced_trailing: AmountCount
    trailing_days: int = TRAILING_DAYS
    win_rate_sourced: float | None = Field(description="won / (won + lost), sourced, trailing window")
    quota: float | None = Field(description="quarterly sourced-revenue target the coverage is measured against")
    quota_basis: str = Field(description="given | trailing_run_rate | unavailable")
    coverage_target: float
    coverage_window_days: int = COVERAGE_WINDOW_DAYS
    sourced_in_window: float = Field(description="open sourced amount closing within the coverage window")
    coverage_ratio: float | None
    coverage_gap: float | None = Field(description="sourced pipeline still needed to reach the target (>= 0)")
    stages: list[StageStat]
    stalled: list[StalledOpportunity]
    stalled_amount_sourced: float
    forecast: list[ForecastWeek]
    closed_after_as_of: int = Field(
        0, description="opps marked closed whose close_date is after as_of: counted as still open at as_of"
    )


@dataclass(slots=True)
class _Opp:
    opportunity_id: str
    partner_id: str
    account_name: str | None
    amount: float | None
    currency: str | None
    stage: str
    attribution: str
    created_on: date | None
    close_date: date | None
    forecast_category: str | None

    def open_at(self, as_of: date) -> bool:
        if self.stage in CLOSED_STAGES:
            return self.close_date is not None and self.close_date > as_of
        return True

    def known_stage(self, as_of: date) -> bool:
        return not (self.stage in CLOSED_STAGES and self.open_at(as_of))


def load_opportunities(session: Session, as_of: date, partner_ids: Sequence[str] | None = None) -> list[_Opp]:
    """Opportunities that exist at `as_of` (created on or before it, or with no creation date)."""
    cols = [Opportunity.opportunity_id, Opportunity.partner_id, Opportunity.account_name, Opportunity.amount,
            Opportunity.currency, Opportunity.stage, Opportunity.attribution, Opportunity.created_on,
            Opportunity.close_date, Opportunity.forecast_category]
    q = select(*cols).where((Opportunity.created_on.is_(None)) | (Opportunity.created_on <= as_of))
    return [_Opp(*row) for row in scoped(session, q, Opportunity.partner_id, partner_ids)]


def _stage_stats(opps: Iterable[_Opp], as_of: date) -> list[StageStat]:
    """Stage conversion and time in stage estimated from created_on/close_date only.

    An opportunity at stage k passed through every earlier shared stage; closed_won passed through all four.
    The format does not say where a lost deal was lost, so closed_lost counts as reaching discovery only:
    this understates discovery conversion and slightly overstates later ones. Time in stage splits the known
    elapsed time evenly: (close - created) over four stages for closed-won, (as_of - created) over the
    stages reached so far for open ones (the current stage is still running, so its figure is a lower bound).
    """
    reached = [0] * 4
    advanced = [0] * 4
    days: list[list[float]] = [[] for _ in OPEN_STAGES]
    for o in opps:
        if not o.known_stage(as_of):
            continue
        if o.stage == "closed_won":
            top, end = 4, o.close_date
        elif o.stage == "closed_lost":
            top, end = 0, None
        else:
            top, end = OPEN_STAGES.index(o.stage), as_of
        for k in range(min(top, 3) + 1):
            reached[k] += 1
            if top > k:
                advanced[k] += 1
        if o.created_on and end and end >= o.created_on:
            n = 4 if top == 4 else top + 1
            per = (end - o.created_on).days / n
            for k in range(n):
                days[k].append(per)
    return [
        StageStat(stage=s, reached=reached[k], advanced=advanced[k],
                  conversion_rate=round(advanced[k] / reached[k], 4) if reached[k] else None,
                  avg_days_in_stage=round(mean(days[k]), 1) if days[k] else None)
        for k, s in enumerate(OPEN_STAGES)
    ]


def _stalled(o: _Opp, as_of: date, stalled_after_days: int) -> str | None:
    if o.close_date is not None and o.close_date < as_of:
        return f"past close date {o.close_date.isoformat()}"
    if o.created_on is not None and (as_of - o.created_on).days > stalled_after_days:
        return f"open {(as_of - o.created_on).days} days (> {stalled_after_days})"
    return None


def pipeline_summary(
    session: Session,
    as_of: date,
    partner_ids: list[str] | None = None,
    coverage_target: float = 3.0,
    quota: float | None = None,
    stalled_after_days: int = 120,
    forecast_weeks: int = 13,
) -> PipelineSummary:
    """Pipeline health for the whole program (`partner_ids=None`), a PAM's book or a single partner.

    Coverage is quarterly: open SOURCED pipeline closing within the next 91 days divided by the quarter's
    sourced target. When no `quota` is given it is derived as a quarter of the trailing-12-month closed-won
    sourced revenue (the run-rate the program must at least repeat); with no trailing wins it is unavailable.
    """
    opps = load_opportunities(session, as_of, partner_ids)
    trailing_start = as_of - timedelta(days=TRAILING_DAYS)
    open_by = {"sourced": AmountCount(), "influenced": AmountCount(), "none": AmountCount()}
    won = {"sourced": AmountCount(), "influenced": AmountCount()}
    lost_sourced = AmountCount()
    stalled: list[StalledOpportunity] = []
    weeks: dict[date, ForecastWeek] = {}
    horizon = as_of + timedelta(weeks=forecast_weeks)
    window_end = as_of + timedelta(days=COVERAGE_WINDOW_DAYS)
    in_window = 0.0
    currencies: set[str] = set()
    closed_after = 0
    for o in opps:
        closed_after += o.stage in CLOSED_STAGES and o.open_at(as_of)
        if o.currency:
            currencies.add(o.currency)
        if o.open_at(as_of):
            open_by.get(o.attribution, open_by["none"]).add(o.amount)
            if o.attribution == "sourced" and o.close_date and as_of <= o.close_date <= window_end:
                in_window += o.amount or 0.0
            reason = _stalled(o, as_of, stalled_after_days)
            if reason:
                stalled.append(StalledOpportunity(
                    opportunity_id=o.opportunity_id, partner_id=o.partner_id, account_name=o.account_name,
                    stage=o.stage if o.known_stage(as_of) else "open", attribution=o.attribution, amount=o.amount,
                    created_on=o.created_on, close_date=o.close_date,
                    age_days=(as_of - o.created_on).days if o.created_on else None, reason=reason))
            _add_forecast(weeks, o, as_of, horizon)
        elif o.close_date and trailing_start < o.close_date <= as_of:
            if o.stage == "closed_won" and o.attribution in won:
                won[o.attribution].add(o.amount)
            elif o.stage == "closed_lost" and o.attribution == "sourced":
                lost_sourced.add(o.amount)

    basis = "given"
    if quota is None:
        run_rate = won["sourced"].amount / 4
        quota, basis = (run_rate, "trailing_run_rate") if run_rate > 0 else (None, "unavailable")
    coverage = round(in_window / quota, 3) if quota else None
    gap = round(max(0.0, coverage_target * quota - in_window), 2) if quota else None
    decided = won["sourced"].count + lost_sourced.count
    stalled.sort(key=lambda s: (-(s.amount or 0.0), s.opportunity_id))
    return PipelineSummary(
        as_of=as_of,
        partners_in_scope=len(set(partner_ids)) if partner_ids is not None else None,
        currencies=sorted(currencies),
        open_sourced=open_by["sourced"], open_influenced=open_by["influenced"], open_unattributed=open_by["none"],
        won_sourced_trailing=won["sourced"], won_influenced_trailing=won["influenced"],
        lost_sourced_trailing=lost_sourced,
        win_rate_sourced=round(won["sourced"].count / decided, 4) if decided else None,
        quota=round(quota, 2) if quota else None, quota_basis=basis, coverage_target=coverage_target,
        sourced_in_window=in_window, coverage_ratio=coverage, coverage_gap=gap,
        stages=_stage_stats(opps, as_of), stalled=stalled,
        stalled_amount_sourced=sum(s.amount or 0.0 for s in stalled if s.attribution == "sourced"),
        forecast=[weeks[k] for k in sorted(weeks)],
        closed_after_as_of=closed_after,
    )


def _add_forecast(weeks: dict[date, ForecastWeek], o: _Opp, as_of: date, horizon: date) -> None:
    """Open opps closing from this week to the horizon, by ISO week (Monday) and category; omitted is left out."""
    if o.close_date is None or o.close_date < as_of or o.close_date > horizon:
        return
    if o.forecast_category not in FORECAST_CATEGORIES or o.attribution not in ("sourced", "influenced"):
        return
    monday = o.close_date - timedelta(days=o.close_date.weekday())
    week = weeks.setdefault(monday, ForecastWeek(week_start=monday))
    buckets: ForecastBuckets = getattr(week, o.attribution)
    setattr(buckets, o.forecast_category, getattr(buckets, o.forecast_category) + (o.amount or 0.0))
    buckets.count += 1


def group_by_partner(opps: Iterable[_Opp]) -> dict[str, list[_Opp]]:
    out: dict[str, list[_Opp]] = defaultdict(list)
    for o in opps:
        out[o.partner_id].append(o)
    return out
