"""Readiness scores: a vectorized frame over many partners, and explained `PartnerScore` objects from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from sqlalchemy.orm import Session

from readiness.errors import UnknownPartner
from readiness.scoring import dormant as dormant_mod
from readiness.scoring import frame_cache
from readiness.scoring.adjustments import Adjustment, counting_signals
from readiness.scoring.advice import gap_for, gtm_scores, next_step, opener
from readiness.scoring.config import GTM_KEYS, ScoringConfig, load_config
from readiness.scoring.dimensions import DimensionArrays, compute_dimensions, evidence, kind_evidence
from readiness.scoring.features import Features, start_features
from readiness.scoring.gcpause import paused_gc
from readiness.scoring.gtm_behaviour import (
    GTM_LABELS,
    behaviour_amounts,
    gtm_behaviour_scores,
    has_text_scorer,
    text_scorer,
)
from readiness.scoring.plays import PlayArrays, play_arrays, plays_for, recent_engagement
from readiness.scoring.priors import Priors, cached_priors, priors_from_features, program_priors, remember
from readiness.scoring.schemas import DimensionScore, PartnerScore, SubSignal
from readiness.scoring.segments import (
    NOT_YET_CODES,
    is_active,
    outlook_codes,
    outlook_of,
    outlook_reason,
    segments,
    tiers,
)

PROFILE_TEXT_EVIDENCE = "profile text: "  # how GTM evidence from the text rubric begins


@dataclass
class ScoreFrame:
    """Every partner's numbers as of one date; objects are built from it only for the partners asked for."""

    cfg: ScoringConfig
    feats: Features
    priors: Priors
    dims: DimensionArrays
    gtm: dict[str, np.ndarray]
    gtm_text: dict[int, dict[str, tuple[float, list[str]]]]
    total: np.ndarray
    tier: np.ndarray
    segment: np.ndarray
    active: np.ndarray
    outlook_code: np.ndarray
    weakest: np.ndarray  # index into weakest_labels
    weakest_labels: list[str]
    flags: dict[str, np.ndarray]
    plays: PlayArrays
    adjustments: dict[str, dict[str, Adjustment]] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return self.feats.ids

    @property
    def outlook(self) -> list[str | None]:
        return list(map(outlook_of, self.outlook_code.tolist()))  # Python strings: no numpy scalar per partner

    def reason(self, i: int) -> str | None:
        return outlook_reason(self.feats, i, str(self.outlook_code[i]), self.weakest_labels[self.weakest[i]])

    def position(self, partner_id: str) -> int:
        try:
            return self.feats.ids.index(partner_id)
        except ValueError:
            raise UnknownPartner(f"no partner with id {partner_id!r}") from None


def dimension_weights(cfg: ScoringConfig) -> dict[str, float]:
    return {k: d.weight for k, d in cfg.dimensions.items()}


def total_score(dims: dict[str, np.ndarray], gtm: dict[str, np.ndarray], cfg: ScoringConfig) -> np.ndarray:
    total_w = cfg.total_weight()
    out = sum(dims[k] * d.weight for k, d in cfg.dimensions.items()) / total_w
    if cfg.gtm.include_in_total and cfg.gtm.weight > 0:
        out = out + cfg.gtm.weight / total_w * np.mean([gtm[k] for k in GTM_KEYS], axis=0)
    return np.asarray(out, dtype=float)


def compute_frame(session: Session, as_of: date, partner_ids: list[str] | None = None,
                  config: ScoringConfig | None = None, historical: bool = False) -> ScoreFrame:
    """`historical`: scoring the past for a backtest or a fit (readiness signals created after as_of ignored)."""

    cfg = config or load_config()

    def compute() -> ScoreFrame:
        with paused_gc(None if partner_ids is None else len(partner_ids)):
            return _compute_frame(session, as_of, partner_ids, cfg, historical)

    if partner_ids is None or historical or cfg is not load_config():  # only the configured scoring is kept
        return compute()
    return frame_cache.remembered(session, as_of, list(partner_ids), cfg, compute)


