"""Imports that meet each other: concurrent imports serialise (or give up with a clear "another import is running"
message, never a driver traceback), and a re-import of the same file replaces its quarantined rows.

Issue 17: 3 concurrent imports into PostgreSQL, 2 failed with a raw `UniqueViolation`; each re-import added its
quarantined rows again.
"""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner

from readiness.importers import ImportBusy, import_dataset
from readiness.importers.lock import IMPORT_LOCK
from readiness.models import QuarantinedRow
from tests.api_support import Api
from tests.conftest import LUMENWARE
from tests.test_importers import TABLES

BAD_PARTNERS = ("partner_id,name,type,region,country,program_tier,joined_on,pam_id\n"
                "p-901,Upload Test One,reseller,NA,US,Select,2026-01-05,pam-02\n"
                "p-902,Upload Test Two,not-a-type,NA,US,Select,2026-01-05,pam-02\n"
                "p-903,Upload Test Three,reseller,NA,US,Select,2026-01-05,pam-99\n")


def _data(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every imported row and every quarantined row (without its run id, serial id and time), comparable across
    SQLite and PostgreSQL (timestamps as naive UTC)."""
    def plain(value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for model in TABLES:
            t = model.__table__
            out[t.name] = sorted(tuple(plain(v) for v in r) for r in conn.execute(select(*t.c)))
        q = QuarantinedRow
        out["quarantine"] = sorted(tuple(r) for r in conn.execute(
            select(q.file, q.file_sha256, q.row_number, q.reason, q.raw)))
    return out


def _quarantined(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(QuarantinedRow)) or 0)


def _lumenware_with_bad_rows(tmp_path: Path) -> Path:
    folder = tmp_path / "lumen"
    shutil.copytree(LUMENWARE, folder)
    with (folder / "partners.csv").open("a", encoding="utf-8") as fh:
        fh.write(BAD_PARTNERS.split("\n", 1)[1].split("\n", 1)[1])  # the two bad rows
    return folder


@pytest.mark.postgres
def test_three_concurrent_imports_on_postgres_all_succeed_and_equal_one_import(
        postgres_engine: Engine, sqlite_engine: Engine, tmp_path: Path) -> None:
    folder = _lumenware_with_bad_rows(tmp_path)
    outcomes: list[Any] = []
    start = threading.Barrier(3)

    def run() -> None:
        start.wait()
        try:
            outcomes.append(import_dataset(postgres_engine, folder))
        except Exception as exc:  # recorded, judged below: only ImportBusy is an acceptable failure
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(outcomes) == 3
    unexpected = [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, ImportBusy)]
    assert not unexpected, unexpected
    reports = [o for o in outcomes if not isinstance(o, Exception)]
    assert reports, "at least one import must go through"
    assert all("another import is running" in str(o) for o in outcomes if isinstance(o, ImportBusy))
    # Exactly one of the imports inserted the rows; the others found them there.
    assert sorted(r.total.inserted > 0 for r in reports).count(True) == 1

    import_dataset(sqlite_engine, folder)
    assert _data(postgres_engine) == _data(sqlite_engine)
    assert _quarantined(postgres_engine) == _quarantined(sqlite_engine) == 2


@pytest.mark.postgres
def test_an_import_waiting_past_its_limit_on_postgres_says_another_import_is_running(
        postgres_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTNERPILOT_IMPORT_LOCK_WAIT_S", "0.5")
    from readiness.settings import get_settings

    get_settings.cache_clear()
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "pams.csv").write_text((LUMENWARE / "pams.csv").read_text(encoding="utf-8"), encoding="utf-8")
    try:
        with postgres_engine.connect() as holder:  # another import's transaction, holding the lock
            holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": IMPORT_LOCK})
            with pytest.raises(ImportBusy) as caught:
                import_dataset(postgres_engine, folder)
            holder.rollback()
        assert "another import is running; retry in" in str(caught.value)
        assert caught.value.retry_after_s >= 1
        assert import_dataset(postgres_engine, folder).total.inserted > 0  # lock released: it goes through
    finally:
        get_settings.cache_clear()


def test_an_import_waiting_past_its_limit_on_sqlite_says_another_import_is_running(
        sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import partnerpilot.cli.common as common
    from partnerpilot.cli import app
    from readiness.settings import get_settings

    monkeypatch.setenv("PARTNERPILOT_IMPORT_LOCK_WAIT_S", "0.3")
    get_settings.cache_clear()
    monkeypatch.setattr(common, "_engine", sqlite_engine)
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "pams.csv").write_text((LUMENWARE / "pams.csv").read_text(encoding="utf-8"), encoding="utf-8")
    try:
        with sqlite_engine.connect() as holder:
            holder.exec_driver_sql("BEGIN IMMEDIATE")  # a writer holding SQLite's write lock
            with pytest.raises(ImportBusy):
                import_dataset(sqlite_engine, folder)
            result = CliRunner().invoke(app, ["import", str(folder), "--no-rescore"])
            holder.rollback()
        assert result.exit_code == 75  # EX_TEMPFAIL: try again later
        assert "another import is running; retry in" in result.output and "Traceback" not in result.output
        assert isinstance(result.exception, SystemExit)  # a clean exit, not an exception escaping the command
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("times", [2, 3])
def test_reimporting_a_file_with_bad_rows_replaces_its_quarantined_rows(any_engine: Engine, tmp_path: Path,
                                                                        times: int) -> None:
    folder = _lumenware_with_bad_rows(tmp_path)
    first = import_dataset(any_engine, folder)
    assert first.total.quarantined == 2 and _quarantined(any_engine) == 2
    for _ in range(times - 1):
        again = import_dataset(any_engine, folder)
        assert again.total.quarantined == 2
    assert _quarantined(any_engine) == 2
    with any_engine.connect() as conn:  # the rows kept are the latest run's
        runs = set(conn.scalars(select(QuarantinedRow.import_run)))
    assert runs == {again.run_id}


def test_a_different_file_of_the_same_name_keeps_the_earlier_files_quarantined_rows(
        engine: Engine, tmp_path: Path) -> None:
    """Monthly exports share a file name; January's refused rows are not answered by February's file."""
    import_dataset(engine, _lumenware_with_bad_rows(tmp_path))
    february = tmp_path / "feb"
    february.mkdir()
    (february / "partners.csv").write_text(BAD_PARTNERS.replace("p-902", "p-912"), encoding="utf-8")
    import_dataset(engine, february)
    assert _quarantined(engine) == 4


def test_upload_import_busy_is_a_409_with_retry_after(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from readiness.settings import get_settings

    monkeypatch.setenv("PARTNERPILOT_IMPORT_LOCK_WAIT_S", "0.3")
    get_settings.cache_clear()
    files = {"files": ("partners.csv", BAD_PARTNERS.encode(), "text/csv")}
    with api.engine.connect() as holder:
        holder.exec_driver_sql("BEGIN IMMEDIATE")
        r = api.client.post("/v1/imports", files=files, headers=api.h("admin"))
        holder.rollback()
    assert r.status_code == 409, r.text
    assert "another import is running; retry in" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) >= 1
    ok = api.client.post("/v1/imports", files=files, headers=api.h("admin"))
    assert ok.status_code == 200 and ok.json()["report"]["total"]["quarantined"] == 2
    again = api.client.post("/v1/imports", files=files, headers=api.h("admin"))
    assert again.json()["report"]["total"]["quarantined"] == 2 and _quarantined(api.engine) == 2


def test_upload_with_a_mapping_that_does_not_fit_returns_the_problem_and_a_mapping_to_edit(api: Api) -> None:
    deals = "Deal Name,Amount,Close Date\nBig deal,1000,2026-05-01\n"
    files = {"files": ("deals.csv", deals.encode(), "text/csv")}
    r = api.client.post("/v1/imports", files=files, data={"mapping": "hubspot"}, headers=api.h("admin"))
    assert r.status_code == 422, r.text
    body = r.json()
    assert "does not fit" in body["detail"]
    problem = body["mapping_problems"][0]
    assert problem["file"] == "deals.csv" and "Deal Name" in problem["columns"]
    assert any(m["field"] == "partner_id" for m in problem["missing"])
    assert "TODO" in body["mapping_yaml"]
