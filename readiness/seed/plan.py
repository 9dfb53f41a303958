"""Who each synthetic partner is: archetype, latent readiness and how its engagement moves over time.

A plan is small (no events, no opportunities) so 100k of them fit in memory; everything bulky is
re-derived from the plan's own seed when a file is streamed, which keeps output deterministic.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from readiness.seed import vocab

EPOCH = date(1970, 1, 1)
MONTH_DAYS = 30.44

# Share of the program per archetype; "dormant" takes the remainder. Tuned so that 60-80% of partners
# end with zero closed-won sourced revenue, which is what real programs look like.
ARCHETYPE_SHARES = {
    "producer": 0.22,
    "emerging": 0.06,
    "ready_dormant": 0.10,
    "new": 0.08,
    "influenced_only": 0.05,
    "misaligned": 0.07,
}


@dataclass(slots=True)
class PartnerPlan:
    idx: int
    partner_id: str
    seed: int
    archetype: str
    latent: float
    name: str = ""
    type: str = "reseller"
    region: str = "NA"
    country: str = "US"
    program_tier: str = "Registered"
    joined_day: int | None = None
    pam_id: str = ""
    specializations: list[str] = field(default_factory=list)
    employee_count: int = 50
    overlap: int = 0
    conflict: str = ""
    industry: str = "retail"
    band: str = "200-1000"
    # Engagement trajectory: shape, low level, high level, midpoint month, width (months).
    shape: str = "flat"
    lo: float = 0.05
    hi: float = 0.1
    m0: float = 0.0
    width: float = 1.5
    lag: int = 2  # months between engagement and the sourced deals it leads to
    deal_mult: float = 0.0  # sourced-deal propensity multiplier
    influenced_mult: float = 0.0
    deals_until_day: int | None = None  # ready-but-dormant partners stopped sourcing before this day
    event_rate: float = 6.0  # generic events per month at full engagement

    def engagement(self, m: float) -> float:
        if self.shape == "flat":
            return self.hi
        if self.shape == "silent":
            return self.hi if m < self.m0 else 0.01
        s = 1.0 / (1.0 + math.exp(-(m - self.m0) / self.width))
        if self.shape == "rising":
            return self.lo + (self.hi - self.lo) * s
        return self.hi - (self.hi - self.lo) * s  # falling


@dataclass(slots=True)
class Timeline:
    as_of: date
    months: int

    @property
    def as_of_day(self) -> int:
        return (self.as_of - EPOCH).days

    @property
    def start_day(self) -> int:
        return self.as_of_day - round(self.months * MONTH_DAYS) + 1

    def month_of(self, day: int) -> float:
        return (day - self.start_day) / MONTH_DAYS


def parse_mix(spec: str) -> dict[str, float]:
    """`producer=0.15,ready_dormant=0.2` → shares overriding ARCHETYPE_SHARES ("dormant" takes the remainder)."""
    shares = dict(ARCHETYPE_SHARES)
    for item in filter(None, (x.strip() for x in spec.split(","))):
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in shares:
            raise ValueError(f"archetype mix entries look like NAME=SHARE with NAME in {sorted(shares)}, got {item!r}")
        share = float(value)
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share of {name.strip()} must be between 0 and 1, got {value}")
        shares[name.strip()] = share
    if sum(shares.values()) > 1.0 + 1e-9:
        raise ValueError(f"archetype shares add up to {sum(shares.values()):.2f}; at most 1 (dormant takes the rest)")
    return shares


def _archetypes(partners: int, rng: random.Random, shares: dict[str, float] | None = None) -> list[str]:
    """Exact quotas, shuffled: every archetype is present and the bands hold even at small N."""
    out: list[str] = []
    for name, share in (shares or ARCHETYPE_SHARES).items():
        out += [name] * round(share * partners)
    out = out[:partners] + ["dormant"] * max(0, partners - len(out))
    rng.shuffle(out)
    return out


def build_plans(partners: int, seed: int, timeline: Timeline, pam_ids: list[str],
                shares: dict[str, float] | None = None) -> list[PartnerPlan]:
    rng = random.Random(seed)
    names = vocab.NameFactory()
    width = max(3, len(str(partners)))
    plans: list[PartnerPlan] = []
    # Books differ in size (the first PAM's is about twice the last one's), as they do in real teams.
    pam_weights = [2 - k / len(pam_ids) for k in range(len(pam_ids))]
    for i, archetype in enumerate(_archetypes(partners, rng, shares)):
        prng = random.Random(seed * 1_000_003 + i)
        plan = PartnerPlan(idx=i, partner_id=f"p-{i + 1:0{width}d}", seed=prng.getrandbits(48), archetype=archetype,
                           latent=0.0)
        _shape(plan, prng, timeline)
        # Every PAM gets a book: the first partners go round-robin, the rest by uneven weights.
        plan.pam_id = pam_ids[i] if i < len(pam_ids) else prng.choices(pam_ids, weights=pam_weights)[0]
        # A few near-duplicate names (about 1%) so entity resolution and fuzzy search get exercised.
        near = names.near_duplicate(prng, plans[-1].name) if plans and prng.random() < 0.01 else None
        plan.name = near or names.company(rng)
        plans.append(plan)
    return plans


def _shape(p: PartnerPlan, rng: random.Random, tl: Timeline) -> None:
    """Archetype-specific latent readiness, firmographics and engagement trajectory."""
    months = tl.months
    a = p.archetype
    latent_range = {
        "producer": (0.65, 0.97),
        "emerging": (0.55, 0.88),
        "ready_dormant": (0.5, 0.8),
        "new": (0.1, 0.9),
        "influenced_only": (0.3, 0.6),
        "misaligned": (0.02, 0.25),
        "dormant": (0.02, 0.4),
    }[a]
    p.latent = round(rng.uniform(*latent_range), 4)
    p.type = rng.choices(vocab.PARTNER_TYPES, weights=vocab.PARTNER_TYPE_WEIGHTS)[0]
    if a == "influenced_only":
        p.type = rng.choice(["referral", "si"])
    p.region = vocab.pick_weighted(rng, vocab.REGION_WEIGHTS)
    p.country = rng.choice(vocab.REGIONS[p.region])
    p.specializations = rng.sample(vocab.SPECIALIZATIONS, rng.randint(1, 3))
    p.employee_count = max(3, int(rng.lognormvariate(4.3 + (1.2 if p.type == "si" else 0), 1.0)))
    p.industry = rng.choice(vocab.INDUSTRIES)
    p.band = rng.choice(vocab.EMPLOYEE_BANDS)
    p.lag = rng.randint(1, 3)
    p.event_rate = rng.uniform(4.0, 8.0)

    if a == "new":
        joined = tl.as_of_day - rng.randint(5, 89)
    else:
        # Tenure from just inside the window to five years before it.
        joined = tl.as_of_day - rng.randint(100, 365 * 5 + round(months * MONTH_DAYS))
    p.joined_day = joined
    if a == "dormant" and rng.random() < 0.03:
        p.joined_day = None  # a prospect: no signed agreement yet

    L = p.latent
    if a == "producer":
        p.shape = rng.choices(["flat", "rising", "falling"], weights=[55, 25, 20])[0]
        p.hi, p.lo = rng.uniform(0.6, 1.0), rng.uniform(0.15, 0.35)
        p.m0 = rng.uniform(months * 0.3, months * 0.85)
        p.deal_mult = 1.0
        p.influenced_mult = 0.25
    elif a == "emerging":
        p.shape = "rising"
        p.hi, p.lo = rng.uniform(0.65, 1.0), rng.uniform(0.03, 0.12)
        p.m0 = rng.uniform(months - 9, months - 3)
        p.width = rng.uniform(0.6, 1.2)
        p.deal_mult = 1.0
    elif a == "ready_dormant":
        p.shape = "flat"
        p.hi = rng.uniform(0.35, 0.7)
        p.deal_mult = 0.9 if rng.random() < 0.5 else 0.0
        p.deals_until_day = tl.as_of_day - rng.randint(200, 420)
    elif a == "new":
        p.shape = "rising"
        p.lo, p.hi = 0.2, rng.uniform(0.3, 0.9)
        p.m0 = tl.month_of(joined) + 0.5
        p.width = 0.5
        p.deal_mult = 0.3
    elif a == "influenced_only":
        p.shape = "flat"
        p.hi = rng.uniform(0.2, 0.5)
        p.influenced_mult = 1.6
    elif a == "misaligned":
        p.shape = "silent"
        p.hi = rng.uniform(0.05, 0.3)
        p.m0 = rng.uniform(0, max(1.0, months - 8))
        p.deal_mult = 0.2
    else:
        p.shape = "flat"
        p.hi = rng.uniform(0.01, 0.15)
        p.deal_mult = 1.0

    if a in ("producer", "emerging", "ready_dormant"):
        p.overlap = rng.randint(5, 60)
    elif a == "misaligned":
        p.overlap = 0
    else:
        p.overlap = 0 if rng.random() < 0.45 else rng.randint(1, 15)
    conflict_chance = 0.8 if a == "misaligned" else 0.03
    if rng.random() < conflict_chance:
        p.conflict = rng.choice(vocab.COMPETITIVE_CONFLICTS)
    tenure_years = (tl.as_of_day - joined) / 365
    if L > 0.7 and tenure_years > 1 and rng.random() < 0.6:
        p.program_tier = "Premier"
    elif L > 0.45 and rng.random() < 0.6:
        p.program_tier = "Select"
    else:
        p.program_tier = "Registered"


def day_to_date(day: int) -> date:
    return EPOCH + timedelta(days=day)
