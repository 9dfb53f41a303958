"""Column mappings: turn a CRM/PRM export (Salesforce, HubSpot, ...) into canonical cells.

A mapping is YAML validated by `Mapping`. Per canonical file it names the source files (glob patterns),
and per canonical field where its value comes from and how to normalise it (value maps for stage names,
date formats, number clean-up, defaults). Mapped values then go through the same row validation as a
canonical import, so a value the mapping cannot translate is quarantined with the usual reason.

An export that has no column for a required field (typically the partner of a deal, which CRMs keep in many
different places) is refused before the store is touched: `check_sources` raises `MappingMismatch` with the
columns the file does have and a ready-to-edit copy of the mapping.
"""

from __future__ import annotations

import csv
import fnmatch
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from readiness.importers.rows import SPECS, FileSpec
from readiness.importers.sources import Cells, Projector, SourceFile

MAPPINGS_DIR = Path(__file__).parent / "mappings"
_TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")
_NUMBER_JUNK = re.compile(r"^[^\d+\-.]+|[^\d.]+$")  # currency symbols/codes before or after the number


def _value_key(value: str) -> str:
    """Value-map keys match ignoring case, spaces and punctuation ('Closed Won' == 'closedwon')."""
    return re.sub(r"[^0-9a-z]", "", value.casefold())


class FieldMap(BaseModel):
    """Where one canonical field comes from and how it is normalised (applied in the order listed)."""

    model_config = ConfigDict(extra="forbid")
    column: list[str] = Field(default_factory=list, description="source columns; the first present is used")
    column_pattern: list[str] = Field(default_factory=list, description="regexes matched against the whole "
                                      "header name, ignoring case, when none of `column` is present")
    template: str | None = Field(default=None, description="e.g. '{First Name} {Last Name}'")
    extract: str | None = Field(default=None, description="regex; its first group (or match) is kept")
    number: bool = Field(default=False, description="strip currency symbols/codes and thousands separators")
    values: dict[str, str] = Field(default_factory=dict, description="source value -> canonical value")
    unmapped: Literal["keep", "empty"] = "keep"
    date_formats: list[str] = Field(default_factory=list, description="strptime formats; result is a date")
    timestamp_formats: list[str] = Field(default_factory=list, description="strptime formats; result has a zone")
    timezone: str = Field(default="UTC", description="zone given to zone-less timestamps")
    split: str | None = Field(default=None, description="list separator in the source, turned into ';'")
    default: str | None = None

    @field_validator("column", "column_pattern", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> FieldMap:
        if self.extract is not None:
            re.compile(self.extract)
        self._patterns = [re.compile(p, re.IGNORECASE) for p in self.column_pattern]
        ZoneInfo(self.timezone)
        self._values = {_value_key(k): v for k, v in self.values.items()}
        return self

    def source_columns(self) -> list[str]:
        if self.template is not None:
            return _TEMPLATE_FIELD.findall(self.template)
        return self.column

    def wanted(self) -> str:
        """What this field looks for, for error messages."""
        names = self.source_columns()
        patterns = [f"/{p}/" for p in self.column_pattern] if self.template is None else []
        return " / ".join(names + patterns) or "(no column)"

    def column_index(self, header: list[str]) -> int | None:
        """Position of the source column: the first listed name present, else the first header a pattern
        matches."""
        positions = {name.strip(): i for i, name in reversed(list(enumerate(header)))}
        found = next((positions[c] for c in self.column if c in positions), None)
        if found is not None:
            return found
        return next((i for i, name in enumerate(header) for p in self._patterns if p.fullmatch(name.strip())), None)

    def converter(self, header: list[str]) -> Callable[[list[str]], str | None] | None:
        """A function from a source row to the canonical cell; None when none of its columns is present."""
        positions = {name.strip(): i for i, name in reversed(list(enumerate(header)))}
        if self.template is not None:
            names = self.source_columns()
            if not all(n in positions for n in names):
                return None if self.default is None else (lambda _cells: self.default)
            template = self.template
            for n in names:
                template = template.replace("{" + n + "}", "{" + str(positions[n]) + "}")

            def read(cells: list[str]) -> str | None:
                return self.normalise(template.format(*cells))

            return read
        index = self.column_index(header)
        if index is None:
            return None if self.default is None else (lambda _cells: self.default)
        return lambda cells: self.normalise(cells[index])

    def normalise(self, raw: str | None) -> str | None:
        value = (raw or "").strip()
        if value and self.extract is not None:
            found = re.search(self.extract, value)
            value = (found.group(1) if found and found.groups() else found.group(0)) if found else value
        if value and self.number:
            value = _NUMBER_JUNK.sub("", value).replace(",", "")
        if value and self._values:
            mapped = self._values.get(_value_key(value))
            value = mapped if mapped is not None else ("" if self.unmapped == "empty" else value)
        if value and self.date_formats:
            value = _reformat_date(value, self.date_formats)
        if value and self.timestamp_formats:
            value = _reformat_timestamp(value, self.timestamp_formats, self.timezone)
        if value and self.split:
            value = ";".join(part.strip() for part in value.split(self.split))
        return value or self.default


def _reformat_date(value: str, formats: list[str]) -> str:
    """The first format that parses wins; ISO stays ISO; anything else is left for validation to refuse."""
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).date().isoformat()
    except ValueError:
        return value


