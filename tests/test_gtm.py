"""GTM gap diagnosis: the text rubric, behaviour-over-words rules, ranking and playbook selection.

Lumenware expectations were picked by reading the raw CSVs (evals/datasets/lumenware), not from program output.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from knowledge.catalog import PlaybookMeta
from readiness.db import init_db, make_engine, session_scope
from readiness.errors import UnknownPartner
from readiness.gtm import diagnose
from readiness.gtm.rubric import assess_icp, assess_positioning, assess_sales_motion, assess_use_case
from readiness.importers import import_dataset
from readiness.models import GTMProfile
from tests.conftest import LUMENWARE, LUMENWARE_AS_OF

AS_OF = date.fromisoformat(LUMENWARE_AS_OF)


def load_lumenware(engine: Engine) -> None:
    report = import_dataset(engine, LUMENWARE)
    assert report.total.quarantined == 0


@pytest.fixture(scope="module")
def lw_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Lumenware imported once for this module's read-only tests."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('gtm') / 'store.db'}")
    init_db(engine)
    load_lumenware(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def lw(lw_engine: Engine) -> Iterator[Session]:
    with session_scope(lw_engine) as s:
        yield s
        s.rollback()


# ---------- rubric ----------


@pytest.mark.parametrize(
    "text",
    [
        "We work with businesses of all sizes that want to grow.",
        "Any company looking to modernise its technology.",
        "Mid-market and enterprise customers across industries.",
        "",
        None,
    ],
)
def test_vague_icp_scores_low_and_names_what_is_missing(text: str | None) -> None:
    r = assess_icp(text)
    assert r.score < 0.4
    assert "industry" in " ".join(r.missing)
    assert r.missing, "a vague ICP must say which element is missing"


def test_specific_icp_in_other_words_passes_every_element() -> None:
    """Different industry, size wording, role and trigger than the sample data: the lexicons must generalise."""
    r = assess_icp("Regional banks with 500-2,000 staff where the CFO is preparing for a new regulation deadline.")
    assert r.score == 1.0, r
    r = assess_icp("Mid-sized hospitals whose head of IT faces an EHR migration")
    assert r.present_elements == ["industry", "size_band", "buyer_role", "trigger"], r
    partial = assess_icp("Logistics companies with 1,000-5,000 employees")  # no buyer, no trigger
    assert partial.score == 0.5 and set(partial.missing) == {"buyer_role", "trigger"}


def test_use_case_needs_problem_outcome_and_proof() -> None:
    full = assess_use_case("Reduce claims-processing delays by 30% in 90 days; case study with a top-10 insurer")
    assert full.score == 1.0, full
    no_proof = assess_use_case(["Cut unplanned downtime of retail data pipelines by 40% within one quarter"])
    assert no_proof.missing == ["proof"]
    assert assess_use_case("General IT consulting").score == 0.0


def test_sales_motion_needs_sourcing_and_ae_timing() -> None:
    assert assess_sales_motion("Outbound to named accounts; the vendor AE joins at the discovery call").score == 1.0
    advisory = assess_sales_motion("Advisory; influences vendor-led deals, does not source")
    assert "deal_sourcing" in advisory.missing  # "does not source" is the opposite of a sourcing motion
    assert "ae_handoff" in assess_sales_motion("We do outbound").missing


def test_positioning_who_for_unlike() -> None:
    r = assess_positioning("For plant managers who lose shifts to outages: one view of line health, unlike "
                           "generic dashboards")
    assert r.score == 1.0, r
    assert assess_positioning(None).score == 0.0


# ---------- diagnosis on lumenware ----------


@pytest.mark.parametrize("partner_id", ["p-003", "p-006", "p-010"])
def test_vague_icp_partners_get_an_icp_gap(lw: Session, partner_id: str) -> None:
    """p-003 "Any company looking to modernise its technology.", p-006 "We work with businesses of all sizes that
    want to grow.", p-010 "Mid-market and enterprise customers across industries."; none has an opportunity, so
    no behaviour reveals an unwritten focus either."""
    d = diagnose(lw, partner_id, AS_OF, catalog=[])
    icp = next(g for g in d.gaps if g.gap == "icp")
    assert icp.status == "missing"
    assert any("industry" in m for m in icp.missing_elements)
    assert any("ICP statement" in e for e in icp.evidence)


@pytest.mark.parametrize("partner_id", ["p-004", "p-014", "p-021", "p-028", "p-032"])
def test_trained_but_never_sold_partners_get_a_sales_motion_or_use_case_gap(lw: Session, partner_id: str) -> None:
    """These five have 3 training_completed + 1 certification_earned and 18 portal logins in activity.csv, but no
    deal_registered event and no row in opportunities.csv: enablement without a selling motion."""
    d = diagnose(lw, partner_id, AS_OF, catalog=[])
    assert d.top_gap is not None and d.top_gap.gap in {"sales_motion", "use_case"}
    motion = next(g for g in d.gaps if g.gap == "sales_motion")
    assert motion.status == "missing"
    assert any("never registered" in e for e in motion.evidence)


@pytest.mark.parametrize("partner_id", ["p-007", "p-012", "p-044"])
def test_active_producers_get_no_or_only_minor_gaps(lw: Session, partner_id: str) -> None:
    """Each has 7-10 deal registrations and 7-10 sourced opportunities created through Aug-Oct 2026, 4 AE meetings,
    4 demos, 3 certifications, and a specific ICP, use case, positioning and sales motion in gtm_profiles.csv."""
    d = diagnose(lw, partner_id, AS_OF, catalog=[])
    assert all(g.status == "partial" for g in d.gaps), [(g.gap, g.status) for g in d.gaps]
    assert len(d.gaps) <= 1


def test_specific_icp_without_matching_opportunities_is_at_most_partial(lw: Session) -> None:
    """p-002 states a retail 200-1,000-employee ICP with buyer and trigger, but joined 2026-09-11 and has no
    opportunity: words alone do not make the ICP strong."""
    d = diagnose(lw, "p-002", AS_OF, catalog=[])
    icp = next(a for a in d.assessments if a.gap == "icp")
    profile = lw.get_one(GTMProfile, "p-002")
    assert assess_icp(profile.icp_statement).score >= 0.75
    assert icp.status == "partial"
    assert any("opportunities in the stated ICP" in m for m in icp.missing_elements)


def test_registered_deals_without_ae_touch_are_an_ae_engagement_gap(lw: Session) -> None:
    """p-005 registered 4 deals (4 sourced manufacturing opportunities) with no ae_meeting, joint_call or
    co_sell_request ever, although its sales motion says "co-sell with vendor AE on larger deals"."""
    d = diagnose(lw, "p-005", AS_OF, catalog=[])
    ae = next(g for g in d.gaps if g.gap == "ae_engagement")
    assert ae.status == "missing"
    assert "4 deal registrations" in ae.evidence[0]
    assert d.top_gap is not None and d.top_gap.gap == "ae_engagement"


def test_gaps_are_ranked_and_only_time_before_as_of_counts(lw: Session) -> None:
    d = diagnose(lw, "p-007", date(2025, 12, 31), catalog=[])
    # Before its first deal registration p-007 was not producing: the sales motion was a gap then.
    assert any(g.gap == "sales_motion" for g in d.gaps)
    priorities = [g.priority for g in d.gaps]
    assert priorities == sorted(priorities, reverse=True)
    assert d.top_gap == (d.gaps[0] if d.gaps else None)


def _meta(
    id: str, gaps: list[str], phase: str, audience: str = "partner", types: str | list[str] = "all"
) -> PlaybookMeta:
    return PlaybookMeta(id=id, title=id.replace("-", " "), gaps=gaps, phase=phase, partner_types=types,
                        audience=audience, updated_on=date(2026, 1, 1), path=Path(f"{id}.md"), word_count=100)


def test_playbooks_follow_gap_phase_audience_and_partner_type(lw: Session) -> None:
    """p-006 (referral partner, no deal ever) is in the 30-day phase."""
    catalog = [
        _meta("icp-30", ["icp"], "30"),
        _meta("icp-90", ["icp"], "90"),
        _meta("icp-any-pam", ["icp"], "any", audience="pam"),
        _meta("icp-si-only", ["icp"], "30", types=["si"]),
        _meta("motion-90", ["sales_motion"], "90"),
    ]
    d = diagnose(lw, "p-006", AS_OF, catalog=catalog)
    assert d.phase == "30"
    icp = next(g for g in d.gaps if g.gap == "icp")
    assert [p.id for p in icp.playbooks] == ["icp-30"]
    motion = next(g for g in d.gaps if g.gap == "sales_motion")
    assert [p.id for p in motion.playbooks] == ["motion-90"]  # no 30-day one: nearest phase rather than nothing


def test_empty_catalog_is_said_not_hidden(lw: Session) -> None:
    d = diagnose(lw, "p-006", AS_OF, catalog=[])
    assert d.catalog_empty and all(g.playbooks == [] for g in d.gaps)
    assert "catalog is empty" in d.summary


def test_default_catalog_is_loaded(lw: Session) -> None:
    d = diagnose(lw, "p-003", AS_OF)
    assert not d.catalog_empty
    assert any(g.playbooks for g in d.gaps)


def test_unknown_partner(lw: Session) -> None:
    with pytest.raises(UnknownPartner):
        diagnose(lw, "p-999", AS_OF, catalog=[])


def test_rubric_is_registered_with_scoring_hook() -> None:
    gtm_behaviour = pytest.importorskip("readiness.scoring.gtm_behaviour")
    from readiness.gtm import profile_text_scores, register_with_scoring

    assert register_with_scoring()
    assert gtm_behaviour._registry == [profile_text_scores]
    scores = profile_text_scores(None)
    assert scores == {}


def test_gap_playbooks_needing_customers_come_last_for_a_partner_without_one() -> None:
    """A delivery-credibility gap in the 90-day phase: a partner with won customers may be offered the customer
    case study; one with none first gets what it can do today (proof points, demos, workshops)."""
    from readiness.gtm.diagnosis import default_catalog, playbooks_for

    catalog = default_catalog()
    needs = {p.id for p in catalog if getattr(p, "requires_customers", False)}
    assert {"case-study-writing", "expansion-opportunities"} <= needs
    for gap in ("delivery_credibility", "sales_motion"):
        without = [p.id for p in playbooks_for(gap, "90", "reseller", catalog, has_customers=False)]
        assert without, gap
        firsts = [i for i, pid in enumerate(without) if pid in needs]
        assert all(i > j for i in firsts for j, pid in enumerate(without) if pid not in needs), without
        assert without[0] not in needs, (gap, without)  # something it can do today comes first
