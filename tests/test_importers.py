"""Importers: canonical CSV / JSON Lines, quarantine, upsert semantics, transactions, fast path, CRM mappings."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner

from readiness.importers import import_dataset
from readiness.importers.fastpath import check_activity
from readiness.importers.rows import ActivityRow, error_reason
from readiness.models import ActivityEvent, GTMProfile, Opportunity, Pam, Partner, QuarantinedRow
from tests.conftest import LUMENWARE

FILES = ("pams", "partners", "gtm_profiles", "opportunities", "activity")
TABLES = (Pam, Partner, GTMProfile, Opportunity, ActivityEvent)
FIXTURES = Path(__file__).parent / "fixtures" / "crm"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> None:
    columns = columns or list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every imported table (plus quarantine), ordered: equal snapshots mean equal stores."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for model in (*TABLES, QuarantinedRow):
            t = model.__table__
            out[t.name] = sorted(tuple(r) for r in conn.execute(select(*t.c).order_by(*t.primary_key.columns)))
    return out


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {m.__tablename__: conn.execute(select(func.count()).select_from(m)).scalar_one() for m in TABLES}


# --- canonical import ------------------------------------------------------------------------------------

def test_lumenware_imports_every_row_and_reimport_changes_nothing(any_engine: Engine) -> None:
    expected = {f"{name}.csv": len(read_csv(LUMENWARE / f"{name}.csv")) for name in FILES}

    first = import_dataset(any_engine, LUMENWARE)
    assert {name: c.inserted for name, c in first.files.items()} == expected
    assert first.total.quarantined == 0 and first.quarantine == []
    assert first.total.inserted == sum(expected.values())
    assert table_counts(any_engine) == {
        "pams": expected["pams.csv"], "partners": expected["partners.csv"],
        "gtm_profiles": expected["gtm_profiles.csv"], "opportunities": expected["opportunities.csv"],
        "activity_events": expected["activity.csv"],
    }

    second = import_dataset(any_engine, LUMENWARE)
    assert second.total.inserted == 0 and second.total.updated == 0 and second.total.quarantined == 0
    assert {name: c.unchanged for name, c in second.files.items()} == expected


def test_activity_day_is_utc_days_since_epoch_and_values_round_trip(any_engine: Engine) -> None:
    raw = {r["event_id"]: r for r in read_csv(LUMENWARE / "activity.csv")}
    import_dataset(any_engine, LUMENWARE)
    with any_engine.connect() as conn:
        rows = conn.execute(select(ActivityEvent.event_id, ActivityEvent.day, ActivityEvent.kind,
                                   ActivityEvent.known_kind, ActivityEvent.detail)).all()
    assert len(rows) == len(raw)
    for event_id, day, kind, known, detail in rows:
        at = datetime.fromisoformat(raw[event_id]["occurred_at"]).astimezone(UTC)
        assert day == (at.date() - date(1970, 1, 1)).days
        assert kind == raw[event_id]["kind"] and known is True
        assert detail == (raw[event_id]["detail"] or None)


def _corrupted_copy(tmp_path: Path) -> tuple[Path, dict[tuple[str, int], str], dict[str, int]]:
    """Lumenware with one defect of each kind; returns the folder, the expected (file, row) -> reason
    fragment, and the number of good rows per file."""
    folder = tmp_path / "corrupted"
    shutil.copytree(LUMENWARE, folder)
    bad: dict[tuple[str, int], str] = {}

    partners = read_csv(folder / "partners.csv")
    partners[4]["joined_on"] = "2024-13-45"
    bad[("partners.csv", 6)] = "joined_on: not an ISO date"
    write_csv(folder / "partners.csv", partners)

    opps = read_csv(folder / "opportunities.csv")
    opps[0]["amount"] = "-500"
    bad[("opportunities.csv", 2)] = "amount: must not be negative"
    opps[1]["stage"] = "won_maybe"
    bad[("opportunities.csv", 3)] = "stage: unknown value 'won_maybe'"
    opps.append({**opps[5], "amount": "999999"})  # same id, different content
    bad[("opportunities.csv", len(opps) + 1)] = "duplicate id with conflicting content"
    write_csv(folder / "opportunities.csv", opps)

    activity = read_csv(folder / "activity.csv")
    activity[2]["occurred_at"] = "2025-04-26T14:56:00"
    bad[("activity.csv", 4)] = "occurred_at: timestamp has no time zone"
    activity[3]["partner_id"] = "p-999"
    bad[("activity.csv", 5)] = "partner_id: unknown partner 'p-999'"
    activity[6]["kind"] = "webinar_hosted"  # unknown kind: kept and flagged, not quarantined
    write_csv(folder / "activity.csv", activity)
    # A row whose bytes are not UTF-8 (Latin-1 'é'): only that row is refused.
    lines = (folder / "activity.csv").read_bytes().split(b"\n")
    lines[9] = lines[9].replace(b",portal_login,,", b",portal_login,caf\xe9,")
    assert b"\xe9" in lines[9]
    (folder / "activity.csv").write_bytes(b"\n".join(lines))
    bad[("activity.csv", 10)] = "invalid utf-8 bytes"

    gtm = read_csv(folder / "gtm_profiles.csv")
    write_csv(folder / "gtm_profiles.csv", gtm, [c for c in gtm[0] if c != "partner_id"])
    for i in range(len(gtm)):
        bad[("gtm_profiles.csv", i + 2)] = "missing required column(s): partner_id"

    good = {
        "pams.csv": len(read_csv(LUMENWARE / "pams.csv")),
        "partners.csv": len(partners) - 1,
        "gtm_profiles.csv": 0,
        "opportunities.csv": len(opps) - 3,
        "activity.csv": len(activity) - 3,
    }
    return folder, bad, good


def test_corrupted_rows_are_quarantined_with_reasons_and_good_rows_imported(any_engine: Engine,
                                                                            tmp_path: Path) -> None:
    folder, bad, good = _corrupted_copy(tmp_path)
    # The partner with the bad date is refused, so its opportunities and activity are refused too.
    refused_partner = read_csv(LUMENWARE / "partners.csv")[4]["partner_id"]
    for name in ("opportunities.csv", "activity.csv"):
        for row, rec in enumerate(read_csv(LUMENWARE / name), start=2):
            if rec["partner_id"] == refused_partner and (name, row) not in bad:
                bad[(name, row)] = f"unknown partner '{refused_partner}'"
                good[name] -= 1

    report = import_dataset(any_engine, folder)

    got = {(q.file, q.row): q.reason for q in report.quarantine}
    assert set(got) == set(bad)
    for key, fragment in bad.items():
        assert fragment.lower() in got[key].lower(), (key, got[key])
    assert {name: c.inserted for name, c in report.files.items()} == good
    with any_engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(QuarantinedRow)
                              .where(QuarantinedRow.import_run == report.run_id)).scalar_one()
        unknown = conn.execute(select(ActivityEvent.kind, ActivityEvent.known_kind)
                               .where(ActivityEvent.kind == "webinar_hosted")).all()
    assert stored == len(bad)
    assert unknown == [("webinar_hosted", False)]


def test_upsert_updates_changed_rows_and_refuses_rewriting_activity(any_engine: Engine, tmp_path: Path) -> None:
    import_dataset(any_engine, LUMENWARE)
    folder = tmp_path / "changed"
    shutil.copytree(LUMENWARE, folder)
    partners = read_csv(folder / "partners.csv")
    partners[0]["name"] = "Summit Systems Renamed"
    write_csv(folder / "partners.csv", partners)
    activity = read_csv(folder / "activity.csv")
    activity[0]["kind"] = "joint_call"  # an existing event id whose content changed
    activity.append({"event_id": "ev-new-1", "partner_id": partners[0]["partner_id"],
                     "occurred_at": "2026-10-30T23:30:00-05:00", "kind": "demo_delivered", "detail": "",
                     "value": "2"})
    write_csv(folder / "activity.csv", activity)

    report = import_dataset(any_engine, folder)

    assert report.files["partners.csv"].model_dump() == {
        "inserted": 0, "updated": 1, "unchanged": len(partners) - 1, "quarantined": 0}
    assert report.files["activity.csv"].model_dump() == {
        "inserted": 1, "updated": 0, "unchanged": len(activity) - 2, "quarantined": 1}
    assert report.quarantine[0].row == 2 and "already in the store" in report.quarantine[0].reason
    with any_engine.connect() as conn:
        assert conn.execute(select(Partner.name).where(Partner.partner_id == partners[0]["partner_id"])
                            ).scalar_one() == "Summit Systems Renamed"
        new = conn.execute(select(ActivityEvent.day, ActivityEvent.value)
                           .where(ActivityEvent.event_id == "ev-new-1")).one()
    assert new == ((date(2026, 10, 31) - date(1970, 1, 1)).days, 2.0)  # 23:30 at -05:00 is the 31st in UTC


def test_crash_halfway_leaves_store_exactly_as_before(any_engine: Engine, tmp_path: Path) -> None:
    import_dataset(any_engine, LUMENWARE)
    before = snapshot(any_engine)
    folder = tmp_path / "next"
    shutil.copytree(LUMENWARE, folder)
    partners = read_csv(folder / "partners.csv")
    partners[1]["program_tier"] = "Elite"
    write_csv(folder / "partners.csv", partners)
    with (folder / "activity.csv").open("a", encoding="utf-8") as fh:
        fh.write("ev-crash-1,p-001,2026-10-30T10:00:00Z,portal_login,,\n")

    def explode(label: str, done: int, total: int) -> None:
        if label == "activity.csv":  # partners were already updated inside the transaction by now
            raise RuntimeError("injected failure")

    with pytest.raises(RuntimeError, match="injected failure"):
        import_dataset(any_engine, folder, progress=explode)
    assert snapshot(any_engine) == before


def _to_jsonl(src: Path, dest: Path) -> None:
    numeric = {"value", "amount", "employee_count", "customer_overlap_accounts"}
    lists = {"specializations", "use_cases"}
    dest.mkdir()
    for name in FILES:
        with (dest / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
            for rec in read_csv(src / f"{name}.csv"):
                obj: dict[str, Any] = {}
                for key, value in rec.items():
                    if value == "":
                        obj[key] = None
                    elif key in numeric:
                        obj[key] = float(value) if "." in value else int(value)
                    elif key in lists:
                        obj[key] = value.split(";")
                    else:
                        obj[key] = value
                fh.write(json.dumps(obj) + "\n")


def test_jsonl_import_equals_csv_import(tmp_path: Path) -> None:
    from readiness.db import init_db, make_engine

    _to_jsonl(LUMENWARE, tmp_path / "jsonl")
    stores = {}
    for kind, folder in (("csv", LUMENWARE), ("jsonl", tmp_path / "jsonl")):
        engine = make_engine(f"sqlite:///{tmp_path / kind}.db")
        init_db(engine)
        report = import_dataset(engine, folder)
        assert report.total.quarantined == 0
        stores[kind] = {k: v for k, v in snapshot(engine).items() if k != "quarantined_rows"}
        engine.dispose()
    assert stores["csv"] == stores["jsonl"]
    assert len(stores["csv"]["activity_events"]) == len(read_csv(LUMENWARE / "activity.csv"))


# --- fast path equals the pydantic model ------------------------------------------------------------------

_cell = st.one_of(
    st.none(), st.just(""), st.just("  "), st.text(max_size=8),
    st.text(alphabet="ab-_ 1", min_size=60, max_size=70),  # around the 64-character id limit
)
_timestamp = st.one_of(
    _cell,
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1),
                 timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["2026-10-31T09:30:00Z", " 2026-10-31T09:30:00Z", "2026-10-31T09:30Z", "2026-10-31",
                     "2026-10-31T25:30:00Z", "20261031T093000+0200", "2026-10-31 09:30:00+01:00",
                     "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:00-01:00"]),
)
_number = st.one_of(
    _cell, st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str),
    st.sampled_from(["1_000", "1e400", "-2.5", ".5", "5.", "١٢", "nan", " 3 ", "1,5"]),
)
_kind = st.one_of(_cell, st.sampled_from(["portal_login", " joint_call ", "Portal_Login", "x" * 41,
                                          "customer_overlap_detected"]))
_detail = st.one_of(_cell, st.sampled_from(["44 shared target accounts", "overlap: 1,204 Accounts", "3.5 accounts",
                                            "12 accounts and 30 more accounts", "no count here"]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_id=_cell, partner_id=_cell, occurred_at=_timestamp, kind=_kind, detail=_detail, value=_number)
def test_fast_activity_path_decides_exactly_like_the_pydantic_model(
    event_id: str | None, partner_id: str | None, occurred_at: str | None, kind: str | None,
    detail: str | None, value: str | None,
) -> None:
    cells = (event_id, partner_id, occurred_at, kind, detail, value)
    fast = check_activity(cells)
    try:
        model = ActivityRow(event_id=event_id, partner_id=partner_id, occurred_at=occurred_at, kind=kind,
                            detail=detail, value=value)
    except ValidationError as exc:
        assert isinstance(fast, str), (cells, fast)
        assert fast == error_reason(exc)
        return
    assert not isinstance(fast, str), (cells, fast)
    assert fast[:8] == (model.event_id, model.partner_id, model.occurred_at, model.day, model.kind,
                        model.detail, model.value, model.known_kind)
    assert fast[8] == model.occurred_at.isoformat(" ", "microseconds")[:26]


# --- CRM mappings -----------------------------------------------------------------------------------------

def _rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_salesforce_export_maps_to_canonical_rows(engine: Engine) -> None:
    report = import_dataset(engine, FIXTURES / "salesforce", mapping="salesforce")
    assert report.quarantine[0].model_dump() == {
        "file": "opportunities_with_partners.csv", "row": 6,
        "reason": "partner_id: unknown partner '0015g00000XyZ99AAB'"}
    assert report.total.quarantined == 1
    assert _rows(engine, "SELECT pam_id, name FROM pams ORDER BY pam_id") == [
        ("0055g00000AbCdEAAV", "Dana Whitfield"), ("0055g00000AbCdFAAV", "Marco Ruiz")]
    with engine.connect() as conn:
        p = conn.execute(select(Partner).where(Partner.partner_id == "0015g00000XyZ02AAB")).one()
        opps = {o.opportunity_id: o for o in conn.execute(select(Opportunity))}
    assert (p.name, p.type, p.region, p.country, p.joined_on, p.pam_id, p.specializations, p.employee_count) == (
        "Westbrook Consulting", "si", "EMEA", "DE", date(2026, 9, 11), "0055g00000AbCdFAAV", ["cloud migration"],
        1250)
    won = opps["0065g00000Pq001AAA"]
    assert (won.partner_id, won.amount, won.stage, won.attribution, won.created_on, won.close_date,
            won.forecast_category) == ("0015g00000XyZ01AAB", 40000.0, "closed_won", "sourced", date(2026, 1, 21),
                                       date(2026, 5, 12), "closed")
    assert (opps["0065g00000Pq002AAA"].stage, opps["0065g00000Pq002AAA"].attribution,
            opps["0065g00000Pq002AAA"].currency) == ("validation", "influenced", "EUR")
    assert (opps["0065g00000Pq003AAA"].stage, opps["0065g00000Pq003AAA"].attribution) == ("proposal", "none")
    again = import_dataset(engine, FIXTURES / "salesforce", mapping="salesforce")
    assert again.total.inserted == 0 and again.total.updated == 0


def test_hubspot_export_maps_to_canonical_rows(engine: Engine) -> None:
    report = import_dataset(engine, FIXTURES / "hubspot", mapping="hubspot")
    reasons = {(q.file, q.row): q.reason for q in report.quarantine}
    assert set(reasons) == {("all-companies.csv", 4), ("all-deals.csv", 4), ("all-deals.csv", 5),
                            ("all-deals.csv", 6)}
    assert "country" in reasons[("all-companies.csv", 4)]  # 'Atlantis' has no ISO code
    assert "unknown partner '9876543003'" in reasons[("all-deals.csv", 4)]
    assert "stage: unknown value 'somecustomstage'" in reasons[("all-deals.csv", 5)]
    assert reasons[("all-deals.csv", 6)] == "partner_id: required value is empty"  # a direct deal, no partner
    assert _rows(engine, "SELECT partner_id, type, region, country, pam_id FROM partners ORDER BY 1") == [
        ("9876543001", "si", "EMEA", "GB", "Priya Natarajan"), ("9876543002", "msp", "LATAM", "BR", "Marco Ruiz")]
    with engine.connect() as conn:
        opps = {o.opportunity_id: o for o in conn.execute(select(Opportunity))}
    assert (opps["20111"].partner_id, opps["20111"].stage, opps["20111"].close_date, opps["20111"].created_on,
            opps["20111"].forecast_category, opps["20111"].account_name) == (
        "9876543001", "negotiation", date(2026, 10, 31), date(2026, 8, 3), "commit", "Orion Bank")
    assert (opps["20112"].stage, opps["20112"].attribution, opps["20112"].forecast_category) == (
        "closed_won", "influenced", "closed")
    # The associated company is the customer: its id is never taken for the partner, its name is the account.
    assert {o.partner_id for o in opps.values()} == {"9876543001", "9876543002"}
    assert opps["20112"].account_name == "Pampas Retail"


def test_mapped_export_missing_a_required_column_is_refused_before_anything_is_written(
        engine: Engine, tmp_path: Path) -> None:
    from readiness.importers.mapping import MappingMismatch

    folder = tmp_path / "sf"
    shutil.copytree(FIXTURES / "salesforce", folder)
    rows = read_csv(folder / "opportunities_with_partners.csv")
    write_csv(folder / "opportunities_with_partners.csv", rows, [c for c in rows[0] if c != "Stage"])
    before = snapshot(engine)
    with pytest.raises(MappingMismatch) as caught:
        import_dataset(engine, folder, mapping="salesforce")
    assert "opportunities_with_partners.csv (opportunities): no column for stage — looked for Stage" in str(
        caught.value)
    assert snapshot(engine) == before  # not even the partner accounts and users were imported


# --- CLI and benchmark ------------------------------------------------------------------------------------

@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    import partnerpilot.cli.common as common

    monkeypatch.setattr(common, "_engine", engine)
    return CliRunner()


def test_cli_import_json_and_exit_codes(cli: CliRunner, tmp_path: Path) -> None:
    from partnerpilot.cli import app

    result = cli.invoke(app, ["import", str(LUMENWARE), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["files"]["activity.csv"]["inserted"] == len(read_csv(LUMENWARE / "activity.csv"))
    assert set(data) >= {"files", "total", "quarantined"}

    missing = cli.invoke(app, ["import", str(tmp_path / "nope")])
    assert missing.exit_code != 0 and "folder not found" in missing.output

    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.invoke(app, ["import", str(empty)]).exit_code != 0

    all_bad = tmp_path / "all_bad"
    all_bad.mkdir()
    (all_bad / "partners.csv").write_text("partner_id,name\np-1,No Type\n", encoding="utf-8")
    assert cli.invoke(app, ["import", str(all_bad)]).exit_code != 0

    table = cli.invoke(app, ["import", str(FIXTURES / "salesforce"), "--mapping", "salesforce"])
    assert table.exit_code == 0, table.output  # some rows quarantined is still a usable import
    assert "unknown partner" in table.output


def test_import_benchmark_smoke() -> None:
    from benchmarks.import_bench import run

    result = run(rows=2_000, partners=50, progress=False)
    assert result["rows"] == 2_000 and result["inserted"] == 2_000 and result["quarantined"] == 0
    assert result["rows_per_s"] > 0
