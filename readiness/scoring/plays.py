"""Call plays: why a partner that is not producing is worth a call, and which conversation to open with.

Dormant plays (the call list): reactivate past deals gone quiet, convert enablement into a first deal, turn event
interest into a registration, open the overlapping accounts. A partner that co-sells on the vendor's deals but
has never sourced one (influenced only, within `plays.co_sell_window_days`) is working deals with the vendor: it is
not dormant, and its play, grow co-sell into sourcing, belongs in a separate list.

Each applicable play has an evidence strength, 0-1 = weight x magnitude x recency (see `PlayConfig`); the primary
play is the strongest, the others follow it. Recent engagement (AE meetings, joint calls, co-sell requests, demos,
workshops, influenced deals in the last 90 days) is shown and lowers the call's urgency: someone is already
talking to that partner.

Call-list priority = revenue at stake x (1/2 + 1/2 x primary strength) x urgency, where urgency = 1 - damping x
(1 - 2^(-touches / engagement_half)). Revenue at stake ranks; evidence that is strong and fresh, and a partner
nobody is talking to, move a call up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from readiness.scoring.config import PlayConfig, ScoringConfig
from readiness.scoring.dimensions import kind_evidence, overlap_evidence, shared_accounts
from readiness.scoring.features import NEVER, Features, from_day
from readiness.scoring.schemas import PlayEvidence

DORMANT_PLAYS = ("reactivate", "first_deal", "event_to_registration", "open_overlap")
GROW_PLAY = "grow_to_sourcing"
PLAYS = (*DORMANT_PLAYS, GROW_PLAY)


@dataclass
class PlayArrays:
    """Per play: strength (0 where it does not apply); per partner: primary play ("" for none), recent
    engagement touches and the urgency factor they give."""

    strength: dict[str, np.ndarray]
    applies: dict[str, np.ndarray]
    primary: np.ndarray
    touches: np.ndarray
    urgency: np.ndarray

    def priority(self, stake: np.ndarray, rows: list[int] | None = None) -> np.ndarray:
        """Call-list priority of every partner (or of `rows`, given their revenue at stake); 0 without a play."""
        pick = slice(None) if rows is None else rows
        best = np.max(np.vstack([s[pick] for s in self.strength.values()]), axis=0)
        return (np.asarray(stake, dtype=float) * (0.5 + 0.5 * best) * self.urgency[pick]
                * (self.primary[pick] != ""))


def _magnitude(amount: np.ndarray, half: float) -> np.ndarray:
    return 1.0 - np.exp2(-np.clip(np.nan_to_num(amount, nan=0.0), 0.0, None) / half)


def _recency(f: Features, day: np.ndarray, cfg: PlayConfig, undated: float) -> np.ndarray:
    age = np.clip(f.as_of_day - day, 0, None)
    return np.where(day > NEVER, np.exp2(-age / cfg.recency_half_life_days), undated)


def _last(*days: np.ndarray) -> np.ndarray:
    return np.max(np.vstack(days), axis=0)


def _evidence_days(f: Features) -> dict[str, np.ndarray]:
    k = f.kinds
    overlap_since = f.since.get("customer_overlap_accounts", np.full(f.n, float(NEVER)))
    return {
        "reactivate": _last(f.sourced.last, k["deal_registered"].last),
        "first_deal": _last(k["training_completed"].last, k["certification_earned"].last),
        "event_to_registration": k["event_attended"].last,
        "open_overlap": _last(k["customer_overlap_detected"].last, overlap_since),
        GROW_PLAY: f.influenced.last,
    }


def _amounts(f: Features) -> dict[str, np.ndarray]:
    k, s = f.kinds, f.sourced
    return {
        "reactivate": s.won + 0.5 * np.maximum(np.maximum(s.count, k["deal_registered"].count) - s.won, 0),
        "first_deal": k["certification_earned"].count + 0.5 * k["training_completed"].count,
        "event_to_registration": k["event_attended"].count,
        "open_overlap": shared_accounts(f),
        GROW_PLAY: f.influenced.count,
    }


def co_seller(f: Features) -> np.ndarray:
    """Co-sells on vendor deals but has never sourced: influenced opportunities in the co-sell window."""
    return (f.sourced.count == 0) & (f.kinds["deal_registered"].count == 0) & (f.influenced.co_sell > 0)


def engagement_touches(f: Features, cfg: ScoringConfig) -> np.ndarray:
    kinds = [k for k in cfg.plays.engagement_kinds if k in f.kinds]
    return sum((f.kinds[k].n90 for k in kinds), np.zeros(f.n)) + f.influenced.n90


def play_arrays(f: Features, flags: dict[str, np.ndarray], callable_: np.ndarray,
                cfg: ScoringConfig) -> PlayArrays:
    """`flags`: the dormant flags; `callable_`: not active, in the program, not structurally blocked."""
    pc = cfg.plays
    grow = callable_ & co_seller(f)
    dormant = callable_ & ~grow
    applies = {
        "reactivate": dormant & flags["deals_gone_quiet"],
        "first_deal": dormant & flags["trained_never_sold"],
        "event_to_registration": dormant & flags["events_no_deals"],
        "open_overlap": dormant & flags["overlap_inactive"],
        GROW_PLAY: grow,
    }
    configs = {**pc.dormant(), GROW_PLAY: pc.grow_to_sourcing}
    days, amounts = _evidence_days(f), _amounts(f)
    strength = {
        play: np.where(applies[play], c.weight * _magnitude(amounts[play], c.half)
                       * _recency(f, days[play], c, pc.undated_recency), 0.0)
        for play, c in configs.items()
    }
    stacked = np.vstack([strength[p] for p in PLAYS])
    any_play = np.vstack([applies[p] for p in PLAYS]).any(axis=0)
    # Ties (e.g. strengths of 0 from undated evidence with recency 0) go to the play listed first.
    primary = np.where(any_play, np.array(PLAYS)[np.argmax(stacked + 1e-9 * np.vstack(
        [applies[p] for p in PLAYS]), axis=0)], "")
    touches = engagement_touches(f, cfg)
    urgency = 1.0 - pc.engagement_damping * _magnitude(touches, pc.engagement_half)
    return PlayArrays(strength, applies, primary, touches, urgency)


# ---- evidence, for one partner -------------------------------------------------------------------------------


def _d(day: float) -> str:
    return from_day(int(day)).isoformat()


def _ago(f: Features, day: float) -> str:
    return f"{_d(day)} ({int(f.as_of_day - day)} days ago)"


def play_evidence(f: Features, i: int, play: str) -> list[str]:
    k, s = f.kinds, f.sourced
    if play == "reactivate":
        last = max(s.last[i], k["deal_registered"].last[i])
        return [f"{int(max(s.count[i], k['deal_registered'].count[i]))} sourced deals ({int(s.won[i])} closed-won, "
                f"{s.won_amount[i]:,.0f} won), the last registered {_ago(f, last)}"]
    if play == "first_deal":
        out = [e for kind in ("certification_earned", "training_completed") if (e := kind_evidence(f, i, kind))]
        return [*out, "no deal registered or sourced since"]
    if play == "event_to_registration":
        ev = kind_evidence(f, i, "event_attended")
        return [*([ev] if ev else []), "no deal registered"]
    if play == "open_overlap":
        out = [overlap_evidence(f, i)]
        det = k["customer_overlap_detected"]
        if det.count[i] > 0:
            out.append(f"latest overlap detection {_ago(f, det.last[i])}")
        return out
    if play == GROW_PLAY:
        inf = f.influenced
        return [f"{int(inf.count[i])} influenced opportunities (co-sold), the last created {_ago(f, inf.last[i])}; "
                f"{inf.open_amount[i]:,.0f} influenced pipeline open; 0 sourced"]
    return []


def recent_engagement(f: Features, i: int, cfg: ScoringConfig) -> list[str]:
    """Touches in the last 90 days that show someone is already working with the partner."""
    out = []
    for kind in cfg.plays.engagement_kinds:
        ks = f.kinds.get(kind)
        if ks is not None and ks.n90[i] > 0:
            out.append(f"{int(ks.n90[i])} {kind} in the last 90 days (last {_d(ks.last[i])})")
    if f.influenced.n90[i] > 0:
        out.append(f"{int(f.influenced.n90[i])} influenced opportunities created in the last 90 days")
    return out


def plays_for(f: Features, arrays: PlayArrays, i: int, cfg: ScoringConfig) -> list[PlayEvidence]:
    """The applicable plays of one partner, primary first, then by strength."""
    configs = {**cfg.plays.dormant(), GROW_PLAY: cfg.plays.grow_to_sourcing}
    primary = str(arrays.primary[i])
    if not primary:
        return []
    applicable = [p for p in PLAYS if arrays.applies[p][i]]
    applicable.sort(key=lambda p: (p != primary, -float(arrays.strength[p][i])))
    return [PlayEvidence(code=p, label=configs[p].label, strength=round(float(arrays.strength[p][i]), 3),
                         evidence=play_evidence(f, i, p)) for p in applicable]


__all__ = ["DORMANT_PLAYS", "GROW_PLAY", "PLAYS", "PlayArrays", "co_seller", "play_arrays", "play_evidence",
           "plays_for", "recent_engagement"]
