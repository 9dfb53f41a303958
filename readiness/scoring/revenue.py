"""Revenue at stake: expected upside = P(activation) x typical deal size x deals per year, all from data.

- P(activation): a logistic map from readiness score to "creates new sourced pipeline within the horizon", fitted
  on the program's own history (scores as of as_of - horizon, outcomes in (as_of - horizon, as_of]) among
  partners not active then (a fixed random sample of FIT_SAMPLE partners in a bigger program); the config's
  fallback curve when history has too few outcomes.
- Typical deal size: the partner's own mean closed-won sourced deal, shrunk toward comparable partners (same
  type, else the program) as if those were `comparable_shrinkage` deals.
- Deals per year: closed-won sourced deals in the last 365 days per active partner, program mean.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from readiness.models import Partner
from readiness.scoring import activity
from readiness.scoring.config import ScoringConfig, load_config
from readiness.scoring.features import new_sourced_pipeline
from readiness.scoring.rawsql import fetch_rows
from readiness.scoring.schemas import ProgramImpact, RevenueImpact

if TYPE_CHECKING:
    from readiness.scoring.score import ScoreFrame

CACHE_TTL_S = 120.0  # as for priors: no fingerprint query; clear_caches() after an import
MIN_OUTCOMES = 3
# A two-parameter logistic is pinned down well before this many partners (a few hundred outcomes); a bigger program
# is fitted on a fixed random sample of this size, so a cold full rescore does not score the whole program twice.
FIT_SAMPLE = 5_000


@dataclass(frozen=True)
class ActivationCurve:
    intercept: float
    slope: float
    basis: str

    def __call__(self, score: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.intercept + self.slope * np.asarray(score, dtype=float))))

    def to_json(self) -> dict[str, Any]:
        return {"intercept": self.intercept, "slope": self.slope, "basis": self.basis}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ActivationCurve | None:
        try:
            return cls(float(raw["intercept"]), float(raw["slope"]), str(raw["basis"]))
        except (KeyError, TypeError, ValueError):
            return None


_curves: dict[tuple, tuple[float, ActivationCurve]] = {}
log = structlog.get_logger(__name__)


def _key(session: Session, as_of: date, cfg: ScoringConfig) -> tuple:
    return str(session.get_bind().url), as_of, cfg.revenue.fit_horizon_days, cfg.fingerprint()


def _cached(key: tuple) -> ActivationCurve | None:
    hit = _curves.get(key)
    return hit[1] if hit and time.monotonic() - hit[0] < CACHE_TTL_S else None


def activation_curve(session: Session, as_of: date, cfg: ScoringConfig, use_stored: bool = True) -> ActivationCurve:
    """Cached in memory; else the curve the last full rescore for this date and config stored (its snapshots
    were computed with it; a full rescore passes use_stored=False to refit); else fitted now."""
    key = _key(session, as_of, cfg)
    curve = _cached(key)
    if curve is None:
        curve = (stored_curve(session, as_of, cfg) if use_stored else None) or _fit_curve(session, as_of, cfg)
        _curves[key] = (time.monotonic(), curve)
    return curve


def stored_curve(session: Session, as_of: date, cfg: ScoringConfig) -> ActivationCurve | None:
    from readiness.scoring.runs import load_run

    run = load_run(session, as_of, cfg)
    return ActivationCurve.from_json(run.curve) if run is not None else None


def remember_curve(session: Session, as_of: date, cfg: ScoringConfig, curve: ActivationCurve) -> None:
    _curves[_key(session, as_of, cfg)] = (time.monotonic(), curve)


@contextmanager
def curve_fitted_alongside(session: Session, as_of: date, cfg: ScoringConfig) -> Iterator[None]:
    """Fit the activation curve in a worker process while the block scores the program: the fit scores a sample
    as of as_of - horizon and needs nothing from the block, and the block leaves a core idle most of the time.
    Where no worker may read the store, or the fit fails there, `activation_curve` fits it inline later."""
    key = _key(session, as_of, cfg)
    server = session.get_bind().dialect.name == "postgresql"
    if _cached(key) is not None or not (server or activity.can_fork_readers(session)) or (
            session.scalar(select(func.count()).select_from(Partner)) or 0) < activity.SHARD_MIN_PARTNERS:
        yield
        return
    url = session.get_bind().url.render_as_string(hide_password=False)
    # A database server: a thread with its own connection (both mostly wait on the server, which has cores of its
    # own); a SQLite file: a low-priority forked process.
    runner = activity.in_thread if server else partial(activity.in_worker, background=True)
    with runner(_fit_in_worker, url, as_of, cfg) as future:
        yield
        try:
            _curves[key] = (time.monotonic(), future.result())
        except Exception as exc:  # any failure there means fitting here, not failing the rescore
            log.warning("activation_curve.worker_failed", error=str(exc))


def _fit_in_worker(url: str, as_of: date, cfg: ScoringConfig) -> ActivationCurve:
    from readiness.db import make_engine, session_scope

    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return _fit_curve(session, as_of, cfg)
    finally:
        engine.dispose()


def clear_cache() -> None:
    _curves.clear()


def _fallback(cfg: ScoringConfig, why: str) -> ActivationCurve:
    fb = cfg.revenue.fallback_logistic
    return ActivationCurve(-fb.slope * fb.midpoint, fb.slope,
                           f"configured fallback curve (midpoint {fb.midpoint:.0f}, slope {fb.slope}): {why}")


def logistic_fit(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> tuple[float, float]:
    """(intercept, slope) of an L2-regularised one-feature logistic regression: the same objective as
    scikit-learn's LogisticRegression(C=c) (C x log-loss + slope^2 / 2, intercept not penalised), solved by
    Newton's method on the 2 x 2 system. Importing scikit-learn costs 0.9 s of CPU, more than a cold rescore can
    spare; the fit itself takes a few milliseconds."""
    x, yf = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    beta = np.zeros(2)

    def objective(b: np.ndarray) -> float:
        z = b[0] + b[1] * x
        return float(c * np.sum(np.logaddexp(0.0, z) - yf * z) + 0.5 * b[1] ** 2)

    current = objective(beta)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(beta[0] + beta[1] * x)))
        r, w = p - yf, p * (1.0 - p)
        grad = np.array([c * r.sum(), c * (r * x).sum() + beta[1]])
        hess = np.array([[c * w.sum(), c * (w * x).sum()], [c * (w * x).sum(), c * (w * x * x).sum() + 1.0]])
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-8 and objective(beta - scale * step) > current:  # damped: never increase the objective
            scale /= 2
        beta = beta - scale * step
        previous, current = current, objective(beta)
        if abs(previous - current) <= 1e-12 * max(1.0, abs(current)):
            break
    return float(beta[0]), float(beta[1])


def _fit_curve(session: Session, as_of: date, cfg: ScoringConfig) -> ActivationCurve:
    from readiness.scoring.score import compute_frame

    h = cfg.revenue.fit_horizon_days
    t0 = as_of - timedelta(days=h)
    ids = [r[0] for r in fetch_rows(session, select(Partner.partner_id).order_by(Partner.partner_id))]  # raw rows
    sampled = len(ids) > FIT_SAMPLE
    scope = sorted(random.Random(0).sample(ids, FIT_SAMPLE)) if sampled else None
    frame = compute_frame(session, t0, scope, cfg, historical=True)
    outcome = new_sourced_pipeline(session, t0, h)
    keep = ~frame.active & (frame.feats.joined <= frame.feats.as_of_day)
    y = np.array([pid in outcome for pid in frame.ids])[keep]
    x = frame.total[keep]
    pos = int(y.sum())
    if pos < MIN_OUTCOMES or len(y) - pos < MIN_OUTCOMES:
        return _fallback(cfg, f"only {pos} of {len(y)} dormant partners on {t0} sourced within {h} days")
    intercept, slope = logistic_fit(x, y, 1.0)
    if slope <= 0:
        return _fallback(cfg, f"history on {t0} shows no positive link between score and activation")
    among = f" (a random sample of {FIT_SAMPLE:,} of {len(ids):,} partners)" if sampled else ""
    return ActivationCurve(intercept, slope,
                           f"logistic fit on {len(y)} partners not active on {t0}{among}: {pos} created sourced "
                           f"pipeline within {h} days")


def deal_sizes(frame: ScoreFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(typical size, the partner's own mean closed-won deal, the comparable mean) per partner."""
    f, p, cfg = frame.feats, frame.priors, frame.cfg
    k = cfg.revenue.comparable_shrinkage
    program = p.deal_size_program or cfg.revenue.default_deal_size
    by_type = {t: p.deal_size_by_type.get(t, program) for t in set(f.types)}
    comp = np.array([by_type[t] for t in f.types])
    won = f.sourced.won
    own = np.divide(f.sourced.won_amount, won, out=np.zeros(f.n), where=won > 0)
    return (won * own + k * comp) / (won + k), own, comp


