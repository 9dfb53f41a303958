"""One pydantic model per canonical file: the single definition of what a valid input row is.

Cells arrive as strings (CSV) or are turned into strings first (JSON Lines), so every field is parsed by
a small shared function in a ``BeforeValidator``. The activity fast path (`fastpath.py`) calls the same
functions, which is what keeps its accept/quarantine decisions identical to these models.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    computed_field,
    field_validator,
)

ACTIVITY_KINDS = frozenset({
    "portal_login", "onboarding_started", "training_completed", "certification_earned", "event_attended",
    "content_downloaded", "content_shared", "deal_registered", "co_sell_request", "ae_meeting", "joint_call",
    "demo_delivered", "workshop_delivered", "case_study_published", "customer_overlap_detected", "mdf_requested",
    "plan_updated",
})
PARTNER_TYPES = ("reseller", "si", "isv", "msp", "referral")
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
STAGES = ("discovery", "validation", "proposal", "negotiation", "closed_won", "closed_lost")
ATTRIBUTIONS = ("sourced", "influenced", "none")
FORECAST_CATEGORIES = ("commit", "best_case", "pipeline", "omitted", "closed")

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_INT32_MAX = 2**31 - 1


class CellError(ValueError):
    """A cell that cannot be read; the message becomes the quarantine reason."""


# --- shared cell parsers (also used by the activity fast path) -------------------------------------------

def parse_text(value: str | None, max_len: int) -> str | None:
    """Stripped text or None for an empty cell; the length cap mirrors the column width PostgreSQL enforces."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > max_len:
        raise CellError(f"longer than {max_len} characters")
    return value


def parse_number(value: str | None) -> float | None:
    """A finite decimal number; Python's float() alone would also take '1_0', 'nan' or non-ASCII digits."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if not _NUMBER.fullmatch(value):
        raise CellError(f"not a number: {value!r}")
    number = float(value)
    if math.isinf(number):
        raise CellError(f"number out of range: {value!r}")
    return number


OVERLAP_KIND = "customer_overlap_detected"
# "44 shared target accounts", "overlap: 1,204 accounts": a count followed, within a few words, by "account(s)".
_ACCOUNT_COUNT = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+|\d+)\s+(?:[a-z-]+\s+){0,3}accounts?\b", re.IGNORECASE)


def event_value(kind: str, detail: str | None, value: float | None) -> float | None:
    """An overlap detection's quantity is its number of shared accounts; exports often put it only in the text
    ("44 shared target accounts"), so an empty value is read from there."""
    if value is not None or kind != OVERLAP_KIND or not detail:
        return value
    found = _ACCOUNT_COUNT.search(detail)
    return float(found.group(1).replace(",", "")) if found else None


def parse_integer(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if not _INTEGER.fullmatch(value) or len(value) > 12:
        raise CellError(f"not an integer: {value!r}")
    number = int(value)
    if abs(number) > _INT32_MAX:  # the columns are 32-bit integers on PostgreSQL
        raise CellError(f"integer out of range: {value!r}")
    return number


def parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CellError(f"not an ISO date (YYYY-MM-DD): {value!r}") from None


def parse_timestamp(value: str) -> datetime:
    """An ISO 8601 timestamp that carries a zone, returned in UTC. A zone-less time is ambiguous: refused."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CellError(f"not an ISO 8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:  # fromisoformat only ever attaches fixed offsets, never a tz without one
        raise CellError(f"timestamp has no time zone: {value!r}")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+05:00 falls before year 1 in UTC
        raise CellError(f"timestamp out of range: {value!r}") from None


def parse_list(value: str | None) -> list[str]:
    if value is None:
        return []
    return [item.strip() for item in value.split(";") if item.strip()]


