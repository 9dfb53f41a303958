"""Entities in a message (issue 13, item 3): partner names with typos and several at once, without taking ordinary or
capitalised words, acronyms, regions, course or certification names or customer names for partners; references,
dates and amounts. Rules and fuzzy matching only: no model is loaded."""

from __future__ import annotations

import csv
from datetime import date

import pytest

from agent.planner.entities import NameIndex, dates_in, extract, extract_topic
from readiness.scope import PartnerRef
from tests.conftest import LUMENWARE

TODAY = date(2026, 10, 31)  # a Saturday


@pytest.fixture(scope="module")
def book() -> NameIndex:
    with (LUMENWARE / "partners.csv").open(encoding="utf-8") as fh:
        refs = [PartnerRef(partner_id=r["partner_id"], name=r["name"], pam_id=r["pam_id"])
                for r in csv.DictReader(fh) if r["pam_id"] == "pam-01"]
    return NameIndex(refs)


def ids(book: NameIndex, text: str) -> list[list[str]]:
    return [m.partner_ids for m in extract(text, book, TODAY).partners]


def test_misspelt_names_inside_a_sentence(book: NameIndex) -> None:
    assert ids(book, "hows bluefn technolgies doing") == [["p-046"]]
    assert ids(book, "what's up with silverlin services lately?") == [["p-048"]]


def test_several_partners_at_once_in_order(book: NameIndex) -> None:
    assert ids(book, "Bluefin Technologies vs Summit Systems") == [["p-046"], ["p-001"]]
    assert ids(book, "compare p-046, Canyon Cloud and Larkspur Services") == [["p-046"], ["p-017"], ["p-007"]]


def test_a_shared_first_word_is_ambiguous_and_names_both(book: NameIndex) -> None:
    assert ids(book, "how is Summit doing") == [["p-001", "p-003"]]


@pytest.mark.parametrize("text", [
    "pick ONE thing to fix first",
    "who is our partner manager / next QBR?",
    "win rate on deals over 50k in EMEA?",
    "two of us passed the Solutions Architect Associate exam",
    "we closed our first deal with Harbor Logistics Inc yesterday",
    "Thanks! Update: the ICP is done",
])
def test_ordinary_words_acronyms_regions_courses_customers_are_not_partners(book: NameIndex, text: str) -> None:
    e = extract(text, book, TODAY)
    assert e.partners == [] and e.unknown_names == []


def test_customers_and_certifications_are_kept_as_evidence(book: NameIndex) -> None:
    e = extract("closed our first deal with Harbor Logistics Inc last Tuesday for $45k, and Priya passed the "
                "Solutions Architect Associate exam", book, TODAY)
    assert e.customers == ["Harbor Logistics Inc"]
    assert e.certifications == ["Solutions Architect Associate"]
    assert e.amounts == [45_000.0]
    assert e.dates == [date(2026, 10, 27)]


def test_a_company_outside_the_book_is_an_unknown_name_for_the_tools_to_refuse(book: NameIndex) -> None:
    e = extract("what's Granite Consulting's pipeline?", book, TODAY)
    assert e.partners == [] and e.unknown_names == ["Granite Consulting"]


@pytest.mark.parametrize(("text", "ordinal"), [
    ("what about the second one?", 2), ("and the last one", -1), ("#3 please", 3), ("number two?", 2),
    ("pick one thing to fix first", None), ("we closed our first deal", None),
])
def test_ordinals(book: NameIndex, text: str, ordinal: int | None) -> None:
    assert extract(text, book, TODAY).ordinal == ordinal


@pytest.mark.parametrize(("text", "reference", "plural"), [
    ("what's their score", "many", None), ("tell me about that partner", "one", None),
    ("and the other one?", "other", None), ("put those two side by side", "many", 2),
    ("compare the top three", None, 3),
])
def test_references(book: NameIndex, text: str, reference: str | None, plural: int | None) -> None:
    e = extract(text, book, TODAY)
    assert (e.reference, e.plural) == (reference, plural)


def test_relative_dates_resolve_against_today() -> None:
    assert dates_in("yesterday", TODAY) == [date(2026, 10, 30)]
    assert dates_in("two weeks ago", TODAY) == [date(2026, 10, 17)]
    assert dates_in("on 12 Oct", TODAY) == [date(2026, 10, 12)]


def test_list_filters(book: NameIndex) -> None:
    f = extract("who in my book is stuck in onboarding?", book, TODAY).filters
    assert (f.stage, f.stalled) == ("onboarding", True)
    assert extract("ok show me the tier 1s", book, TODAY).filters.tier == 1
    assert extract("how many are not-ever?", book, TODAY).filters.outlook == "not_ever"


def test_topic_prefers_the_longest_phrase() -> None:
    topic = extract_topic("we just published a case study on our healthcare pipeline project")
    assert topic.dimension == "delivery_credibility"
