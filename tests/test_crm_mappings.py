"""CRM exports as they really come: where each CRM keeps a deal's partner, and what happens when the built-in
mapping finds no partner column (the import stops with the columns found and a mapping to edit)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from readiness.importers import MappingMismatch, Upload, UploadError, import_dataset, import_uploads
from readiness.importers.mapping import Mapping
from readiness.models import Opportunity, Partner

FIXTURES = Path(__file__).parent / "fixtures" / "crm"


def _rewrite_deals(folder: Path, name: str, rename: dict[str, str], drop: tuple[str, ...] = ()) -> None:
    """Rewrite a deals export with some columns renamed (the same data under another CRM layout)."""
    path = folder / name
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    columns = [rename.get(c, c) for c in rows[0] if c not in drop]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({rename.get(k, k): v for k, v in row.items() if k not in drop})


def _deal_partners(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Opportunity.opportunity_id, Opportunity.partner_id)).all())


def _hubspot_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "hubspot"
    shutil.copytree(FIXTURES / "hubspot", folder)
    return folder


def test_hubspot_partner_from_a_labelled_company_association(engine: Engine, tmp_path: Path) -> None:
    # Some portals keep the partner as a second company association labelled "Partner" next to the customer.
    folder = _hubspot_copy(tmp_path)
    _rewrite_deals(folder, "all-deals.csv", {"Partner Company ID": "Associated Company IDs (Partner)"})
    report = import_dataset(engine, folder, mapping="hubspot")
    assert _deal_partners(engine) == {"20111": "9876543001", "20112": "9876543002"}
    reasons = {q.row: q.reason for q in report.quarantine if q.file == "all-deals.csv"}
    assert reasons[4] == "partner_id: unknown partner '9876543003'" and "partner_id" in reasons[6]


def test_salesforce_partner_account_under_its_other_report_names(engine: Engine, tmp_path: Path) -> None:
    for header in ("Partner Account: Account ID", "Primary Partner Account ID", "Partner Account 18 Digit ID"):
        folder = tmp_path / header.replace(":", "").replace(" ", "_")
        shutil.copytree(FIXTURES / "salesforce", folder)
        _rewrite_deals(folder, "opportunities_with_partners.csv", {"Partner Account ID": header})
        import_dataset(engine, folder, mapping="salesforce")
        partners = _deal_partners(engine)
        assert partners["0065g00000Pq001AAA"] == "0015g00000XyZ01AAB", header
        assert partners["0065g00000Pq002AAA"] == "0015g00000XyZ02AAB", header


def test_an_export_without_a_partner_column_stops_with_its_columns_and_a_mapping_to_edit(
        engine: Engine, tmp_path: Path) -> None:
    folder = _hubspot_copy(tmp_path)
    # This portal calls the partner property something no built-in mapping can guess.
    _rewrite_deals(folder, "all-deals.csv", {"Partner Company ID": "Channel Partner Key"})
    with pytest.raises(MappingMismatch) as caught:
        import_dataset(engine, folder, mapping="hubspot")
    err = caught.value
    message = str(err)
    assert "all-deals.csv (opportunities): no column for partner_id" in message
    assert "Channel Partner Key" in message and "Associated Company IDs" in message  # the columns found
    with engine.connect() as conn:  # refused up front: not even the companies were imported
        assert conn.execute(select(Partner.partner_id)).all() == []

    # The printed mapping is valid YAML that keeps everything else; it names the file's columns in comments.
    assert "#   - Channel Partner Key" in err.yaml
    data = yaml.safe_load(err.yaml)
    todo = data["files"]["opportunities"]["fields"]["partner_id"]
    assert todo.startswith("TODO")
    Mapping.model_validate(data)
    unedited = tmp_path / "unedited.yaml"
    unedited.write_text(err.yaml, encoding="utf-8")
    with pytest.raises(MappingMismatch):
        import_dataset(engine, folder, mapping=unedited)  # left as printed, it still stops rather than guess

    # Filling in the one TODO is all it takes.
    edited = tmp_path / "edited.yaml"
    edited.write_text(err.yaml.replace(todo, "Channel Partner Key"), encoding="utf-8")
    report = import_dataset(engine, folder, mapping=edited)
    assert _deal_partners(engine) == {"20111": "9876543001", "20112": "9876543002"}
    assert report.total.inserted == 2 + 2 + 2  # users, the two valid companies, the two valid deals


def test_cli_prints_the_mapping_to_edit_on_stdout_and_exits_2(engine: Engine, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import partnerpilot.cli.common as common
    from partnerpilot.cli import app

    monkeypatch.setattr(common, "_engine", engine)
    folder = _hubspot_copy(tmp_path)
    _rewrite_deals(folder, "all-deals.csv", {}, drop=("Partner Company ID",))
    result = CliRunner().invoke(app, ["import", str(folder), "--mapping", "hubspot"])
    assert result.exit_code == 2
    assert yaml.safe_load(result.stdout)["name"] == "hubspot-custom"
    assert "no column for partner_id" in result.stderr and "Partner Role" in result.stderr


def test_uploads_use_the_same_mappings_and_safe_file_names(engine: Engine) -> None:
    hub = FIXTURES / "hubspot"
    uploads = [
        Upload(filename="users.csv", content=(hub / "users.csv").read_bytes()),
        Upload(filename="C:\\exports\\all-companies.csv", content=(hub / "all-companies.csv").read_bytes()),
        # A name the mapping's patterns do not recognise: the client says which file it is.
        Upload(filename="../../export (3).csv", content=(hub / "all-deals.csv").read_bytes(), kind="opportunities"),
    ]
    report = import_uploads(engine, uploads, mapping="hubspot")
    assert set(report.files) == {"users.csv", "all-companies.csv", "export_3_.csv"}
    assert _deal_partners(engine) == {"20111": "9876543001", "20112": "9876543002"}

    no_partner = (hub / "all-deals.csv").read_text(encoding="utf-8").replace("Partner Company ID", "Reseller")
    with pytest.raises(MappingMismatch) as caught:
        import_uploads(engine, [Upload(filename="deals.csv", content=no_partner.encode())], mapping="hubspot")
    assert "Reseller" in str(caught.value) and caught.value.yaml
    # The printed mapping, edited, is uploaded with the same export: the API's own-mapping path.
    todo = yaml.safe_load(caught.value.yaml)["files"]["opportunities"]["fields"]["partner_id"]
    fixed = caught.value.yaml.replace(todo, "Reseller").encode()
    again = import_uploads(engine, [Upload(filename="deals.csv", content=no_partner.encode())], mapping_yaml=fixed)
    assert again.files["deals.csv"].unchanged == 2  # the same two deals, now read through the edited mapping
    with pytest.raises(UploadError, match="not a valid mapping"):
        import_uploads(engine, [Upload(filename="deals.csv", content=b"x")], mapping_yaml=b"files: [")

    for bad, words in [
        ({"filename": "deals.xlsx", "content": b"x"}, "CSV"),
        ({"filename": "deals.csv", "content": b"x", "kind": "invoices"}, "unknown kind"),
    ]:
        with pytest.raises(UploadError, match=words):
            import_uploads(engine, [Upload(**bad)], mapping="hubspot")
    for mapping in ("/etc/passwd", "../hubspot", "nosuchcrm"):
        with pytest.raises(UploadError):
            import_uploads(engine, uploads, mapping=mapping)


def test_canonical_uploads_are_placed_by_kind(engine: Engine) -> None:
    from tests.conftest import LUMENWARE

    uploads = [Upload(filename=f"{name}-export.csv", content=(LUMENWARE / f"{name}.csv").read_bytes(), kind=name)
               for name in ("pams", "partners")]
    report = import_uploads(engine, uploads)
    assert set(report.files) == {"pams.csv", "partners.csv"} and report.total.quarantined == 0
    with pytest.raises(UploadError, match="both"):
        import_uploads(engine, [uploads[0], Upload(filename="pams.csv", content=b"pam_id,name\n")])