def parse_choice(value: str | None, choices: tuple[str, ...], *, upper: bool = False) -> str | None:
    """Enum cells are matched case-insensitively; anything outside the vocabulary is refused."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    normalised = value.upper() if upper else value.lower()
    if normalised not in choices:
        raise CellError(f"unknown value {value!r} (expected one of {', '.join(choices)})")
    return normalised


def required(value: Any) -> Any:
    if value is None:
        raise CellError("required value is empty")
    return value


# --- annotated field types --------------------------------------------------------------------------------

def _text(max_len: int) -> Any:
    return BeforeValidator(lambda v: parse_text(v, max_len))


def _required_text(max_len: int) -> Any:
    return BeforeValidator(lambda v: required(parse_text(v, max_len)))


def _choice(choices: tuple[str, ...], *, upper: bool = False, needed: bool = False) -> Any:
    def check(v: Any) -> Any:
        parsed = parse_choice(v, choices, upper=upper)
        return required(parsed) if needed else parsed

    return BeforeValidator(check)


def _code(length: int) -> Any:
    """ISO codes (country alpha-2, currency 4217): letters only, upper-cased."""

    def check(v: str | None) -> str | None:
        text = parse_text(v, 64)
        if text is None:
            return None
        if len(text) != length or not text.isascii() or not text.isalpha():
            raise CellError(f"not a {length}-letter ISO code: {text!r}")
        return text.upper()

    return BeforeValidator(check)


def _non_negative(v: Any) -> Any:
    if v is not None and v < 0:
        raise CellError(f"must not be negative: {v:g}")
    return v


Text200 = Annotated[str | None, _text(200)]
LongText = Annotated[str | None, BeforeValidator(lambda v: parse_text(v, 1_000_000))]
Id = Annotated[str, _required_text(64)]
OptDate = Annotated[date | None, BeforeValidator(parse_date)]
Count = Annotated[int | None, BeforeValidator(lambda v: _non_negative(parse_integer(v)))]
Amount = Annotated[float | None, BeforeValidator(lambda v: _non_negative(parse_number(v)))]
Value = Annotated[float | None, BeforeValidator(parse_number)]
TextList = Annotated[list[str], BeforeValidator(parse_list)]


class PamRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    pam_id: Id
    name: Annotated[str, _required_text(200)]
    email: Text200


class PartnerRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    partner_id: Id
    name: Annotated[str, _required_text(200)]
    type: Annotated[str, _choice(PARTNER_TYPES, needed=True)]
    region: Annotated[str | None, _choice(REGIONS, upper=True)]
    country: Annotated[str | None, _code(2)]
    program_tier: Annotated[str | None, _text(50)]
    joined_on: OptDate
    pam_id: Annotated[str | None, _text(64)]
    specializations: TextList
    employee_count: Count
    customer_overlap_accounts: Count
    competitive_conflict: LongText


class GTMProfileRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    partner_id: Id
    icp_statement: LongText
    use_cases: TextList
    positioning: LongText
    sales_motion: LongText
    updated_on: OptDate


class OpportunityRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    opportunity_id: Id
    partner_id: Id
    account_name: Text200
    amount: Amount
    currency: Annotated[str | None, _code(3)]
    stage: Annotated[str, _choice(STAGES, needed=True)]
    attribution: Annotated[str, _choice(ATTRIBUTIONS, needed=True)]
    created_on: OptDate
    close_date: OptDate
    forecast_category: Annotated[str | None, _choice(FORECAST_CATEGORIES)]
    industry: Annotated[str | None, _text(100)]
    employee_band: Annotated[str | None, _text(40)]


# Attributes that change over time and may come with dated values (partner_attributes.csv).
NUMERIC_ATTRIBUTES = ("employee_count", "customer_overlap_accounts")
TEXT_ATTRIBUTES = ("competitive_conflict", "icp_statement", "use_cases", "positioning", "sales_motion")
DATED_ATTRIBUTES = NUMERIC_ATTRIBUTES + TEXT_ATTRIBUTES


class PartnerAttributeRow(BaseModel):
    """A dated value of a partner attribute: in effect from `valid_from` until the next dated value. An empty value
    clears it (a competitive conflict that ended); counts must be whole numbers >= 0."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    partner_id: Id
    attribute: Annotated[str, _choice(DATED_ATTRIBUTES, needed=True)]
    valid_from: Annotated[date, BeforeValidator(lambda v: required(parse_date(v)))]
    value: LongText

    @field_validator("value", mode="after")
    @classmethod
    def _value_fits_attribute(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Counts are stored as plain whole numbers ("0042" -> "42"); text as given."""
        if info.data.get("attribute") not in NUMERIC_ATTRIBUTES or value is None:
            return value
        count = _non_negative(parse_integer(value))
        return None if count is None else str(count)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def entry_id(self) -> str:
        return f"{self.partner_id}|{self.attribute}|{self.valid_from.isoformat()}"


def _timestamp(v: Any) -> datetime:
    return parse_timestamp(required(parse_text(v, 64)))


class ActivityRow(BaseModel):
    """An activity event. `day` and `known_kind` are derived, never read from the input."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    event_id: Id
    partner_id: Id
    occurred_at: Annotated[datetime, BeforeValidator(_timestamp)]
    kind: Annotated[str, _required_text(40)]
    detail: LongText
    value: Value

    @field_validator("value", mode="after")
    @classmethod
    def _value_from_detail(cls, value: float | None, info: ValidationInfo) -> float | None:
        kind, detail = info.data.get("kind"), info.data.get("detail")
        return event_value(kind, detail, value) if isinstance(kind, str) else value

    @property
    def day(self) -> int:
        return self.occurred_at.toordinal() - EPOCH_ORDINAL

    @property
    def known_kind(self) -> bool:
        return self.kind in ACTIVITY_KINDS


class FileSpec(BaseModel):
    """What the importer knows about one canonical file."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    name: str  # base name without extension, also the table's import key
    table: str
    key: str
    row_model: type[BaseModel]
    columns: tuple[str, ...]
    required: tuple[str, ...]


FILES: tuple[FileSpec, ...] = (
    FileSpec(name="pams", table="pams", key="pam_id", row_model=PamRow,
             columns=tuple(PamRow.model_fields), required=("pam_id", "name")),
    FileSpec(name="partners", table="partners", key="partner_id", row_model=PartnerRow,
             columns=tuple(PartnerRow.model_fields), required=("partner_id", "name", "type")),
    FileSpec(name="gtm_profiles", table="gtm_profiles", key="partner_id", row_model=GTMProfileRow,
             columns=tuple(GTMProfileRow.model_fields), required=("partner_id",)),
    FileSpec(name="partner_attributes", table="partner_attribute_history", key="entry_id",
             row_model=PartnerAttributeRow, columns=tuple(PartnerAttributeRow.model_fields),
             required=("partner_id", "attribute", "valid_from")),
    FileSpec(name="opportunities", table="opportunities", key="opportunity_id", row_model=OpportunityRow,
             columns=tuple(OpportunityRow.model_fields),
             required=("opportunity_id", "partner_id", "stage", "attribution")),
    FileSpec(name="activity", table="activity_events", key="event_id", row_model=ActivityRow,
             columns=tuple(ActivityRow.model_fields), required=("event_id", "partner_id", "occurred_at", "kind")),
)
SPECS = {spec.name: spec for spec in FILES}


def error_reason(exc: ValidationError) -> str:
    """The first problem of a row as `field: message` (CellError text without pydantic's prefix)."""
    err = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in err["loc"]) or "row"
    message = err["msg"]
    if err["type"] == "missing":
        message = "required value is empty"
    elif message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return f"{field}: {message}"
