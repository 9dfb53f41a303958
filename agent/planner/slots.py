"""Slot extraction from one user message: partner mentions, ordinals, limits, gaps, dimensions, levels.

Partner names are matched only against the partners the principal may see; a capitalised name that matches none
of them is still passed on as a mention, so the tool (which enforces scope) can refuse or say it is unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from agent.planner import assets
from readiness.scope import PartnerRef

_ID = re.compile(r"\b([a-z]{1,4}-\d{2,})\b", re.IGNORECASE)
_CAPS = re.compile(r"\b([A-Z][\w&.'-]*(?:\s+(?:of\s+|&\s+)?[A-Z][\w&.'-]*)*)")
_TOKEN = re.compile(r"[\w&'-]+")
_TOP_N = re.compile(
    r"\b(?:top|first|best)\s+(\d{1,3}|\w+)\b|\b(\d{1,3}|\w+)\s+(?:partners|names|people|accounts)\b", re.I
)
# Words so common in company names that alone they identify nobody.
GENERIC_NAME_WORDS = {
    "systems", "technologies", "technology", "consulting", "networks", "group", "partners", "solutions", "services",
    "labs", "digital", "data", "cloud", "software", "inc", "ltd", "llc", "gmbh", "co", "company", "the", "and",
    "analytics", "it", "global", "international", "advisors", "advisory", "works", "tech", "security",
}
NAME_MATCH = 85.0
SEARCH_WORDS = {"find", "look", "up", "search", "for", "named", "called", "about", "me", "tell", "have", "got", "in",
                "book", "there", "lookup", "who", "s", "a", "partner", "partners", "company", "firm"}


@dataclass
class Slots:
    partner_ids: list[str] = field(default_factory=list)  # in-scope matches, best first
    ambiguous: bool = False
    foreign_mention: str | None = None  # a name or id matching nobody in scope
    ordinal: int | None = None
    limit: int | None = None
    gap: str | None = None
    dimension: str | None = None
    level: str | None = None
    mentions: list[str] = field(default_factory=list)  # the spans that named a partner

    def masked(self, text: str) -> str:
        """The text with partner names replaced, so a company name does not sway intent routing."""
        out = _norm(text)
        for span in sorted(self.mentions, key=len, reverse=True):
            out = out.replace(_norm(span), "this partner")
        return out


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w&\s-]", " ", text.lower())).strip()


def _windows(tokens: list[str], max_len: int) -> list[str]:
    return [" ".join(tokens[i : i + n]) for n in range(1, max_len + 1) for i in range(len(tokens) - n + 1)]


def match_names(text: str, directory: list[PartnerRef], spans: list[str] | None = None) -> tuple[list[str], bool]:
    """Partner ids the text names, best first, and whether the best is ambiguous (matched spans go to `spans`)."""
    ids = [m.lower() for m in _ID.findall(text)]
    by_id = [r.partner_id for r in directory if r.partner_id.lower() in ids]
    if by_id:
        if spans is not None:
            spans.extend(ids)
        return by_id, False
    tokens = _TOKEN.findall(_norm(text))
    scored: list[tuple[float, str]] = []
    for ref in directory:
        name = _norm(ref.name)
        name_tokens = name.split()
        best, window = max(((fuzz.ratio(w, name), w) for w in _windows(tokens, len(name_tokens) + 1)),
                           default=(0.0, ""))
        # A distinctive first word alone ("Summit") names the partner, ambiguously if others share it.
        first = name_tokens[0] if name_tokens else ""
        distinctive = first and first not in GENERIC_NAME_WORDS and len(first) > 3
        if best < 88.0 and distinctive and not _names_someone_else(text, first, name_tokens):
            near = [tok for tok in tokens if fuzz.ratio(tok, first) >= 85]
            if near:
                best, window = 88.0, near[0]
        if best >= NAME_MATCH:
            scored.append((best, ref.partner_id))
            if spans is not None:
                spans.append(window)
    scored.sort(reverse=True)
    if not scored:
        return [], False
    top = scored[0][0]
    close = [pid for s, pid in scored if top - s < 3.0]
    return [pid for _s, pid in scored], len(close) > 1 and top < 99.0


def _names_someone_else(text: str, first: str, name_tokens: list[str]) -> bool:
    """'Yarrow Services' when the directory has 'Yarrow Digital': the shared first word is not a match."""
    not_names = {str(w).lower() for w in assets.slots()["not_names"]}
    for m in re.finditer(rf"\b{re.escape(first)}\s+([A-Z][\w&-]*)", text, flags=re.IGNORECASE):
        following = m.group(1)
        if following[0].isupper() and following.lower() not in not_names and (
            len(name_tokens) < 2 or fuzz.ratio(following.lower(), name_tokens[1]) < 80
        ):
            return True
    return False


def name_query(text: str) -> str:
    """The words of a message that could be a partner's name (for an explicit partner search)."""
    vocabulary = {str(w).lower() for w in assets.slots()["not_names"]} | SEARCH_WORDS
    words = [w for w in _TOKEN.findall(text) if w.lower().strip("'") not in vocabulary]
    return " ".join(words) or text


