"""Word lists for the synthetic program: company names, regions, industries, courses, assets.

Names combine word lists so that 100k partners stay unique; the same first word recurs with different
second words ("Summit Systems" / "Summit Technologies") on purpose, so fuzzy name matching is exercised.
"""

from __future__ import annotations

import random

NAME_WORDS = [
    "Summit", "Northgate", "Westbrook", "Thistle", "Bluewater", "Ironbridge", "Kestrel", "Aspen", "Harbor",
    "Granite", "Cedar", "Falcon", "Orchard", "Meridian", "Silverline", "Brightpath", "Redwood", "Cobalt",
    "Larkspur", "Foxglove", "Driftwood", "Zephyr", "Keystone", "Sable", "Quarry", "Nimbus", "Beacon",
    "Willow", "Elmstead", "Glacier", "Mosaic", "Sierra", "Umber", "Rook", "Quill", "Cinder", "Alder",
    "Nettle", "Lumen", "Delta", "Halcyon", "Vantage", "Pinnacle", "Riverton", "Stonegate", "Ashford",
    "Blackwood", "Crestline", "Evergreen", "Fairhaven", "Highmark", "Juniper", "Lakeshore", "Maplewood",
    "Oakridge", "Pioneer", "Ridgeway", "Saltire", "Tidewater", "Wildflower", "Arbor", "Basalt", "Copperfield",
    "Dunmore", "Emberly", "Fernbrook", "Goldcrest", "Heron", "Indigo", "Jasper", "Kingsley", "Linden",
    "Marlow", "Northwind", "Osprey", "Pemberton", "Quantum", "Rosewood", "Stratus", "Tamarack", "Upland",
    "Verity", "Whitmore", "Yarrow", "Zenith", "Bramble", "Clearwater", "Everest", "Fjord", "Greystone",
]
SECOND_WORDS = [
    "Bay", "Point", "Ridge", "Peak", "Stone", "Field", "Lane", "Crest", "Gate", "Brook", "Vale", "Shore",
    "Park", "Hill", "Water", "Wood", "Light", "Line", "Path", "Star",
]
NAME_SUFFIXES = [
    "Systems", "Technologies", "Consulting", "Networks", "Solutions", "Partners", "Digital", "Labs", "Group",
    "Data", "Cloud", "IT", "Integrations", "Analytics", "Advisory", "Services", "Software", "Works",
]
LEGAL_SUFFIXES = ["Ltd", "Inc", "GmbH", "BV", "Pty", "SAS", "AB", "LLC"]

PARTNER_TYPES = ["reseller", "si", "isv", "msp", "referral"]
PARTNER_TYPE_WEIGHTS = [30, 25, 15, 20, 10]
REGIONS = {
    "NA": ["US", "US", "US", "CA"],
    "EMEA": ["GB", "DE", "FR", "NL", "SE", "ES", "IT", "IE", "DK", "PL"],
    "APAC": ["AU", "SG", "JP", "IN", "NZ", "KR"],
    "LATAM": ["BR", "MX", "AR", "CL", "CO"],
}
REGION_WEIGHTS = {"NA": 40, "EMEA": 32, "APAC": 18, "LATAM": 10}
SPECIALIZATIONS = [
    "data observability", "ml ops", "security", "cloud migration", "analytics", "data engineering",
    "managed services", "compliance", "devops", "integration",
]
INDUSTRIES = [
    "financial services", "healthcare", "retail", "manufacturing", "public sector", "logistics", "insurance",
    "higher education", "energy", "telecommunications",
]
EMPLOYEE_BANDS = ["50-200", "200-1000", "1000-5000", "5000+"]
ACCOUNT_SUFFIXES = ["Inc", "Ltd", "GmbH", "Co", "SA", "AG"]

TRAININGS = ["Foundations", "Sales Essentials", "Technical Deep Dive", "Solution Architecture"]
CERTIFICATIONS = ["Associate", "Professional", "Expert"]
EVENTS = ["Quarterly webinar", "Field roadshow", "Partner summit", "Product launch briefing", "Regional meetup"]
CONTENT = ["Pitch deck", "Battlecard", "Solution brief", "ROI calculator", "Reference architecture", "Case study kit"]
COMPETITIVE_CONFLICTS = [
    "Resells a competing observability platform",
    "Exclusive agreement with a direct competitor",
    "Builds an in-house product that overlaps our core module",
    "Top revenue partner of a rival vendor in the region",
]


def pick_weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class NameFactory:
    """Unique, plausible fictional company names; deterministic for a given rng sequence."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def company(self, rng: random.Random) -> str:
        # Short names first (they collide on purpose: same first word, different suffix), then longer
        # compounds, then a legal suffix; a numeric tail is the last resort so uniqueness never loops forever.
        for attempt in range(12):
            first = rng.choice(NAME_WORDS)
            if attempt < 3:
                name = f"{first} {rng.choice(NAME_SUFFIXES)}"
            elif attempt < 8:
                name = f"{first}{rng.choice(SECOND_WORDS).lower()} {rng.choice(NAME_SUFFIXES)}"
            else:
                name = f"{first} {rng.choice(SECOND_WORDS)} {rng.choice(NAME_SUFFIXES)} {rng.choice(LEGAL_SUFFIXES)}"
            if name not in self.used:
                self.used.add(name)
                return name
        n = len(self.used)
        name = f"{rng.choice(NAME_WORDS)} {rng.choice(NAME_SUFFIXES)} {n}"
        self.used.add(name)
        return name

    def near_duplicate(self, rng: random.Random, base: str) -> str | None:
        """A name one edit away from `base` ("Bluewater Data" -> "Blue Water Data", "... Ltd")."""
        variants = [f"{base} Ltd", f"{base} Inc"]
        first, _, rest = base.partition(" ")
        if len(first) > 6:
            variants.append(f"{first[: len(first) // 2]} {first[len(first) // 2:].capitalize()} {rest}".strip())
        variants.append(f"{first}{first[-1]} {rest}".strip())  # a typo-style doubled letter
        rng.shuffle(variants)
        for v in variants:
            if v and v not in self.used:
                self.used.add(v)
                return v
        return None


def account_name(rng: random.Random, industry: str) -> str:
    return f"{rng.choice(NAME_WORDS)} {industry.title()} {rng.choice(ACCOUNT_SUFFIXES)}"
