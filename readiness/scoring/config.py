"""Scoring configuration: weights, saturation curves, windows and thresholds, validated with pydantic."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from readiness.errors import ValidationFailed

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default_config.yaml")
DIMENSION_KEYS = ("engagement", "revenue_potential", "market_alignment", "capability")
GTM_KEYS = ("use_case", "icp", "sales_motion", "delivery_credibility", "business_communication")


class _Strict(BaseModel):
    # An unknown key is a typo (or a YAML flow-mapping split at a comma): refuse it rather than ignore it.
    model_config = ConfigDict(extra="forbid")


class SubSignalConfig(_Strict):
    label: str
    weight: float = Field(ge=0)
    half: float = Field(gt=0, description="amount at which the sub-signal is half-saturated (value 0.5)")


class DimensionConfig(_Strict):
    label: str
    weight: float = Field(ge=0)
    subsignals: dict[str, SubSignalConfig]

    @field_validator("subsignals")
    @classmethod
    def _some_weight(cls, v: dict[str, SubSignalConfig]) -> dict[str, SubSignalConfig]:
        if not v or sum(s.weight for s in v.values()) <= 0:
            raise ValueError("a dimension needs at least one sub-signal with a positive weight")
        return v


class TierConfig(_Strict):
    tier1: float = 80
    tier2: float = 60
    tier3: float = 40

    @model_validator(mode="after")
    def _ordered(self) -> TierConfig:
        if not self.tier1 > self.tier2 > self.tier3:
            raise ValueError("tier thresholds must be decreasing: tier1 > tier2 > tier3")
        return self


class SegmentConfig(_Strict):
    active_window_days: int = Field(120, gt=0)
    ready_min_score: float = 40
    inactive_days: int = Field(90, gt=0)


class OutlookConfig(_Strict):
    new_partner_days: int = 120
    long_silence_days: int = 180
    min_capability_for_silence: float = 20


class DormantConfig(_Strict):
    quiet_days: int = 90
    never_sold_min_days: int = 45
    events_min: int = 2
    overlap_min_accounts: int = 10
    no_login_windows: list[int] = Field(default_factory=lambda: [30, 60, 90])


class PlayConfig(_Strict):
    """One call play. Its evidence strength (0-1) = weight x magnitude x recency, where magnitude = 1 - 2^(-amount
    / half) (the play's evidence amount: deals, trainings, events, accounts) and recency = 2^(-age /
    recency_half_life_days) (age of its newest evidence)."""

    label: str
    weight: float = Field(ge=0, le=1)
    half: float = Field(gt=0)
    recency_half_life_days: float = Field(gt=0)


def _play(label: str, weight: float, half: float, days: float) -> PlayConfig:
    return PlayConfig(label=label, weight=weight, half=half, recency_half_life_days=days)


class PlaysConfig(_Strict):
    reactivate: PlayConfig = Field(default_factory=lambda: _play("Reactivate: past deals gone quiet", 1.0, 1.5, 365))
    first_deal: PlayConfig = Field(
        default_factory=lambda: _play("Convert enablement into a first deal", 0.8, 1.5, 270))
    event_to_registration: PlayConfig = Field(
        default_factory=lambda: _play("Turn event interest into a registration", 0.6, 3, 120))
    open_overlap: PlayConfig = Field(
        default_factory=lambda: _play("Open the overlapping accounts (customer base aligned)", 0.9, 15, 180))
    grow_to_sourcing: PlayConfig = Field(
        default_factory=lambda: _play("Grow co-sell into sourcing", 1.0, 2, 180))
    undated_recency: float = Field(0.5, ge=0, le=1, description="recency of evidence with no date")
    co_sell_window_days: int = Field(365, gt=0)
    engagement_kinds: list[str] = Field(default_factory=lambda: [
        "ae_meeting", "joint_call", "co_sell_request", "demo_delivered", "workshop_delivered"])
    engagement_damping: float = Field(0.9, ge=0, le=1)
    engagement_half: float = Field(1.5, gt=0)

    def dormant(self) -> dict[str, PlayConfig]:
        return {"reactivate": self.reactivate, "first_deal": self.first_deal,
                "event_to_registration": self.event_to_registration, "open_overlap": self.open_overlap}


class SignalConfig(_Strict):
    blend: float = Field(0.35, ge=0, le=1)
    levels: dict[str, float] = Field(default_factory=lambda: {"low": 25, "medium": 55, "high": 85})


class GTMConfig(_Strict):
    include_in_total: bool = False
    weight: float = Field(0, ge=0)
    text_weight: float = Field(0.5, ge=0, le=1)
    text_scorer: str | None = None


class LogisticConfig(_Strict):
    midpoint: float = 60
    slope: float = 0.08


class RevenueConfig(_Strict):
    activation_cost: float = Field(5000, gt=0)
    default_deal_size: float = 50000
    default_deals_per_year: float = 2
    comparable_shrinkage: float = 2
    fit_horizon_days: int = 90
    fallback_logistic: LogisticConfig = Field(default_factory=LogisticConfig)


class IncrementalConfig(_Strict):
    # After an import only partners whose data changed are rescored, unless the program's rates (the baselines
    # behind segment, specialization and deal-size fit) moved far enough to change someone else's score by this
    # many points: then every partner whose stored score is that close to a tier or ready threshold is rescored too.
    tolerance_points: float = Field(0.5, gt=0)


class ScoringConfig(_Strict):
    half_life_days: float = Field(90, gt=0)
    saturation: Literal["exponential", "hyperbolic"] = "exponential"
    conflict_cap: float = Field(20, ge=0, le=100)
    dimensions: dict[str, DimensionConfig]
    tiers: TierConfig = Field(default_factory=TierConfig)
    segments: SegmentConfig = Field(default_factory=SegmentConfig)
    outlook: OutlookConfig = Field(default_factory=OutlookConfig)
    dormant: DormantConfig = Field(default_factory=DormantConfig)
    plays: PlaysConfig = Field(default_factory=PlaysConfig)
    signals: SignalConfig = Field(default_factory=SignalConfig)
    gtm: GTMConfig = Field(default_factory=GTMConfig)
    revenue: RevenueConfig = Field(default_factory=RevenueConfig)
    incremental: IncrementalConfig = Field(default_factory=IncrementalConfig)

    @field_validator("dimensions")
    @classmethod
    def _four_dimensions(cls, v: dict[str, DimensionConfig]) -> dict[str, DimensionConfig]:
        if set(v) != set(DIMENSION_KEYS):
            raise ValueError(f"dimensions must be exactly {', '.join(DIMENSION_KEYS)}; got {', '.join(sorted(v))}")
        if sum(d.weight for d in v.values()) <= 0:
            raise ValueError("dimension weights must not all be zero")
        return v

    def total_weight(self) -> float:
        extra = self.gtm.weight if self.gtm.include_in_total else 0.0
        return sum(d.weight for d in self.dimensions.values()) + extra

    def with_dimension_weights(self, weights: dict[str, float]) -> ScoringConfig:
        dims = {k: d.model_copy(update={"weight": float(weights.get(k, d.weight))}) for k, d in self.dimensions.items()}
        return self.model_copy(update={"dimensions": dims})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)

    def fingerprint(self) -> str:
        """Stable across processes (unlike hash()): what stored program state is keyed by."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:32]


def _config_path(path: str | Path | None) -> Path:
    if path is not None:
        return Path(path)
    env = os.environ.get("PARTNERPILOT_SCORING_CONFIG")
    if env:
        return Path(env)
    from readiness.settings import get_settings

    return get_settings().scoring_config or DEFAULT_CONFIG_PATH


@lru_cache(maxsize=16)
def _load(path: str, mtime: float) -> ScoringConfig:
    del mtime  # part of the cache key only: an edited file is re-read
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationFailed(f"cannot read scoring config {path}: {exc}") from exc
    try:
        return ScoringConfig.model_validate(raw)
    except ValidationError as exc:
        raise ValidationFailed(f"invalid scoring config {path}: {exc}") from exc


def load_config(path: str | Path | None = None) -> ScoringConfig:
    """The scoring configuration: `path`, else PARTNERPILOT_SCORING_CONFIG, else the packaged default."""
    p = _config_path(path).resolve()
    if not p.exists():
        raise ValidationFailed(f"scoring config not found: {p}")
    return _load(str(p), p.stat().st_mtime)