def best_name_score(text: str, refs: list[PartnerRef]) -> float:
    """How well the text names any of `refs` by full name (0-100), or 100 for an exact partner id."""
    ids = {m.lower() for m in _ID.findall(text)}
    if any(r.partner_id.lower() in ids for r in refs):
        return 100.0
    tokens = _TOKEN.findall(_norm(text))
    best = 0.0
    for ref in refs:
        name = _norm(ref.name)
        windows = _windows(tokens, len(name.split()) + 1)
        best = max(best, max((fuzz.ratio(w, name) for w in windows), default=0.0))
    return best


def foreign_mention(text: str, directory: list[PartnerRef]) -> str | None:
    """A capitalised name or partner id in the text that is not one of the visible partners."""
    not_names = {str(w).lower() for w in assets.slots()["not_names"]}
    visible = {_norm(r.name) for r in directory} | {r.partner_id.lower() for r in directory}
    for pid in _ID.findall(text):
        if pid.lower() not in visible and not pid.lower().startswith("pam"):
            return pid
    for m in _CAPS.finditer(text):
        span = m.group(1).strip(" .'")
        span = re.sub(r"'s$", "", span)
        words = [w for w in span.split() if w.lower() not in not_names]
        if not words:
            continue
        candidate = " ".join(words)
        if len(candidate) < 3 or _norm(candidate) in visible:
            continue
        if any(fuzz.ratio(_norm(candidate), v) >= NAME_MATCH for v in visible):
            continue
        return candidate
    return None


def _lexicon_hit(text: str, lexicon: dict[str, list[str]]) -> str | None:
    low = f" {_norm(text)} "
    best: tuple[int, str] | None = None
    for key, phrases in lexicon.items():
        for phrase in phrases:
            p = _norm(str(phrase))
            if p and f" {p} " in low and (best is None or len(p) > best[0]):
                best = (len(p), str(key))
    return best[1] if best else None


def extract(text: str, directory: list[PartnerRef]) -> Slots:
    spec = assets.slots()
    slots = Slots()
    slots.partner_ids, slots.ambiguous = match_names(text, directory, slots.mentions)
    if not slots.partner_ids:
        slots.foreign_mention = foreign_mention(text, directory)
        if slots.foreign_mention:
            slots.mentions.append(slots.foreign_mention)
    ordinal = _lexicon_hit(text, {k: v for k, v in spec["ordinals"].items()})
    slots.ordinal = int(ordinal) if ordinal is not None else None
    numbers = {str(k): int(v) for k, v in spec["numbers"].items()}
    for m in _TOP_N.finditer(text):
        raw = (m.group(1) or m.group(2) or "").lower()
        value = int(raw) if raw.isdigit() else numbers.get(raw)
        if value:
            slots.limit = max(1, min(value, 50))
            break
    slots.gap = _lexicon_hit(text, spec["gaps"])
    slots.dimension = _lexicon_hit(text, spec["dimensions"])
    slots.level = _lexicon_hit(text, spec["levels"])
    return slots
