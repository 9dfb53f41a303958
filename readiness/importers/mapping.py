"""Column mappings: turn a CRM/PRM export (Salesforce, HubSpot, ...) into canonical cells.

A mapping is YAML validated by `Mapping`. Per canonical file it names the source files (glob patterns),
and per canonical field where its value comes from and how to normalise it (value maps for stage names,
date formats, number clean-up, defaults). Mapped values then go through the same row validation as a
canonical import, so a value the mapping cannot translate is quarantined with the usual reason.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
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

    @field_validator("column", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> FieldMap:
        if self.extract is not None:
            re.compile(self.extract)
        ZoneInfo(self.timezone)
        self._values = {_value_key(k): v for k, v in self.values.items()}
        return self

    def source_columns(self) -> list[str]:
        if self.template is not None:
            return _TEMPLATE_FIELD.findall(self.template)
        return self.column

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
        index = next((positions[c] for c in self.column if c in positions), None)
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
                    wanted = " / ".join(fmap.source_columns()) if fmap is not None else "(not mapped)"
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

    def sources(self, folder: Path) -> list[SourceFile]:
        """Matching CSV exports in `folder`, in canonical import order."""
        names = sorted(p.name for p in folder.iterdir() if p.is_file())
        found: list[SourceFile] = []
        for name, spec in SPECS.items():
            fmap = self.files.get(name)
            if fmap is None:
                continue
            for file_name in names:
                if any(fnmatch.fnmatch(file_name.lower(), pat.lower()) for pat in fmap.source):
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
