"""Synthetic program generator: determinism, realistic shape, canonical validity, backtestability, store load."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from partnerpilot.cli import app
from partnerpilot.cli import common as cli_common
from readiness.models import ActivityEvent, GTMProfile, Opportunity, Pam, Partner
from readiness.seed import CSV_COLUMNS, generate_program, load_into_store, write_csv
from tests.conftest import LUMENWARE

AS_OF = date(2026, 10, 31)
KINDS = {
    "portal_login",
    "onboarding_started",
    "training_completed",
    "certification_earned",
    "event_attended",
    "content_downloaded",
    "content_shared",
    "deal_registered",
    "co_sell_request",
    "ae_meeting",
    "joint_call",
    "demo_delivered",
    "workshop_delivered",
    "case_study_published",
    "customer_overlap_detected",
    "mdf_requested",
    "plan_updated",
}
ENUMS = {
    ("partners.csv", "type"): {"reseller", "si", "isv", "msp", "referral"},
    ("partners.csv", "region"): {"NA", "EMEA", "APAC", "LATAM"},
    ("opportunities.csv", "stage"): {"discovery", "validation", "proposal", "negotiation", "closed_won", "closed_lost"},
    ("opportunities.csv", "attribution"): {"sourced", "influenced", "none"},
    ("opportunities.csv", "forecast_category"): {"commit", "best_case", "pipeline", "omitted", "closed"},
    ("activity.csv", "kind"): KINDS,
}
DATE_COLUMNS = {"joined_on", "created_on", "close_date", "updated_on"}


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as f:
        return next(csv.reader(f))


def _read(folder: Path, name: str) -> list[dict[str, str]]:
    """Rows of a generated file; canonical files must carry exactly the reference dataset's header."""
    if (LUMENWARE / name).exists():
        assert _header(folder / name) == _header(LUMENWARE / name), name
    with (folder / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def program400(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seed400")
    write_csv(generate_program(400, 11, AS_OF), out)
    return out


def test_same_arguments_give_byte_identical_output(tmp_path: Path) -> None:
    for run in ("a", "b"):
        write_csv(generate_program(150, 5, AS_OF), tmp_path / run)
    write_csv(generate_program(150, 6, AS_OF), tmp_path / "other")
    for name in [*CSV_COLUMNS, "latent.csv"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "activity.csv").read_bytes() != (tmp_path / "other" / "activity.csv").read_bytes()


def test_csv_output_is_valid_canonical_rows(program400: Path) -> None:
    files = {name: _read(program400, name) for name in CSV_COLUMNS}
    partner_ids = {r["partner_id"] for r in files["partners.csv"]}
    pam_ids = {r["pam_id"] for r in files["pams.csv"]}
    for name, rows in files.items():
        key = CSV_COLUMNS[name][0]
        if name == "partner_attributes.csv":  # one value per partner, attribute and day
            assert len({(r["partner_id"], r["attribute"], r["valid_from"]) for r in rows}) == len(rows)
        elif name != "gtm_profiles.csv":
            assert len({r[key] for r in rows}) == len(rows), f"duplicate ids in {name}"
        for r in rows:
            for (file, column), allowed in ENUMS.items():
                if file == name:
                    assert r[column] in allowed, (name, column, r[column])
            for column in DATE_COLUMNS & r.keys():
                if r[column]:
                    date.fromisoformat(r[column])
            if "partner_id" in r and name != "partners.csv":
                assert r["partner_id"] in partner_ids
    for r in files["partners.csv"]:
        assert r["pam_id"] in pam_ids and re.fullmatch(r"[A-Z]{2}", r["country"])
        assert int(r["employee_count"]) > 0 and int(r["customer_overlap_accounts"]) >= 0
    # Dated attribute values end at the partner's current ones (partners.csv).
    newest: dict[tuple[str, str], dict[str, str]] = {}
    for r in files["partner_attributes.csv"]:
        assert date.fromisoformat(r["valid_from"]) <= AS_OF
        if newest.get((r["partner_id"], r["attribute"]), {}).get("valid_from", "") < r["valid_from"]:
            newest[(r["partner_id"], r["attribute"])] = r
    for r in files["partners.csv"]:
        for column in ("employee_count", "customer_overlap_accounts"):
            assert newest[(r["partner_id"], column)]["value"] == r[column]
    for r in files["activity.csv"]:
        assert r["occurred_at"].endswith("Z") and datetime.fromisoformat(r["occurred_at"]).date() <= AS_OF
    for r in files["opportunities.csv"]:
        assert float(r["amount"]) >= 0 and r["currency"] == "USD"
        assert date.fromisoformat(r["created_on"]) <= AS_OF
        closed = r["stage"].startswith("closed")
        assert (r["forecast_category"] == "closed") == closed
    assert {r["kind"] for r in files["activity.csv"]} == KINDS
    names = [r["name"] for r in files["partners.csv"]]
    assert len(set(names)) == len(names)
    first_words = defaultdict(set)
    for n in names:
        first_words[n.split()[0]].add(n)
    assert any(len(v) > 1 for v in first_words.values()), "near-duplicate names exercise fuzzy matching"


def test_program_has_the_shape_of_a_real_partner_program(program400: Path) -> None:
    partners = _read(program400, "partners.csv")
    opps = _read(program400, "opportunities.csv")
    events = _read(program400, "activity.csv")
    pams = _read(program400, "pams.csv")
    gtm = _read(program400, "gtm_profiles.csv")
    won = {r["partner_id"] for r in opps if r["attribution"] == "sourced" and r["stage"] == "closed_won"}
    assert 0.60 <= 1 - len(won) / len(partners) <= 0.80
    assert 3 <= len(pams) <= 8 and {p["pam_id"] for p in pams} == {p["pam_id"] for p in partners}
    assert 20 <= len(events) / len(partners) <= 40
    logins = sum(1 for e in events if e["kind"] == "portal_login")
    assert logins / len(events) > 0.5

    attrs: dict[str, set[str]] = defaultdict(set)
    recent_sourced: set[str] = set()
    for r in opps:
        attrs[r["partner_id"]].add(r["attribution"])
        if r["attribution"] == "sourced" and date.fromisoformat(r["created_on"]) > AS_OF - timedelta(days=180):
            recent_sourced.add(r["partner_id"])
    kinds: dict[str, set[str]] = defaultdict(set)
    last_event: dict[str, date] = {}
    for e in events:
        kinds[e["partner_id"]].add(e["kind"])
        d = date.fromisoformat(e["occurred_at"][:10])
        last_event[e["partner_id"]] = max(last_event.get(e["partner_id"], d), d)
    by_id = {p["partner_id"]: p for p in partners}

    new = [p for p in partners if p["joined_on"] and date.fromisoformat(p["joined_on"]) > AS_OF - timedelta(days=90)]
    influenced_only = [pid for pid, a in attrs.items() if a == {"influenced"}]
    ready_dormant = [
        pid
        for pid, p in by_id.items()
        if {"training_completed", "certification_earned"} <= kinds[pid]
        and int(p["customer_overlap_accounts"]) > 0
        and last_event.get(pid, date.min) > AS_OF - timedelta(days=30)
        and pid not in recent_sourced
    ]
    misaligned = [
        pid
        for pid, p in by_id.items()
        if p["competitive_conflict"]
        and p["customer_overlap_accounts"] == "0"
        and last_event.get(pid, date.min) < AS_OF - timedelta(days=180)
    ]
    active = [pid for pid in recent_sourced if pid in won]
    for label, group in (
        ("new", new),
        ("influenced-only", influenced_only),
        ("ready-but-dormant", ready_dormant),
        ("misaligned", misaligned),
        ("active", active),
    ):
        assert len(group) >= 8, f"too few {label} partners: {len(group)}"
    # GTM text quality spans vague and specific statements.
    icps = [g["icp_statement"] for g in gtm]
    assert any("of all sizes" in t or "modernise" in t for t in icps)
    assert any("employees whose" in t and "triggered by" in t for t in icps)


def test_activity_before_a_cutoff_predicts_new_sourced_pipeline_after_it(program400: Path) -> None:
    cutoff = AS_OF - timedelta(days=120)
    activity: dict[str, int] = defaultdict(int)
    for e in _read(program400, "activity.csv"):
        d = date.fromisoformat(e["occurred_at"][:10])
        if cutoff - timedelta(days=90) < d <= cutoff:
            activity[e["partner_id"]] += 1
    produced = {
        r["partner_id"]
        for r in _read(program400, "opportunities.csv")
        if r["attribution"] == "sourced" and date.fromisoformat(r["created_on"]) > cutoff
    }
    ranked = sorted((p["partner_id"] for p in _read(program400, "partners.csv")), key=lambda p: -activity[p])
    top, bottom = ranked[: len(ranked) // 4], ranked[len(ranked) // 2 :]
    top_rate = sum(p in produced for p in top) / len(top)
    bottom_rate = sum(p in produced for p in bottom) / len(bottom)
    assert top_rate > 0.3 and top_rate > 3 * bottom_rate, (top_rate, bottom_rate)
    latent = {r["partner_id"]: float(r["latent_readiness"]) for r in _read(program400, "latent.csv")}
    by_latent = sorted(latent, key=lambda p: -latent[p])
    assert sum(p in produced for p in by_latent[:100]) > 3 * sum(p in produced for p in by_latent[200:]) / 2


def test_load_into_store_matches_the_csv_rows(any_engine: Engine, tmp_path: Path) -> None:
    program = generate_program(60, 3, AS_OF)
    summary = load_into_store(any_engine, program)
    write_csv(program, tmp_path)
    events = _read(tmp_path, "activity.csv")
    with any_engine.connect() as conn:
        count = lambda model: conn.execute(select(func.count()).select_from(model)).scalar_one()  # noqa: E731
        assert (count(Partner), count(Pam), count(GTMProfile)) == (
            60,
            len(program.pams),
            len(_read(tmp_path, "gtm_profiles.csv")),
        )
        assert count(Opportunity) == summary.opportunities == len(_read(tmp_path, "opportunities.csv"))
        assert count(ActivityEvent) == summary.events == len(events)
        sample = events[len(events) // 2]
        row = conn.execute(select(ActivityEvent).where(ActivityEvent.event_id == sample["event_id"])).one()
    occurred = datetime.fromisoformat(sample["occurred_at"])
    assert row.day == (occurred.date() - date(1970, 1, 1)).days and row.known_kind is True
    assert row.occurred_at.replace(tzinfo=None) == occurred.replace(tzinfo=None)


def test_cli_seed_refuses_a_store_that_already_has_partners(engine: Engine, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(cli_common, "_engine", engine)
    runner = CliRunner()
    first = runner.invoke(app, ["seed", "--partners", "20", "--seed", "1", "--as-of", "2026-10-31"])
    assert first.exit_code == 0, first.output
    assert "20 partners" in first.output
    again = runner.invoke(app, ["seed", "--partners", "20", "--seed", "1", "--as-of", "2026-10-31"])
    assert again.exit_code == 2 and "already holds 20 partners" in again.output
    out = runner.invoke(
        app,
        ["seed", "--partners", "20", "--seed", "1", "--as-of", "2026-10-31", "--out", str(tmp_path / "csv"), "--json"],
    )
    assert out.exit_code == 0, out.output
    assert (tmp_path / "csv" / "latent.csv").exists() and (tmp_path / "csv" / "activity.csv").exists()


def test_archetype_mix_changes_the_program_and_rejects_bad_specs() -> None:
    """`seed --mix` builds a program with other archetype shares (a second program for generalisation checks)."""
    from collections import Counter

    from readiness.seed.plan import parse_mix

    shares = parse_mix("producer=0.1,ready_dormant=0.25")
    mixed = Counter(p.archetype for p in generate_program(200, 9, AS_OF, shares=shares).plans)
    default = Counter(p.archetype for p in generate_program(200, 9, AS_OF).plans)
    assert mixed["ready_dormant"] == 50 and default["ready_dormant"] == 20
    assert mixed["producer"] == 20 and default["producer"] == 44
    for bad in ("nobody=0.2", "producer", "producer=1.5", "producer=0.6,ready_dormant=0.6"):
        with pytest.raises(ValueError):
            parse_mix(bad)
