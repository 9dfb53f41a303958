"""`POST /v1/imports` (admin): CSV / JSON Lines files uploaded as multipart form data, imported like
`partnerpilot import` (canonical files, or CRM exports through a built-in or uploaded mapping), in one transaction.

The answer is the import report with its quarantined rows; `rescore=true` re-scores the program afterwards. One
import runs at a time: while another holds the lock past `PARTNERPILOT_IMPORT_LOCK_WAIT_S`, 409 with `Retry-After`.
A mapping that does not fit the files is a 422 listing each file's missing fields and columns, with a mapping to edit.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import yaml
from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from agent.services import get_services
from readiness.importers import ImportBusy, ImportFolderError, MappingMismatch, import_dataset
from readiness.scope import Principal
from readiness.scoring import clear_caches, refresh_snapshots
from readiness.settings import get_settings
from server.api.models import ImportResponse
from server.auth import require_roles
from server.errors import ErrorBody, error_response, short


class MissingField(BaseModel):
    field: str = Field(description="the canonical field no column provides")
    looked_for: str = Field(description="the column names the mapping tried")


class MappingProblem(BaseModel):
    file: str
    canonical: str = Field(description="the canonical file this export was read as")
    missing: list[MissingField]
    columns: list[str] = Field(description="the file's header")


class MappingMismatchBody(ErrorBody):
    """A 422: invalid input (`errors`), or a mapping that does not fit the files (the two fields below)."""

    mapping_problems: list[MappingProblem] | None = None
    mapping_yaml: str | None = Field(None, description="the mapping with a TODO where each missing column goes: "
                                                       "edit, upload as mapping_yaml")


router = APIRouter(tags=["imports"], responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                                                 409: {"model": ErrorBody}, 413: {"model": ErrorBody},
                                                 422: {"model": MappingMismatchBody}, 429: {"model": ErrorBody}})
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()-]{0,120}\.(csv|jsonl)$")
BUILT_IN_MAPPINGS = ("salesforce", "hubspot")
MAX_FILES = 20


def _safe_name(name: str | None) -> str:
    base = Path((name or "").replace("\\", "/")).name
    if not _FILE_NAME.match(base):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail=f"file names must end in .csv or .jsonl with no path, got {base[:40]!r}")
    return base


def _mismatch(exc: MappingMismatch) -> JSONResponse:
    body = MappingMismatchBody(
        detail=short(str(exc)),
        mapping_problems=[MappingProblem(file=p.file, canonical=p.canonical, columns=list(p.columns),
                                         missing=[MissingField(field=f, looked_for=w) for f, w in p.missing])
                          for p in exc.problems],
        mapping_yaml=exc.yaml)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _import(folder: Path, mapping: str | Path | None, rescore: bool) -> ImportResponse | JSONResponse:
    started = time.perf_counter()
    services = get_services()
    try:
        report = import_dataset(services.engine, folder, mapping=mapping)
    except ImportBusy as exc:
        return error_response(status.HTTP_409_CONFLICT, str(exc), headers={"Retry-After": str(exc.retry_after_s)})
    except MappingMismatch as exc:
        return _mismatch(exc)
    except (ImportFolderError, ValueError, OSError, yaml.YAMLError) as exc:  # a bad file or mapping
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    clear_caches()  # program baselines and activation curves change with the data
    rescored = None
    if rescore:
        with services.session() as s:
            rescored = refresh_snapshots(s, get_settings().today())
    return ImportResponse(report=report, rescored=rescored, seconds=round(time.perf_counter() - started, 2))


@router.post("/imports", response_model=ImportResponse, summary="Import uploaded CSV / JSONL files (admin)")
async def create_import(
    files: list[UploadFile] = File(description="partners.csv, activity.csv … or the CRM export files"),
    mapping: str | None = Form(None, description="salesforce | hubspot; omitted: canonical files"),
    mapping_yaml: UploadFile | None = File(None, description="your own column mapping (YAML) instead"),
    rescore: bool = Form(False, description="re-score every partner after the import"),
    principal: Principal = Depends(require_roles("admin")),
) -> ImportResponse | JSONResponse:
    """Valid rows are imported; refused rows are quarantined with file, row and reason (listed in the report);
    re-importing the same files changes nothing."""
    if not files or len(files) > MAX_FILES:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"send 1 to {MAX_FILES} files")
    if mapping is not None and mapping not in BUILT_IN_MAPPINGS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail=f"mapping must be one of {', '.join(BUILT_IN_MAPPINGS)} (or upload mapping_yaml)")
    with tempfile.TemporaryDirectory(prefix="pp-upload-") as tmp:
        folder = Path(tmp) / "files"
        folder.mkdir()
        for upload in files:
            target = folder / _safe_name(upload.filename)
            target.write_bytes(await upload.read())
        chosen: str | Path | None = mapping
        if mapping_yaml is not None:
            chosen = Path(tmp) / "mapping.yaml"
            chosen.write_bytes(await mapping_yaml.read())
        return await run_in_threadpool(_import, folder, chosen, rescore)


__all__ = ["router"]
