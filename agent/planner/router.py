"""Intent routing: nearest labelled examples in the local embedding space, restricted to the principal's role.

Misspellings are repaired first against the vocabulary of the examples (rapidfuzz), because the small embedding
model is brittle to typos ("readyness scroe").
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from agent.planner import assets

_WORD = re.compile(r"[a-z][a-z'-]+")
# Below this cosine similarity nothing is close enough to act on: ask instead of guessing.
MIN_CONFIDENCE = 0.40
TOP_K = 3


@dataclass(frozen=True)
class Route:
    intent: str
    confidence: float
    runner_up: str | None


class IntentRouter:
    def __init__(self) -> None:
        from knowledge.embeddings import get_embedder

        self._embedder = get_embedder()
        spec = assets.intents()
        self.roles = {name: set(s["roles"]) for name, s in spec.items()}
        labels: list[str] = []
        texts: list[str] = []
        for name, s in spec.items():
            for ex in s["examples"]:
                labels.append(name)
                texts.append(str(ex))
        self.labels = np.array(labels)
        self.vectors = self._embedder.embed(texts)
        self.vocabulary = sorted({w for t in texts for w in _WORD.findall(t.lower()) if len(w) > 3})
        self._cache: dict[tuple[str, str], Route] = {}
        self._lock = threading.Lock()

    def correct_spelling(self, text: str) -> str:
        def fix(m: re.Match[str]) -> str:
            word = m.group(0)
            if len(word) <= 3 or word in self.vocabulary:
                return word
            hit = process.extractOne(word, self.vocabulary, scorer=fuzz.ratio, score_cutoff=80)
            return hit[0] if hit else word

        return _WORD.sub(fix, text.lower())

    def route(self, text: str, role: str) -> Route:
        key = (text, role)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        query = self._embedder.embed([self.correct_spelling(text)])[0]
        sims = self.vectors @ query
        per_intent: dict[str, float] = {}
        for intent in set(self.labels.tolist()):
            if role not in self.roles[intent]:
                continue
            top = np.sort(sims[self.labels == intent])[-TOP_K:]
            # Best match dominates; the mean of the top few keeps one odd example from winning alone.
            per_intent[intent] = float(0.7 * top[-1] + 0.3 * top.mean())
        ranked = sorted(per_intent.items(), key=lambda kv: kv[1], reverse=True)
        best, score = ranked[0]
        route = Route(intent=best, confidence=score, runner_up=ranked[1][0] if len(ranked) > 1 else None)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = route
        return route


_router: IntentRouter | None = None
_router_lock = threading.Lock()


def get_router() -> IntentRouter:
    global _router
    with _router_lock:
        if _router is None:
            _router = IntentRouter()
        return _router
