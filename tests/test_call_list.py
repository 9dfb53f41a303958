"""The dormant-partner call list on lumenware; expectations read off the raw CSVs."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from sqlalchemy import Engine

from readiness.db import session_scope
from readiness.errors import ValidationFailed
from readiness.scoring import call_list
from tests.test_scoring import LUMENWARE, lumenware_engine

AS_OF = date(2026, 10, 31)
PARTNERS = {r["partner_id"]: r for r in csv.DictReader((LUMENWARE / "partners.csv").open(encoding="utf-8"))}
CONFLICTED = {pid for pid, r in PARTNERS.items() if r["competitive_conflict"].strip()}


@pytest.fixture(scope="module")
def lw(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return lumenware_engine(tmp_path_factory.mktemp("lw_call"))


def test_call_list_stays_in_the_book_and_skips_producers_and_conflicts(lw: Engine) -> None:
    """pam-02's book (partners.csv) holds p-038 Elmstead and p-044 Granite, who registered sourced deals in
    Aug-Oct 2026 (active, not dormant), and p-022 / p-042 with a competitive conflict (never worth a call)."""
    with session_scope(lw) as s:
        entries = call_list(s, AS_OF, "pam-02", limit=50)
    ids = [e.partner_id for e in entries]
    assert ids, "pam-02 has dormant partners worth a call"
    assert all(PARTNERS[pid]["pam_id"] == "pam-02" for pid in ids)
    assert not set(ids) & CONFLICTED
    assert not set(ids) & {"p-038", "p-044"}
    assert [e.rank for e in entries] == list(range(1, len(entries) + 1))
    stakes = [e.revenue_at_stake for e in entries]
    assert stakes == sorted(stakes, reverse=True)
    for e in entries:
        assert e.reasons and e.next_step and e.dormant_flags


def test_gone_quiet_and_trained_never_sold_partners_are_on_their_pams_list(lw: Engine) -> None:
    """p-013 Rook Systems (pam-02): 2 certifications, 18 overlapping accounts, 5 sourced deals of which the last
    was registered 2026-02-22, no login since April: ready but dormant, near the top with a gone-quiet flag.
    p-004 Thistle Networks (pam-02): certified 2026-07-07 plus 3 trainings, logs in every ~10 days, never
    registered a deal: on the list with a trained-but-never-sold flag."""
    with session_scope(lw) as s:
        entries = {e.partner_id: e for e in call_list(s, AS_OF, "pam-02", limit=50)}
        top3 = [e.partner_id for e in call_list(s, AS_OF, "pam-02", limit=3)]
    assert "p-013" in top3
    rook = entries["p-013"]
    assert rook.segment == "ready"
    assert "deals_gone_quiet" in {f.code for f in rook.dormant_flags}
    assert rook.open_with_gap == "ae_engagement"
    thistle = entries["p-004"]
    assert "trained_never_sold" in {f.code for f in thistle.dormant_flags}
    assert any("certification_earned" in ev for f in thistle.dormant_flags for ev in f.evidence)


def test_program_wide_list_and_unknown_pam(lw: Engine) -> None:
    with session_scope(lw) as s:
        everyone = call_list(s, AS_OF, None, limit=100)
        with pytest.raises(ValidationFailed, match="unknown PAM"):
            call_list(s, AS_OF, "pam-99")
    assert {PARTNERS[e.partner_id]["pam_id"] for e in everyone} == {"pam-01", "pam-02", "pam-03"}
    assert not {e.partner_id for e in everyone} & CONFLICTED


def test_same_call_list_and_snapshots_on_both_databases(any_engine: Engine) -> None:
    """The SQL (aggregation, JSON snapshot ordering, upsert) runs on SQLite and PostgreSQL alike."""
    from readiness.importers import import_dataset
    from readiness.models import ScoreSnapshot
    from readiness.scoring import clear_caches, rescore_partner

    import_dataset(any_engine, LUMENWARE)
    clear_caches()
    with session_scope(any_engine) as s:
        ids = [e.partner_id for e in call_list(s, AS_OF, "pam-02", limit=50)]
        again = rescore_partner(s, "p-013", AS_OF)
        snaps = s.query(ScoreSnapshot).filter_by(partner_id="p-013").all()
    assert "p-013" in ids and not set(ids) & CONFLICTED
    assert len(snaps) == 1 and snaps[0].score == pytest.approx(again.score)


def test_cli_call_list_json_is_ranked_and_unknown_pam_is_a_clear_error(lw: Engine,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    import partnerpilot.cli.common as common
    from partnerpilot.cli import app

    monkeypatch.setattr(common, "_engine", lw)
    cli = CliRunner()
    result = cli.invoke(app, ["call-list", "--pam", "pam-03", "--as-of", "2026-10-31", "--limit", "4", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert all(PARTNERS[r["partner_id"]]["pam_id"] == "pam-03" for r in rows)
    assert set(rows[0]) >= {"rank", "partner_id", "name", "segment", "readiness", "revenue_at_stake", "reasons",
                            "open_with_gap", "next_step"}
    bad = cli.invoke(app, ["call-list", "--pam", "pam-77", "--as-of", "2026-10-31"])
    assert bad.exit_code == 2 and "unknown PAM" in bad.output


def test_cli_rescore_stores_a_snapshot_per_partner_in_scope(lw: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """`partnerpilot rescore` (the after-import job): the whole program, or one book, snapshotted as of a date."""
    import json

    from sqlalchemy import func, select
    from typer.testing import CliRunner

    import partnerpilot.cli.common as common
    from partnerpilot.cli import app
    from readiness.models import ScoreSnapshot

    monkeypatch.setattr(common, "_engine", lw)
    cli = CliRunner()
    day = "2026-09-30"
    book = cli.invoke(app, ["rescore", "--pam", "pam-03", "--as-of", day, "--json"])
    assert book.exit_code == 0, book.output
    in_book = sum(1 for p in PARTNERS.values() if p["pam_id"] == "pam-03")
    assert json.loads(book.stdout)["partners"] == in_book
    whole = cli.invoke(app, ["rescore", "--as-of", day, "--json"])
    assert json.loads(whole.stdout)["partners"] == len(PARTNERS)
    with session_scope(lw) as s:
        stored = s.scalar(select(func.count()).select_from(ScoreSnapshot).where(
            ScoreSnapshot.as_of == date.fromisoformat(day)))
    assert stored == len(PARTNERS)
    unknown = cli.invoke(app, ["rescore", "--pam", "pam-77", "--as-of", day])
    assert unknown.exit_code == 2 and "no partners" in unknown.output
