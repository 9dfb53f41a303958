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
from functools import cache
from typing import Protocol

import numpy as np
from pydantic import BaseModel, Field

from agent.planner import assets
from agent.planner.dialogue import DialogueState
from agent.planner.entities import Entities, NameIndex, extract
from readiness.scope import PartnerRef

# A partner's message read this surely as another role's request (the call list, the book) asks for that access.
OTHERS_SHARE = 0.9
# A clause must be classified at least this surely to count as its own part of a multi-part message.
CLAUSE_CONFIDENCE = 0.5
# Intents that never make a part of their own next to others ("thanks, and what's my score?" is a score question).
SOCIAL = {"greeting", "thanks", "affirm", "help"}
_ASK = r"what|how|which|why|who|where|when|can|could|should|is|are|do|does|show|give|tell"
# Clause boundaries of a multi-part message: sentence ends, semicolons, dashes, "and also", ", and what ...".
_CLAUSES = re.compile(
    r"\s*\[|\]\s*|(?<=[?!])\s+|[?!]+$|;\s*|(?<=[\w)\]\"'])\.\s+(?=\w)|\n+|\s+-{1,2}\s+|\band also\b"
    r"|,?\s*(?:and\s+)?(?:\(?\d\)|\b\d\.)\s+"
    rf"|\balso,?\s+(?={_ASK})|,?\s+and then\b|,\s*(?:and|but|so|plus)\s+(?={_ASK}|i|we|our|my)"
    r"|\b(?:and|but|so)\s+(?=what|how|which|why|who|where|when|should|can|could)\b", re.I)
_QUESTION = re.compile(
    r"^\s*(?:so|ok|okay|and|but|hey|hi|also|well|um|uh|quick question|question)?[\s,:]*(?:how|what|what's|whats|why|"
    r"when|where|who|whom|which|whose|can|could|should|shall|would|will|do|does|did|is|isn't|are|aren't|am|was|were|"
    r"have|has|any|anything|may|might|wonder|wondering|tell me|show me|explain|walk me|help me|remind me|any idea)\b",
    re.I)
# A polite question that asks to record something is a request to write ("can you log that we hired two reps?").
_WRITE_REQUEST = re.compile(r"\b(record|log|note down|mark|tick off|update|add|register that|put down|save)\b", re.I)
_IMPERATIVE = re.compile(r"^\W*(?:please\s+|pls\s+|now\s+|then\s+)?(?:show|give|tell|list|find|compare|explain|walk|"
                         r"pull|get|send|draft|write|break|rank|sort|look|check|remind|help|summari[sz]e|put|"
                         r"record|log|note|mark|confirm|approve|reject|let me know|i need|i want|i'd like)\b", re.I)
# A clause that asks something somewhere in it ("... 🎉 what's the next move").
_ASKS = re.compile(r"\b(?:what|what's|whats|how|why|when|where|who|which|should we|should i|can you|could you|"
                   r"is there|are there|any tips|any idea)\b", re.I)
# Intents a statement (not a question) carries on its own.
STATEMENT_INTENTS = {"report_progress", "confirm_milestone", "escalation", "out_of_scope"}
_BARE_WHY = re.compile(r"^\W*(?:and\s+|but\s+|ok\s+|so\s+)?(?:why|how come|why so|why's that|why is that|why not|"
                       r"what makes you say that|how so|explain( that| why)?|why though|why is it|why that|why them|"
                       r"why this one|why that one|what's behind that|based on what)\W*$", re.I)


# What a request to change identity or access talks about. The classifier alone never refuses: an escalation
# reading needs one of these (or a partner name the principal may not see) in the message.
_ESCALATION_CUE = re.compile(
    r"\b(admin\w*|root|super\s?user|system\s+prompt|prompt|instructions?|rules?|polic(y|ies)|guardrails?|ignore|"
    r"disregard|forget|pretend|act(ing)? as|you are now|i am (the|a|an|your)|i'm (the|a|an|your)|"
    r"as (the|a|an|your) (pam|manager|admin|leader|vendor)|another partner's|all (the )?partners|every partner|"
    r"each partner|everyone|everything|competitors?|"
    r"(?:which|what|list|show|tell|names? of|who are the)\s+(?:\w+\s+)?other partners|"
    r"their (data|numbers)|database|db|dump|export|sql|tables?|raw data|whole program|"
    r"full list|switch|impersonat\w*|log\s?in as|on behalf of|override|bypass|jailbreak|developer mode|"
    r"unrestricted|credentials?|password|api key|secret|other (books?|accounts?|companies))\b", re.I)