def _reformat_timestamp(value: str, formats: list[str], zone: str) -> str:
    for fmt in formats:
        try:
            parsed = datetime.strptime(value, fmt)
            break
        except ValueError:
            continue
    else:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone))
    return parsed.isoformat()


class FileMap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: list[str] = Field(description="glob patterns of source file names, matched case-insensitively")
    encoding: str = "utf-8"
    fields: dict[str, FieldMap]

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        # `field: "Source Column"` is short for `field: {column: "Source Column"}`.
        if isinstance(value, dict):
            return {k: {"column": v} if isinstance(v, str | list) else v for k, v in value.items()}
        return value

    def plan(self, spec: FileSpec) -> Callable[[list[str]], tuple[Projector, list[str]]]:
        def build(header: list[str]) -> tuple[Projector, list[str]]:
            converters: list[Callable[[list[str]], str | None] | None] = []
            missing: list[str] = []
            for column in spec.columns:
                fmap = self.fields.get(column)
                conv = fmap.converter(header) if fmap is not None else None
                if conv is None and column in spec.required:
                    wanted = fmap.wanted() if fmap is not None else "(not mapped)"
                    missing.append(f"{wanted} ({column})")
                converters.append(conv)

            def project(cells: list[str]) -> Cells:
                return tuple(c(cells) if c is not None else None for c in converters)

            return project, missing

        return build


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    files: dict[str, FileMap]

    @field_validator("files")
    @classmethod
    def _known_files(cls, value: dict[str, FileMap]) -> dict[str, FileMap]:
        for name, fmap in value.items():
            if name not in SPECS:
                raise ValueError(f"unknown canonical file {name!r} (expected one of {', '.join(SPECS)})")
            unknown = set(fmap.fields) - set(SPECS[name].columns)
            if unknown:
                raise ValueError(f"{name}: unknown field(s) {', '.join(sorted(unknown))}")
        return value

    def sources(self, folder: Path, kinds: dict[str, str] | None = None) -> list[SourceFile]:
        """Matching CSV exports in `folder`, in canonical import order. `kinds` (file name → canonical file)
        assigns files whose names the mapping's patterns would not recognise (an upload named `export.csv`)."""
        kinds = kinds or {}
        unknown = {k for k in kinds.values() if k not in self.files}
        if unknown:
            raise ValueError(f"mapping {self.name!r} has no canonical file {', '.join(sorted(unknown))} "
                             f"(it maps {', '.join(self.files)})")
        names = sorted(p.name for p in folder.iterdir() if p.is_file())
        found: list[SourceFile] = []
        for name, spec in SPECS.items():
            fmap = self.files.get(name)
            if fmap is None:
                continue
            for file_name in names:
                if file_name in kinds:
                    matched = kinds[file_name] == name
                else:
                    matched = any(fnmatch.fnmatch(file_name.lower(), pat.lower()) for pat in fmap.source)
                if matched:
                    found.append(SourceFile(path=folder / file_name, spec=spec, fmt="csv",
                                            plan=fmap.plan(spec), encoding=fmap.encoding))
        used: dict[str, int] = {}
        for source in found:
            used[source.path.name] = used.get(source.path.name, 0) + 1
        for source in found:
            if used[source.path.name] > 1:
                source.name_override = f"{source.path.name} ({source.spec.name})"
        return found


def load_mapping(mapping: str | Path) -> Mapping:
    """A packaged mapping by name (`salesforce`, `hubspot`) or a YAML file path."""
    path = Path(mapping)
    if not path.suffix and not path.exists():
        path = MAPPINGS_DIR / f"{mapping}.yaml"
        if not path.exists():
            known = ", ".join(sorted(p.stem for p in MAPPINGS_DIR.glob("*.yaml")))
            raise FileNotFoundError(f"no mapping named {mapping!r} (packaged: {known})")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Mapping.model_validate(data)


