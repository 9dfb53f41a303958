"""Entities in one user message: partner names (typos, several at once), references ("the second one", "them"),
dates, amounts, customers and certifications, list filters, gaps, readiness dimensions and levels.

Partner names are matched only against the partners the principal may see. A capitalised word is not a partner
name unless it matches one: acronyms, regions, course and certification names, customer and deal names and ordinary
words ("pick ONE thing", "who is our QBR owner", "deals over 50k in EMEA") stay what they are. A name that looks like
a company (a company suffix, or "the partner called ...") and matches nobody visible is kept as an unknown mention,
so the tool (which enforces scope) answers that it is not in the book.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta
from functools import cache
from typing import Any

from pydantic import BaseModel, Field
from rapidfuzz import fuzz, process

from agent.planner import training
from readiness.scope import PartnerRef

_ID = re.compile(r"\b((?:p|pam)-\d{2,})\b", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9][\w&'’.-]*[\w&]|[A-Za-z0-9&]")
# Words so common in company names that alone they identify nobody.
GENERIC_NAME_WORDS = {
    "systems", "technologies", "technology", "consulting", "networks", "group", "partners", "solutions", "services",
    "labs", "digital", "data", "cloud", "software", "inc", "ltd", "llc", "gmbh", "co", "company", "the", "and",
    "analytics", "it", "global", "international", "advisors", "advisory", "works", "tech", "security", "integrations",
    "bv", "pty", "sas", "ab", "ag", "sa", "corp", "corporation", "limited", "holdings",
}
COMPANY_SUFFIXES = GENERIC_NAME_WORDS - {"the", "and", "it", "data", "cloud", "security", "global", "international"}
# A full name this close (rapidfuzz ratio over a window of words) names a partner.
NAME_MATCH = 86.0
# A first word alone this close names a partner (ambiguously when others share it).
WORD_MATCH = 84.0
# English words more common than this rank need a capital letter to count as a name on their own ("summit" vs
# "Summit"): lower-case common words are just words.
COMMON_RANK = 3000
REGIONS = {"emea", "apac", "latam", "amer", "americas", "na", "noram", "nordics", "dach", "benelux", "anz", "uk",
           "us", "usa", "eu", "europe", "asia", "africa", "india", "japan", "canada", "germany", "france", "spain",
           "italy", "brazil", "mexico", "australia"}
CERT_WORDS = {"certified", "certification", "certifications", "certificate", "course", "courses", "exam", "training",
              "associate", "professional", "expert", "foundations", "foundation", "essentials", "architect",
              "architecture", "specialist", "practitioner", "fundamentals", "bootcamp", "badge", "accreditation",
              "deep", "dive", "sales", "technical", "solution", "administrator", "developer", "engineer", "path"}
CUSTOMER_CUES = {"with", "for", "at", "to", "customer", "customers", "client", "clients", "account", "accounts",
                 "deal", "deals", "prospect", "logo", "from"}
STAGES = ("prospect", "signed", "onboarding", "activated", "productive")
SEGMENTS = ("active", "ready", "developing", "inactive")


class PartnerMention(BaseModel):
    text: str  # the words of the message that named it
    start: int  # character offsets in the message
    end: int
    partner_ids: list[str]  # one id, or several when the words fit several partners equally
    score: float

    @property
    def ambiguous(self) -> bool:
        return len(self.partner_ids) > 1


class Filters(BaseModel):
    segment: str | None = None
    dormant: bool = False
    outlook: str | None = None
    tier: int | None = None
    stage: str | None = None
    stalled: bool | None = None


class Entities(BaseModel):
    partners: list[PartnerMention] = Field(default_factory=list)  # in order of appearance
    unknown_names: list[str] = Field(default_factory=list)  # company-like names matching nobody visible
    unknown_ids: list[str] = Field(default_factory=list)
    ordinal: int | None = None  # 1-based row of the last list; -1 the last row
    plural: int | None = None  # "those two", "both", "the top three": that many partners
    reference: str | None = None  # "one" (that partner, it) | "many" (them, both, those) | "other" (the other one)
    dates: list[date] = Field(default_factory=list)
    amounts: list[float] = Field(default_factory=list)
    customers: list[str] = Field(default_factory=list)
    certifications: list[str] = Field(default_factory=list)
    limit: int | None = None
    filters: Filters = Field(default_factory=Filters)
    gap: str | None = None
    dimension: str | None = None
    level: str | None = None

    @property
    def partner_ids(self) -> list[str]:
        """Unambiguous partners named, in order of appearance, without repeats."""
        return list(dict.fromkeys(m.partner_ids[0] for m in self.partners if not m.ambiguous))

    @property
    def ambiguous(self) -> list[PartnerMention]:
        return [m for m in self.partners if m.ambiguous]

    def masked(self, text: str) -> str:
        """The message with each partner mention replaced by the mask token the classifier was trained with."""
        out = text
        for m in sorted(self.partners, key=lambda m: m.start, reverse=True):
            out = out[: m.start] + training.PARTNER_TOKEN + out[m.end :]
        return out


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w&\s-]", " ", text.lower().replace("’", "'"))).strip()


@cache
def _not_names() -> frozenset[str]:
    return frozenset({str(w).lower() for w in training.vocabulary("not_partner_names")} | REGIONS)


@cache
def _common_words() -> dict[str, int]:
    from agent.planner.spelling import _english

    ranked = sorted(_english().items(), key=lambda kv: -kv[1])[:COMMON_RANK]
    return {w: k for k, (w, _n) in enumerate(ranked)}


class _Token:
    __slots__ = ("end", "low", "start", "text")

    def __init__(self, m: re.Match[str]) -> None:
        self.text = m.group(0).rstrip(".'’")
        self.start = m.start()
        self.end = m.start() + len(self.text)
        self.low = _norm(re.sub(r"['’]s$", "", self.text)) if self.text else ""

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()


def _tokens(text: str) -> list[_Token]:
    return [t for t in (_Token(m) for m in _TOKEN.finditer(text)) if t.low]


class NameIndex:
    """The visible partners' names, indexed by their distinctive word for matching inside a sentence."""

    def __init__(self, directory: list[PartnerRef]) -> None:
        self.directory = directory
        self.by_id = {r.partner_id.lower(): r for r in directory}
        self.names = {r.partner_id: _norm(r.name) for r in directory}
        self.by_key: dict[str, list[PartnerRef]] = defaultdict(list)
        for r in directory:
            words = self.names[r.partner_id].split()
            key = next((w for w in words if w not in GENERIC_NAME_WORDS), words[0] if words else "")
            if key:
                self.by_key[key].append(r)
        self.keys = list(self.by_key)

    def find(self, text: str, tokens: list[_Token]) -> list[PartnerMention]:
        found: list[PartnerMention] = []
        for m in _ID.finditer(text):
            ref = self.by_id.get(m.group(1).lower())
            if ref is not None:
                found.append(PartnerMention(text=m.group(0), start=m.start(), end=m.end(),
                                            partner_ids=[ref.partner_id], score=100.0))
        not_names = _not_names()
        common = _common_words()
        for i, tok in enumerate(tokens):
            # A vocabulary word ("summit" the event) is a name only when written like one or when it is exactly
            # the distinctive word of a partner the principal may see: the directory outranks the word list.
            if tok.low in not_names and not tok.capitalised and tok.low not in self.by_key:
                continue
            hits = process.extract(tok.low, self.keys, scorer=fuzz.ratio, score_cutoff=WORD_MATCH - 4, limit=6)
            for key, key_score, _ in hits:
                for ref in self.by_key[key]:
                    words = self.names[ref.partner_id].split()
                    at = words.index(key) if key in words else 0
                    begin = i - at
                    if begin < 0:
                        continue
                    best, span = 0.0, (i, i)
                    for n in (len(words) - 1, len(words), len(words) + 1):
                        if n < 1 or begin + n > len(tokens):
                            continue
                        window = " ".join(t.low for t in tokens[begin : begin + n])
                        score = fuzz.ratio(window, self.names[ref.partner_id])
                        if score > best:
                            best, span = score, (begin, begin + n - 1)
                    if best >= NAME_MATCH:
                        found.append(self._mention(text, tokens, span, ref.partner_id, best))
                    elif key_score >= WORD_MATCH and len(key) > 3 and self._alone_is_name(tokens, i, words, key) \
                            and (tok.low not in common or tok.capitalised):
                        found.append(self._mention(text, tokens, (i, i), ref.partner_id, 80.0 + key_score / 10))
        return _resolve(found)

    @staticmethod
    def _mention(text: str, tokens: list[_Token], span: tuple[int, int], pid: str, score: float) -> PartnerMention:
        start, end = tokens[span[0]].start, tokens[span[1]].end
        return PartnerMention(text=text[start:end], start=start, end=end, partner_ids=[pid], score=score)

    @staticmethod
    def _alone_is_name(tokens: list[_Token], i: int, words: list[str], key: str) -> bool:
        """The distinctive word alone names the partner unless the next word makes it another company
        ('Yarrow Services' when the partner is 'Yarrow Digital')."""
        if i + 1 >= len(tokens):
            return True
        nxt = tokens[i + 1]
        at = words.index(key) if key in words else 0
        expected = words[at + 1] if at + 1 < len(words) else None
        if nxt.low in COMPANY_SUFFIXES and nxt.capitalised:
            return expected is not None and fuzz.ratio(nxt.low, expected) >= 80
        return True

    def best_score(self, text: str) -> float:
        """How well the text names any partner of this index by full name or id (0-100)."""
        if any(m.group(1).lower() in self.by_id for m in _ID.finditer(text)):
            return 100.0
        tokens = _tokens(text)
        best = 0.0
        for i, tok in enumerate(tokens):
            for key, _s, _ in process.extract(tok.low, self.keys, scorer=fuzz.ratio, score_cutoff=75, limit=4):
                for ref in self.by_key[key]:
                    words = self.names[ref.partner_id].split()
                    begin = i - (words.index(key) if key in words else 0)
                    if begin < 0:
                        continue
                    window = " ".join(t.low for t in tokens[begin : begin + len(words)])
                    best = max(best, fuzz.ratio(window, self.names[ref.partner_id]))
        return best