def _compute_frame(session: Session, as_of: date, partner_ids: list[str] | None, cfg: ScoringConfig,
                   historical: bool) -> ScoreFrame:
    wants_text = has_text_scorer(cfg)
    # A whole program's activity is aggregated by worker processes while this one reads everything else.
    with start_features(session, as_of, partner_ids, cfg.half_life_days, cfg.segments.active_window_days,
                        with_profiles=wants_text,
                        all_profiles=cfg.gtm.include_in_total and cfg.gtm.weight > 0,
                        co_sell_window_days=cfg.plays.co_sell_window_days) as load:
        window = cfg.segments.active_window_days
        # A whole program's features hold every input of the baselines: computed from them below, not read again.
        priors = cached_priors(session, as_of, window) if partner_ids is None else program_priors(session, as_of,
                                                                                                  window)
        adjustments = counting_signals(session, as_of, partner_ids, cfg, historical)
        feats = load.finish()
    if priors is None:
        priors = priors_from_features(feats, window)
        remember(session, as_of, window, priors)
    dims = compute_dimensions(feats, priors, cfg)
    gtm = gtm_behaviour_scores(feats)
    gtm_text: dict[int, dict[str, tuple[float, list[str]]]] = {}
    # Profile texts are judged when they were loaded (a small scope, or GTM counting in the total); otherwise GTM
    # rests on behaviour alone, as the snapshots say (and the scorer's module is not even imported).
    scorer = text_scorer(cfg) if feats.profiles_loaded else None
    if scorer is not None:
        tw = cfg.gtm.text_weight
        unprofiled = scorer(None) or {}  # a scorer is a function of the profile: judged once for "no profile"
        for i, pid in enumerate(feats.ids):
            profile = feats.gtm_profiles.get(pid)
            judged = (scorer(profile) or {}) if profile is not None else unprofiled
            if not judged:
                continue
            gtm_text[i] = judged
            for key, (score01, _) in judged.items():
                if key in gtm:
                    gtm[key][i] = (1 - tw) * gtm[key][i] + tw * 100.0 * float(score01)
    idx = feats.index()
    for pid, per_dim in adjustments.items():
        i = idx.get(pid)
        if i is None:
            continue
        for dim, adj in per_dim.items():
            target = dims.scores if dim in dims.scores else gtm if dim in gtm else None
            if target is not None:
                target[dim][i] += cfg.signals.blend * (adj.value - target[dim][i])
    total = total_score(dims.scores, gtm, cfg)
    active = is_active(feats, cfg)
    seg = segments(feats, total, cfg)
    labels, weakest = _weakest(dims, cfg)
    codes = outlook_codes(feats, seg, dims.scores["capability"], cfg)
    flags = dormant_mod.flag_arrays(feats, active, cfg)
    # Worth a call: in the program on as_of, not producing, not structurally blocked (outlook not_yet).
    callable_ = np.isin(codes, NOT_YET_CODES) & (feats.joined <= feats.as_of_day)
    return ScoreFrame(cfg, feats, priors, dims, gtm, gtm_text, total, tiers(total, cfg), seg, active, codes,
                      weakest, labels, flags, play_arrays(feats, flags, callable_, cfg), adjustments)


def _weakest(dims: DimensionArrays, cfg: ScoringConfig) -> tuple[list[str], np.ndarray]:
    """Per partner, the sub-signal leaving the most weighted points on the table (labels, index per partner)."""
    labels, gaps = [], []
    for dim, dcfg in cfg.dimensions.items():
        tw = sum(s.weight for s in dcfg.subsignals.values())
        for key, scfg in dcfg.subsignals.items():
            labels.append(f"{scfg.label.lower()} ({dcfg.label.lower()})")
            gaps.append(dcfg.weight * scfg.weight / tw * (1 - dims.values[dim][key]))
    return labels, np.argmax(np.vstack(gaps), axis=0)


