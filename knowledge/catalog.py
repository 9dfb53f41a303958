"""The playbook catalogue: YAML front-matter of `knowledge/playbooks/*.md`, validated into `PlaybookMeta`."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from readiness.settings import get_settings

GAPS = (
    "icp",
    "use_case",
    "sales_motion",
    "delivery_credibility",
    "business_communication",
    "ae_engagement",
    "enablement",
    "pipeline_hygiene",
    "co_sell",
)
PARTNER_TYPES = ("reseller", "si", "isv", "msp", "referral")
Phase = Literal["30", "60", "90", "any"]
Audience = Literal["partner", "pam", "both"]

DEFAULT_DIR = Path(__file__).resolve().parent / "playbooks"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class CatalogError(ValueError):
    """A playbook file whose front-matter is missing or invalid; the message names the file."""


class PlaybookMeta(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    title: str
    gaps: list[str] = Field(min_length=1)
    phase: Phase
    partner_types: list[str] = Field(min_length=1)
    audience: Audience
    # For partners with customers on the vendor's platform already (expanding an installed base, a customer case
    # study): ranked below what a partner without customers can use today.
    requires_customers: bool = False
    version: int = 1
    updated_on: date
    path: Path
    word_count: int

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"id must be a lowercase slug like 'icp-worksheet', got {v!r}")
        return v

    @field_validator("phase", mode="before")
    @classmethod
    def _phase_str(cls, v: object) -> object:
        # YAML reads an unquoted 30 as an int; accept it rather than fail on a quoting slip.
        return str(v) if isinstance(v, int) else v

    @field_validator("gaps")
    @classmethod
    def _known_gaps(cls, v: list[str]) -> list[str]:
        unknown = [g for g in v if g not in GAPS]
        if unknown:
            raise ValueError(f"unknown gap(s) {unknown}; known: {', '.join(GAPS)}")
        return v

    @field_validator("partner_types", mode="before")
    @classmethod
    def _known_types(cls, v: object) -> object:
        if v == "all" or v == ["all"]:
            return list(PARTNER_TYPES)
        if isinstance(v, list):
            unknown = [t for t in v if t not in PARTNER_TYPES]
            if unknown:
                raise ValueError(f"unknown partner type(s) {unknown}; known: {', '.join(PARTNER_TYPES)}")
        return v


def split_front_matter(text: str) -> tuple[dict[str, object], str]:
    """(front-matter mapping, Markdown body). Raises ValueError when the block is missing or not a mapping."""
    m = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if not m:
        raise ValueError("no YAML front-matter block (--- ... ---) at the top")
    data = yaml.safe_load(m.group(1))
    if not isinstance(data, dict):
        raise ValueError("front-matter is not a YAML mapping")
    return data, text.lstrip("\ufeff")[m.end() :]


def parse_playbook(path: Path) -> tuple[PlaybookMeta, str]:
    """Metadata and body of one playbook file."""
    try:
        data, body = split_front_matter(path.read_text(encoding="utf-8"))
        meta = PlaybookMeta.model_validate({**data, "path": path, "word_count": len(body.split())})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'front-matter'}: {e['msg']}" for e in exc.errors())
        raise CatalogError(f"{path}: invalid playbook front-matter: {problems}") from exc
    except (ValueError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path}: invalid playbook front-matter: {exc}") from exc
    if meta.id != path.stem:
        raise CatalogError(f"{path}: front-matter id {meta.id!r} does not match the file name {path.stem!r}")
    return meta, body


def playbook_dir(dir: Path | None = None) -> Path:
    return Path(dir or get_settings().knowledge_dir or DEFAULT_DIR)


def load_playbooks(dir: Path | None = None) -> list[tuple[PlaybookMeta, str]]:
    folder = playbook_dir(dir)
    if not folder.is_dir():
        raise CatalogError(f"{folder}: playbook folder does not exist")
    return [parse_playbook(p) for p in sorted(folder.glob("*.md"))]


def load_catalog(dir: Path | None = None) -> list[PlaybookMeta]:
    """Every playbook's metadata, sorted by id. Default folder: `Settings.knowledge_dir` or the packaged one."""
    return [meta for meta, _ in load_playbooks(dir)]


__all__ = [
    "GAPS",
    "PARTNER_TYPES",
    "Audience",
    "CatalogError",
    "Phase",
    "PlaybookMeta",
    "load_catalog",
    "load_playbooks",
    "parse_playbook",
    "playbook_dir",
    "split_front_matter",
]
