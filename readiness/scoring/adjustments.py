"""Readiness signals (``readiness_signals``) that adjust a dimension.

The rule:
- Signals form chains: an original row, and review rows pointing at it (``supersedes_id``). The newest row of a
  chain created on or before as_of decides (a later ``overridden`` row wins, with its own value or level).
- It counts when that decision is ``confirmed`` or ``overridden``; or, with no review, when the original is
  ``recorded`` from pam, agent or import. Partner-source signals (``claimed``) only count once confirmed;
  ``rejected`` never counts.
- Per partner and dimension the newest counting signal applies: the dimension moves ``signals.blend`` of the way
  toward the signal's value (0-100; or its level low/medium/high mapped through ``signals.levels``).
- Dimensions: the four score dimensions, the GTM keys; ``ae_engagement`` adjusts Engagement.
- Dates: signals are judgements about the present, recorded on the wall clock, while a store's as_of may trail
  it (a fixed PARTNERPILOT_AS_OF). Live scoring therefore applies every counting signal; historical scoring
  (backtest, calibration, the activation-curve fit: ``historical=True``) ignores rows created after as_of.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from readiness.models import ReadinessSignal
from readiness.scoring.config import ScoringConfig

TRUSTED_SOURCES = {"pam", "agent", "import"}
DIMENSION_ALIASES = {"ae_engagement": "engagement"}


@dataclass(frozen=True)
class Adjustment:
    partner_id: str
    dimension: str
    value: float
    note: str


def _end_of(as_of: date) -> datetime:
    return datetime.combine(as_of, time.max, tzinfo=UTC)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def counting_signals(session: Session, as_of: date, partner_ids: list[str] | None,
                     cfg: ScoringConfig, historical: bool = False) -> dict[str, dict[str, Adjustment]]:
    stmt = select(ReadinessSignal).order_by(ReadinessSignal.id)
    if partner_ids is not None and len(partner_ids) <= 2000:
        stmt = stmt.where(ReadinessSignal.partner_id.in_(partner_ids))
    end = _end_of(as_of)
    rows = [r for r in session.scalars(stmt) if not historical or _aware(r.created_at) <= end]
    by_id = {r.id: r for r in rows}
    latest: dict[int, ReadinessSignal] = {}
    for r in rows:  # ascending id: later reviews replace earlier ones
        root = r
        while root.supersedes_id is not None and root.supersedes_id in by_id:
            root = by_id[root.supersedes_id]
        latest[root.id] = r
    out: dict[str, dict[str, Adjustment]] = {}
    for root_id, last in sorted(latest.items(), key=lambda kv: kv[1].id):
        root = by_id[root_id]
        if last is root:
            counts = root.status == "recorded" and root.source in TRUSTED_SOURCES
        else:
            counts = last.status in ("confirmed", "overridden")
        if not counts:
            continue
        value = _value(last, cfg) if last.status == "overridden" else None
        if value is None:
            value = _value(root, cfg)
        if value is None:
            continue
        dim = DIMENSION_ALIASES.get(root.dimension, root.dimension)
        note = (f"{root.source} signal #{root.id} ({last.status}, {_aware(last.created_at).date().isoformat()}): "
                f"{root.dimension} {value:.0f}" + (f" - {root.evidence}" if root.evidence else ""))
        out.setdefault(root.partner_id, {})[dim] = Adjustment(root.partner_id, dim, value, note)
    return out


def _value(r: ReadinessSignal, cfg: ScoringConfig) -> float | None:
    if r.value is not None:
        return max(0.0, min(100.0, float(r.value)))
    if r.level:
        return cfg.signals.levels.get(r.level.lower())
    return None
