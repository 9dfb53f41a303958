"""Choosing the ranking weights by cross-validation on the tuning queries, and the baselines beside the hybrid.

The tuning set (evals/retrieval/queries.yaml) is the only data that chooses: k folds; for each, the configuration
that scores best on the other folds is measured on it, so the cross-validated figure is one the choice never saw.
The held-out set (evals/retrieval/heldout.yaml) is only ever measured, with the configuration chosen on the whole
tuning set. Every query counts twice: asked by a partner whose customers are unknown, and by one with none yet (the
`customerless_weight` only acts there; the labels stay: an ask that needs an installed base must still find it).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from knowledge.evaluate import LabelledQuery
from knowledge.retriever import KnowledgeBase, RetrievalConfig

# What is tuned, and over which values (RetrievalConfig's fields; the rest keep their defaults).
GRID: dict[str, list[Any]] = {
    "fusion": ["weighted", "rrf"],
    "dense_weight": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
    "title_boost": [0, 1, 2, 3],
    "fix_typos": [True, False],
    "expand_glossary": [True, False],
    "customerless_weight": [1.0, 0.85, 0.7, 0.55, 0.4],
}
CONDITIONS: tuple[bool | None, ...] = (None, False)  # has_customers: unknown, none yet


@dataclass(frozen=True)
class QueryScore:
    recall_at_5: float
    reciprocal_rank: float

    @property
    def value(self) -> float:
        """What is maximised: recall@5 and MRR, the two gated figures, weighted equally."""
        return (self.recall_at_5 + self.reciprocal_rank) / 2


def _score(got: list[str], expected: set[str]) -> QueryScore:
    rr = next((1.0 / (rank + 1) for rank, pid in enumerate(got) if pid in expected), 0.0)
    return QueryScore(len(expected & set(got[:5])) / len(expected), rr)


def configurations(grid: dict[str, list[Any]] | None = None) -> list[RetrievalConfig]:
    grid = grid or GRID
    keys = list(grid)
    return [RetrievalConfig(**dict(zip(keys, values, strict=True))) for values in itertools.product(*grid.values())]


Case = tuple[int, bool | None]  # (query index, has_customers)


def cases_of(queries: Sequence[LabelledQuery]) -> list[Case]:
    """A query labelled for a partner without customers is asked once, by one; any other is asked twice."""
    return [(i, c) for i, q in enumerate(queries) for c in (CONDITIONS if q.has_customers is None
                                                              else (q.has_customers,))]


def score_table(base: KnowledgeBase, queries: Sequence[LabelledQuery], configs: Iterable[RetrievalConfig]
                ) -> dict[RetrievalConfig, list[QueryScore]]:
    """Per configuration, the score of every case (`cases_of`, in order).

    The same search as `KnowledgeBase.search`, with its costly parts shared: a query is rewritten, embedded and
    BM25-scored once per rewrite and title boost, then fused and ranked under every configuration."""
    from knowledge.retriever import build_where

    cases = cases_of(queries)
    snapshots: dict[int, KnowledgeBase] = {}
    dense_cache: dict[tuple[str, str], dict[int, float]] = {}
    sparse_cache: dict[tuple[int, str, str], dict[int, float]] = {}
    table: dict[RetrievalConfig, list[QueryScore]] = {}
    for config in configs:
        kb = snapshots.get(config.title_boost)
        if kb is None:  # the BM25 corpus depends on the title boost: one snapshot per value
            kb = KnowledgeBase(base.settings, client=base.client, config=config, auto_index=False)
            snapshots[config.title_boost] = kb
        kb.config = config
        fused_of: dict[int, tuple[dict[int, float], Any, Any]] = {}
        scores: list[QueryScore] = []
        for i, cond in cases:
            q = queries[i]
            principal = q.audience or "partner"
            if i not in fused_of:
                mask = kb._allowed_mask(build_where(principal, None, None, None))
                text = kb.rewrite(q.query)
                dense = dense_cache.get((principal, text))
                if dense is None:
                    dense = dense_cache[(principal, text)] = kb._dense(text, mask)
                sparse = sparse_cache.get((config.title_boost, principal, text))
                if sparse is None:
                    sparse = sparse_cache[(config.title_boost, principal, text)] = kb._bm25(text, mask)
                fused_of[i] = (kb._fuse(dense, sparse), mask, principal)
            fused, mask, principal = fused_of[i]
            got = [h.playbook_id for h in kb.top(fused, mask, principal, 10, has_customers=cond)]
            scores.append(_score(got, set(q.expected)))
        table[config] = scores
    return table


class FoldResult(BaseModel):
    fold: int
    queries: int
    chosen: dict[str, Any]
    recall_at_5: float
    mrr: float


class TuningReport(BaseModel):
    queries: int
    folds: int
    configurations: int
    chosen: dict[str, Any]  # chosen on every tuning query: the new defaults
    in_sample: dict[str, float]  # the chosen configuration on the queries that chose it (optimistic)
    cross_validated: dict[str, float]  # each fold measured with the configuration chosen without it
    per_fold: list[FoldResult]


def _mean(scores: list[QueryScore], attr: str) -> float:
    return round(float(np.mean([getattr(s, attr) for s in scores])), 4) if scores else 0.0


def _best(table: dict[RetrievalConfig, list[QueryScore]], rows: list[int]) -> RetrievalConfig:
    # Ties go to the first configuration in grid order (deterministic).
    return max(table, key=lambda config: float(np.mean([table[config][r].value for r in rows])))


def _summary(scores: list[QueryScore], cases: list[Case], rows: list[int]) -> dict[str, float]:
    """recall@5 and MRR of the rows, apart for partners whose customers are unknown and those without any."""
    out: dict[str, float] = {}
    for cond, tag in ((None, ""), (False, "_customerless")):
        picked = [scores[r] for r in rows if cases[r][1] is cond]
        out[f"recall_at_5{tag}"] = _mean(picked, "recall_at_5")
        out[f"mrr{tag}"] = _mean(picked, "reciprocal_rank")
    return out


def tuned_fields(config: RetrievalConfig, grid: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    return {k: getattr(config, k) for k in (grid or GRID)}


def cross_validate(base: KnowledgeBase, queries: Sequence[LabelledQuery], folds: int = 5, seed: int = 7,
                   grid: dict[str, list[Any]] | None = None) -> TuningReport:
    table = score_table(base, queries, configurations(grid))
    cases = cases_of(queries)
    order = list(range(len(queries)))
    random.Random(seed).shuffle(order)
    parts = [set(order[n::folds]) for n in range(folds)]
    per_fold: list[FoldResult] = []
    held_out: list[QueryScore] = [QueryScore(0.0, 0.0)] * len(cases)
    for n, test in enumerate(parts):
        train_rows = [r for r, (i, _c) in enumerate(cases) if i not in test]
        test_rows = [r for r, (i, _c) in enumerate(cases) if i in test]
        chosen = _best(table, train_rows)
        for r in test_rows:
            held_out[r] = table[chosen][r]
        summary = _summary(table[chosen], cases, test_rows)
        per_fold.append(FoldResult(fold=n + 1, queries=len(test), chosen=tuned_fields(chosen, grid),
                                   recall_at_5=summary["recall_at_5"], mrr=summary["mrr"]))
    every = list(range(len(cases)))
    final = _best(table, every)
    return TuningReport(queries=len(queries), folds=folds, configurations=len(table),
                        chosen=tuned_fields(final, grid), in_sample=_summary(table[final], cases, every),
                        cross_validated=_summary(held_out, cases, every), per_fold=per_fold)


def baselines(base: KnowledgeBase, sets: dict[str, Sequence[LabelledQuery]]) -> list[dict[str, Any]]:
    """BM25 only, dense only and the hybrid (the current defaults) on each labelled set."""
    from knowledge.evaluate import evaluate

    rows = []
    defaults = base.config
    for mode in ("bm25", "dense", "hybrid"):
        config = defaults.model_copy(update={"mode": mode})
        kb = KnowledgeBase(base.settings, client=base.client, config=config, auto_index=False)
        for name, queries in sets.items():
            r = evaluate(kb, list(queries))
            rows.append({"set": name, "mode": mode, "queries": r.queries, "recall_at_5": r.recall_at_5,
                         "mrr": r.mrr, "ndcg_at_10": r.ndcg_at_10})
    return rows