# Asking about the assistant itself. "Help me get my first deal" is a business problem, not a help request.
_HELP_CUE = re.compile(r"\b(you|your|yourself|this|bot|assistant|tool|app|chat|here|use|using|works?|commands?|"
                       r"features?|capabilit\w*|options?|menu|questions?|able|abilities|do for me|what can|"
                       r"how do i start|get started|examples?)\b", re.I)


# "why??" at the start of a message, whatever follows ("why?? we closed four deals"), questions the last answer.
_WHY_PREFIX = re.compile(r"^\W*(?:but\s+|ok\s+|so\s+)?(?:why|how come)\s*[?!.,:-]+\s*\S", re.I)
# Someone else's claim relayed ("X says they've done ...", "just heard ..."): not the user's statement of fact.
_REPORTED = re.compile(r"\b(?:says|said|told me|tells me|apparently|according to|supposedly|heard|rumou?r)\b"
                       r"|\b(?:they|he|she|partner|team|company|folks|guys)\s+(?:reckons?|claims?|claimed|believes?|"
                       r"thinks?|say)\b", re.I)
# Requests that are escalations whatever else the message says: tool calls written by the user, a role claimed
# together with a request for that role's access, a partner asking to confirm (a PAM's act) its own milestone.
_TOOL_INJECTION = re.compile(r"[{,]\s*[\"'](?:tool|actor|role|function|arguments|principal)[\"']\s*:"
                             r"|\b[a-z]+_[a-z_]+\s*\([^)]*=", re.I)  # JSON tool calls, or list_x(pam_id=...)
_PAM_ID = re.compile(r"\bpam-\d+\b", re.I)
_ROLE_CLAIM = re.compile(
    r"\b(?:i am|i'm|im|i've|ive|i have|i got|i was|i've been)\b[^.?!]{0,60}?\b(?:pam|partner manager|"
    r"partner account manager|channel (?:leader|lead|chief|director|manager)|leader|admin\w*|vp|director|"
    r"head of (?:partners|channel|partnerships))\b", re.I)
_ACCESS_REQUEST = re.compile(
    r"\b(?:switch|upgrade|elevate|move)\s+(?:me|my\s+(?:view|access|role|account))\b|\b(?:give|grant|unlock)\s+"
    r"(?:me\s+)?(?:access|admin|rights|permissions?|the\s+\w+\s+view|\w+[- ]wide)\b|\b(?:program[- ]wide|"
    r"whole program|every (?:pam|partner|book)|all (?:pams|books)|other (?:pams?|books?)|every pam's|everything|"
    r"all (?:the )?data)\b"
    r"|\b(?:confirm|approve|sign off|verify)\b", re.I)
_PARTNER_CONFIRMS = re.compile(r"\b(?:confirm|approve|sign off|verify|validate)\b[^.?!]{0,40}\b(?:milestone|it|that|"
                               r"as done|as complete)\b|\bconfirmed by (?:the |your |my )?pam\b", re.I)


def forced_escalation(text: str, role: str) -> bool:
    if _TOOL_INJECTION.search(text):
        return True
    if _ROLE_CLAIM.search(text) and _ACCESS_REQUEST.search(text):
        return True
    return role == "partner" and bool(_PARTNER_CONFIRMS.search(text)) and not text.strip().endswith("?")


@cache
def _domain_words() -> frozenset[str]:
    """Words that mark a message as about partner activation (an off-topic reading needs their absence)."""
    from agent.planner import training
    from agent.planner.separation import STOPWORDS

    words: set[str] = set()
    for line in training.vocabulary_lines():
        words |= {w for w in re.findall(r"[a-z][a-z-]+", line.lower()) if len(w) >= 3 and w not in STOPWORDS}
    for spec in assets.intents().values():
        text = f"{spec.get('means', '')} {spec.get('not', '')}".lower()
        words |= {w for w in re.findall(r"[a-z][a-z-]+", text) if len(w) >= 5 and w not in STOPWORDS}
    return frozenset(words)


