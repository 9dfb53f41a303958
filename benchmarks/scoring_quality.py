"""Scoring quality on two synthetic programs whose truth is known (not a test): prints JSON.

Program A is the seeded program (`partnerpilot seed`: seed 42, default archetype mix), the one the scoring
config's weights and tiers were fitted on (scores as of 2026-05-02, outcomes by 2026-07-31). Program B has another
seed and archetype mix and was never fitted on: its figures measure generalisation. For each, at 400 partners (the
`seed` default) and 2,000:

- backtest as of 2026-07-31 (data up to that day, outcome = new sourced pipeline in the next 90 days): AUC, and
  per tier the partners, how many produced, the conversion rate and the share of all producers; before (the
  config as it was before issue 14, `benchmarks/configs/scoring_before_issue14.yaml`) and after (the default);
- the call lists as of 2026-10-31 against `latent.csv` archetypes: precision@5 per PAM book of the dormant list
  (and of each play's own list), co-sell-only partners on the dormant list, not-ever partners on any list.

    .venv/bin/python -m benchmarks.scoring_quality [--sizes 400 2000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import date
from pathlib import Path

from readiness.db import init_db, make_engine, session_scope
from readiness.scoring import backtest, clear_caches, load_config
from readiness.seed import generate_program, load_into_store
from readiness.seed.plan import parse_mix
from readiness.seed.truth import archetypes_of, list_quality

AS_OF = date(2026, 10, 31)
BACKTEST_AS_OF = date(2026, 7, 31)
BEFORE = Path(__file__).with_name("configs") / "scoring_before_issue14.yaml"
SECOND_MIX = "producer=0.15,emerging=0.08,ready_dormant=0.16,new=0.06,influenced_only=0.09,misaligned=0.1"
PROGRAMS = {"A (seeded, fitted on)": (42, None), "B (second seed and mix, held out)": (7, SECOND_MIX)}


def _tiers(report) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    return [{"tier": t.tier, "partners": t.partners, "produced": t.positives, "conversion": t.conversion,
             "share_of_producers": t.share_of_positives} for t in report.tiers]


def measure(partners: int, seed: int, mix: str | None, folder: Path) -> dict[str, object]:
    generated = generate_program(partners, seed, AS_OF, shares=parse_mix(mix) if mix else None)
    engine = make_engine(f"sqlite:///{folder / f'program_{seed}_{partners}.db'}")
    init_db(engine)
    load_into_store(engine, generated)
    out: dict[str, object] = {"partners": partners, "seed": seed, "mix": mix or "default"}
    for label, cfg in (("before", load_config(BEFORE)), ("after", load_config())):
        clear_caches()
        with session_scope(engine) as s:
            r = backtest(s, BACKTEST_AS_OF, 90, cfg)
        out[f"backtest_{label}"] = {"auc": r.auc, "auc_dormant": r.auc_dormant, "positives": r.positives,
                                    "tiers": _tiers(r), "precision_at_10": r.precision_at_k,
                                    "base_rate_dormant": r.base_rate_dormant}
    clear_caches()
    with session_scope(engine) as s:
        q = list_quality(s, AS_OF, archetypes_of(generated), k=5, shown=10)
    out["lists"] = {"mean_precision_at_5": q.mean_precision_at_k, "min_precision_at_5": q.min_precision_at_k,
                    "precision_at_5_by_play": q.precision_by_play,
                    "co_sell_only_in_dormant_top10": q.co_sell_only_in_dormant_shown,
                    "co_sell_only_in_dormant_whole_list": q.co_sell_only_in_dormant_all,
                    "co_sell_only_share_of_grow_list": q.co_sell_only_on_grow_list,
                    "not_ever_in_any_list": q.not_ever_in_any_list,
                    "books": [{"pam": b.pam_id, "listed": b.dormant_listed, "precision_at_5": b.precision_at_k,
                               "top5": b.top_k_archetypes} for b in q.books]}
    engine.dispose()
    return out


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[400, 2000])
    args = ap.parse_args(argv)
    out: dict[str, object] = {"benchmark": "scoring quality (synthetic programs, known archetypes)"}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (seed, mix) in PROGRAMS.items():
            out[name] = [measure(n, seed, mix, Path(tmp)) for n in args.sizes]
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
