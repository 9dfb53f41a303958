"""How well the call lists find the partners a synthetic program knows the truth about (`latent.csv`).

The seed draws every partner from an archetype. Dormant with potential: `ready_dormant`, `producer` and `emerging`
partners that are not producing on the date (their deals went quiet, or they are trained and aligned but have
not sold yet). Co-sell only: `influenced_only`. Not ever: `misaligned`. The dormant call list should hold the
first kind, the grow list the second, and no list the third.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from readiness.models import Pam
from readiness.seed.program import SyntheticProgram

DORMANT_WITH_POTENTIAL = frozenset({"ready_dormant", "producer", "emerging"})
CO_SELL_ONLY = frozenset({"influenced_only"})
NOT_EVER = frozenset({"misaligned"})


class BookQuality(BaseModel):
    pam_id: str
    dormant_listed: int
    precision_at_k: float | None  # share of the top k with a dormant-with-potential archetype
    top_k_archetypes: list[str]
    precision_by_play: dict[str, float]  # per play, the same share among its own top k in this book


class ListQuality(BaseModel):
    as_of: date
    k: int
    shown: int
    books: list[BookQuality]
    mean_precision_at_k: float
    min_precision_at_k: float
    precision_by_play: dict[str, float]  # mean over books that have the play
    co_sell_only_in_dormant_shown: int  # in the top `shown` of each book's dormant list
    co_sell_only_in_dormant_all: int  # anywhere in the dormant lists
    co_sell_only_on_grow_list: float  # share of the grow lists' partners that are co-sell only
    not_ever_in_any_list: int
    dormant_archetypes: dict[str, int]


def archetypes_of(program: SyntheticProgram) -> dict[str, str]:
    return {p.partner_id: p.archetype for p in program.plans}


def read_latent(folder: Path) -> dict[str, str]:
    """partner_id -> archetype from a seeded folder's latent.csv."""
    with (folder / "latent.csv").open(encoding="utf-8") as f:
        return {r["partner_id"]: r["archetype"] for r in csv.DictReader(f)}


def _share(ids: list[str], truth: dict[str, str], kinds: frozenset[str]) -> float | None:
    return round(sum(truth.get(p) in kinds for p in ids) / len(ids), 4) if ids else None


def list_quality(session: Session, as_of: date, truth: dict[str, str], k: int = 5, shown: int = 10) -> ListQuality:
    """Per PAM book: precision@k of the dormant call list (and of each play's own list) against the archetypes,
    co-sell-only partners on the dormant list, not-ever partners on any list."""
    from readiness.scoring import call_list, growth_list
    from readiness.scoring.plays import DORMANT_PLAYS

    books: list[BookQuality] = []
    co_shown = co_all = not_ever = 0
    grow_ids: list[str] = []
    archetypes: Counter[str] = Counter()
    for pam in session.scalars(select(Pam.pam_id).order_by(Pam.pam_id)):
        dormant = call_list(session, as_of, pam, limit=100_000)
        grow = growth_list(session, as_of, pam, limit=100_000)
        ids = [e.partner_id for e in dormant]
        grow_ids += [g.partner_id for g in grow]
        archetypes.update(truth.get(p, "?") for p in ids)
        co_shown += sum(truth.get(p) in CO_SELL_ONLY for p in ids[:shown])
        co_all += sum(truth.get(p) in CO_SELL_ONLY for p in ids)
        not_ever += sum(truth.get(p) in NOT_EVER for p in ids + [g.partner_id for g in grow])
        by_play = {}
        for play in DORMANT_PLAYS:
            share = _share([e.partner_id for e in dormant if e.play == play][:k], truth, DORMANT_WITH_POTENTIAL)
            if share is not None:
                by_play[play] = share
        books.append(BookQuality(pam_id=pam, dormant_listed=len(ids),
                                 precision_at_k=_share(ids[:k], truth, DORMANT_WITH_POTENTIAL),
                                 top_k_archetypes=[truth.get(p, "?") for p in ids[:k]], precision_by_play=by_play))
    precisions = [b.precision_at_k for b in books if b.precision_at_k is not None]
    plays = {play: [b.precision_by_play[play] for b in books if play in b.precision_by_play] for play in DORMANT_PLAYS}
    return ListQuality(
        as_of=as_of, k=k, shown=shown, books=books,
        mean_precision_at_k=round(sum(precisions) / len(precisions), 4) if precisions else 0.0,
        min_precision_at_k=min(precisions) if precisions else 0.0,
        precision_by_play={p: round(sum(v) / len(v), 4) for p, v in plays.items() if v},
        co_sell_only_in_dormant_shown=co_shown, co_sell_only_in_dormant_all=co_all,
        co_sell_only_on_grow_list=_share(grow_ids, truth, CO_SELL_ONLY) or 0.0,
        not_ever_in_any_list=not_ever, dormant_archetypes=dict(archetypes.most_common()),
    )


__all__ = ["CO_SELL_ONLY", "DORMANT_WITH_POTENTIAL", "NOT_EVER", "BookQuality", "ListQuality", "archetypes_of",
           "list_quality", "read_latent"]