def domain_cue(text: str) -> bool:
    words = set(re.findall(r"[a-z][a-z-]+", text.lower()))
    return bool(words & _domain_words())


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
    reported: bool = False  # relays someone else's claim: never recorded as the user's statement of fact
    gap_row: int | None = None  # "the second one on that list" after a gap diagnosis
    milestone_row: int | None = None  # "what does the second one need?" after the plan was shown
    escalation: bool = False  # a request for another identity's access, whatever else it asks
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
    principal_id: str = ""
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
        # The classifier's unrestricted probabilities per (masked) text: a message is read by the input guard and
        # by each of the planner's steps in a turn, and common messages recur across turns.
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _raw(self, texts: list[str]) -> list[np.ndarray]:
        from agent.planner.classifier import get_model

        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            rows = get_model().predict_proba(missing)
            with self._lock:
                for t, row in zip(missing, rows, strict=True):
                    self._cache[t] = row
                while len(self._cache) > 20_000:
                    self._cache.popitem(last=False)
        with self._lock:
            out = []
            for t in texts:
                self._cache.move_to_end(t)
                out.append(self._cache[t])
            return out

    def others_share(self, text: str, role: str) -> float:
        """How much of the unrestricted reading belongs to intents this role does not have (a partner asking for
        the call list asks for a PAM's view)."""
        from agent.planner.classifier import get_model

        mine = allowed(role)
        row = self._raw([text])[0]
        return float(sum(p for c, p in zip(get_model().classes, row, strict=True) if c not in mine))

    def _proba(self, texts: list[str], role: str) -> list[list[IntentScore]]:
        from agent.planner.classifier import get_model

        model = get_model()
        keep = allowed(role)
        mask = np.array([c in keep for c in model.classes], dtype=float)
        out = []
        for row in self._raw(texts):
            p = row * mask
            p = p / p.sum() if p.sum() > 0 else mask / mask.sum()
            order = np.argsort(-p)[:5]
            out.append([IntentScore(intent=model.classes[i], probability=round(float(p[i]), 4)) for i in order])
        return out

    def interpret(self, message: str, dialogue: DialogueState, ctx: UnderstandingContext) -> Interpretation:
        from agent.planner.text import plain

        message = plain(message)
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
        if domain_cue(masked):
            # Off-topic needs the absence of the domain, unless the classifier is sure ("a poem about partners").
            scored = [_without(ranked, "out_of_scope") if ranked[0].intent != "out_of_scope"
                      or ranked[0].probability < 0.8 else ranked for ranked in scored]
        whole, per_clause = scored[0], scored[1:]
        parts = _parts(unmask(pieces, entities), per_clause) if per_clause else []
        if not parts:
            parts = [Part(text=message, intent=whole[0].intent, probability=whole[0].probability,
                          question=is_question(message))]
        other_pams = {m.lower() for m in _PAM_ID.findall(message)} - {ctx.principal_id.lower()}
        escalation = forced_escalation(message, ctx.role) or bool(other_pams) or (
            # A partner naming another company asks for that company's data ("is X one of your partners too?").
            ctx.role == "partner" and bool(entities.unknown_names or entities.unknown_ids)) or (
            ctx.role == "partner" and self.others_share(masked, ctx.role) >= OTHERS_SHARE)
        if escalation:
            whole = [IntentScore(intent="escalation", probability=1.0)] + [s for s in whole if s.intent != "escalation"]
        interp = Interpretation(text=message, intents=whole, parts=parts, entities=entities,
                                question=any(p.question for p in parts) and not any(
                                    not p.question for p in parts if p.intent == "report_progress"),
                                bare_why=bool(_BARE_WHY.match(message.strip()) or _WHY_PREFIX.match(message)),
                                reported=bool(_REPORTED.search(masked)), escalation=escalation)
        resolve_references(interp, dialogue)
        return interp


def _without(ranked: list[IntentScore], intent: str) -> list[IntentScore]:
    kept = [s for s in ranked if s.intent != intent]
    total = sum(s.probability for s in kept)
    if not kept or total <= 0:
        return ranked
    return [IntentScore(intent=s.intent, probability=round(s.probability / total, 4)) for s in kept]


