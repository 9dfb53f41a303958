"""Activity rows without building a pydantic model per row: the hot loop of a multi-million-row import.

`check_activity` must accept and refuse exactly the rows `ActivityRow` accepts and refuses, with the
same normalised values; it calls the same cell parsers (`rows.py`) in the same field order, and a
property test compares the two on generated rows.
"""

from __future__ import annotations

from datetime import datetime

from readiness.importers.rows import (
    ACTIVITY_KINDS,
    EPOCH_ORDINAL,
    OVERLAP_KIND,
    CellError,
    event_value,
    parse_number,
    parse_text,
    parse_timestamp,
)

# (event_id, partner_id, occurred_at (UTC), day, kind, detail, value, known_kind, utc_text)
# `utc_text` is occurred_at as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC, the text SQLAlchemy's SQLite DateTime
# stores; it is built here because the input string usually already holds it and isoformat() costs ~1 µs.
ActivityTuple = tuple[str, str, datetime, int, str, str | None, float | None, bool, str]


def utc_text(ts: datetime) -> str:
    return ts.isoformat(" ", "microseconds")[:26]


def _fast_utc_text(text: str, ts: datetime) -> str:
    # The canonical 'YYYY-MM-DDTHH:MM:SSZ' (already accepted by the parser) maps to the stored text directly.
    if (len(text) == 20 and text[19] == "Z" and text[10] == "T" and text[4] == "-" and text[7] == "-"
            and text[13] == ":" and text[16] == ":"):
        return f"{text[:10]} {text[11:19]}.000000"
    return utc_text(ts)

_LONG = 1_000_000


def check_activity(cells: tuple[str | None, ...]) -> ActivityTuple | str:
    """The validated event as a tuple in table column order, or the quarantine reason as `field: message`."""
    event_id, partner_id, occurred_at, kind, detail, value = cells
    # Cheap inline checks for the common case; the shared parsers handle (and word) everything unusual.
    if event_id and len(event_id) <= 64 and not event_id[0].isspace() and not event_id[-1].isspace():
        eid = event_id
    else:
        try:
            eid = parse_text(event_id, 64)  # type: ignore[assignment]
        except CellError as exc:
            return f"event_id: {exc}"
        if eid is None:
            return "event_id: required value is empty"
    if partner_id and len(partner_id) <= 64 and not partner_id[0].isspace() and not partner_id[-1].isspace():
        pid = partner_id
    else:
        try:
            pid = parse_text(partner_id, 64)  # type: ignore[assignment]
        except CellError as exc:
            return f"partner_id: {exc}"
        if pid is None:
            return "partner_id: required value is empty"
    if occurred_at and len(occurred_at) <= 64 and not occurred_at[0].isspace() and not occurred_at[-1].isspace():
        ts_text = occurred_at
    else:
        try:
            ts_text = parse_text(occurred_at, 64)  # type: ignore[assignment]
        except CellError as exc:
            return f"occurred_at: {exc}"
        if ts_text is None:
            return "occurred_at: required value is empty"
    try:
        ts = parse_timestamp(ts_text)
    except CellError as exc:
        return f"occurred_at: {exc}"
    if kind and len(kind) <= 40 and not kind[0].isspace() and not kind[-1].isspace():
        k = kind
    else:
        try:
            k = parse_text(kind, 40)  # type: ignore[assignment]
        except CellError as exc:
            return f"kind: {exc}"
        if k is None:
            return "kind: required value is empty"
    try:
        d = parse_text(detail, _LONG) if detail else None
    except CellError as exc:
        return f"detail: {exc}"
    try:
        v = parse_number(value) if value else None
    except CellError as exc:
        return f"value: {exc}"
    if v is None and k == OVERLAP_KIND:
        v = event_value(k, d, v)
    return (eid, pid, ts, ts.toordinal() - EPOCH_ORDINAL, k, d, v, k in ACTIVITY_KINDS, _fast_utc_text(ts_text, ts))
