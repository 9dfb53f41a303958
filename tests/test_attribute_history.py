"""Dated partner attributes (partner_attributes.csv): imported, validated, and read as of the scoring date."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from readiness.db import init_db, make_engine, session_scope
from readiness.importers import import_dataset
from readiness.scoring import clear_caches, score_partner
from tests.test_scoring import LUMENWARE

# p-003 Summit Technologies (partners.csv: 150 employees, 32 overlapping accounts, no conflict) and p-019 Keystone
# Data (no conflict today).
HISTORY = """partner_id,attribute,valid_from,value
p-003,customer_overlap_accounts,2025-06-01,12
p-003,customer_overlap_accounts,2026-09-01,32
p-003,employee_count,2025-01-01,0040
p-019,competitive_conflict,2026-08-01,Signed a reseller agreement with a rival suite
p-019,competitive_conflict,2026-10-01,
p-003,employee_count,2026-01-01,-5
p-999,employee_count,2026-01-01,10
p-003,headcount,2026-01-01,10
p-003,employee_count,,10
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, object]:
    folder = tmp_path_factory.mktemp("dataset")
    for f in LUMENWARE.iterdir():
        shutil.copy(f, folder)
    (folder / "partner_attributes.csv").write_text(HISTORY, encoding="utf-8")
    engine = make_engine(f"sqlite:///{folder / 'store.db'}")
    init_db(engine)
    report = import_dataset(engine, folder)
    clear_caches()
    return engine, report


def test_dated_values_are_imported_and_bad_rows_quarantined_with_reasons(store: tuple[Engine, object],
                                                                        tmp_path: Path) -> None:
    engine, report = store
    counts = report.files["partner_attributes.csv"]  # type: ignore[attr-defined]
    assert (counts.inserted, counts.quarantined) == (5, 4)
    reasons = {q.row: q.reason for q in report.quarantine if q.file == "partner_attributes.csv"}  # type: ignore[attr-defined]
    assert reasons == {7: "value: must not be negative: -5", 8: "partner_id: unknown partner 'p-999'",
                       9: "attribute: unknown value 'headcount' (expected one of employee_count, "
                          "customer_overlap_accounts, competitive_conflict, icp_statement, use_cases, positioning, "
                          "sales_motion)",
                       10: "valid_from: required value is empty"}
    again = import_dataset(engine, LUMENWARE.parent / "lumenware")  # a re-import without the file changes nothing
    assert again.total.quarantined == 0


def test_scores_of_the_past_read_the_value_then_and_say_where_it_comes_from(store: tuple[Engine, object]) -> None:
    engine, _ = store
    with session_scope(engine) as s:
        past = score_partner(s, "p-003", date(2026, 6, 30))
        now = score_partner(s, "p-003", date(2026, 10, 31))
        other = score_partner(s, "p-004", date(2026, 10, 31))

    def evidence(x, key: str) -> str:  # type: ignore[no-untyped-def]
        return next(sub.evidence[0] for d in x.dimensions for sub in d.subsignals if sub.key == key)

    assert evidence(past, "sales_resources") == "40 employees (as of 2025-01-01)"
    assert evidence(past, "customer_overlap") == "12 customer accounts overlap the vendor's targets (as of 2025-06-01)"
    assert "(partner record: 32, as of 2026-09-01)" in evidence(now, "customer_overlap")
    assert evidence(other, "sales_resources") == "1200 employees (current value only)"
    overlap_past = next(d.score for d in past.dimensions if d.key == "market_alignment")
    assert overlap_past < next(d.score for d in now.dimensions if d.key == "market_alignment")


def test_a_conflict_counts_only_while_it_holds(store: tuple[Engine, object]) -> None:
    """p-019's conflict began 2026-08-01 and was cleared 2026-10-01: not_ever only in between."""
    engine, _ = store
    with session_scope(engine) as s:
        before = score_partner(s, "p-019", date(2026, 7, 31))
        during = score_partner(s, "p-019", date(2026, 9, 15))
        after = score_partner(s, "p-019", date(2026, 10, 31))
    assert before.outlook == "not_yet" and after.outlook == "not_yet"
    assert during.outlook == "not_ever"
    assert during.outlook_reason == ("competitive conflict: Signed a reseller agreement with a rival suite "
                                     "(since 2026-08-01)")


def test_the_value_in_effect_is_read_the_same_way_on_both_databases(any_engine: Engine, tmp_path: Path) -> None:
    """SQLite reads the newest dated value with max() and its row's columns, PostgreSQL with DISTINCT ON: both give
    p-003's overlap of 12 on 2026-06-30 and 32 on 2026-10-31, and p-019's conflict only in September."""
    from readiness.scoring.history import values_as_of

    folder = tmp_path / "dataset"
    folder.mkdir()
    for f in LUMENWARE.iterdir():
        shutil.copy(f, folder)
    (folder / "partner_attributes.csv").write_text(HISTORY, encoding="utf-8")
    import_dataset(any_engine, folder)
    clear_caches()
    with session_scope(any_engine) as s:
        june = values_as_of(s, date(2026, 6, 30), None)
        october = values_as_of(s, date(2026, 10, 31), ["p-003", "p-019"])
        august = values_as_of(s, date(2026, 7, 31), ["p-019"])
    assert june.of("p-003", "customer_overlap_accounts") == (date(2025, 6, 1), "12")
    assert october.of("p-003", "customer_overlap_accounts") == (date(2026, 9, 1), "32")
    assert october.of("p-019", "competitive_conflict") == (date(2026, 10, 1), None)
    assert august.of("p-019", "competitive_conflict") is None
    assert ("p-019", "competitive_conflict") in august.later