def unmask(pieces: list[str], entities: Entities) -> list[str]:
    """The clauses in the user's own words: each mask token back to the name it replaced, in order."""
    from agent.planner.training import PARTNER_TOKEN

    names = iter(m.text for m in sorted(entities.partners, key=lambda m: m.start))
    out = []
    for piece in pieces:
        out.append(re.sub(re.escape(PARTNER_TOKEN), lambda _m: next(names, PARTNER_TOKEN), piece))
    return out


def _parts(pieces: list[str], scored: list[list[IntentScore]]) -> list[Part]:
    """The clauses that carry a request of their own, consecutive repeats of one intent merged. `pieces` are in the
    user's words (the classifier read them masked)."""
    parts: list[Part] = []
    for text, ranked in zip(pieces, scored, strict=True):
        top = ranked[0]
        if top.probability < CLAUSE_CONFIDENCE or top.intent in SOCIAL:
            continue
        if not is_question(text) and not _IMPERATIVE.match(text) and not _ASKS.search(text) \
                and top.intent not in STATEMENT_INTENTS:
            continue  # a statement that asks nothing is context ("our score is only so-so"), not a request
        if parts and parts[-1].intent == top.intent:
            parts[-1].text += " " + text
            parts[-1].probability = max(parts[-1].probability, top.probability)
            continue
        parts.append(Part(text=text, intent=top.intent, probability=top.probability, question=is_question(text)))
    return parts if len(parts) >= 2 else []


def pick_by_words(text: str, ids: list[str], names: list[str]) -> str | None:
    """The one candidate a reply singles out by a word of its name that no other candidate has ("the labs one"
    between Blackwood Labs and Blackwood Systems)."""
    from rapidfuzz import fuzz

    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) >= 2]
    hits: set[str] = set()
    for pid, name in zip(ids, names, strict=False):
        own = set(re.findall(r"[a-z0-9]+", name.lower()))
        others = {w for other in names if other != name for w in re.findall(r"[a-z0-9]+", other.lower())}
        if any(fuzz.ratio(w, o) >= 85 for w in words for o in own - others if len(o) >= 2):
            hits.add(pid)
    return next(iter(hits)) if len(hits) == 1 else None


_THE_X_ONE = re.compile(r"\bthe\s+[\w&-]+(?:\s+[\w&-]+)?\s+one\b", re.I)


def resolve_references(interp: Interpretation, dialogue: DialogueState) -> None:
    """Ordinals point into the last list shown; pronouns and "that partner" at the partners in focus."""
    e = interp.entities
    listed = dialogue.last_list.partner_ids if dialogue.last_list else []
    if e.ambiguous and listed:
        # A name that fits several partners, one of them in the list just shown: that one.
        shown = [c for c in e.ambiguous[0].partner_ids if c in listed]
        if len(shown) == 1:
            interp.referenced, interp.reference = shown, "row"
            return
    if e.partner_ids or e.ambiguous:
        return
    if e.plural:
        # "those two", "both", "the top two": the partners just discussed, else the first rows of the last list.
        pool = dialogue.focus if len(dialogue.focus) >= e.plural and not (e.ordinal or "top" in interp.text.lower()
                                                                            or "first" in interp.text.lower()) \
            else listed
        if len(pool) >= 2:
            interp.referenced, interp.reference = list(pool[: e.plural]), "list"
            return
    planned = dialogue.last is not None and "get_activation_plan" in dialogue.last.tools
    if e.ordinal is not None and planned and not (dialogue.last_list and dialogue.last is not None
                                                  and dialogue.last_list.tool in dialogue.last.tools):
        interp.milestone_row = e.ordinal
        return
    diagnosed = dialogue.last is not None and "diagnose_gtm_gaps" in dialogue.last.tools
    about_gaps = not listed or re.search(r"\b(gaps?|list|things?|areas?|items?)\b", interp.text, re.I)
    if e.ordinal is not None and diagnosed and dialogue.last_gaps and about_gaps and not (
            dialogue.last_list and dialogue.last_list.tool in (dialogue.last.tools if dialogue.last else [])):
        interp.gap_row = e.ordinal
        return
    if listed and dialogue.last_list and (_THE_X_ONE.search(interp.text) or len(interp.text.split()) <= 4):
        picked = pick_by_words(interp.text, listed, dialogue.last_list.names)
        if picked:
            interp.referenced, interp.reference = [picked], "row"
            return
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
