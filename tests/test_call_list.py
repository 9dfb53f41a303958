"""The call lists by play on lumenware; expectations read off the raw CSVs."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from readiness.db import session_scope
from readiness.errors import ValidationFailed
from readiness.models import ActivityEvent
from readiness.presentation import shown_score
from readiness.scoring import call_list, growth_list, list_counts, score_partner
from tests.test_scoring import LUMENWARE, clear_caches, lumenware_engine

AS_OF = date(2026, 10, 31)
PARTNERS = {r["partner_id"]: r for r in csv.DictReader((LUMENWARE / "partners.csv").open(encoding="utf-8"))}
CONFLICTED = {pid for pid, r in PARTNERS.items() if r["competitive_conflict"].strip()}
OPPS = list(csv.DictReader((LUMENWARE / "opportunities.csv").open(encoding="utf-8")))
# Partners with influenced opportunities and never a sourced one (opportunities.csv): they co-sell every month.
CO_SELLERS = ({o["partner_id"] for o in OPPS if o["attribution"] == "influenced"}
              - {o["partner_id"] for o in OPPS if o["attribution"] == "sourced"})


@pytest.fixture(scope="module")
def lw(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return lumenware_engine(tmp_path_factory.mktemp("lw_call"))


def test_call_list_stays_in_the_book_and_skips_producers_conflicts_and_co_sellers(lw: Engine) -> None:
    """pam-02's book (partners.csv) holds p-038 Elmstead and p-044 Granite, who registered sourced deals in
    Aug-Oct 2026 (active, not dormant), p-022 / p-042 with a competitive conflict (never worth a call), and
    p-039 Harbor Cloud / p-034 Yarrow Services, who co-sell (influenced deals) and never source."""
    with session_scope(lw) as s:
        entries = call_list(s, AS_OF, "pam-02", limit=50)
    ids = [e.partner_id for e in entries]
    assert ids, "pam-02 has dormant partners worth a call"
    assert all(PARTNERS[pid]["pam_id"] == "pam-02" for pid in ids)
    assert not set(ids) & CONFLICTED
    assert not set(ids) & {"p-038", "p-044"}
    assert not set(ids) & CO_SELLERS and {"p-039", "p-034"} <= CO_SELLERS
    assert [e.rank for e in entries] == list(range(1, len(entries) + 1))
    priorities = [e.priority for e in entries]
    assert priorities == sorted(priorities, reverse=True)
    for e in entries:
        assert e.play == e.plays[0].code and e.play != "grow_to_sourcing"
        assert e.reasons[0].startswith(e.plays[0].label) and e.opener and e.next_step and e.as_of == AS_OF


def test_co_sellers_are_on_the_grow_list_never_on_the_dormant_one(lw: Engine) -> None:
    """pam-01: p-035 Yarrow Digital (7 influenced opportunities, the last created 2026-10-15) and p-001 Summit
    Systems (6, the last 2026-09-12), none sourced: ranked 1st and 4th of the dormant list before issue 14."""
    with session_scope(lw) as s:
        dormant = {e.partner_id for e in call_list(s, AS_OF, "pam-01", limit=50)}
        grow = growth_list(s, AS_OF, "pam-01", limit=10)
        counts = list_counts(s, AS_OF, "pam-01")
    assert {"p-035", "p-001"} <= {g.partner_id for g in grow}
    assert not dormant & {g.partner_id for g in grow}
    yarrow = next(g for g in grow if g.partner_id == "p-035")
    assert yarrow.influenced_count == 7 and "2026-10-15" in yarrow.reasons[0]
    assert counts["dormant_total"] == len(dormant) and counts["grow_to_sourcing_count"] == len(grow)


def test_an_aligned_customer_base_leads_over_an_old_training(lw: Engine) -> None:
    """p-003 Summit Technologies: 45 shared target accounts detected (partner record 32), one training_completed
    on 2025-11-07 and nothing since: the overlap is the evidence a channel expert names first, not the training."""
    with session_scope(lw) as s:
        entry = next(e for e in call_list(s, AS_OF, "pam-01", limit=50) if e.partner_id == "p-003")
    assert entry.play == "open_overlap" and entry.open_with_gap == "co_sell"
    assert entry.reasons[0].startswith("Open the overlapping accounts")
    assert "45 shared target accounts" in entry.reasons[0]
    assert [p.code for p in entry.plays] == ["open_overlap", "first_deal"]
    assert entry.plays[0].strength > entry.plays[1].strength
    assert "45 of your customers" in entry.opener


def test_recent_ae_meetings_are_shown_and_lower_the_urgency(lw: Engine, tmp_path: Path) -> None:
    """p-013 Rook Systems (pam-02): 5 sourced deals, the last registered 2026-02-22; first on the list. Three AE
    meetings in October (added to a copy of the store) are shown with the reason and move it below p-036 Juniper
    Services, whose deals went quiet the same way with nobody talking to it."""
    with session_scope(lw) as s:
        before = call_list(s, AS_OF, "pam-02", limit=3)
    assert [e.partner_id for e in before[:2]] == ["p-013", "p-036"] and not before[0].recent_engagement
    copy = lumenware_engine(tmp_path)
    with session_scope(copy) as s:
        for k, day in enumerate((6, 15, 27)):
            when = datetime(2026, 10, day, 15, tzinfo=UTC)
            s.add(ActivityEvent(event_id=f"ae-{k}", partner_id="p-013", occurred_at=when, kind="ae_meeting",
                                day=(when.date() - date(1970, 1, 1)).days))
    clear_caches()
    with session_scope(copy) as s:
        after = {e.partner_id: e for e in call_list(s, AS_OF, "pam-02", limit=5)}
    rook = after["p-013"]
    assert rook.play == "reactivate"
    assert rook.recent_engagement == ["3 ae_meeting in the last 90 days (last 2026-10-27)"]
    assert any(r.startswith("Recent engagement") for r in rook.reasons)
    assert rook.priority < before[0].priority and rook.rank > after["p-036"].rank
    copy.dispose()


def test_play_filter_and_bad_arguments(lw: Engine) -> None:
    with session_scope(lw) as s:
        firsts = call_list(s, AS_OF, None, limit=20, play="first_deal")
        everyone = call_list(s, AS_OF, None, limit=100)
        with pytest.raises(ValidationFailed, match="unknown PAM"):
            call_list(s, AS_OF, "pam-99")
        with pytest.raises(ValidationFailed, match="unknown play"):
            call_list(s, AS_OF, "pam-01", play="grow_to_sourcing")
    assert firsts and {e.play for e in firsts} == {"first_deal"}
    assert {e.partner_id for e in firsts} == {e.partner_id for e in everyone if e.play == "first_deal"}
    assert {PARTNERS[e.partner_id]["pam_id"] for e in everyone} == {"pam-01", "pam-02", "pam-03"}
    assert not {e.partner_id for e in everyone} & (CONFLICTED | CO_SELLERS)


def test_one_number_everywhere_in_a_call_list_line(lw: Engine) -> None:
    """A score is rounded once: the entry's readiness, its reason line and a fresh score show the same figure
    (before issue 14 one line said "readiness 40" and the next "readiness 39 (Tier 4)" for 39.46)."""
    with session_scope(lw) as s:
        for e in call_list(s, AS_OF, None, limit=30):
            raw = score_partner(s, e.partner_id, AS_OF).score
            assert e.readiness == shown_score(raw)
            assert f"readiness {e.readiness} ({e.tier})" in e.reasons[-1]
    assert (shown_score(39.46), shown_score(39.5), shown_score(38.5), shown_score(None)) == (39, 40, 39, None)


def test_same_call_list_and_snapshots_on_both_databases(any_engine: Engine) -> None:
    """The SQL (aggregation, JSON snapshot ordering, upsert) runs on SQLite and PostgreSQL alike."""
    from readiness.importers import import_dataset
    from readiness.models import ScoreSnapshot
    from readiness.scoring import rescore_partner

    import_dataset(any_engine, LUMENWARE)
    clear_caches()
    with session_scope(any_engine) as s:
        ids = [e.partner_id for e in call_list(s, AS_OF, "pam-02", limit=50)]
        grow = [e.partner_id for e in growth_list(s, AS_OF, "pam-02", limit=50)]
        again = rescore_partner(s, "p-013", AS_OF)
        snaps = s.query(ScoreSnapshot).filter_by(partner_id="p-013").all()
    assert "p-013" in ids and not set(ids) & CONFLICTED and set(grow) == {"p-039", "p-034"}
    assert len(snaps) == 1 and snaps[0].score == pytest.approx(again.score) and snaps[0].play == "reactivate"


def test_cli_call_list_json_keeps_its_keys_adds_the_play_and_filters(lw: Engine,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
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
                            "open_with_gap", "next_step", "play"}
    assert all(isinstance(r["readiness"], int) for r in rows)
    only = cli.invoke(app, ["call-list", "--all", "--as-of", "2026-10-31", "--play", "open_overlap", "--json"])
    assert only.exit_code == 0 and {r["play"] for r in json.loads(only.stdout)} == {"open_overlap"}
    table = cli.invoke(app, ["call-list", "--pam", "pam-03", "--as-of", "2026-10-31"])
    assert "as of 2026-10-31" in table.output and "grow-list" in table.output
    grow = cli.invoke(app, ["grow-list", "--pam", "pam-03", "--as-of", "2026-10-31", "--json"])
    assert grow.exit_code == 0 and {r["partner_id"] for r in json.loads(grow.stdout)} == {"p-018", "p-043"}
    bad = cli.invoke(app, ["call-list", "--pam", "pam-77", "--as-of", "2026-10-31"])
    assert bad.exit_code == 2 and "unknown PAM" in bad.output
    bad_play = cli.invoke(app, ["call-list", "--pam", "pam-03", "--play", "cold_call", "--as-of", "2026-10-31"])
    assert bad_play.exit_code == 2 and "unknown play" in bad_play.output


def test_cli_rescore_stores_a_snapshot_per_partner_in_scope(lw: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """`partnerpilot rescore` (the after-import job): the whole program, or one book, snapshotted as of a date."""
    from sqlalchemy import func, select

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