def deal_size_basis(frame: ScoreFrame, i: int, own: float, comp: float) -> str:
    p, k = frame.priors, frame.cfg.revenue.comparable_shrinkage
    t, won = frame.feats.types[i], int(frame.feats.sourced.won[i])
    src = (f"{t} partners' mean closed-won sourced deal" if t in p.deal_size_by_type else
           "program mean closed-won sourced deal" if p.deal_size_program else "configured default deal size")
    if won:
        return f"{won} own closed-won deals (mean {own:,.0f}) blended with {src} {comp:,.0f} (weight {k:g})"
    return f"no own closed-won deal: {src} {comp:,.0f}"


def deals_per_year(frame: ScoreFrame) -> tuple[float, str]:
    p, cfg = frame.priors, frame.cfg
    if p.deals_per_year:
        return p.deals_per_year, (f"mean closed-won sourced deals in the last 365 days across {p.active_partners} "
                                  "active partners")
    return cfg.revenue.default_deals_per_year, "configured default (no active producer in the program)"


def revenue_at_stake_array(session: Session, frame: ScoreFrame, use_stored: bool = True) -> np.ndarray:
    curve = activation_curve(session, frame.feats.as_of, frame.cfg, use_stored)
    size, _, _ = deal_sizes(frame)
    dpy, _ = deals_per_year(frame)
    return curve(frame.total) * size * dpy


