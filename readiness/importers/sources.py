"""Finding input files and reading them into rows of canonical cells, without validating them.

Rows come out as `(row_number, cells, problem)`: `cells` is a tuple of strings/None in the order of the
file's canonical columns, `problem` a reason to quarantine the row before any validation (undecodable
bytes, wrong cell count, invalid JSON, missing required column). CSV is read from bytes line by line so a
single badly encoded row is quarantined instead of aborting the whole file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO

from readiness.importers.rows import FILES, FileSpec

Cells = tuple[str | None, ...]
RawRow = tuple[int, Cells | None, str | None]
# Turns one source record (list of cells) into canonical cells; built once per file from its header.
Projector = Callable[[list[str]], Cells]

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass
class SourceFile:
    path: Path
    spec: FileSpec
    fmt: str  # "csv" | "jsonl"
    # Builds the projector from the header; returns it and the required canonical columns the header lacks.
    plan: Callable[[list[str]], tuple[Projector, list[str]]] | None = None
    encoding: str = "utf-8"
    name_override: str | None = None  # when one export feeds several canonical files

    @property
    def label(self) -> str:
        return self.name_override or self.path.name


@dataclass
class ReadState:
    """Per-file facts the reader learns while streaming (for progress and the raw text of a refused row)."""

    size: int = 0
    position: int = 0
    header: list[str] = field(default_factory=list)


def canonical_sources(folder: Path) -> list[SourceFile]:
    """The canonical files present in `folder`, in import order (a table's CSV before its JSON Lines)."""
    found: list[SourceFile] = []
    for spec in FILES:
        for fmt in ("csv", "jsonl"):
            path = folder / f"{spec.name}.{fmt}"
            if path.is_file():
                found.append(SourceFile(path=path, spec=spec, fmt=fmt))
    return found


def canonical_plan(spec: FileSpec) -> Callable[[list[str]], tuple[Projector, list[str]]]:
    def plan(header: list[str]) -> tuple[Projector, list[str]]:
        names = [h.strip() for h in header]
        missing = [c for c in spec.required if c not in names]
        positions = {name: i for i, name in reversed(list(enumerate(names)))}
        absent = len(names)  # index of a None appended to rows when an optional column is absent
        indexes = [positions.get(c, absent) for c in spec.columns]
        if indexes == list(range(len(spec.columns))) and len(names) == len(spec.columns):
            return tuple, missing  # the common case: already canonical, no reordering needed
        getter = itemgetter(*indexes)
        if absent in indexes:
            def project(cells: list[str]) -> Cells:
                return getter([*cells, None])  # type: ignore[no-any-return]
            return project, missing
        return getter, missing  # type: ignore[return-value]

    return plan


def _decoded_lines(fh: BinaryIO, encoding: str, problems: list[str | None]) -> Iterator[str]:
    """Decode line by line; a line that does not decode is yielded with replacement characters and flagged."""
    for line in fh:
        try:
            text = line.decode(encoding)
        except UnicodeDecodeError as exc:
            problems[0] = f"invalid {encoding} bytes ({exc.reason} at byte {exc.start} of the line)"
            text = line.decode(encoding, "replace")
        if "\x00" in text:
            problems[0] = "contains a NUL character"
            text = text.replace("\x00", "")
        yield text


def read_csv(source: SourceFile, state: ReadState) -> Iterator[RawRow]:
    spec = source.spec
    plan = source.plan or canonical_plan(spec)
    with source.path.open("rb") as fh:
        state.size = source.path.stat().st_size
        head = fh.read(4)
        if head.startswith(_UTF16_BOMS):
            yield 1, None, "file is UTF-16 encoded; save it as UTF-8"
            return
        fh.seek(len(_UTF8_BOM) if head.startswith(_UTF8_BOM) else 0)
        problems: list[str | None] = [None]
        reader = csv.reader(_decoded_lines(fh, source.encoding, problems))
        try:
            header = next(reader)
        except StopIteration:
            return
        if problems[0]:
            yield 1, None, f"header row: {problems[0]}; file skipped"
            return
        state.header = header
        project, missing = plan(header)
        missing_reason = f"missing required column(s): {', '.join(missing)}" if missing else None
        width = len(header)
        row = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                row += 1
                yield row, None, f"unreadable CSV: {exc}"
                continue
            row += 1
            if problems[0]:
                problem, problems[0] = problems[0], None
                yield row, None, problem
            elif not cells:
                continue  # a blank line is not a row of data
            elif missing_reason:
                yield row, None, missing_reason
            elif len(cells) != width:
                yield row, None, f"row has {len(cells)} cells, the header has {width}"
            else:
                yield row, project(cells), None
            if not row & 0x3FFF:
                state.position = fh.tell()
        state.position = state.size


def _json_cell(value: Any) -> str | None:
    """JSON values become the text a CSV cell would hold, so both formats share one validation path."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return ";".join(str(v) for v in value if v is not None)
    return json.dumps(value)


def read_jsonl(source: SourceFile, state: ReadState) -> Iterator[RawRow]:
    columns = source.spec.columns
    required = source.spec.required
    with source.path.open("rb") as fh:
        state.size = source.path.stat().st_size
        for number, line in enumerate(fh, start=1):
            if number == 1 and line.startswith(_UTF8_BOM):
                line = line[len(_UTF8_BOM):]
            if not line.strip():
                continue
            try:
                obj = json.loads(line.decode(source.encoding))
            except UnicodeDecodeError as exc:
                yield number, None, f"invalid {source.encoding} bytes ({exc.reason} at byte {exc.start})"
                continue
            except json.JSONDecodeError as exc:
                yield number, None, f"invalid JSON: {exc.msg}"
                continue
            if not isinstance(obj, dict):
                yield number, None, "a JSON Lines row must be an object"
                continue
            missing = [c for c in required if c not in obj]
            if missing:
                yield number, None, f"missing required field(s): {', '.join(missing)}"
                continue
            yield number, tuple(_json_cell(obj.get(c)) for c in columns), None
            if not number & 0x3FFF:
                state.position = fh.tell()
        state.position = state.size


def read_rows(source: SourceFile, state: ReadState) -> Iterator[RawRow]:
    return read_jsonl(source, state) if source.fmt == "jsonl" else read_csv(source, state)


def raw_text(columns: Sequence[str], cells: Cells | None) -> str | None:
    """The refused row as JSON of its canonical cells (None when the row could not be read at all)."""
    if cells is None:
        return None
    return json.dumps(dict(zip(columns, cells, strict=False)), ensure_ascii=False)
