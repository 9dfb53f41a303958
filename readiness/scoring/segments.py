"""Tiers, segments (active / ready / developing / inactive) and the not-yet / not-ever outlook, vectorized."""

from __future__ import annotations

import numpy as np

from readiness.scoring.config import ScoringConfig, TierConfig
from readiness.scoring.dimensions import overlap_amount, recent_counts
from readiness.scoring.features import NEVER, Features, from_day


def tiers(total: np.ndarray, cfg: ScoringConfig) -> np.ndarray:
    return tier_labels(total, cfg.tiers)


def tier_labels(total: np.ndarray, t: TierConfig) -> np.ndarray:
    return np.where(total >= t.tier1, "Tier 1", np.where(total >= t.tier2, "Tier 2",
                    np.where(total >= t.tier3, "Tier 3", "Tier 4")))


# Events the vendor's systems record about a partner, not something the partner did: they do not end a silence.
SYSTEM_KINDS = frozenset({"customer_overlap_detected"})


def last_behaviour_day(f: Features) -> np.ndarray:
    """The last day the partner itself did something: an activity event of its own or a sourced opportunity."""
    own = [ks.last for kind, ks in f.kinds.items() if kind not in SYSTEM_KINDS]
    return np.max(np.vstack([*own, f.sourced.last]), axis=0)


def is_active(f: Features, cfg: ScoringConfig) -> np.ndarray:
    """Producing sourced pipeline recently: a sourced opportunity or a deal registration in the active window."""
    cutoff = f.as_of_day - cfg.segments.active_window_days
    return (f.sourced.recent > 0) | (f.kinds["deal_registered"].last > cutoff)


def segments(f: Features, total: np.ndarray, cfg: ScoringConfig) -> np.ndarray:
    s = cfg.segments
    active = is_active(f, cfg)
    # Below ready, what separates developing from inactive is behaviour, not the score: market fit and overlap
    # alone lift a silent partner's score, and a partner silent for months is not developing.
    recent = last_behaviour_day(f) > f.as_of_day - s.inactive_days
    return np.where(active, "active", np.where(total >= s.ready_min_score, "ready",
                    np.where(recent, "developing", "inactive")))


OUTLOOK_OF = {"conflict": "not_ever", "no_overlap": "not_ever", "silent": "not_ever", "new": "not_yet",
              "momentum": "not_yet", "gap": "not_yet"}
NOT_YET_CODES = tuple(code for code, outlook in OUTLOOK_OF.items() if outlook == "not_yet")


def outlook_codes(f: Features, seg: np.ndarray, capability: np.ndarray, cfg: ScoringConfig) -> np.ndarray:
    """Per partner the reason code ("" for active): structural reasons (not_ever) first, then why not yet."""
    o = cfg.outlook
    silence = f.as_of_day - last_behaviour_day(f)
    no_overlap = (overlap_amount(f) <= 0) & ~np.isnan(f.overlap_accounts) & (f.sourced.count == 0)
    enabled = f.kinds["certification_earned"].count + f.kinds["training_completed"].count
    n90, prev = recent_counts(f)
    conflict = np.array([c is not None for c in f.conflict], dtype=bool)
    silent = (silence >= o.long_silence_days) & (capability < o.min_capability_for_silence) & (enabled == 0)
    new = (f.joined > NEVER) & (f.as_of_day - f.joined <= o.new_partner_days)
    momentum = (n90 > prev) & (n90 >= 3)
    code = np.select([seg == "active", conflict, no_overlap, silent, new, momentum],
                     ["", "conflict", "no_overlap", "silent", "new", "momentum"], default="gap")
    return code


def outlook_of(code: str) -> str | None:
    return OUTLOOK_OF.get(code)


def outlook_reason(f: Features, i: int, code: str, weakest: str) -> str | None:
    if code == "conflict":
        dated = f.dated.get("competitive_conflict")
        since = f.since["competitive_conflict"][i] if dated is not None and dated[i] else NEVER
        return f"competitive conflict: {f.conflict[i]}" + (f" (since {from_day(int(since)).isoformat()})"
                                                            if since > NEVER else "")
    if code == "no_overlap":
        return "no market overlap: 0 customer accounts shared with the vendor's targets, no sourced deal"
    if code == "silent":
        last = last_behaviour_day(f)[i]
        since = f"since {from_day(int(last)).isoformat()}" if last > NEVER else "ever"
        return f"long silence with no capability: no activity {since}, no certification or training"
    if code == "new":
        return f"early: joined {from_day(int(f.joined[i])).isoformat()} ({int(f.as_of_day - f.joined[i])} days ago)"
    if code == "momentum":
        n90, prev = recent_counts(f)
        return f"improving momentum: {int(n90[i])} events in the last 90 days vs {int(prev[i])} before"
    if code == "gap":
        return f"blocked by a fixable gap: weakest is {weakest}"
    return None
