"""What to say and do on a call, per play: the opening line (from the evidence a channel expert names first), the
GTM gap to open with and a concrete first step. Every number in them comes from the partner's own data."""

from __future__ import annotations

import numpy as np

from readiness.scoring.dimensions import shared_accounts
from readiness.scoring.features import NEVER, Features, from_day
from readiness.scoring.schemas import Gap

NEXT_STEPS: dict[str, str] = {
    "co_sell": "Book a 30-minute account-mapping session with the AE on the {overlap} shared target accounts and "
               "agree one joint opportunity the partner will register.",
    "ae_engagement": "Call to re-open the relationship: review the {won} closed-won deals, introduce the current AE "
                     "and agree the next deal to register together.",
    "icp": "Run an ICP workshop: pick one industry, size band and buyer from their customer base and build a "
           "target list of 20 accounts.",
    "use_case": "Turn their enablement into one repeatable use case with a measurable outcome and a first target "
                "account; book a demo rehearsal.",
    "sales_motion": "Agree how they find deals and when the AE joins; register the first opportunity from the "
                    "events they attended within 30 days.",
    "grow": "Review the {influenced} co-sold deals with the AE and agree one account from their own customer base "
            "that the partner will source and register itself this quarter.",
}


def _d(day: float) -> str:
    return from_day(int(day)).isoformat()


def gap_for(play: str, gtm: dict[str, float]) -> Gap:
    """The GTM gap a play opens with (enablement already happened for first_deal: use case or ICP is next)."""
    if play == "reactivate":
        return "ae_engagement"
    if play == "first_deal":
        return "use_case" if gtm.get("use_case", 0.0) <= gtm.get("icp", 0.0) else "icp"
    if play == "event_to_registration":
        return "sales_motion"
    return "co_sell"


def next_step(f: Features, i: int, play: str, gap: Gap) -> str:
    key = "grow" if play == "grow_to_sourcing" else gap
    return NEXT_STEPS[key].format(overlap=int(shared_accounts(f)[i]), won=int(f.sourced.won[i]) or "past",
                                  influenced=int(f.influenced.count[i]))


def opener(f: Features, i: int, play: str) -> str:
    k, s = f.kinds, f.sourced
    if play == "reactivate":
        last = max(s.last[i], k["deal_registered"].last[i])
        won = int(s.won[i])
        did = (f"closed {won} deal{'s' if won != 1 else ''} with us" if won else
               f"registered {int(max(s.count[i], k['deal_registered'].count[i]))} deals with us")
        return (f"You {did}, the last registered on {_d(last)}. What would it take to register the next one "
                "this quarter?")
    if play == "first_deal":
        certs, trainings = k["certification_earned"], k["training_completed"]
        if certs.count[i] > 0:
            what, when = f"{int(certs.count[i])} certification{'s' if certs.count[i] > 1 else ''}", certs.last[i]
        else:
            what, when = f"{int(trainings.count[i])} training course{'s' if trainings.count[i] > 1 else ''}", \
                trainings.last[i]
        return (f"Your team completed {what}, the latest on {_d(when)}. Which customer could be the first deal to "
                "put it to work?")
    if play == "event_to_registration":
        ev = k["event_attended"]
        return (f"You've joined {int(ev.count[i])} of our events, most recently on {_d(ev.last[i])}. Which of those "
                "conversations could become a registered deal?")
    if play == "open_overlap":
        det = k["customer_overlap_detected"]
        when = f" (detected {_d(det.last[i])})" if det.count[i] > 0 and det.last[i] > NEVER else ""
        return (f"{int(shared_accounts(f)[i])} of your customers are on our target-account list{when}. Shall we map "
                "them with our AE and pick the first one to open?")
    inf = f.influenced
    return (f"You've co-sold {int(inf.count[i])} deals with us, the last created on {_d(inf.last[i])}. Which of your "
            "own customers could you bring to us as a deal you source?")


def gtm_scores(gtm: dict[str, np.ndarray], i: int) -> dict[str, float]:
    return {key: float(arr[i]) for key, arr in gtm.items()}


__all__ = ["NEXT_STEPS", "gap_for", "gtm_scores", "next_step", "opener"]