def _resolve(found: list[PartnerMention]) -> list[PartnerMention]:
    """Overlapping candidate mentions: the best-scoring span wins; equal scores on the same span are one
    ambiguous mention."""
    found.sort(key=lambda m: (-m.score, m.start))
    kept: list[PartnerMention] = []
    for m in found:
        clash = next((k for k in kept if m.start < k.end and k.start < m.end), None)
        if clash is None:
            kept.append(m.model_copy(deep=True))
        elif abs(clash.score - m.score) < 2.0 and (clash.start, clash.end) == (m.start, m.end) \
                and m.partner_ids[0] not in clash.partner_ids and clash.score < 99.0:
            clash.partner_ids.append(m.partner_ids[0])
    return sorted(kept, key=lambda m: m.start)


# ---------- other entities ----------

_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5,
             "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8, "ninth": 9, "9th": 9,
             "tenth": 10, "10th": 10}
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
            "ten": 10, "dozen": 12, "twenty": 20}
_ORDINAL_WORDS = (r"(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th|seventh|7th|eighth|8th|ninth|9th|"
                  r"tenth|10th)")
# "the second one", "second on the list", "#2", "number 2", "the last one"; not "our first deal", "fix first".
_ORDINAL_RE = re.compile(
    r"(?:\bthe\s+" + _ORDINAL_WORDS + r"\b(?!\s+(?:deal|time|quarter|call|step|thing|milestone|customer|workshop|"
    r"demo|meeting|week|month|day|year|case|use|sale|win|opportunity|hire|rep|of|two|three|few)s?\b)"
    r"|\b" + _ORDINAL_WORDS.replace("(", "(?:") + r"\s+(?:one|partner|row|entry|name|company|on the list)\b)"
    r"|(?:#|\bno\.?\s*|\bnumber\s+|\brow\s+|\bline\s+)(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten)\b"
    r"|\b(last|bottom|final)\s+(?:one|partner|row|entry|on the list|name)\b|\b(top)\s+one\b",
    re.IGNORECASE,
)
_REF_ONE = re.compile(r"\b(that|this|the same)\s+(partner|one|company|firm|account|guy|lot)\b|\b(it|its|it's)\b"
                      r"|\b(he|she|him|her|his)\b", re.I)
