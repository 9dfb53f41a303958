"""Understanding one message: message + dialogue state -> interpretation (intents with calibrated confidence, the
parts of a multi-part message, entities, references). Separate from deciding and answering, so another parser (for
example a small local LLM constrained to the `Interpretation` JSON schema) can sit behind the same `Understander`
interface and be measured on the same sets (`agent.planner.evaluate`).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

import numpy as np
from pydantic import BaseModel, Field

from agent.planner import assets
from agent.planner.dialogue import DialogueState
from agent.planner.entities import Entities, NameIndex, extract
from readiness.scope import PartnerRef

# A clause must be classified at least this surely to count as its own part of a multi-part message.
CLAUSE_CONFIDENCE = 0.5
# Intents that never make a part of their own next to others ("thanks, and what's my score?" is a score question).
SOCIAL = {"greeting", "thanks", "affirm", "help"}
_ASK = r"what|how|which|why|who|where|when|can|could|should|is|are|do|does|show|give|tell"
# Clause boundaries of a multi-part message: sentence ends, semicolons, dashes, "and also", ", and what ...".
_CLAUSES = re.compile(
    r"(?<=[?!])\s+|[?!]+$|;\s*|(?<=\w)\.\s+(?=\w)|\n+|\s+-{1,2}\s+|\band also\b"
    rf"|\balso,?\s+(?={_ASK})|,?\s+and then\b|,\s*(?:and|but|so|plus)\s+(?={_ASK}|i|we|our|my)"
    r"|\b(?:and|but|so)\s+(?=what|how|which|why|who|where|when|should|can|could)\b", re.I)
_QUESTION = re.compile(
    r"^\s*(?:so|ok|okay|and|but|hey|hi|also|well|um|uh|quick question|question)?[\s,:]*(?:how|what|what's|whats|why|"
    r"when|where|who|whom|which|whose|can|could|should|shall|would|will|do|does|did|is|isn't|are|aren't|am|was|were|"
    r"have|has|any|anything|may|might|wonder|wondering|tell me|show me|explain|walk me|help me|remind me|any idea)\b",
    re.I)
# A polite question that asks to record something is a request to write ("can you log that we hired two reps?").
_WRITE_REQUEST = re.compile(r"\b(record|log|note down|mark|tick off|update|add|register that|put down|save)\b", re.I)
_BARE_WHY = re.compile(r"^\W*(?:and\s+|but\s+|ok\s+|so\s+)?(?:why|how come|why so|why's that|why is that|why not|"
                       r"what makes you say that|how so|explain( that| why)?|why though|why is it|why that|why them|"
                       r"why this one|why that one|what's behind that|based on what)\W*$", re.I)


# What a request to change identity or access talks about. The classifier alone never refuses: an escalation
# reading needs one of these (or a partner name the principal may not see) in the message.
_ESCALATION_CUE = re.compile(
    r"\b(admin\w*|root|super\s?user|system\s+prompt|prompt|instructions?|rules?|polic(y|ies)|guardrails?|ignore|"
    r"disregard|forget|pretend|act(ing)? as|you are now|i am (the|a|an|your)|i'm (the|a|an|your)|"
    r"as (the|a|an|your) (pam|manager|admin|leader|vendor)|pams?|partner managers?|leaders?|vp|director|ceo|"
    r"manager|other partners?|another partner|all (the )?partners|every partner|each partner|everyone|competitors?|"
    r"their (data|numbers|scores?|pipeline|deals|plan)|database|db|dump|export|sql|tables?|raw data|whole program|"
    r"full list|switch|impersonat\w*|log\s?in as|on behalf of|override|bypass|jailbreak|developer mode|"
    r"unrestricted|credentials?|password|api key|secret|other (books?|accounts?|companies))\b", re.I)


# Asking about the assistant itself. "Help me get my first deal" is a business problem, not a help request.
_HELP_CUE = re.compile(r"\b(you|your|yourself|this|bot|assistant|tool|app|chat|here|use|using|works?|commands?|"
                       r"features?|capabilit\w*|options?|menu|questions?|able|abilities|do for me|what can|"
                       r"how do i start|get started|examples?)\b", re.I)


class IntentScore(BaseModel):
    intent: str
    probability: float


class Part(BaseModel):
    """One clause of the message with its own intent."""

    text: str
    intent: str
    probability: float
    question: bool


class Interpretation(BaseModel):
    text: str
    intents: list[IntentScore]  # the whole message's distribution over the role's intents, best first (top 5)
    parts: list[Part]  # one, or one per request of a multi-part message, in order
    entities: Entities
    question: bool  # the message asks rather than states: it never writes
    referenced: list[str] = Field(default_factory=list)  # partners pointed at through the dialogue state
    reference: str | None = None  # how: "row" (an ordinal into the last list), "focus", "other", "list"
    bare_why: bool = False  # "why?" about the previous answer
    understander: str = "classifier"

    @property
    def intent(self) -> str:
        return self.intents[0].intent

    @property
    def confidence(self) -> float:
        return self.intents[0].probability

    def runner_up(self) -> IntentScore | None:
        return self.intents[1] if len(self.intents) > 1 else None


@dataclass(frozen=True)
class UnderstandingContext:
    role: str
    directory: list[PartnerRef]
    as_of: date
    index: NameIndex = field(compare=False, hash=False, default=None)  # type: ignore[assignment]


class Understander(Protocol):
    """Any parser of messages: the trained classifier here, an LLM constrained to the Interpretation schema later."""

    name: str

    def interpret(self, message: str, dialogue: DialogueState, ctx: UnderstandingContext) -> Interpretation: ...


def is_question(text: str) -> bool:
    stripped = text.strip()
    asks = stripped.endswith("?") or bool(_QUESTION.match(stripped))
    return asks and not (_WRITE_REQUEST.search(stripped) and not stripped.lower().startswith(("how", "what", "why")))


def clauses(text: str) -> list[str]:
    parts = [p.strip(" ,.") for p in _CLAUSES.split(text) if p and p.strip(" ,.")]
    return [p for p in parts if len(p.split()) >= 2] or [text.strip()]


def allowed(role: str) -> set[str]:
    return {name for name, spec in assets.intents().items() if role in spec.get("roles", [])}


_index_cache: OrderedDict[str, NameIndex] = OrderedDict()
_index_lock = threading.Lock()


def name_index(directory: list[PartnerRef]) -> NameIndex:
    """One index per distinct directory (a book, the program), kept for the next turns."""
    key = hashlib.sha1("|".join(f"{r.partner_id}={r.name}" for r in directory).encode()).hexdigest()
    with _index_lock:
        hit = _index_cache.get(key)
        if hit is not None:
            _index_cache.move_to_end(key)
            return hit
    index = NameIndex(directory)
    with _index_lock:
        _index_cache[key] = index
        while len(_index_cache) > 16:
            _index_cache.popitem(last=False)
    return index


class ClassifierUnderstander:
    """Entities by rules and fuzzy matching, intents by the trained classifier (per message and per clause)."""

    name = "classifier"

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _proba(self, texts: list[str], role: str) -> list[list[IntentScore]]:
        from agent.planner.classifier import get_model

        model = get_model()
        keep = allowed(role)
        mask = np.array([c in keep for c in model.classes], dtype=float)
        missing = [t for t in dict.fromkeys(texts) if (t, role) not in self._cache]
        if missing:
            rows = model.predict_proba(missing)
            with self._lock:
                for t, row in zip(missing, rows, strict=True):
                    p = row * mask
                    self._cache[(t, role)] = p / p.sum() if p.sum() > 0 else mask / mask.sum()
                while len(self._cache) > 20_000:
                    self._cache.popitem(last=False)
        out = []
        for t in texts:
            p = self._cache[(t, role)]
            order = np.argsort(-p)[:5]
            out.append([IntentScore(intent=model.classes[i], probability=round(float(p[i]), 4)) for i in order])
        return out

    def interpret(self, message: str, dialogue: DialogueState, ctx: UnderstandingContext) -> Interpretation:
        index = ctx.index or name_index(ctx.directory)
        entities = extract(message, index, ctx.as_of)
        masked = entities.masked(message)
        pieces = clauses(masked)
        scored = self._proba([masked, *pieces] if len(pieces) > 1 else [masked], ctx.role)
        if dialogue.proposed is None and dialogue.pending is None:
            # Accepting ("yes", "ok do that") only means something after a proposal or a question.
            scored = [_without(ranked, "affirm") for ranked in scored]
        if not (_ESCALATION_CUE.search(message) or entities.unknown_names or entities.unknown_ids
                or (ctx.role == "partner" and entities.partners and len(ctx.directory) == 1
                    and any(ctx.directory[0].partner_id not in m.partner_ids for m in entities.partners))):
            scored = [_without(ranked, "escalation") for ranked in scored]
        if len(message.split()) > 2 and not _HELP_CUE.search(message):
            scored = [_without(ranked, "help") for ranked in scored]
        whole, per_clause = scored[0], scored[1:]
        parts = _parts(pieces, per_clause) if per_clause else []
        if not parts:
            parts = [Part(text=masked, intent=whole[0].intent, probability=whole[0].probability,
                          question=is_question(masked))]
        interp = Interpretation(text=message, intents=whole, parts=parts, entities=entities,
                                question=any(p.question for p in parts) and not any(
                                    not p.question for p in parts if p.intent == "report_progress"),
                                bare_why=bool(_BARE_WHY.match(message.strip())))
        resolve_references(interp, dialogue)
        return interp


def _without(ranked: list[IntentScore], intent: str) -> list[IntentScore]:
    kept = [s for s in ranked if s.intent != intent]
    total = sum(s.probability for s in kept)
    if not kept or total <= 0:
        return ranked
    return [IntentScore(intent=s.intent, probability=round(s.probability / total, 4)) for s in kept]


def _parts(pieces: list[str], scored: list[list[IntentScore]]) -> list[Part]:
    """The clauses that carry a request of their own, consecutive repeats of one intent merged."""
    parts: list[Part] = []
    for text, ranked in zip(pieces, scored, strict=True):
        top = ranked[0]
        if top.probability < CLAUSE_CONFIDENCE or top.intent in SOCIAL:
            continue
        if parts and parts[-1].intent == top.intent:
            parts[-1].text += " " + text
            parts[-1].probability = max(parts[-1].probability, top.probability)
            continue
        parts.append(Part(text=text, intent=top.intent, probability=top.probability, question=is_question(text)))
    return parts if len(parts) >= 2 else []


def resolve_references(interp: Interpretation, dialogue: DialogueState) -> None:
    """Ordinals point into the last list shown; pronouns and "that partner" at the partners in focus."""
    e = interp.entities
    if e.partner_ids or e.ambiguous:
        return
    listed = dialogue.last_list.partner_ids if dialogue.last_list else []
    if e.ordinal is not None and listed:
        k = e.ordinal - 1 if e.ordinal > 0 else len(listed) + e.ordinal
        if 0 <= k < len(listed):
            interp.referenced, interp.reference = [listed[k]], "row"
        return
    if e.reference == "other" and len(dialogue.focus) >= 2:
        interp.referenced, interp.reference = [dialogue.focus[1]], "other"
    elif e.reference == "one" and dialogue.focus:
        interp.referenced, interp.reference = [dialogue.focus[0]], "focus"
    elif e.reference == "many":
        # "them" after a list is the list; after talking about one partner it is that partner (a company is "they").
        last_tools = dialogue.last.tools if dialogue.last else []
        if listed and dialogue.last_list and dialogue.last_list.tool in last_tools:
            interp.referenced, interp.reference = list(listed), "list"
        elif dialogue.focus:
            interp.referenced, interp.reference = [dialogue.focus[0]], "focus"


_understander: Understander | None = None


def get_understander() -> Understander:
    global _understander
    if _understander is None:
        _understander = ClassifierUnderstander()
    return _understander
