"""Spelling repair before intent classification: the small embedding model is brittle to typos ("readyness scroe").

The vocabulary is the product's domain terms (the training vocabulary, the intent definitions) plus a general English
word list with frequencies from a package (pyspellchecker's English dictionary). It never comes from test messages
or from a list of typos. A word is repaired only when it is unknown, long enough to be a real word, and one edit (two
for long words) from a known one; domain terms win ties, then the more frequent English word.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import threading
from functools import cache
from pathlib import Path

import yaml
from rapidfuzz import process
from rapidfuzz.distance import OSA

from agent.planner import training

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
# Frequencies in the package's list (subtitle counts): below KNOWN a word is treated as unknown; below CANDIDATE it is
# never proposed as a repair (the long tail holds rare words and misspellings).
KNOWN_FREQUENCY = 5
CANDIDATE_FREQUENCY = 50
MIN_LENGTH = 4
DEFINITIONS = Path(__file__).resolve().parent.parent / "prompts" / "intent_definitions.yaml"


@cache
def _english() -> dict[str, int]:
    spec = importlib.util.find_spec("spellchecker")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pyspellchecker is not installed; it is listed in requirements.lock")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "en.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data: dict[str, int] = json.load(fh)
    return {w: n for w, n in data.items() if n >= KNOWN_FREQUENCY and w.isalpha()}


def domain_words(root: Path = training.TRAINING_DIR) -> set[str]:
    """Words of the domain: training vocabularies and the intent definitions (never the examples' typos)."""
    text: list[str] = list(training.vocabulary_lines(root))
    spec = yaml.safe_load(DEFINITIONS.read_text(encoding="utf-8"))["intents"]
    for name, s in spec.items():
        text += [name.replace("_", " "), str(s.get("means", "")), str(s.get("not", ""))]
        steps = s.get("steps") or []
        for tools in steps.values() if isinstance(steps, dict) else [steps]:
            text += [t.replace("_", " ") for t in tools]
    return {w for line in text for w in _WORD.findall(line.lower()) if len(w) >= 2}


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _edits1(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away (Norvig's generator)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    transposes = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in _LETTERS]
    inserts = [a + c + b for a, b in splits for c in _LETTERS]
    return set(deletes + transposes + replaces + inserts)


class Speller:
    def __init__(self, extra_words: set[str] | None = None) -> None:
        english = _english()
        self.domain = domain_words() | (extra_words or set())
        self.known = set(english) | self.domain
        self.frequency = english
        self.candidates = self.domain | {w for w, n in english.items() if n >= CANDIDATE_FREQUENCY}
        self._long_domain = [w for w in self.domain if len(w) >= 6]
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def _rank(self, word: str, cand: str, dist: int) -> tuple[int, bool, bool, int, str]:
        # Fewer edits first; then a domain term; then the same first letter (people rarely mistype it); then the
        # commoner word.
        return dist, cand not in self.domain, cand[0] != word[0], -self.frequency.get(cand, 0), cand

    def repair_word(self, word: str) -> str:
        if len(word) < MIN_LENGTH or word in self.known or not word.isalpha():
            return word
        with self._lock:
            hit = self._cache.get(word)
        if hit is not None:
            return hit
        ranked = [self._rank(word, c, 1) for c in _edits1(word) & self.candidates]
        if not ranked and len(word) >= 7:
            # Two slips in a long word: only domain terms are searched that far (cheap, and what matters here).
            ranked = [self._rank(word, c, int(d)) for c, d, _ in
                      process.extract(word, self._long_domain, scorer=OSA.distance, score_cutoff=2, limit=5)]
        fixed = min(ranked)[-1] if ranked else word
        with self._lock:
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[word] = fixed
        return fixed

    def repair(self, text: str) -> str:
        """Lower-cased text with unknown words repaired. Words typed in capitals (QBR, EMEA) are acronyms: kept."""

        def fix(m: re.Match[str]) -> str:
            word = m.group(0)
            if len(word) > 1 and word.isupper():
                return word.lower()
            return self.repair_word(word.lower())

        return _WORD.sub(fix, text).lower()


_speller: Speller | None = None
_lock = threading.Lock()


def get_speller() -> Speller:
    global _speller
    with _lock:
        if _speller is None:
            _speller = Speller()
        return _speller


@cache
def english_words() -> frozenset[str]:
    """The general English word list (for telling ordinary words from names)."""
    return frozenset(_english())