_REF_MANY = re.compile(r"\b(them|they|their|those|these|both|all of them|any of them|each of them|either)\b", re.I)
_REF_OTHER = re.compile(r"\b(the other one|the other partner|the other)\b", re.I)
_N = r"(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|dozen|twenty)"
_LIMIT = re.compile(rf"\b(?:top|first|best|give me|show me|list|which|gimme(?: like)?|just|only)\s+{_N}\b"
                    rf"|(?<!tier\s)\b{_N}\s+(?:\w+\s+)?(?:partners|names|people|accounts|companies|of them|calls?)\b"
                    rf"|\b(?:only|just)\s+(?:get\s+)?(?:time|room)\s+for\s+{_N}\b", re.I)
_AMOUNT = re.compile(r"(?<![\w-])(?:\$|usd\s?|€|£)?\s?(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s?(k|m|mm|bn|million|"
                     r"thousand|grand)?(?![\w-])", re.I)
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]
_TIER = re.compile(r"\btier[\s-]*(1|2|3|4|one|two|three|four|i{1,3}|iv)(?:s|'s)?\b", re.I)
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}


def _count(word: str) -> int | None:
    word = word.lower()
    if word.isdigit():
        return int(word)
    return _NUMBERS.get(word) or _ROMAN.get(word)


