"""GTM profile texts in the partner's own words: vague for weak partners, specific for ready ones.

A specific profile names industry + size band + buyer role + trigger (ICP), a customer problem with a
measurable outcome and proof (use case), and how deals are found and when the vendor AE joins (motion).
The chance of each field being specific rises with latent readiness, so text quality carries signal.
"""

from __future__ import annotations

import random

VAGUE_ICP = [
    "Any company looking to modernise its technology.",
    "We work with businesses of all sizes that want to grow.",
    "Mid-market and enterprise customers across industries.",
    "Organisations on a digital transformation journey.",
    "Customers who need better data.",
]
VAGUE_USE_CASES = [
    "General IT consulting",
    "Digital transformation;cloud services",
    "Implementation services",
    "Data strategy;managed services",
    "Best-in-class solutions for every need",
]
VAGUE_POSITIONING = [
    "We are a trusted partner delivering value.",
    "Leading provider of innovative solutions.",
    "Together we help customers succeed.",
]
VAGUE_MOTION = [
    "We sell to our existing customers.",
    "Relationship-driven.",
    "Marketing and events.",
]

BANDS_TEXT = {"50-200": "50-200", "200-1000": "200-1,000", "1000-5000": "1,000-5,000", "5000+": "more than 5,000"}
BUYERS = [
    ("operations leaders", "throughput target"),
    ("CIOs", "cost-reduction mandate"),
    ("heads of data", "data-quality SLA"),
    ("compliance officers", "regulatory deadline"),
    ("CISOs", "audit finding"),
]
TRIGGERS = [
    "a platform migration",
    "a failed audit in the last 12 months",
    "a merger that doubled their data estate",
    "a new regulatory reporting deadline",
    "a board-level outage review",
]
PROBLEMS = [
    ("unplanned downtime of {ind} data pipelines", "by 40% within one quarter"),
    ("time to detect broken {ind} reports", "from days to under an hour"),
    ("manual reconciliation effort in {ind} finance close", "by 60% in two closes"),
    ("audit preparation time for {ind} regulators", "from six weeks to ten days"),
]
PROOFS = [
    "proven at two reference customers",
    "with a 30-day proof of value",
    "backed by a published case study",
    "measured in a paid pilot",
]
MOTIONS = [
    "Outbound to named accounts in our {ind} base; vendor AE joins at validation; 6-week paid pilot",
    "Deals come from our managed-services renewals; we register at discovery and bring the AE to the first demo",
    "Quarterly executive roundtables for {ind} CIOs generate leads; AE joins once budget is confirmed",
    "Referral-led; co-sell with vendor AE on deals above 50k, AE joins at proposal",
]


def gtm_texts(rng: random.Random, latent: float, industry: str, band: str) -> dict[str, str]:
    """icp_statement, use_cases, positioning and sales_motion ('' = empty cell)."""

    def specific() -> bool:
        return rng.random() < 0.1 + 0.85 * latent

    def maybe_empty(text: str) -> str:
        # Weak partners often leave fields blank; strong ones rarely do.
        return "" if rng.random() < 0.35 * (1 - latent) else text

    ind = industry
    if specific():
        role, target = rng.choice(BUYERS)
        icp = (
            f"{ind.capitalize()} companies with {BANDS_TEXT[band]} employees whose {role} own a {target}, "
            f"triggered by {rng.choice(TRIGGERS)}."
        )
    else:
        icp = rng.choice(VAGUE_ICP)
    if specific():
        cases = rng.sample(PROBLEMS, 2)
        use_cases = ";".join(f"Cut {p.format(ind=ind)} {o} ({rng.choice(PROOFS)})" for p, o in cases)
    else:
        use_cases = rng.choice(VAGUE_USE_CASES)
    if specific():
        positioning = f"Together we give {ind} teams one view of data health with a 30-day proof."
    else:
        positioning = rng.choice(VAGUE_POSITIONING)
    motion = rng.choice(MOTIONS).format(ind=ind) if specific() else rng.choice(VAGUE_MOTION)
    return {
        "icp_statement": maybe_empty(icp),
        "use_cases": maybe_empty(use_cases),
        "positioning": maybe_empty(positioning),
        "sales_motion": maybe_empty(motion),
    }
