"""`import_dataset`: read every input file, validate each row, write the good ones in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, Engine, insert

from readiness.importers.fastpath import ActivityTuple, check_activity
from readiness.importers.mapping import Mapping, check_sources, load_mapping
from readiness.importers.quarantine import file_digest, replace_earlier
from readiness.importers.report import REPORT_QUARANTINE_LIMIT, FileCounts, ImportReport, QuarantineEntry
from readiness.importers.rows import error_reason
from readiness.importers.sources import ReadState, SourceFile, canonical_sources, raw_text, read_rows
from readiness.importers.store import ActivityWriter, existing_ids, import_transaction, upsert
from readiness.models import QuarantinedRow
from readiness.settings import get_settings

# progress(file label, bytes read, file size in bytes); called every few thousand rows.
Progress = Callable[[str, int, int], None]

ACTIVITY_BATCH = 20_000
# A big load drops the (partner, kind, day) index and rebuilds it once at the end: measured on SQLite,
# 1M events insert in 2.3 s + 0.9 s rebuild without it against 4-6.5 s with it. Worth it only when the load is
# large and at least as big as what the table already holds (the rebuild covers the old rows too).
BULK_INDEX_MIN_ROWS = 200_000
# Rebuilding SQLite's day lists costs about 1 us per stored event, their triggers about 5 us per incoming one (more
# when it lands before a partner's latest day): an import this large next to the store rebuilds them once.
DAY_LISTS_REBUILD_RATIO = 4
_CSV_BYTES_PER_EVENT = 60  # rough size of a canonical activity row, to estimate rows from file sizes
_QUARANTINE_FLUSH = 10_000


class ImportFolderError(ValueError):
    """The input folder is missing or is not a folder."""


class _Run:
    """State of one import inside its transaction."""

    def __init__(self, conn: Connection, progress: Progress | None) -> None:
        self.conn = conn
        self.progress = progress
        self.report = ImportReport(run_id=uuid.uuid4().hex)
        self.pending_quarantine: list[dict[str, Any]] = []
        self.known: dict[str, set[str]] = {
            "pams": existing_ids(conn, "pams", "pam_id"),
            "partners": existing_ids(conn, "partners", "partner_id"),
        }
        # Content of every id accepted so far per table, to tell harmless repeats from conflicting duplicates.
        self.seen: dict[str, dict[str, BaseModel]] = {}
        self.digests: dict[str, str] = {}  # file label -> SHA-256 of its bytes

    def begin_source(self, source: SourceFile) -> None:
        """A re-import of the same file replaces the rows its earlier imports quarantined."""
        digest = file_digest(source.path)
        self.digests[source.label] = digest
        replace_earlier(self.conn, source.label, digest, self.report.run_id)

    def counts(self, source: SourceFile) -> FileCounts:
        return self.report.files.setdefault(source.label, FileCounts())

    def quarantine(self, source: SourceFile, row: int, reason: str, raw: str | None) -> None:
        if len(self.report.quarantine) < REPORT_QUARANTINE_LIMIT:
            self.report.quarantine.append(QuarantineEntry(file=source.label, row=row, reason=reason))
        else:
            self.report.quarantine_truncated = True
        self.pending_quarantine.append({
            "import_run": self.report.run_id,
            "file": source.label,
            "file_sha256": self.digests.get(source.label),
            "row_number": row,
            "reason": reason,
            "raw": raw.replace("\x00", "") if raw else raw,
        })
        if len(self.pending_quarantine) >= _QUARANTINE_FLUSH:
            self.flush_quarantine()

    def flush_quarantine(self) -> None:
        if self.pending_quarantine:
            self.conn.execute(insert(QuarantinedRow), self.pending_quarantine)
            self.pending_quarantine = []

    def tick(self, source: SourceFile, state: ReadState) -> None:
        if self.progress is not None:
            self.progress(source.label, state.position, state.size)

    # --- small tables: pydantic model per row, upsert decided per row --------------------------------

    def import_table(self, source: SourceFile) -> None:
        spec = source.spec
        self.begin_source(source)
        counts = self.counts(source)
        seen = self.seen.setdefault(spec.name, {})
        accepted: list[dict[str, Any]] = []
        state = ReadState()
        for number, cells, problem in read_rows(source, state):
            raw = raw_text(spec.columns, cells)
            if problem is not None or cells is None:
                self.quarantine(source, number, problem or "unreadable row", raw)
                counts.quarantined += 1
                continue
            try:
                model = spec.row_model(**dict(zip(spec.columns, cells, strict=True)))
            except ValidationError as exc:
                self.quarantine(source, number, error_reason(exc), raw)
                counts.quarantined += 1
                continue
            reason = self._reference_problem(spec.name, model)
            key = getattr(model, spec.key)
            if reason is None and key in seen:
                if seen[key] == model:
                    counts.unchanged += 1
                    continue
                reason = f"{spec.key}: duplicate id with conflicting content earlier in this input"
            if reason is not None:
                self.quarantine(source, number, reason, raw)
                counts.quarantined += 1
                continue
            seen[key] = model
            accepted.append(model.model_dump())
            if spec.name in self.known:
                self.known[spec.name].add(key)
        written = upsert(self.conn, spec.table, spec.key, accepted, self.report.changed_partners)
        counts.add(written)
        if written.inserted or written.updated:
            self.report.changed_tables.add(spec.table)
        self.tick(source, state)

    def _reference_problem(self, name: str, model: BaseModel) -> str | None:
        if name == "partners":
            pam_id = getattr(model, "pam_id", None)
            if pam_id is not None and pam_id not in self.known["pams"]:
                return f"pam_id: unknown PAM {pam_id!r}"
        elif name in ("gtm_profiles", "opportunities", "partner_attributes"):
            partner_id = getattr(model, "partner_id", None)
            if partner_id not in self.known["partners"]:
                return f"partner_id: unknown partner {partner_id!r}"
        return None

    # --- activity: the fast path ---------------------------------------------------------------------

    def import_activity(self, source: SourceFile, writer: ActivityWriter) -> None:
        columns = source.spec.columns
        self.begin_source(source)
        counts = self.counts(source)
        partners = self.known["partners"]
        state = ReadState()
        batch: list[ActivityTuple] = []
        numbers: list[int] = []
        check = check_activity
        for number, cells, problem in read_rows(source, state):
            if problem is not None or cells is None:
                self.quarantine(source, number, problem or "unreadable row", raw_text(columns, cells))
                counts.quarantined += 1
                continue
            result = check(cells)
            if type(result) is str:
                self.quarantine(source, number, result, raw_text(columns, cells))
                counts.quarantined += 1
                continue
            if result[1] not in partners:  # type: ignore[index]
                self.quarantine(source, number, f"partner_id: unknown partner {result[1]!r}",  # type: ignore[index]
                                raw_text(columns, cells))
                counts.quarantined += 1
                continue
            batch.append(result)  # type: ignore[arg-type]
            numbers.append(number)
            if len(batch) >= ACTIVITY_BATCH:
                self._write_activity(source, writer, batch, numbers, counts)
                batch, numbers = [], []
                self.tick(source, state)
        self._write_activity(source, writer, batch, numbers, counts)
        self.tick(source, state)
        if counts.inserted:
            self.report.changed_tables.add(source.spec.table)

    def _write_activity(
        self, source: SourceFile, writer: ActivityWriter, batch: list[ActivityTuple], numbers: list[int],
        counts: FileCounts,
    ) -> None:
        for number, reason in writer.write(batch, numbers, counts, self.report.changed_partners):
            self.quarantine(source, number, reason, None)


def _sources(folder: Path, mapping: Mapping | None, kinds: dict[str, str] | None) -> list[SourceFile]:
    if mapping is None:
        return canonical_sources(folder)
    sources = mapping.sources(folder, kinds)
    check_sources(mapping, sources)  # an export the mapping cannot read is refused before the store is touched
    return sources


def import_dataset(
    engine: Engine,
    path: Path,
    mapping: str | Path | None = None,
    progress: Progress | None = None,
    kinds: dict[str, str] | None = None,
    lock_wait_s: float | None = None,
) -> ImportReport:
    """Import a folder of canonical CSV / JSON Lines files (or CRM exports through `mapping`) in one transaction.

    Files are imported in dependency order (PAMs, partners, GTM profiles, dated partner attributes, opportunities,
    activity). Refused
    rows are stored in `quarantined_rows` under the report's `run_id`. Any exception leaves the store as it was.
    With a mapping, `kinds` (file name → canonical file) places exports whose names its patterns do not match;
    an export lacking a column for a required field raises `MappingMismatch` before anything is written.
    One import runs at a time per store: this one waits for another up to `lock_wait_s` (default
    `PARTNERPILOT_IMPORT_LOCK_WAIT_S`), then raises `ImportBusy`. Re-importing a file replaces the rows its earlier
    imports quarantined (`readiness.importers.quarantine`).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ImportFolderError(f"not a folder: {folder}")
    resolved = load_mapping(mapping) if mapping is not None else None
    sources = _sources(folder, resolved, kinds)
    wait = lock_wait_s if lock_wait_s is not None else get_settings().import_lock_wait_s
    with import_transaction(engine, wait) as conn:
        run = _Run(conn, progress)
        writer: ActivityWriter | None = None
        for source in sources:
            if source.spec.name != "activity":
                run.import_table(source)
                continue
            if writer is None:
                writer = ActivityWriter(conn)
                incoming = sum(s.path.stat().st_size for s in sources if s.spec.name == "activity")
                incoming //= _CSV_BYTES_PER_EVENT
                stored = writer.stored_rows_estimate()
                if incoming >= BULK_INDEX_MIN_ROWS and incoming >= stored:
                    writer.drop_index()
                if incoming * DAY_LISTS_REBUILD_RATIO >= stored:
                    writer.defer_day_lists()
            run.import_activity(source, writer)
        if writer is not None:
            writer.restore_index()
        run.flush_quarantine()
    report = run.report
    for counts in report.files.values():
        report.total.add(counts)
    return report


def import_into_sqlite_file(path: Path, folder: Path) -> ImportReport:
    """A new SQLite store at `path` holding the dataset in `folder`, its WAL folded into the file so that the file
    alone can be copied (the eval runner and the tests copy one imported store per scenario or test)."""
    from readiness.db import init_db, make_engine

    engine = make_engine(f"sqlite:///{path}")
    try:
        init_db(engine)
        report = import_dataset(engine, folder)
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return report
    finally:
        engine.dispose()