def build_score(frame: ScoreFrame, i: int, momentum: tuple[float | None, float | None] = (None, None),
                revenue_at_stake: float | None = None) -> PartnerScore:
    f, cfg = frame.feats, frame.cfg
    total_w = cfg.total_weight()
    pid = f.ids[i]
    adj = frame.adjustments.get(pid, {})
    dims: list[DimensionScore] = []
    for dim, dcfg in cfg.dimensions.items():
        sw = sum(s.weight for s in dcfg.subsignals.values())
        subs = []
        for key, scfg in dcfg.subsignals.items():
            v = float(frame.dims.values[dim][key][i])
            subs.append(SubSignal(key=key, label=scfg.label, value=round(v, 4), weight=round(100 * scfg.weight / sw, 2),
                                  contribution=round(100 * scfg.weight / sw * v, 2),
                                  evidence=evidence(f, frame.priors, i, dim, key)))
        score = float(frame.dims.scores[dim][i])
        notes = [adj[dim].note] if dim in adj else []
        if dim == "market_alignment" and f.conflict[i]:
            notes.append(f"capped at {cfg.conflict_cap:.0f}: competitive conflict ({f.conflict[i]})")
        dims.append(DimensionScore(key=dim, label=dcfg.label, score=score, weight=dcfg.weight,
                                   contribution=round(score * dcfg.weight / total_w, 2), subsignals=subs,
                                   adjustments=notes))
    gtm_w = cfg.gtm.weight if cfg.gtm.include_in_total else 0.0
    gtm: list[DimensionScore] = []
    amounts = behaviour_amounts(f)
    for key in GTM_KEYS:
        g = float(frame.gtm[key][i])
        ev = [e for kind in amounts[key][2] if (e := kind_evidence(f, i, kind))] or [
            "no behavioural evidence yet"]
        text = frame.gtm_text.get(i, {}).get(key)
        if text is not None:
            ev = ev + [f"{PROFILE_TEXT_EVIDENCE}{x}" for x in text[1]]
        gtm.append(DimensionScore(key=key, label=GTM_LABELS[key], score=g, weight=gtm_w / len(GTM_KEYS),
                                  contribution=round(g * gtm_w / len(GTM_KEYS) / total_w, 2),
                                  adjustments=[adj[key].note] if key in adj else [],
                                  subsignals=[SubSignal(key=f"{key}_behaviour", label=f"{GTM_LABELS[key]} (behaviour)",
                                                        value=round(g / 100, 4), weight=100, contribution=round(g, 2),
                                                        evidence=ev)]))
    m30, m90 = momentum
    play = str(frame.plays.primary[i]) or None
    priority = gap = step = line = None
    if play is not None:
        if revenue_at_stake is not None:
            priority = float(frame.plays.priority(np.array([revenue_at_stake]), [i])[0])
        gap = gap_for(play, gtm_scores(frame.gtm, i))
        step, line = next_step(f, i, play, gap), opener(f, i, play)
    return PartnerScore(
        partner_id=pid, name=f.names[i], pam_id=f.pam_ids[i], as_of=f.as_of, score=float(frame.total[i]),
        tier=str(frame.tier[i]), segment=str(frame.segment[i]),  # type: ignore[arg-type]
        outlook=outlook_of(str(frame.outlook_code[i])), outlook_reason=frame.reason(i),  # type: ignore[arg-type]
        dimensions=dims, gtm=gtm, momentum_30=m30, momentum_90=m90,
        dormant_flags=dormant_mod.flags_for(f, i, frame.flags), revenue_at_stake=revenue_at_stake,
        play=play, plays=plays_for(f, frame.plays, i, cfg),  # type: ignore[arg-type]
        recent_engagement=recent_engagement(f, i, cfg), priority=priority, opener=line, next_step=step,
        open_with_gap=gap,
    )


def momentum(session: Session, frame: ScoreFrame, partner_ids: list[str] | None,
             cfg: ScoringConfig) -> dict[str, tuple[float | None, float | None]]:
    """Change in score vs 30 and 90 days earlier, scored as of those dates (the data is time-stamped)."""
    out: dict[str, list[float | None]] = {pid: [None, None] for pid in frame.ids}
    for slot, days in enumerate((30, 90)):
        past = compute_frame(session, frame.feats.as_of - timedelta(days=days), partner_ids, cfg)
        past_idx = past.feats.index()
        for i, pid in enumerate(frame.ids):
            j = past_idx.get(pid)
            joined = frame.feats.joined[i]
            # Unknown when the partner had not joined yet on that date.
            if j is not None and not (joined > past.feats.as_of_day):
                out[pid][slot] = round(float(frame.total[i] - past.total[j]), 2)
    return {k: (v[0], v[1]) for k, v in out.items()}


def score_all(session: Session, as_of: date, partner_ids: list[str] | None = None,
              config: ScoringConfig | None = None, with_momentum: bool = True) -> list[PartnerScore]:
    """Score many partners at once: SQL aggregation + numpy over all of them, then one object per partner."""
    cfg = config or load_config()
    ids = list(dict.fromkeys(partner_ids)) if partner_ids is not None else None
    frame = compute_frame(session, as_of, ids, cfg)
    mom = momentum(session, frame, ids, cfg) if with_momentum else {}
    from readiness.scoring.revenue import revenue_at_stake_array

    stake = revenue_at_stake_array(session, frame)
    return [build_score(frame, i, mom.get(pid, (None, None)), float(stake[i])) for i, pid in enumerate(frame.ids)]


def score_partner(session: Session, partner_id: str, as_of: date,
                  config: ScoringConfig | None = None) -> PartnerScore:
    scores = score_all(session, as_of, [partner_id], config)
    if not scores:
        raise UnknownPartner(f"no partner with id {partner_id!r}")
    return scores[0]
