"""Dormant flags: why a partner that could sell is not selling, each with evidence and configurable windows.

Flags are raised only for partners that are not active producers (an active producer is not dormant).
"""

from __future__ import annotations

import numpy as np

from readiness.scoring.config import ScoringConfig
from readiness.scoring.dimensions import kind_evidence, overlap_evidence, shared_accounts
from readiness.scoring.features import NEVER, Features, from_day
from readiness.scoring.schemas import DormantFlag

LABELS = {
    "deals_gone_quiet": "Past deal registrations gone quiet",
    "trained_never_sold": "Trained or certified but never sold",
    "events_no_deals": "Attends events but never registers deals",
    "overlap_inactive": "Customer base aligned (overlap) but no recent deal",
    "influenced_only": "Co-sells on vendor deals but never sources",
}
CALLABLE_FLAGS = tuple(LABELS)  # no-login flags alone do not make a partner worth a call


def flag_arrays(f: Features, active: np.ndarray, cfg: ScoringConfig) -> dict[str, np.ndarray]:
    d = cfg.dormant
    k = f.kinds
    dormant = ~active & (f.joined <= f.as_of_day)
    never_sold = (f.sourced.count == 0) & (k["deal_registered"].count == 0)
    last_deal = np.maximum(f.sourced.last, k["deal_registered"].last)
    enabled_first = np.minimum(np.where(k["training_completed"].count > 0, k["training_completed"].first, np.inf),
                               np.where(k["certification_earned"].count > 0, k["certification_earned"].first, np.inf))
    flags = {
        "deals_gone_quiet": dormant & (last_deal > NEVER) & (f.as_of_day - last_deal > d.quiet_days),
        "trained_never_sold": dormant & never_sold & (enabled_first <= f.as_of_day - d.never_sold_min_days),
        "events_no_deals": dormant & never_sold & (k["event_attended"].count >= d.events_min),
        "overlap_inactive": dormant & (shared_accounts(f) >= d.overlap_min_accounts),
        "influenced_only": dormant & (f.sourced.count == 0) & (f.influenced.count > 0),
    }
    last_login = k["portal_login"].last
    since = np.where(last_login > NEVER, f.as_of_day - last_login, f.as_of_day - f.joined)
    windows = sorted(d.no_login_windows, reverse=True)
    taken = np.zeros(f.n, dtype=bool)
    for w in windows:  # only the longest window that applies
        hit = dormant & ~taken & (since >= w)
        flags[f"no_login_{w}"] = hit
        taken |= hit
    return flags


def flags_for(f: Features, i: int, arrays: dict[str, np.ndarray]) -> list[DormantFlag]:
    out = []
    for code, arr in arrays.items():
        if arr[i]:
            out.append(DormantFlag(code=code, label=_label(code), evidence=_evidence(f, i, code)))
    return out


def _label(code: str) -> str:
    if code.startswith("no_login_"):
        return f"No portal login for {code.rsplit('_', 1)[1]}+ days"
    return LABELS[code]


def _evidence(f: Features, i: int, code: str) -> list[str]:
    k = f.kinds
    ev = [e for kind in _kinds_of(code) if (e := kind_evidence(f, i, kind))]
    if code == "deals_gone_quiet":
        last = max(f.sourced.last[i], k["deal_registered"].last[i])
        ev.insert(0, f"{int(f.sourced.count[i])} sourced opportunities ({int(f.sourced.won[i])} closed-won), "
                     f"last {from_day(int(last)).isoformat()} ({int(f.as_of_day - last)} days ago)")
    elif code in ("trained_never_sold", "events_no_deals"):
        ev.append("0 sourced opportunities, 0 deal_registered")
    elif code == "overlap_inactive":
        ev.insert(0, overlap_evidence(f, i))
    elif code == "influenced_only":
        ev.insert(0, f"{int(f.influenced.count[i])} influenced opportunities, 0 sourced")
    elif code.startswith("no_login_"):
        last = k["portal_login"].last[i]
        ev = [f"last portal_login {from_day(int(last)).isoformat()} ({int(f.as_of_day - last)} days ago)"
              if last > NEVER else "no portal_login on record"]
    return ev


def _kinds_of(code: str) -> tuple[str, ...]:
    return {
        "deals_gone_quiet": (),
        "trained_never_sold": ("certification_earned", "training_completed"),
        "events_no_deals": ("event_attended",),
        "overlap_inactive": ("customer_overlap_detected",),
        "influenced_only": ("joint_call", "co_sell_request"),
    }.get(code, ())