# --- a mapping that does not fit the export: refuse it up front, with a mapping to edit --------------------

_TODO = "TODO: the column that holds {field}"  # no quote marks: YAML keeps it verbatim, easy to replace
_FIELD_MEANING = {
    "partner_id": "the partner id, not the customer id",
    "opportunity_id": "the deal id", "stage": "the deal stage", "attribution": "the partner role",
    "pam_id": "the PAM id", "name": "the name", "type": "the partner type", "event_id": "the event id",
    "occurred_at": "when it happened", "kind": "what happened",
}


@dataclass(frozen=True)
class FileMismatch:
    """One export file and the required canonical fields none of its columns provides."""

    file: str
    canonical: str
    missing: tuple[tuple[str, str], ...]  # (canonical field, what the mapping looked for)
    columns: tuple[str, ...]  # the file's header


class MappingMismatch(ValueError):
    """The mapping finds no column for a required field in an export: nothing was imported."""

    def __init__(self, mapping: Mapping, problems: Sequence[FileMismatch]) -> None:
        self.mapping = mapping
        self.problems = list(problems)
        self.yaml = suggested_mapping(mapping, self.problems)
        lines = [f"the {mapping.name!r} mapping does not fit these files; nothing was imported:"]
        for p in self.problems:
            for field, wanted in p.missing:
                lines.append(f"  {p.file} ({p.canonical}): no column for {field} — looked for {wanted}")
            lines.append(f"    columns in {p.file}: {', '.join(p.columns) or '(none)'}")
        lines.append("edit the TODO lines of the mapping below, save it as a .yaml file and import with "
                     "--mapping that file")
        super().__init__("\n".join(lines))


def read_header(path: Path, encoding: str = "utf-8") -> list[str]:
    """The header row of a CSV export (a UTF-8 byte-order mark is dropped); empty for an empty file."""
    with path.open(encoding="utf-8-sig" if encoding.lower().replace("_", "-") == "utf-8" else encoding,
                   errors="replace", newline="") as fh:
        return [h.strip() for h in next(csv.reader(fh), [])]


def check_sources(mapping: Mapping, sources: Sequence[SourceFile]) -> None:
    """Raise `MappingMismatch` when a matched export lacks a column for a required field."""
    problems: list[FileMismatch] = []
    for source in sources:
        header = read_header(source.path, source.encoding)
        if not header:
            continue  # an empty file has no rows to refuse
        fmap = mapping.files[source.spec.name]
        missing = []
        for field in source.spec.required:
            fm = fmap.fields.get(field)
            if fm is None or fm.converter(header) is None:
                missing.append((field, fm.wanted() if fm is not None else "(not mapped)"))
        if missing:
            problems.append(FileMismatch(file=source.label, canonical=source.spec.name, missing=tuple(missing),
                                         columns=tuple(header)))
    if problems:
        raise MappingMismatch(mapping, problems)


def _compact(field: dict[str, object]) -> object:
    """`{column: [X]}` written as `X`, the shorthand a person would type."""
    if set(field) == {"column"}:
        columns = field["column"]
        return columns[0] if isinstance(columns, list) and len(columns) == 1 else columns
    return field


def suggested_mapping(mapping: Mapping, problems: Sequence[FileMismatch]) -> str:
    """The mapping as YAML with a TODO column for each missing field and the files' real columns in comments."""
    data = mapping.model_dump(exclude_defaults=True)
    data["name"] = f"{mapping.name}-custom"
    data["description"] = f"{mapping.description or mapping.name}, adapted to these exports"
    for p in problems:
        fields = data["files"][p.canonical]["fields"]
        for field, _wanted in p.missing:
            fields[field] = {"column": _TODO.format(field=_FIELD_MEANING.get(field, field))}
    for fmap in data["files"].values():
        fmap["fields"] = {k: _compact(v) for k, v in fmap["fields"].items()}
    header = ["# A mapping to edit: replace each TODO with one of the file's column names listed here."]
    for p in problems:
        header.append(f"# {p.file} ({p.canonical}) has these columns:")
        header += [f"#   - {c}" for c in p.columns]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000)  # one line per value
    return "\n".join(header) + "\n" + body


__all__ = ["FieldMap", "FileMap", "FileMismatch", "Mapping", "MappingMismatch", "check_sources", "load_mapping",
           "read_header", "suggested_mapping"]
