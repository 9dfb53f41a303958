"""Numbers in an answer, and whether each one is grounded in what the tools returned.

A number in an answer is *grounded* when it appears in, or is derivable by rounding from, the turn's tool results
(or the user's own message): `64/100` from a score of 63.9, `$27.8k` from 27837.0, `41%` from a share of 0.41,
`5 shown` from a list of five rows. Dates are grounded by a date in the results. Identifiers (`p-035`,
`op-00015`), ordered-list markers and numbers written as words are not numbers here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_MONTH = r"(?P<mon>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?" \
         r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b\.?"
_ISO_DATE = re.compile(r"(?<![\w-])(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?"
                       r"(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w-])")
# Month names are matched capitalised only: "may" and "mar" are also words.
_MDY = re.compile(rf"\b{_MONTH}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{{4}})\b)?")
_DMY = re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+(?P<y>\d{{4}})\b)?")
# "64/100", "out of 100": the scale a score is written on, not a claim.
_SCALE_NOTE = re.compile(r"(?:/\s?|\bout of\s)100\b")
# An identifier with a digit in it: p-035, op-00015, pam-02, momentum_30, o200k_base, Q4.
_IDENT = re.compile(r"(?<![\w$])[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*")
_LIST_MARKER = re.compile(r"^(\s*(?:[-*]\s+)?)(\d{1,3})([.)])(?=\s)", re.M)
_NUMBER = re.compile(
    r"(?<![\w.,])(?P<sign>[+\-−])?(?P<cur>\$|USD\s?|€|£)?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<dec>\.\d+)?"
    r"(?P<scale>\s?(?:k|K|M|bn|B)\b)?(?P<pct>\s?%)?(?P<ord>st|nd|rd|th|x)?(?![\w])"
)
_SCALES = {"k": 1e3, "K": 1e3, "M": 1e6, "bn": 1e9, "B": 1e9}


@dataclass(frozen=True)
class Number:
    """One number as written: its value, decimals written, and how to read it."""

    text: str
    value: float
    decimals: int
    signed: bool = False  # written with an explicit + or -
    scale: float = 1.0  # k, M, bn
    percent: bool = False
    money: bool = False


@dataclass(frozen=True)
class Day:
    text: str
    year: int | None
    month: int
    day: int


@dataclass
class Sources:
    """What an answer may draw numbers and dates from."""

    values: set[float] = field(default_factory=set)
    days: set[tuple[int | None, int, int]] = field(default_factory=set)  # (year or None, month, day)

    def add_text(self, text: str) -> None:
        days, numbers = extract(text, markers=False)
        for d in days:
            self.days.add((d.year, d.month, d.day))
            if d.year is not None:
                self.values.add(float(d.year))
        for n in numbers:
            self.values.add(-n.value * n.scale if n.signed and n.text.lstrip()[:1] in "-−" else n.value * n.scale)

    def add_json(self, obj: Any) -> None:
        """Every number in a JSON value: values, numbers inside strings and keys, list lengths, and how many
        rows of a list share a value (counts a reader derives: '3 overdue', '5 shown')."""
        if isinstance(obj, bool) or obj is None:
            return
        if isinstance(obj, int | float):
            if math.isfinite(obj):
                self.values.add(float(obj))
        elif isinstance(obj, str):
            self.add_text(obj)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                self.add_text(str(k).replace("_", " "))
                self.add_json(v)
        elif isinstance(obj, list):
            self.values.add(float(len(obj)))
            counts: dict[tuple[str, str], int] = {}
            for item in obj:
                self.add_json(item)
                if isinstance(item, dict):
                    for k, v in item.items():
                        if isinstance(v, str | bool):
                            counts[(k, str(v))] = counts.get((k, str(v)), 0) + 1
            self.values.update(float(c) for c in counts.values())


def _mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        chars[a:b] = " " * (b - a)
    return "".join(chars)


def _month(name: str) -> int:
    return _MONTHS[name[:3].lower()]


def extract(text: str, markers: bool = True) -> tuple[list[Day], list[Number]]:
    """The dates and numbers written in `text`. With `markers`, ordered-list markers ('1. ') are skipped."""
    days: list[Day] = []
    spans: list[tuple[int, int]] = []
    for m in _ISO_DATE.finditer(text):
        try:
            date(int(m["y"]), int(m["m"]), int(m["d"]))
        except ValueError:
            continue
        days.append(Day(m.group(0), int(m["y"]), int(m["m"]), int(m["d"])))
        spans.append(m.span())
    masked = _mask(text, spans)
    for rx in (_MDY, _DMY):
        for m in rx.finditer(masked):
            day = int(m["d"])
            if 1 <= day <= 31:
                days.append(Day(m.group(0), int(m["y"]) if m["y"] else None, _month(m["mon"]), day))
                spans.append(m.span())
        masked = _mask(text, spans)
    spans += [m.span() for m in _IDENT.finditer(masked) if any(c.isdigit() for c in m.group(0))]
    spans += [m.span() for m in _SCALE_NOTE.finditer(masked)]
    if markers:
        spans += [m.span(2) for m in _LIST_MARKER.finditer(masked)]
    masked = _mask(text, spans)
    numbers = []
    for m in _NUMBER.finditer(masked):
        digits = m["int"].replace(",", "") + (m["dec"] or "")
        scale = (m["scale"] or "").strip()
        numbers.append(Number(
            text=m.group(0).strip(), value=float(digits), decimals=len(m["dec"]) - 1 if m["dec"] else 0,
            signed=m["sign"] is not None, scale=_SCALES.get(scale, 1.0), percent=m["pct"] is not None,
            money=m["cur"] is not None,
        ))
    return days, numbers


def _close(written: float, decimals: int, source: float) -> bool:
    return abs(source - written) <= 0.5 * 10 ** -decimals + 1e-9


def number_matches(n: Number, source: float) -> bool:
    """`n` is `source` as the product (or a reader) would write it: rounded, scaled (k, M), or a 0–1 share
    written as a percentage. An explicit sign must agree; an unsigned number is a magnitude."""
    target = source
    if n.signed:
        negative = n.text.lstrip()[:1] in "-−"
        if (source < 0) != negative and source != 0:
            return False
    target = abs(source)
    written = n.value
    candidates = [target / n.scale] if n.scale != 1.0 else [target]
    if n.percent:  # a share (0.41 → 41%) or a ratio (an ROI of 4.73 → 473%)
        candidates.append(target * 100)
    return any(_close(written, n.decimals, c) for c in candidates)


def day_matches(d: Day, source: date | tuple[int | None, int, int]) -> bool:
    year, month, day = (source.year, source.month, source.day) if isinstance(source, date) else source
    return d.month == month and d.day == day and (d.year is None or year is None or d.year == year)


@dataclass
class Grounding:
    numbers: list[str]
    ungrounded: list[str]


def ground(answer: str, sources: Sources) -> Grounding:
    days, numbers = extract(answer)
    ungrounded = [d.text for d in days if not any(day_matches(d, s) for s in sources.days)]
    ungrounded += [n.text for n in numbers if not any(number_matches(n, v) for v in sources.values)]
    return Grounding(numbers=[d.text for d in days] + [n.text for n in numbers], ungrounded=ungrounded)


def states_number(answer: str, value: float) -> bool:
    """The answer contains `value` as the product shows it (rounded to 0 or 1 decimals, $27,837 / $27.8k,
    41% for a share of 0.41)."""
    _days, numbers = extract(answer)
    return any(number_matches(n, value) for n in numbers if not n.signed or value != 0)


def states_date(answer: str, value: date) -> bool:
    days, _numbers = extract(answer)
    return any(day_matches(d, value) for d in days)


def parse_iso_date(value: str) -> date | None:
    m = _ISO_DATE.fullmatch(value.strip())
    if not m:
        return None
    try:
        return date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        return None


def iter_json_strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from iter_json_strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from iter_json_strings(v)


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)
