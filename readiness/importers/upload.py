"""Imports from uploaded files (`POST /v1/imports`): the same validation, mappings and report as a folder import.

Uploads are written to a private temporary folder under safe names, then imported with `import_dataset`; a mapping
that does not fit raises `MappingMismatch` (columns found, a mapping to edit) before the store is touched.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePath

import yaml
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Engine

from readiness.importers.mapping import MAPPINGS_DIR, Mapping, load_mapping
from readiness.importers.pipeline import Progress, import_dataset
from readiness.importers.report import ImportReport
from readiness.importers.rows import SPECS

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SUFFIXES = (".csv", ".jsonl")
_PACKAGED = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class UploadError(ValueError):
    """An upload that cannot be imported as sent (bad file name, unknown kind, duplicate files)."""


class Upload(BaseModel):
    filename: str = Field(description="The client's file name; only its last part is used.")
    content: bytes
    kind: str | None = Field(default=None, description="Canonical file this is (pams, partners, gtm_profiles, "
                             "opportunities, activity) when its name does not say so.")


def _safe_name(upload: Upload) -> str:
    # Both separators: a Windows client sends `C:\\exports\\deals.csv`.
    base = PurePath(upload.filename.replace("\\", "/")).name
    name = _SAFE.sub("_", base).lstrip(".")
    if not name.lower().endswith(_SUFFIXES):
        raise UploadError(f"{upload.filename!r}: upload CSV (.csv) or JSON Lines (.jsonl) files")
    return name


def import_uploads(
    engine: Engine,
    uploads: Sequence[Upload],
    mapping: str | None = None,
    progress: Progress | None = None,
    mapping_yaml: bytes | None = None,
) -> ImportReport:
    """Import uploaded files in one transaction. Without a mapping, files are canonical and named after their
    canonical file (`partners.csv`) unless `kind` says which they are; with one (a packaged name such as
    `salesforce` or `hubspot`, or an uploaded `mapping_yaml`), the mapping's name patterns or `kind` place each
    export. Raises `UploadError` for unusable uploads and `MappingMismatch` (columns found, `yaml` to edit) when
    the mapping has no column for a required field; nothing is written then."""
    if not uploads:
        raise UploadError("no files were uploaded")
    if mapping is not None and mapping_yaml is not None:
        raise UploadError("give a packaged mapping name or a mapping file, not both")
    if mapping is not None and not _PACKAGED.fullmatch(mapping):
        # A client must not make the server read a file of its choosing as a mapping.
        raise UploadError("uploads use a packaged mapping by name (e.g. salesforce, hubspot), not a file path")
    packaged = MAPPINGS_DIR / f"{mapping}.yaml" if mapping is not None else None
    if packaged is not None and not packaged.is_file():
        known = ", ".join(sorted(p.stem for p in MAPPINGS_DIR.glob("*.yaml")))
        raise UploadError(f"no mapping named {mapping!r} (packaged: {known})")
    resolved = load_mapping(packaged) if packaged is not None else None
    if mapping_yaml is not None:
        try:
            resolved = Mapping.model_validate(yaml.safe_load(mapping_yaml.decode("utf-8")))
        except (UnicodeDecodeError, yaml.YAMLError, ValidationError) as exc:
            raise UploadError(f"the mapping file is not a valid mapping: {exc}") from exc
    kinds: dict[str, str] = {}
    names: dict[str, bytes] = {}
    for upload in uploads:
        name = _safe_name(upload)
        if upload.kind is not None:
            if upload.kind not in SPECS:
                raise UploadError(f"{upload.filename!r}: unknown kind {upload.kind!r} (one of {', '.join(SPECS)})")
            if resolved is None:
                name = f"{upload.kind}{Path(name).suffix.lower()}"  # a canonical import reads files by name
            else:
                kinds[name] = upload.kind
        if name in names:
            raise UploadError(f"two uploads would both be read as {name!r}")
        names[name] = upload.content
    if resolved is not None and any(n.lower().endswith(".jsonl") for n in names):
        raise UploadError("CRM exports are read as CSV; JSON Lines files are canonical (import them without a mapping)")
    with tempfile.TemporaryDirectory(prefix="pp-upload-") as tmp:
        folder = Path(tmp)
        files = folder / "files"
        files.mkdir()
        for name, content in names.items():
            (files / name).write_bytes(content)
        chosen = packaged
        if mapping_yaml is not None:
            chosen = folder / "mapping.yaml"
            chosen.write_bytes(mapping_yaml)
        return import_dataset(engine, files, mapping=chosen, progress=progress, kinds=kinds or None)


__all__ = ["Upload", "UploadError", "import_uploads"]