def ordinal_of(text: str) -> int | None:
    m = _ORDINAL_RE.search(text)
    if not m:
        return None
    if m.group(1):
        return _ORDINALS[m.group(1).lower()]
    if m.group(0).split()[0].lower() in _ORDINALS:
        return _ORDINALS[m.group(0).split()[0].lower()]
    if m.group(2):
        return _count(m.group(2))
    if m.group(3):
        return -1
    return 1


_PLURAL = re.compile(r"\b(?:those|these|the|top|first|both of|the other)\s+(two|three|2|3)\b"
                     r"(?!\s+(?:deals?|weeks?|months?|days?|things?|milestones?|gaps?))"
                     r"|\b(both|them both|the pair|each of them|both of them)\b", re.I)


def plural_of(text: str) -> int | None:
    m = _PLURAL.search(text)
    if not m:
        return None
    return _count(m.group(1)) if m.group(1) else 2


def reference_of(text: str) -> str | None:
    if _REF_OTHER.search(text):
        return "other"
    if _REF_ONE.search(text):
        return "one"
    if _REF_MANY.search(text):
        return "many"
    return None


def dates_in(text: str, today: date) -> list[date]:
    """Dates a message states, resolved against today: yesterday, last Tuesday, 3 days ago, 12 Oct, 2026-10-12."""
    low = text.lower()
    out: list[date] = []
    if re.search(r"\btoday\b|\bthis morning\b", low):
        out.append(today)
    if "yesterday" in low:
        out.append(today - timedelta(days=1))
    for m in re.finditer(r"\b(last|this|on|past)?\s*(" + "|".join(_WEEKDAYS) + r")\b", low):
        wd = _WEEKDAYS.index(m.group(2))
        # "(last) Tuesday" said on a Saturday is four days ago: the most recent one before today.
        back = (today.weekday() - wd) % 7 or 7
        out.append(today - timedelta(days=back))
    for m in re.finditer(r"\b(\d{1,2}|a|one|two|three|four)\s+(day|week|month)s?\s+ago\b", low):
        n = 1 if m.group(1) in {"a", "one"} else _count(m.group(1)) or 1
        out.append(today - timedelta(days=n * {"day": 1, "week": 7, "month": 30}[m.group(2)]))
    if re.search(r"\blast week\b", low):
        out.append(today - timedelta(days=7))
    for m in re.finditer(r"\b(\d{4})-(\d{2})-(\d{2})\b", low):
        try:
            out.append(date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        except ValueError:
            continue
    months = "|".join(m[:3] + r"[a-z]*" for m in _MONTHS)
    for m in re.finditer(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({months})\b|\b({months})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b",
                         low):
        day = int(m.group(1) or m.group(4))
        month_word = (m.group(2) or m.group(3))[:3]
        month = next(k for k, name in enumerate(_MONTHS, 1) if name.startswith(month_word))
        try:
            d = date(today.year, month, day)
        except ValueError:
            continue
        out.append(d if d <= today else date(today.year - 1, month, day))
    return list(dict.fromkeys(out))


def amounts_in(text: str) -> list[float]:
    out: list[float] = []
    for m in _AMOUNT.finditer(text):
        raw, unit = m.group(1), (m.group(2) or "").lower()
        has_money = bool(re.match(r"\s*(\$|usd|€|£)", m.group(0), re.I))
        if not unit and not has_money and "," not in raw:
            continue  # a bare small number is a count or a date, not an amount
        value = float(raw.replace(",", ""))
        value *= {"k": 1e3, "thousand": 1e3, "grand": 1e3, "m": 1e6, "mm": 1e6, "million": 1e6, "bn": 1e9}.get(unit, 1)
        out.append(value)
    return out


def _spans(tokens: list[_Token], text: str) -> list[tuple[int, int]]:
    """Runs of capitalised tokens (index ranges) not broken by punctuation; 'of' and '&' may sit inside."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        if not tokens[i].capitalised:
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and not text[tokens[j].end : tokens[j + 1].start].strip():
            nxt = tokens[j + 1]
            if nxt.capitalised:
                j += 1
            elif nxt.low in {"of", "&"} and j + 2 < len(tokens) and tokens[j + 2].capitalised:
                j += 2
            else:
                break
        runs.append((i, j))
        i = j + 1
    return runs


def _sentence_start(tokens: list[_Token], text: str, i: int) -> bool:
    if i == 0:
        return True
    return bool(re.search(r"[.!?:;\n]", text[tokens[i - 1].end : tokens[i].start]))


def named_things(text: str, tokens: list[_Token], taken: list[tuple[int, int]]) -> dict[str, list[str]]:
    """Capitalised spans that are not partner mentions, sorted into certifications, customers and company-like
    unknown names. Everything else capitalised (acronyms, regions, people, the first word of a sentence) is left
    alone."""
    out: dict[str, list[str]] = {"certifications": [], "customers": [], "unknown": []}
    not_names, common = _not_names(), _common_words()
    for i, j in _spans(tokens, text):
        if any(tokens[i].start < e and s < tokens[j].end for s, e in taken):
            continue
        # A sentence's first word is capitalised by grammar, not because it is a name ("Update", "Thanks", "What").
        if _sentence_start(tokens, text, i) and (tokens[i].low in common or tokens[i].low in not_names):
            i += 1
        words = [t.low for t in tokens[i : j + 1]]
        if not words:
            continue
        span = re.sub(r"['’]s$", "", text[tokens[i].start : tokens[j].end])
        cue = tokens[i - 1].low if i > 0 else ""
        certs = set(words) & CERT_WORDS
        if certs and ((len(words) >= 2 and words[-1] not in COMPANY_SUFFIXES)
                      or (cue not in {"with", "at", "for"} and not set(words) <= CERT_WORDS | set(common))):
            out["certifications"].append(span)
        elif all(w in not_names or w in REGIONS or w in common for w in words):
            continue
        elif cue in CUSTOMER_CUES or (i > 1 and tokens[i - 2].low in {"customer", "client", "account"}):
            out["customers"].append(span)
        elif (words[-1] in COMPANY_SUFFIXES and len(words) >= 2) or cue in {"called", "named"} \
                or (cue == "is" and i > 1 and tokens[i - 2].low == "partner") \
                or (len(words) >= 2 and (re.search(r"['’]s$", tokens[j].text)
                                         or re.match(r"['’]s?\b", text[tokens[j].end : tokens[j].end + 2]))):
            out["unknown"].append(span)
    return out


@cache
def _lexicon(section: str) -> dict[str, list[str]]:
    """The vocabulary's phrases of one section, normalised once (every message is matched against all of them)."""
    data = training.vocabulary("gap_phrases")
    return {str(k): [n for p in v or [] if (n := _norm(str(p)))] for k, v in (data.get(section) or {}).items()}


# Gap keys that are also readiness dimensions; the others map to the dimension they evidence.
GAP_TO_DIMENSION = {"enablement": "capability", "pipeline_hygiene": "sales_motion", "co_sell": "ae_engagement"}


def _lexicon_hit(low: str, lexicon: dict[str, list[str]]) -> str | None:
    best: tuple[int, str] | None = None
    for key, phrases in lexicon.items():
        for p in phrases:
            if f" {p} " in low and (best is None or len(p) > best[0]):
                best = (len(p), key)
    return best[1] if best else None


_SEGMENT_WORDS = {"active": "active", "producing": "active", "ready": "ready", "developing": "developing",
                  "inactive": "inactive", "silent": "inactive"}


def filters_of(low: str) -> Filters:
    f = Filters()
    if re.search(r"\bnot[\s-]+ever\b|\blost causes?\b|\bwrite[\s-]?offs?\b|\bnever going to\b", low):
        f.outlook = "not_ever"
    elif re.search(r"\bnot[\s-]+yet\b", low):
        f.outlook = "not_yet"
    if re.search(r"\bdormant\b|\bquiet\b|\basleep\b|\bgone dark\b", low):
        f.dormant = True
    for word, seg in _SEGMENT_WORDS.items():
        if re.search(rf"\b{word}\b", low) and not re.search(rf"\b(not|in)\s+{word}\b", low):
            f.segment = seg
            break
    m = _TIER.search(low)
    if m:
        f.tier = _count(m.group(1))
    for stage in STAGES:
        if re.search(rf"\b{stage[:-1] if stage.endswith('ed') else stage}", low):
            f.stage = stage
            break
    if re.search(r"\bstuck\b|\bstall(ed|ing)?\b|\bstagnat", low):
        f.stalled = True
    return f


def extract(text: str, index: NameIndex, today: date) -> Entities:
    tokens = _tokens(text)
    e = Entities(partners=index.find(text, tokens))
    taken = [(m.start, m.end) for m in e.partners]
    for m in _ID.finditer(text):
        if m.group(1).lower() not in index.by_id and m.group(1).lower().startswith("p-"):
            e.unknown_ids.append(m.group(1))
    things = named_things(text, tokens, taken)
    e.certifications, e.customers, e.unknown_names = things["certifications"], things["customers"], things["unknown"]
    e.ordinal = ordinal_of(text)
    e.plural = plural_of(text)
    e.reference = reference_of(text)
    e.dates = dates_in(text, today)
    e.amounts = amounts_in(text)
    m = _LIMIT.search(text)
    if m:
        value = _count(next((g for g in m.groups() if g), ""))
        e.limit = max(1, min(value, 50)) if value else None
    e.filters = filters_of(f" {_norm(e.masked(text))} ")
    topic = extract_topic(e.masked(text))
    e.gap, e.level, e.dimension = topic.gap, topic.level, topic.dimension
    return e


class Topic(BaseModel):
    gap: str | None = None
    dimension: str | None = None  # the readiness dimension a signal about this text is recorded against
    level: str | None = None


def _hits(low: str, lexicon: dict[str, list[str]]) -> list[tuple[int, str]]:
    return [(len(p), key) for key, phrases in lexicon.items() for p in phrases if f" {p} " in low]


# People trained, certified or hired are capability whatever else the sentence mentions (scoring counts
# certifications and headcount there).
_CAPABILITY = re.compile(r"\b(certified|certifications?|certs?|exams?|trained|training|courses?|hired|hiring|hires?|"
                         r"new (?:reps?|engineers?|consultants?|hires?|sellers?)|joined (?:us|the team)|brought on|"
                         r"onboarded)\b", re.I)


def extract_topic(text: str) -> Topic:
    """The GTM gap, readiness dimension and level a piece of text is about. The longest vocabulary phrase wins,
    across gaps (mapped to the dimension they evidence) and dimensions; on a tie the more specific gap wins."""
    low = f" {_norm(text)} "
    gaps = _hits(low, _lexicon("gaps"))
    dims = _hits(low, _lexicon("dimensions"))
    gap = max(gaps)[1] if gaps else None
    ranked = [(n, 1, GAP_TO_DIMENSION.get(k, k)) for n, k in gaps] + [(n, 0, k) for n, k in dims]
    dimension = "capability" if _CAPABILITY.search(text) else max(ranked)[2] if ranked else None
    return Topic(gap=gap, dimension=dimension,
                 level=_lexicon_hit(low, _lexicon("levels")))


_SEARCH_WORDS = {"find", "look", "up", "search", "for", "named", "called", "about", "me", "tell", "have", "got", "in",
                 "book", "there", "lookup", "who", "s", "a", "an", "the", "partner", "partners", "company", "firm",
                 "any", "is", "are", "do", "we", "i", "my", "our", "with", "name", "like", "something", "which",
                 "match", "matches", "matching", "starts", "starting", "begins", "show", "list", "all", "of", "one",
                 "ones", "whose", "id", "please", "can", "you", "could"}


def name_query(text: str) -> str:
    """The words of a message that could be (part of) a partner's name, for an explicit partner search."""
    words = [t.text for t in _tokens(text) if t.low not in _SEARCH_WORDS and t.low not in _not_names()]
    return " ".join(words) or text


def describe(entities: Entities) -> dict[str, Any]:
    """A compact JSON view (for the planner's metadata and debugging)."""
    return entities.model_dump(exclude_defaults=True, mode="json")