def revenue_impact(session: Session, partner_id: str, as_of: date,
                   config: ScoringConfig | None = None) -> RevenueImpact:
    from readiness.scoring.score import compute_frame

    cfg = config or load_config()
    frame = compute_frame(session, as_of, [partner_id], cfg)
    i = frame.position(partner_id)
    curve = activation_curve(session, as_of, cfg)
    prob = float(curve(frame.total[i : i + 1])[0])
    sizes, own, comp = deal_sizes(frame)
    basis = {i: deal_size_basis(frame, i, float(own[i]), float(comp[i]))}
    dpy, dpy_basis = deals_per_year(frame)
    upside = prob * float(sizes[i]) * dpy
    cost = cfg.revenue.activation_cost
    return RevenueImpact(
        partner_id=partner_id, name=frame.feats.names[i], as_of=as_of, score=round(float(frame.total[i]), 2),
        activation_probability=round(prob, 4), probability_basis=curve.basis,
        typical_deal_size=round(float(sizes[i]), 2), deal_size_basis=basis[i], deals_per_year=round(dpy, 3),
        deals_per_year_basis=dpy_basis, expected_upside=round(upside, 2),
        cost_of_inaction_per_quarter=round(upside / 4, 2), activation_cost=cost,
        activation_roi=round((upside - cost) / cost, 3),
        trace=[
            f"score {frame.total[i]:.1f} -> P(activation) {prob:.3f} ({curve.basis})",
            f"typical deal size {sizes[i]:,.0f}: {basis[i]}",
            f"deals per year {dpy:.2f}: {dpy_basis}",
            f"expected upside = {prob:.3f} x {sizes[i]:,.0f} x {dpy:.2f} = {upside:,.0f} a year",
            f"cost of inaction per quarter = upside / 4 = {upside / 4:,.0f}",
            f"activation ROI = ({upside:,.0f} - {cost:,.0f}) / {cost:,.0f}",
        ],
    )


def program_impact(session: Session, as_of: date, activation_share: float = 0.2,
                   partner_ids: list[str] | None = None, config: ScoringConfig | None = None) -> ProgramImpact:
    """Ready dormant partners (segment ready, not_yet outlook) in scope: the revenue they represent if active and
    the lift if `activation_share` of them activates."""
    from readiness.scoring.score import compute_frame

    cfg = config or load_config()
    frame = compute_frame(session, as_of, partner_ids, cfg)
    sizes, _, _ = deal_sizes(frame)
    dpy, dpy_basis = deals_per_year(frame)
    curve = activation_curve(session, as_of, cfg)
    prob = curve(frame.total)
    ready = (frame.segment == "ready") & np.array([o == "not_yet" for o in frame.outlook], dtype=bool)
    potential = sizes * dpy
    revenue = float(potential[ready].sum())
    order = np.argsort(-(prob * potential * ready))
    top = [frame.ids[j] for j in order[:5] if ready[j]]
    return ProgramImpact(
        as_of=as_of, partners_considered=frame.feats.n, ready_dormant_count=int(ready.sum()),
        ready_dormant_revenue=round(revenue, 2), expected_upside=round(float((prob * potential)[ready].sum()), 2),
        activation_share=activation_share, lift=round(activation_share * revenue, 2), top_partners=top,
        trace=[f"{int(ready.sum())} of {frame.feats.n} partners are ready (score >= "
               f"{cfg.segments.ready_min_score:g}), not producing and not structurally blocked",
               f"each represents typical deal size x {dpy:.2f} deals a year ({dpy_basis})",
               f"lift = {activation_share:.0%} x {revenue:,.0f}", f"activation probability: {curve.basis}"],
    )
