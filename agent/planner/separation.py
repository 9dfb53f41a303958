"""Training data and test data never meet: one definition of "the same message", used by the test that guards it
(tests/test_training_separation.py). Training itself never reads the eval sets.

Two texts are compared after normalising case, punctuation and names: partner names of every eval dataset and the
`{partner}` placeholders become one token, customer (account) names and `{customer}` another. They collide when

- they are equal (texts of three words or more: one- and two-word replies like "thanks" or "why?" are the only way
  to say them and prove nothing), or
- their token-set ratio is at least 90 and the shorter has at least three quarters of the longer's words (without
  that guard the token-set ratio is 100 whenever one text's words are a subset of the other's: every message that
  contains a short stock phrase would "copy" it), or
- they share a run of five consecutive words of which at least three are content words (a copied clause inside a
  longer message; "can you tell me what" alone is grammar, not a copy).

A vocabulary line (a short phrase meant to occur inside messages) collides with a message only when equal or at a
ratio of at least 90 to the whole message.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import yaml
from rapidfuzz import fuzz, process

ROOT = Path(__file__).resolve().parents[2]
EVALS = ROOT / "evals"
SCENARIO_DIRS = (EVALS / "scenarios", EVALS / "blind")
RATIO = 90
SPAN = 5
SPAN_CONTENT = 3
LENGTH_SHARE = 0.75
MIN_WORDS = 3
STOPWORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "so", "if", "of", "to", "in", "on", "at", "for", "with", "from",
    "by", "about", "as", "is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "have", "has",
    "had", "i", "we", "you", "they", "it", "its", "our", "my", "your", "their", "me", "us", "them", "this",
    "that", "these", "those", "what", "whats", "which", "who", "whom", "how", "why", "when", "where", "can",
    "could", "should", "would", "will", "shall", "may", "might", "must", "not", "no", "yes", "ok", "okay",
    "just", "now", "then", "there", "here", "any", "some", "all", "more", "most", "much", "many", "very",
    "really", "also", "too", "still", "yet", "up", "down", "out", "over", "again", "off", "only", "own",
    "same", "than", "such", "into", "through", "during", "before", "after", "above", "below", "between",
    "both", "each", "few", "other", "nor", "lets", "let", "get", "got", "go", "going", "want", "need", "like",
    "know", "think", "im", "thats",
})


@cache
def _names() -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    partners: set[str] = set()
    customers: set[str] = set()
    for folder in sorted((EVALS / "datasets").glob("*")):
        if (folder / "partners.csv").exists():
            with (folder / "partners.csv").open(encoding="utf-8") as fh:
                partners |= {r["name"] for r in csv.DictReader(fh) if r.get("name")}
        if (folder / "opportunities.csv").exists():
            with (folder / "opportunities.csv").open(encoding="utf-8") as fh:
                customers |= {r["account_name"] for r in csv.DictReader(fh) if r.get("account_name")}

    def pattern(words: set[str]) -> re.Pattern[str] | None:
        if not words:
            return None
        alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)

    return pattern(partners), pattern(customers)


def normalize(text: str) -> str:
    partners, customers = _names()
    text = re.sub(r"\{partner\d?\}", " zpartner ", text).replace("{customer}", " zcustomer ")
    if partners is not None:
        text = partners.sub(" zpartner ", text)
    if customers is not None:
        text = customers.sub(" zcustomer ", text)
    text = re.sub(r"['’]s\b", "", text.lower()).replace("'", "").replace("’", "")  # possessives: "X's" = "X'" = "X"
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def _spans(words: list[str]) -> set[tuple[str, ...]]:
    runs = (tuple(words[k : k + SPAN]) for k in range(len(words) - SPAN + 1))
    return {run for run in runs if sum(w not in STOPWORDS for w in run) >= SPAN_CONTENT}


@dataclass(frozen=True)
class Collision:
    message: str
    source: str  # scenario file and turn
    example: str
    origin: str  # training file (or "vocabulary")
    how: str  # equal | token_set | span | vocabulary


@dataclass(frozen=True)
class EvalMessage:
    text: str
    source: str


@cache
def eval_messages() -> tuple[EvalMessage, ...]:
    """Every user message of every scenario: the own suite (partner, pam, adversarial) and the blind set."""
    out: list[EvalMessage] = []
    for folder in SCENARIO_DIRS:
        for path in sorted(folder.rglob("*.yaml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for k, turn in enumerate(data.get("turns") or []):
                if isinstance(turn, dict) and turn.get("user"):
                    out.append(EvalMessage(text=str(turn["user"]), source=f"{path.relative_to(ROOT)}#{k + 1}"))
    return tuple(out)


def collisions(examples: Iterable[tuple[str, str]], messages: Iterable[EvalMessage] | None = None,
               vocabulary: Iterable[str] = ()) -> list[Collision]:
    """Every (eval message, example) pair that is the same message by the definition above. `examples` are
    (text, origin) pairs."""
    msgs = [m for m in (messages if messages is not None else eval_messages())
            if len(normalize(m.text).split()) >= MIN_WORDS]
    exs = [(t, o) for t, o in examples]
    m_norm = [normalize(m.text) for m in msgs]
    e_norm = [normalize(t) for t, _o in exs]
    found: list[Collision] = []
    if msgs and exs:
        ratio = process.cdist(m_norm, e_norm, scorer=fuzz.token_set_ratio, dtype=np.uint8, workers=1)
        m_len = np.array([len(s.split()) for s in m_norm])[:, None]
        e_len = np.array([len(s.split()) for s in e_norm])[None, :]
        share = np.minimum(m_len, e_len) / np.maximum(np.maximum(m_len, e_len), 1)
        near = (ratio >= RATIO) & (share >= LENGTH_SHARE) & (np.minimum(m_len, e_len) >= MIN_WORDS)
        e_spans = [_spans(s.split()) for s in e_norm]
        for i, (m, mn) in enumerate(zip(msgs, m_norm, strict=True)):
            spans = _spans(mn.split())
            for j, (en, (text, origin)) in enumerate(zip(e_norm, exs, strict=True)):
                how = "equal" if mn == en else "token_set" if near[i, j] else "span" if spans & e_spans[j] else None
                if how:
                    found.append(Collision(message=m.text, source=m.source, example=text, origin=origin, how=how))
    for line in vocabulary:
        ln = normalize(line)
        for m, mn in zip(msgs, m_norm, strict=True):
            if ln and (ln == mn or fuzz.ratio(ln, mn) >= RATIO):
                found.append(Collision(message=m.text, source=m.source, example=line, origin="vocabulary",
                                       how="vocabulary"))
    return found
