"""The four readiness dimensions: each named sub-signal's raw amount (vectorized over partners), its
saturated 0-1 value, and the evidence behind it for one partner (built only when a score is explained)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from readiness.scoring.config import ScoringConfig
from readiness.scoring.features import NEVER, Features, from_day
from readiness.scoring.priors import Priors

TOUCHPOINT_KINDS = (
    "event_attended", "content_downloaded", "content_shared", "deal_registered", "co_sell_request", "ae_meeting",
    "joint_call", "demo_delivered", "workshop_delivered", "case_study_published", "mdf_requested", "plan_updated",
    "training_completed", "certification_earned",
)
USE_KINDS = ("deal_registered", "co_sell_request", "demo_delivered", "workshop_delivered", "content_shared")


def saturate(x: np.ndarray, half: float, curve: str = "hyperbolic") -> np.ndarray:
    """0-1, half-saturated at `half`. Exponential (1 - 2^(-x/half)) reaches 0.9 at 3.3 x half, so the top of a
    program gets near 1; hyperbolic (x / (x + half)) needs 9 x half for 0.9, which capped dimensions near 70-80."""
    x = np.clip(np.nan_to_num(x, nan=0.0), 0.0, None)
    if curve == "exponential":
        return 1.0 - np.exp2(-x / half)
    return x / (x + half)


def _dsum(f: Features, kinds: tuple[str, ...], weights: tuple[float, ...] | None = None) -> np.ndarray:
    out = np.zeros(f.n)
    for k, w in zip(kinds, weights or (1.0,) * len(kinds), strict=True):
        out += w * f.kinds[k].decayed
    return out


def shared_accounts(f: Features) -> np.ndarray:
    """Customer accounts shared with the vendor's targets: the larger of the partner record (as of the date) and
    the largest count a detection reported."""
    return np.maximum(np.nan_to_num(f.overlap_accounts, nan=0.0), f.kinds["customer_overlap_detected"].max_value)


def overlap_amount(f: Features) -> np.ndarray:
    """The overlap sub-signal's amount: shared accounts, plus 5 per detection (up to 3): repeated detections
    confirm a customer base that keeps aligning."""
    return shared_accounts(f) + 5.0 * np.minimum(f.kinds["customer_overlap_detected"].count, 3)


def training_applied(f: Features) -> np.ndarray:
    """Trained or certified, then used it: a deal, co-sell, demo, workshop or shared content afterwards."""
    first = np.minimum(
        np.where(f.kinds["training_completed"].count > 0, f.kinds["training_completed"].first, np.inf),
        np.where(f.kinds["certification_earned"].count > 0, f.kinds["certification_earned"].first, np.inf),
    )
    last_use = np.max(np.vstack([f.kinds[k].last for k in USE_KINDS]), axis=0)
    return np.isfinite(first) & (last_use > first)


def recent_counts(f: Features) -> tuple[np.ndarray, np.ndarray]:
    n90 = sum(f.kinds[k].n90 for k in f.kinds)
    prev = sum(f.kinds[k].prev90 for k in f.kinds)
    return n90, prev


def _capacity(f: Features, p: Priors) -> np.ndarray:
    emp = np.nan_to_num(f.employees, nan=50.0)
    emp_ratio = np.log10(emp + 1) / np.log10(500)
    avg = np.divide(f.sourced.amount, f.sourced.count, out=np.zeros(f.n), where=f.sourced.count > 0)
    ref = p.deal_size_program or (float(avg[avg > 0].mean()) if (avg > 0).any() else 0.0)
    amt_ratio = avg / ref if ref else np.zeros(f.n)
    return np.where(f.sourced.count > 0, 0.5 * emp_ratio + 0.5 * amt_ratio, emp_ratio)


def _growth(f: Features) -> np.ndarray:
    n90, prev = recent_counts(f)
    return np.where(n90 + prev > 0, (n90 + 1) / (prev + 1), 0.0)


def _segment_fit(f: Features, p: Priors) -> np.ndarray:
    pairs = list(zip(f.types, f.regions, strict=True))
    fit = {k: float(np.sqrt(p.ratio(p.type_rate, k[0]) * p.ratio(p.region_rate, k[1] or ""))) for k in set(pairs)}
    return np.array([fit[k] for k in pairs], dtype=float)


def _spec_fit(f: Features, p: Priors) -> np.ndarray:
    keys = [tuple(specs) for specs in f.specializations]
    fit = {k: (sum(p.ratio(p.spec_rate, s) for s in k) / len(k)) if k else 1.0 for k in set(keys)}
    return np.array([fit[k] for k in keys], dtype=float)


RawFn = Callable[[Features, Priors], np.ndarray]

RAW: dict[tuple[str, str], RawFn] = {
    ("engagement", "communication"): lambda f, p: _dsum(f, TOUCHPOINT_KINDS),
    ("engagement", "portal_logins"): lambda f, p: f.kinds["portal_login"].decayed,
    ("engagement", "events"): lambda f, p: f.kinds["event_attended"].decayed,
    ("engagement", "content"): lambda f, p: _dsum(f, ("content_shared", "content_downloaded"), (2.0, 1.0)),
    ("engagement", "pipeline_activity"): lambda f, p: _dsum(f, ("deal_registered", "co_sell_request")),
    ("engagement", "ae_responsiveness"): lambda f, p: _dsum(f, ("ae_meeting", "joint_call")),
    ("revenue_potential", "customer_overlap"): lambda f, p: overlap_amount(f),
    ("revenue_potential", "deal_history"): lambda f, p: f.sourced.count + f.sourced.won,
    ("revenue_potential", "deal_size_capacity"): _capacity,
    ("revenue_potential", "growth_trend"): lambda f, p: _growth(f),
    ("market_alignment", "customer_overlap"): lambda f, p: overlap_amount(f),
    ("market_alignment", "segment_fit"): _segment_fit,
    ("market_alignment", "specialization_fit"): _spec_fit,
    ("capability", "technical_competence"): lambda f, p: f.kinds["certification_earned"].count,
    ("capability", "sales_resources"): lambda f, p: np.nan_to_num(f.employees, nan=0.0),
    ("capability", "market_credibility"): lambda f, p: (
        3 * f.kinds["case_study_published"].count + f.kinds["demo_delivered"].count
        + 2 * f.kinds["workshop_delivered"].count),
    # A certification is completed training too: exports often log only the certificate.
    ("capability", "training"): lambda f, p: (
        _dsum(f, ("training_completed", "certification_earned")) * np.where(training_applied(f), 1.0, 0.5)),
}


@dataclass
class DimensionArrays:
    """Per dimension: sub-signal values (0-1) and the dimension score (0-100) for every partner."""

    values: dict[str, dict[str, np.ndarray]]
    raw: dict[str, dict[str, np.ndarray]]
    scores: dict[str, np.ndarray]


def compute_dimensions(f: Features, p: Priors, cfg: ScoringConfig) -> DimensionArrays:
    values: dict[str, dict[str, np.ndarray]] = {}
    raws: dict[str, dict[str, np.ndarray]] = {}
    scores: dict[str, np.ndarray] = {}
    for dim, dcfg in cfg.dimensions.items():
        total_w = sum(s.weight for s in dcfg.subsignals.values())
        values[dim], raws[dim] = {}, {}
        score = np.zeros(f.n)
        for key, scfg in dcfg.subsignals.items():
            fn = RAW.get((dim, key))
            if fn is None:
                raise KeyError(f"unknown sub-signal {dim}.{key} in the scoring config")
            raw = fn(f, p)
            v = saturate(raw, scfg.half, cfg.saturation)
            raws[dim][key], values[dim][key] = raw, v
            score += 100.0 * scfg.weight / total_w * v
        scores[dim] = score
    # A competitive conflict caps market alignment: a partner selling a rival suite is not aligned, however
    # large its overlap.
    conflict = np.array([c is not None for c in f.conflict])
    scores["market_alignment"] = np.where(conflict, np.minimum(scores["market_alignment"], cfg.conflict_cap),
                                          scores["market_alignment"])
    return DimensionArrays(values, raws, scores)


# ---- evidence: plain sentences naming events, counts and dates -------------------------------------------------


def _d(day: float) -> str:
    return from_day(int(day)).isoformat() if day > NEVER else "never"


def dating(f: Features, i: int, attribute: str) -> str:
    """How old an attribute value is: the date it took effect (dated history), or that only a current value
    exists (then a score of the past uses today's value)."""
    dated = f.dated.get(attribute)
    if dated is None or not dated[i]:
        return "current value only"
    since = f.since[attribute][i]
    return f"as of {_d(since)}" if since > NEVER else f"unknown on {f.as_of.isoformat()}"


def overlap_evidence(f: Features, i: int) -> str:
    """The overlap the score uses: the larger of the partner record and the latest detection's count."""
    acc, det = f.overlap_accounts[i], f.kinds["customer_overlap_detected"].max_value[i]
    record = "unknown" if np.isnan(acc) else f"{int(acc)}"
    when = dating(f, i, "customer_overlap_accounts")
    if det > (0 if np.isnan(acc) else acc):
        return f"{int(det)} shared target accounts detected (partner record: {record}, {when})"
    return f"{record} customer accounts overlap the vendor's targets ({when})"


def employees_evidence(f: Features, i: int) -> str:
    emp = f.employees[i]
    return f"{'unknown' if np.isnan(emp) else int(emp)} employees ({dating(f, i, 'employee_count')})"


def kind_evidence(f: Features, i: int, kind: str) -> str | None:
    ks = f.kinds[kind]
    if ks.count[i] <= 0:
        return None
    return f"{int(ks.count[i])} {kind}, last {_d(ks.last[i])} ({int(ks.n90[i])} in the last 90 days)"


def _kinds(f: Features, i: int, kinds: tuple[str, ...], none: str) -> list[str]:
    out = [e for k in kinds if (e := kind_evidence(f, i, k))]
    return out or [none]


def _opps(f: Features, i: int) -> list[str]:
    s = f.sourced
    if s.count[i] <= 0:
        out = ["no sourced opportunity on record"]
    else:
        out = [f"{int(s.count[i])} sourced opportunities ({int(s.won[i])} closed-won, "
               f"{s.won_amount[i]:,.0f} won), last created {_d(s.last[i])}"]
    if f.influenced.count[i] > 0:
        out.append(f"{int(f.influenced.count[i])} influenced opportunities (not counted as sourced)")
    return out


def evidence(f: Features, p: Priors, i: int, dim: str, key: str) -> list[str]:
    if key == "communication":
        n90 = int(sum(f.kinds[k].n90[i] for k in TOUCHPOINT_KINDS))
        total = int(sum(f.kinds[k].count[i] for k in TOUCHPOINT_KINDS))
        return [f"{total} touchpoints on record, {n90} in the last 90 days"]
    if key == "portal_logins":
        return _kinds(f, i, ("portal_login",), "no portal login on record")
    if key == "events":
        return _kinds(f, i, ("event_attended",), "no event attended")
    if key == "content":
        return _kinds(f, i, ("content_shared", "content_downloaded"), "no content downloaded or shared")
    if key == "pipeline_activity":
        return _kinds(f, i, ("deal_registered", "co_sell_request"), "no deal registration or co-sell request")
    if key == "ae_responsiveness":
        return _kinds(f, i, ("ae_meeting", "joint_call"), "no AE meeting or joint call")
    if key == "customer_overlap":
        out = [overlap_evidence(f, i)]
        if e := kind_evidence(f, i, "customer_overlap_detected"):
            out.append(e)
        return out
    if key == "deal_history":
        return _opps(f, i)
    if key == "deal_size_capacity":
        out = [employees_evidence(f, i)]
        if f.sourced.count[i] > 0:
            out.append(f"average sourced deal {f.sourced.amount[i] / f.sourced.count[i]:,.0f}"
                       + (f" vs program {p.deal_size_program:,.0f}" if p.deal_size_program else ""))
        return out
    if key == "growth_trend":
        n90, prev = recent_counts(f)
        return [f"{int(n90[i])} events in the last 90 days vs {int(prev[i])} in the 90 days before"]
    if key == "segment_fit":
        return [f"{f.types[i]} partners produce sourced pipeline at {p.ratio(p.type_rate, f.types[i]):.2f}x "
                f"the program rate, region {f.regions[i] or 'unknown'} at "
                f"{p.ratio(p.region_rate, f.regions[i] or ''):.2f}x"]
    if key == "specialization_fit":
        specs = f.specializations[i]
        if not specs:
            return ["no specialization on record (neutral)"]
        return ["; ".join(f"{s} {p.ratio(p.spec_rate, s):.2f}x the program rate" for s in specs)]
    if key == "technical_competence":
        return _kinds(f, i, ("certification_earned",), "no certification")
    if key == "sales_resources":
        return [employees_evidence(f, i)]
    if key == "market_credibility":
        return _kinds(f, i, ("case_study_published", "demo_delivered", "workshop_delivered"),
                      "no case study, demo or workshop delivered")
    if key == "training":
        out = _kinds(f, i, ("training_completed", "certification_earned"), "no training or certification completed")
        if f.kinds["training_completed"].count[i] + f.kinds["certification_earned"].count[i] > 0:
            out.append("applied: used afterwards (deal, co-sell, demo, workshop or shared content)"
                       if training_applied(f)[i] else "not applied yet: no deal, demo or shared content since")
        return out
    return []
