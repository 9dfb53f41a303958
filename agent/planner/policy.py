"""Deciding what to do with an interpretation: act, ask one specific question, or act on the best guess and ask.

Input: the interpretation of the message and the dialogue state; output: a `Decision` (steps to run, each an intent
with its partners, or the question to ask). No tool runs here and no answer is phrased here.

- Confident (calibrated probability >= ACT): act on every part of the message.
- Unsure between two readings that are close: ask which of the two named readings is meant.
- Otherwise unsure: act on the most likely reading and ask one specific question about the other one.
- A write (progress, a confirmation) needs a statement, not a question, and WRITE confidence; short of it the
  assistant asks whether to record it, and "yes" records it.
- A partner-level question uses the partner named, else the row or partner referred to, else the partner in focus;
  a book- or program-level question never inherits the previous partner.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field
from rapidfuzz import fuzz

from agent.planner import assets
from agent.planner.dialogue import DialogueState, Pending, ProposedStep
from agent.planner.understand import Interpretation, allowed

ACT = 0.5
# A statement this close (token-set ratio) to the last one recorded repeats it.
REPEAT = 70
# Below ASK, two readings this CLOSE (and nothing in the conversation to tell them apart) are asked about by name.
ASK = 0.4
CLOSE = 0.1
# A write needs at least this probability and a statement.
WRITE = 0.55
WRITE_INTENTS = {"report_progress", "confirm_milestone"}
DECLINE = {"out_of_scope", "escalation"}
TEXT_ONLY = {"help", "thanks", "affirm"}
# Intents that may take a partner but answer for the whole book without one (no inheriting the previous partner).
BOOK_OR_PARTNER = {"pipeline", "revenue_impact", "nudges"}
# Readings about one partner.
PARTNER_LEVEL = {"score", "explain_score", "outlook", "biggest_gap", "plan", "pipeline", "revenue_impact", "nudges",
                 "call_opener", "confirm_milestone", "report_progress"}
_THANKS_ONLY = re.compile(r"^\W*(?:ok(?:ay)?\W+)?(?:thanks?|thank you|thx|ty|cheers|great|perfect|cool|nice|got it|"
                          r"brilliant|awesome)\W*(?:thanks?|thx|a lot|so much)?\W*$", re.I)
_AFFIRM = re.compile(r"^\W*(?:y|yes|yeah|yep|yup|sure|ok|okay|please|do it|go ahead|sounds good|let's do it|"
                     r"alright|fine|great|perfect)\b", re.I)
# "why?" after an answer of this intent explains it with this intent.
WHY = {"score": "explain_score", "greeting": "explain_score", "outlook": "explain_score",
       "call_opener": "explain_score", "call_list": "explain_score", "list_partners": "explain_score",
       "compare": "explain_score",
       "explain_score": "biggest_gap", "biggest_gap": "biggest_gap", "plan": "plan", "next_steps": "plan",
       "nudges": "plan", "pipeline": "pipeline", "revenue_impact": "revenue_impact", "book_health": "book_health",
       "grow_list": "explain_score"}
# An instruction to write ("log that ...", "mark ... as done") or, for a PAM, to confirm a claim.
_WRITE_COMMAND = re.compile(r"(?:^\W*|\b(?:please|pls|can you|could you|go ahead and|just|and)\s+)(?:record|log|"
                            r"note(?: down)?|mark|tick off|put down|save|update (?:that|it))\b(?! in\b)", re.I)
_CONFIRM_COMMAND = re.compile(r"^\W*(?:please\s+|can you\s+|could you\s+)?(?:confirm|approve|sign off|verify|"
                              r"validate|reject|accept)\b|\b(?:confirm|approve|sign off|verify|reject|decline|deny)\b"
                              r"[^.?!]{0,25}\b(?:claim|milestone|that one|it)\b", re.I)
_HOW_DO_THAT = re.compile(r"^\W*(?:ok|okay|so|and|right|cool|alright|great)?\W*how\s+(?:do|can|would|should|could)\s+"
                          r"(?:i|we|you)\s+(?:do|go about|start|handle|tackle|fix|get|approach|manage)\s+(?:that|this|"
                          r"it)\b", re.I)
_HAS_VERB = re.compile(r"\b(how|why|when|where|who|which|do|does|did|can|could|should|would|is|are|was|were|"
                       r"have|has|show|give|tell|get|make|need|want)\b", re.I)
_SCOPE_BACK = re.compile(r"\b(?:just|only|then)\b.*\b(?:mine|ours|my own|our own|my|our|me|us)\b|"
                         r"\b(?:mine|ours|my own|our own)\b.*\b(?:then|instead|only)\b", re.I)
# "if none of them hears from me", "if I don't call any of them": the call list's stake.
_NOT_CALLED = re.compile(r"\b(?:none|any|nobody|no one)\b[^.?!]{0,30}\b(?:hears?|call|calls|called|ring|contact|"
                         r"reach)\b|\b(?:don't|do not|never|dont)\s+(?:call|ring|contact|reach)", re.I)
_BOOK_WIDE = re.compile(r"\b(whole book|my book|the book|overall|across (?:the )?(?:whole )?(?:book|program|"
                        r"everything|all)|whole program|the program|all (?:of )?my partners|my patch|portfolio)\b",
                        re.I)
_BOOK_WIDE_HEALTH = re.compile(r"\b(big picture|activation|how(?:'s| is) (?:my|the) (?:book|program)|health)\b", re.I)
_VAGUE = re.compile(r"\b(tell me (?:more|about)|more about|what'?s (?:up|going on|the story|their deal) with|"
                    r"details on|what about|talk me through)\b", re.I)
_GAP_CUE = re.compile(r"\b(fix first|holding (?:us|them|me|\w+) back|weakest|biggest gap|single thing|one thing to fix|"
                      r"what(?:'s| is) (?:wrong|missing)|what(?:'s| is) blocking)\b", re.I)
# "why aren't we closing deals": what holds them back, not the pipeline figures.
_WHY_NOT = re.compile(r"^\W*(?:so\s+|but\s+|and\s+)?why\s+(?:aren'?t|are not|don'?t|do not|can'?t|cannot|isn'?t|"
                      r"haven'?t|won'?t)\s+(?:we|they|i)\b", re.I)
# A how-to question ("how should I run the first call", "how do we get her up to speed on registering deals").
_HOW_TO = re.compile(r"^\W*(?:ok\W+|so\W+|and\W+)?how\s+(?:do|can|should|would|could)\s+(?:i|we|you)\s+(?!get started|"
                     r"start\b|begin\b)\w+", re.I)
_MOST_AT_STAKE = re.compile(r"\b(?:most|highest|biggest|top|rank\w*)\b[^.?!]{0,40}\b(?:at stake|revenue|upside)\b",
                            re.I)
_PAM_VOICE = re.compile(r"\b(promoted|my book|every pam|program[- ]wide)\b", re.I)
# What explain_score answers, in the definition's words; without them a score question is about the score itself.
_EXPLAIN_CUE = re.compile(r"\b(why|how come|made of|drives?|driving|calculated|calculate|breakdown|break down|behind|"
                          r"explain|flagged|reason|because|low|high|so low|so high|evidence|signals?|factors?|pulls?|"
                          r"drags?|contribut\w*|weigh\w*|what makes)\b", re.I)
_NEXT = re.compile(r"\bwhat'?s next\b|\bnext (?:step|milestone|thing|up)\b|\bwhat (?:comes|do they do) next\b", re.I)
_DEAL_WORDS = re.compile(r"\b(negotiation|proposal|stage|deal|opportunit\w*|stuck|stalled|closing|close date|"
                         r"validation|forecast)\b", re.I)
_WHOM_TO_CALL = re.compile(r"\bwho\b[^.?!]{0,25}\b(?:call|ring|chase|contact|reach out|ping|phone)\b", re.I)
_HOW_MANY = re.compile(r"\b(how many|how big|number of|count of|total number|in total|altogether)\b", re.I)
_DEADLINE = re.compile(r"\b(how long (?:have|do) (?:we|i)|when (?:is|are) (?:it|that|this|they) due|due date|deadline|"
                       r"by when|how much time)\b", re.I)
_RANK = re.compile(r"\b(stack up|rank(?:ing)?|compared? (?:to|with) (?:the )?other|against (?:the )?other|"
                   r"benchmark|where do we stand among)\b", re.I)
_STAKE = re.compile(r"\b(stake|upside|worth|cost(?:ing)?|revenue|money|lose)\b", re.I)
_COUNT = re.compile(r"\b(how many|how big|number of|count|total|in all|altogether|overall)\b", re.I)
# A question about partners in general ("when should I stop investing in a partner?") is a how-to question.
_GENERIC_PARTNER = re.compile(r"\b(?:a|any|one|each|every|such a|that kind of)\s+partner\b|\bpartners\b", re.I)
_ELLIPTIC = re.compile(r"^\W*(and|what about|how about|and what about|ok and|also|same for|now)\b", re.I)
_REJECT = re.compile(r"\b(reject|decline|not done|isn't done|is not done|deny|refuse|bounce|send back|not approved)\b",
                     re.I)


class Step(BaseModel):
    intent: str
    partners: list[str] = Field(default_factory=list)  # ids, or a raw name for the tool to resolve or refuse
    text: str = ""  # the part of the message this step answers (evidence for writes, query for playbooks)
    mode: Literal["answer", "why", "list"] = "answer"  # list: about the partners of the list just shown
    row: int | None = None  # for a gap question: which gap of the last diagnosis (1-based, -1 the last)
    then: list[str] = Field(default_factory=list)  # find_partner for a name that fits several: the intents waiting


class Decision(BaseModel):
    kind: Literal["act", "clarify", "decline"]
    steps: list[Step] = Field(default_factory=list)
    pending: Pending | None = None
    clarify: str | None = None  # which_partner | ambiguous | which_reading | confirm_write
    candidates: list[str] = Field(default_factory=list)
    readings: list[str] = Field(default_factory=list)
    alternative: str | None = None  # best guess made: the other reading, asked about after the answer
    confidence: float = 1.0
    declined: str | None = None  # what a declined request asked for, so "fine, just ours then" can follow it
    offer: ProposedStep | None = None  # a write asked about ("should I sign that off?"): offered, not done

    @property
    def intents(self) -> list[str]:
        return list(dict.fromkeys(s.intent for s in self.steps)) or self.readings


def decline_reason(interp: Interpretation, threshold: float = ACT) -> str | None:
    """'escalation' or 'out_of_scope' when the whole message is such a request. A message that also asks something
    legitimate gets that answered; the tools still enforce scope and identity, so the rest changes nothing."""
    if interp.escalation:
        # A partner's own progress stated alongside is still recorded (as its claim); the escalation is declined
        # with it.
        return None if stated_progress(interp) and (interp.entities.partner_ids or not _PAM_VOICE.search(
            interp.text)) else "escalation"
    legit = [p for p in interp.parts if p.intent not in DECLINE]
    if interp.intent in DECLINE and interp.confidence >= threshold and not legit:
        return interp.intent
    return None


def stated_progress(interp: Interpretation) -> list[Step]:
    """The parts of a message that state the user's own progress (not a question, not someone else's claim)."""
    foreign = [n.lower() for n in interp.entities.unknown_names]
    return [Step(intent=p.intent, text=p.text) for p in interp.parts
            if p.intent == "report_progress" and not p.question and not interp.reported and is_progress(p.text)
            and not any(n in p.text.lower() for n in foreign)]


_PROGRESS = re.compile(r"\b(now|just|finally|already|today|yesterday|this (?:morning|week)|last (?:week|month|night)|"
                       r"went live|is live|is done|are done|is written|is published|have|has|had|we've|got)\b",
                       re.I)
_PAST = re.compile(r"\b(?:passed|certified|hired|joined|signed|closed|won|earned|achieved|launched|published|"
                   r"presented|ran|met|onboarded|recruited|trained|went|came|brought|took|made|sent|built|"
                   r"[a-z]{3,}ed)\b", re.I)
_INTENTION = re.compile(r"\b(will|going to|gonna|plan(?:ning)? to|want(?:s|ed)? (?:to|a|an|us)|wants|"
                        r"next (?:week|month)|tomorrow|hope|hoping|might|should we|would like|intend)\b", re.I)


def is_progress(text: str) -> bool:
    """A statement that something happened (past or now), not a plan or a wish ("our customer wants a demo")."""
    from agent.planner.turn import COMPLETED

    done = bool(COMPLETED.search(text) or _PROGRESS.search(text) or _PAST.search(text))
    return done and not (_INTENTION.search(text) and not COMPLETED.search(text))


def asked_for(interp: Interpretation) -> str | None:
    """What a declined message asked for, beyond the escalation ("fine, just ours then" follows it)."""
    others = DECLINE | TEXT_ONLY | WRITE_INTENTS
    asked = next((p.intent for p in reversed(interp.parts) if p.intent not in others),
                 next((s.intent for s in interp.intents if s.intent not in others), None))
    if asked == "explain_score" and not _EXPLAIN_CUE.search(interp.text):
        return "score"  # the same reading decide() gives a score question without a "why"
    return asked


def needs_partner(intent: str, role: str) -> bool:
    return role != "partner" and bool(assets.intents().get(intent, {}).get("needs_partner"))


def previous_intent(dialogue: DialogueState) -> str | None:
    """What the last answer was about (a declined request counts as what it asked for)."""
    if dialogue.last is None:
        return None
    return next((i for i in dialogue.last.intents if i not in DECLINE | TEXT_ONLY | WRITE_INTENTS), None)


def content_words(interp: Interpretation) -> list[str]:
    """The message's words once partner names, references and grammar are set aside: none left means an
    elliptical follow-up ("and keystone?", "what about p-013", "and the first?", "fine, just ours then")."""
    from agent.planner.separation import STOPWORDS

    text = interp.entities.masked(interp.text).lower()
    text = re.sub(r"\b(?:p|pam)-\d+\b", " ", text)
    words = re.findall(r"[a-z]+", text)
    return [w for w in words if w not in STOPWORDS and w not in _FOLLOW_UP_FILLER]


_FOLLOW_UP_FILLER = frozenset({
    "partner", "one", "ones", "first", "second", "third", "fourth", "fifth", "last", "number", "row", "hmm", "hm",
    "fine", "ours", "mine", "theirs", "then", "too", "either", "instead", "else", "same", "thing", "that", "please",
    "pls", "right", "sure", "oh", "ah", "well", "bit", "lol", "yeah", "yep", "nope", "actually", "anyway", "own",
    "just", "tell", "more", "again", "about", "what", "whats",
})
# Readings that are about the book or program as a whole, not one partner.
BOOK_LEVEL = {"call_list", "grow_list", "list_partners", "book_health"}


def decide(interp: Interpretation, dialogue: DialogueState, role: str) -> Decision:
    e = interp.entities
    pending, proposed = dialogue.pending, dialogue.proposed
    short = len(interp.text.split()) <= 6
    previous = previous_intent(dialogue)

    reason = decline_reason(interp)
    if reason is not None:
        return Decision(kind="decline", steps=[Step(intent=reason)], confidence=interp.confidence,
                        declined=asked_for(interp))
    if interp.milestone_row is not None:
        return Decision(kind="act", steps=[Step(intent="plan", row=interp.milestone_row, text=interp.text,
                                                partners=dialogue.focus[:1] if role != "partner" else [])])
    if interp.gap_row is not None:
        return Decision(kind="act", steps=[Step(intent="biggest_gap", row=interp.gap_row, text=interp.text,
                                                partners=dialogue.focus[:1] if role != "partner" else [])])
    if interp.escalation:
        own = stated_progress(interp) if role == "partner" or e.partner_ids else []
        return Decision(kind="act", steps=[*own, Step(intent="escalation")], declined=asked_for(interp))

    # Answers to the question the assistant just asked.
    if pending is not None:
        answered = _answer_pending(interp, dialogue, role)
        if answered is not None:
            return answered
    # "yes" / "ok do that" after a proposal (a statement alongside it is recorded too).
    thanked = interp.intent == "thanks" and interp.confidence >= ACT
    pointed = bool(e.partner_ids or e.ambiguous or e.ordinal is not None or e.unknown_names)  # about someone else
    accepts = (_AFFIRM.match(interp.text) and not _THANKS_ONLY.match(interp.text)) or (
        interp.intent == "affirm" and not content_words(interp)) or (_AFFIRM.match(interp.text) and not thanked)
    if proposed is not None and not pointed and accepts and (short or stated_progress(interp)):
        steps = [Step(intent=proposed.intent, partners=proposed.partner_ids, text=proposed.text or "")]
        return Decision(kind="act", steps=[*stated_progress(interp), *steps] if proposed.intent != "report_progress"
                        else steps)
    # "how do I do that?": the how-to of what the last answer asked of them.
    if _HOW_DO_THAT.match(interp.text) and dialogue.topic:
        return Decision(kind="act", steps=[Step(intent="playbook", text=dialogue.topic)])
    # "why?" about the previous answer: explain it rather than repeat it.
    if interp.bare_why and dialogue.last is not None and previous:
        return _explain_previous(interp, dialogue, role)
    # Elliptical follow-ups keep the last kind of question for the new partner, row or scope.
    social = interp.intent in {"thanks", "greeting"} and interp.confidence >= ACT
    elliptical = previous and short and not social and not content_words(interp) and (
        _ELLIPTIC.match(interp.text) or not _HAS_VERB.search(interp.text))
    if elliptical and previous not in BOOK_LEVEL | {"compare"}:
        return _with_partners([Step(intent=previous, text=interp.text)], interp, dialogue, role)
    if elliptical and (e.partner_ids or interp.referenced):
        follow = "explain_score" if interp.reference == "row" else "score"  # "and the second one?" after a list
        return _with_partners([Step(intent=follow, text=interp.text)], interp, dialogue, role)
    # "fine, just ours then" after a refusal: what was asked, within the user's own access.
    if previous and dialogue.last is not None and set(dialogue.last.intents) & DECLINE and _SCOPE_BACK.search(
            interp.text) and not interp.escalation:
        return _with_partners([Step(intent=previous, text=interp.text)], interp, dialogue, role)

    top, second = interp.intents[0], interp.runner_up()
    chosen = _contextual(interp, dialogue, role, previous)
    if chosen is None and top.intent in TEXT_ONLY and len(interp.parts) == 1:
        return Decision(kind="act", steps=[Step(intent=top.intent)], confidence=top.probability)
    subject = bool(e.partner_ids or e.unknown_names or e.unknown_ids or interp.referenced)
    if chosen is None and subject and top.intent in BOOK_LEVEL and second is not None \
            and second.intent in PARTNER_LEVEL and top.probability < ACT:
        chosen = second.intent  # a partner is named: the partner-level reading
    if chosen is None and len(interp.parts) == 1 and top.probability < ASK and second is not None \
            and top.probability - second.probability < CLOSE and second.intent not in DECLINE | TEXT_ONLY \
            and _family(top.intent) != _family(second.intent) and not subject:
        readings = [top.intent, second.intent]
        named = e.partner_ids or interp.referenced
        return Decision(kind="clarify", clarify="which_reading", readings=readings, confidence=top.probability,
                        candidates=named[:3], pending=Pending(kind="which_reading", intents=readings,
                                                              candidates=named[:3]))

    steps = [Step(intent=p.intent, text=p.text) for p in interp.parts if p.intent not in DECLINE]
    if not steps:
        steps = [Step(intent=next((s.intent for s in interp.intents if s.intent not in DECLINE), "help"))]
    if len(steps) == 1:
        steps[0].intent = chosen or steps[0].intent
    elif chosen is not None:
        # A reading settled by the whole message replaces the parts that read it the unsettled way.
        steps = [s.model_copy(update={"intent": chosen}) if s.intent == top.intent else s for s in steps]
    asked = [s for s in steps if s.intent in WRITE_INTENTS]
    converted = [_safe_write(s, interp, role) for s in steps]
    steps = [s for k, s in enumerate(converted) if s.intent not in {x.intent for x in converted[:k]}]
    decision = _with_partners(steps, interp, dialogue, role)
    kept = {s.intent for s in decision.steps}
    questioned = [s for s in asked if s.intent not in kept]
    if questioned and decision.kind == "act":
        partners = next((s.partners for s in decision.steps if s.partners), [])
        decision.offer = ProposedStep(intent=questioned[0].intent, partner_ids=partners[:1], text=interp.text)
    decision.confidence = top.probability
    if decision.kind == "act" and chosen is None and top.probability < ACT and second is not None \
            and second.intent not in DECLINE | TEXT_ONLY:
        decision.alternative = second.intent
    # A write that is not sure enough: ask before recording.
    for step in decision.steps:
        part = next((p for p in interp.parts if p.text == step.text), None)
        sure = part.probability if part is not None and len(interp.parts) > 1 else top.probability
        if step.intent in WRITE_INTENTS and sure < WRITE and decision.kind == "act" and not _write_command(interp):
            return Decision(kind="clarify", clarify="confirm_write", readings=[step.intent],
                            candidates=step.partners, confidence=sure,
                            pending=Pending(kind="confirm_write", intents=[step.intent], candidates=step.partners,
                                            text=step.text or interp.text))
    return decision


_FAMILIES = ({"call_list", "grow_list", "list_partners", "book_health"}, {"score", "explain_score", "outlook"},
             {"plan", "next_steps", "nudges"}, {"biggest_gap", "playbook"})


def _family(intent: str) -> int:
    """Neighbouring readings (two kinds of list, score and its explanation): a best guess, not a question."""
    return next((k for k, family in enumerate(_FAMILIES) if intent in family), -1 - hash(intent) % 1000)


def _contextual(interp: Interpretation, dialogue: DialogueState, role: str, previous: str | None) -> str | None:
    """The reading that entities and the conversation settle where the wording alone leaves it open."""
    top = interp.intents[0]
    picked = _pick_by_entities(interp, role)
    if picked:
        return picked
    listed = dialogue.last_list is not None and dialogue.last is not None \
        and dialogue.last_list.tool in dialogue.last.tools
    # "why ..." about a partner pointed at: why it scores what it does.
    if interp.reference in {"row", "focus", "other"} and re.match(r"^\W*(?:and\s+|but\s+|so\s+)?why\b", interp.text,
                                                                 re.I) and top.intent not in {"outlook"}:
        return "explain_score"
    # A row of the list just shown: what is going on with that partner, unless the wording clearly asks for more.
    strong = top.probability >= 0.7 and top.intent in PARTNER_LEVEL - {"nudges"}
    if interp.reference == "row" and listed and not strong:
        return "explain_score"
    # One partner pointed at ("them", "that one") is not a question about the whole book.
    if interp.reference in {"focus", "row", "other"} and top.intent in BOOK_LEVEL:
        return next((s.intent for s in interp.intents if s.intent in PARTNER_LEVEL), "explain_score")
    # The same fact told again ("..., like I said") is the same statement: recorded once, said so.
    if dialogue.statement and is_progress(interp.text) and not interp.question \
            and fuzz.token_set_ratio(interp.text.lower(), dialogue.statement.lower()) >= REPEAT:
        return "report_progress"
    # The same comparison again about the same partners asks something else about each of them.
    if top.intent == "compare" and previous == "compare" and interp.reference == "list":
        if _STAKE.search(interp.text):
            return "revenue_impact"
        return next((s.intent for s in interp.intents[1:4] if s.intent in PARTNER_LEVEL and s.probability >= 0.03),
                    "score")
    if interp.reference in {"focus", "row", "other"} and _VAGUE.search(interp.text) and top.probability < 0.9:
        return "explain_score"  # "tell me more about no. 3": what is going on with that partner
    book_wide = role != "partner" and bool(_BOOK_WIDE.search(interp.text))
    # Unsure, and one of the likely readings continues the conversation: the best guess is that one (unless the
    # message turns to the whole book).
    if top.probability < ACT and previous and previous in [s.intent for s in interp.intents[:3]] and not (
            book_wide and previous in PARTNER_LEVEL):
        return previous
    if top.probability < ACT and previous and _ELLIPTIC.match(interp.text) and not book_wide:
        return previous
    if previous == "pipeline" and _ELLIPTIC.match(interp.text) and _DEAL_WORDS.search(interp.text):
        return "pipeline"  # "what about the X one, stuck in negotiation": still the pipeline
    if book_wide and top.intent in PARTNER_LEVEL and not (interp.entities.partner_ids or interp.referenced):
        return next((s.intent for s in interp.intents if s.intent in BOOK_LEVEL | {"revenue_impact", "pipeline",
                                                                                 "nudges"}), None)
    return None


def _pick_by_entities(interp: Interpretation, role: str) -> str | None:
    """Entities that settle an intent the wording leaves open: a list filter makes a count question a list_partners
    question, two or more partners named make a comparison."""
    e, top = interp.entities, interp.intent
    if _CONFIRM_COMMAND.search(interp.text) and "confirm_milestone" in allowed(role) and not interp.question:
        return "confirm_milestone"
    if _write_command(interp) and not interp.reported:
        return "confirm_milestone" if role != "partner" and re.search(r"\b(done|complete|confirmed|approved)\b",
                                                                      interp.text, re.I) else "report_progress"
    if top in {"list_partners", "call_list", "book_health"} and (e.filters.stage or e.filters.tier or e.filters.outlook
                                                                 or e.filters.stalled):
        return "list_partners"
    if role != "partner" and e.filters.dormant and _HOW_MANY.search(interp.text) \
            and not _BOOK_WIDE_HEALTH.search(interp.text):
        return "list_partners"  # how many dormant / how big is the dormant pile: a count
    if (_GAP_CUE.search(interp.text) or _WHY_NOT.search(interp.text)) and top in {
            "next_steps", "nudges", "plan", "pipeline", "revenue_impact", "score"}:
        return "biggest_gap"  # the definition's own words: what holds it back, its weakest area, what to fix first
    if _HOW_TO.match(interp.text) and top in {"call_list", "next_steps", "list_partners"} and (
            e.gap or "playbook" in [s.intent for s in interp.intents[:3]]):
        return "playbook"  # a how-to question is answered by a playbook
    if role != "partner" and top in {"revenue_impact", "list_partners"} and _MOST_AT_STAKE.search(interp.text):
        return "call_list"  # partners ranked by what is at stake: the call list
    if role != "partner" and top in {"nudges", "list_partners"} and _WHOM_TO_CALL.search(interp.text):
        return "call_list"  # whom to call, chase or reach out to: the call list
    if top == "explain_score" and not _EXPLAIN_CUE.search(interp.text) and "score" in [
            s.intent for s in interp.intents[:2]]:
        return "score"  # "what's the readiness score of X": the score, not why
    if top == "score" and _EXPLAIN_CUE.search(interp.text) and "explain_score" in [
            s.intent for s in interp.intents[:3]]:
        return "explain_score"
    if e.filters.outlook and top in {"next_steps", "nudges", "plan", "score", "explain_score"}:
        return "outlook"  # "not ever next to our name - what does that mean"
    if role != "partner" and _NEXT.search(interp.text) and top in {"nudges", "next_steps"}:
        return "plan"  # what is next for a partner: its plan's next milestone
    if top == "next_steps" and re.search(r"\bplan\b", interp.text, re.I) and "plan" in [
            s.intent for s in interp.intents[:2]]:
        return "plan"  # "and my plan?": the plan itself
    if _DEADLINE.search(interp.text) and top not in WRITE_INTENTS:
        return "plan"  # how long have we got, when is it due: the plan's dates
    if role == "partner" and _RANK.search(interp.text):
        return "score"  # how do we stack up against the others: standing, from the own score
    f = e.filters
    if top in BOOK_LEVEL | {"nudges"} and (f.stalled or f.stage or f.tier or f.outlook) \
            and re.search(r"\b(who|which|how many|list|show)\b", interp.text, re.I):
        return "list_partners"  # who is stalled / which are in tier 1: a filtered list
    if top == "score" and e.gap in {"icp", "use_case", "sales_motion", "delivery_credibility",
                                    "business_communication", "ae_engagement"}:
        return "biggest_gap"  # "what's their ICP like": the GTM diagnosis, not the overall score
    if len(e.partner_ids) >= 2 and top in {"score", "compare", "explain_score"} \
            and re.search(r"\b(vs\.?|versus|compare|compared|or|better|stronger|weaker|difference|side by side)\b",
                          interp.text, re.I):
        return "compare"
    return None


def _write_command(interp: Interpretation) -> bool:
    return bool(_WRITE_COMMAND.search(interp.text) or _CONFIRM_COMMAND.search(interp.text))


def _safe_write(step: Step, interp: Interpretation, role: str) -> Step:
    """A question never writes: a progress 'report' phrased as a question is a question about the plan or a
    how-to (the next most likely reading that does not write). Nor does someone else's claim relayed."""
    part_is_question = interp.question if not step.text else any(
        p.question for p in interp.parts if p.text == step.text)
    wish = step.intent == "report_progress" and not is_progress(step.text or interp.text)
    if step.intent in WRITE_INTENTS and (part_is_question or interp.reported or wish) and not _write_command(interp):
        fallback = next((s.intent for s in interp.intents if s.intent not in WRITE_INTENTS | DECLINE | TEXT_ONLY),
                        "plan")
        return step.model_copy(update={"intent": fallback})
    return step


def _explain_previous(interp: Interpretation, dialogue: DialogueState, role: str) -> Decision:
    last = dialogue.last
    assert last is not None
    intent = WHY.get(last.intents[0], "explain_score")
    if last.explained and intent == "explain_score":
        intent = "biggest_gap"
    partners = interp.entities.partner_ids or interp.referenced or last.partner_ids[:1] or dialogue.focus[:1]
    if intent == "explain_score" and last.intents[0] in {"call_list", "list_partners"} and dialogue.last_list:
        partners = interp.referenced or dialogue.last_list.partner_ids[:1]
    step = Step(intent=intent, partners=partners if role != "partner" else [], text=interp.text, mode="why")
    decision = _with_partners([step], interp, dialogue, role)
    return decision


def _answer_pending(interp: Interpretation, dialogue: DialogueState, role: str) -> Decision | None:
    pending = dialogue.pending
    assert pending is not None
    e = interp.entities
    yes = (interp.intent == "affirm" and not content_words(interp)) or bool(
        re.match(r"^\W*(y|yes|yeah|yep|yup|sure|ok|okay|please|do it|go ahead|correct|right|exactly)\b", interp.text,
                 re.I) and len(interp.text.split()) <= 5 and not interp.question)
    short = len(interp.text.split()) <= 6
    if pending.kind == "confirm_write" and yes:
        return Decision(kind="act", steps=[Step(intent=i, partners=pending.candidates, text=pending.text or "")
                                           for i in pending.intents])
    if pending.kind == "which_reading":
        chosen = _choose_reading(interp, pending.intents)
        if chosen is not None:
            steps = [Step(intent=chosen, partners=e.partner_ids or pending.candidates, text=interp.text)]
            return _with_partners(steps, interp, dialogue, role)
        return None
    if pending.kind in {"which_partner", "ambiguous"}:
        picked = e.partner_ids
        if not picked and pending.candidates and e.ordinal is not None:
            k = e.ordinal - 1 if e.ordinal > 0 else len(pending.candidates) + e.ordinal
            picked = [pending.candidates[k]] if 0 <= k < len(pending.candidates) else []
        if not picked and e.ambiguous and pending.candidates:
            narrowed = [c for c in e.ambiguous[0].partner_ids if c in pending.candidates]
            picked = narrowed[:1] if len(narrowed) == 1 else []
        if not picked and pending.names:
            from agent.planner.understand import pick_by_words

            by_word = pick_by_words(interp.text, pending.candidates, pending.names)
            picked = [by_word] if by_word else []
        if (picked or e.unknown_names) and (short or interp.confidence < ACT):
            partners = picked or e.unknown_names[:1]
            return Decision(kind="act", steps=[Step(intent=i, partners=partners, text=interp.text)
                                               for i in pending.intents])
    return None


def _choose_reading(interp: Interpretation, readings: list[str]) -> str | None:
    if interp.entities.ordinal in (1, 2) and len(readings) >= interp.entities.ordinal:
        return readings[interp.entities.ordinal - 1]
    if interp.entities.ordinal == -1:
        return readings[-1]
    if interp.intent in readings and interp.confidence >= 0.3:
        return interp.intent
    if interp.intent == "affirm":
        return readings[0]
    return None


def _with_partners(steps: list[Step], interp: Interpretation, dialogue: DialogueState, role: str) -> Decision:
    """Fill in each step's partners; ask which partner when a partner-level question names none and none is in
    focus, or when a name fits several partners."""
    e = interp.entities
    keep = allowed(role)
    out: list[Step] = []
    for step in steps:
        if step.intent not in keep:
            continue
        if role == "partner":
            # A partner's tools are about itself; another partner's name goes to the tool, which refuses it.
            foreign = e.unknown_names[:1] or e.unknown_ids[:1]
            out.append(step.model_copy(update={"partners": foreign}))
            continue
        if step.partners:
            out.append(step)
            continue
        if e.ambiguous and (needs_partner(step.intent, role) or step.intent in BOOK_OR_PARTNER | {"compare"}):
            focus_pick = [c for c in e.ambiguous[0].partner_ids if c in dialogue.focus[:2]]
            if len(focus_pick) == 1:
                out.append(step.model_copy(update={"partners": [*e.partner_ids, focus_pick[0]]}))
                continue
            # Look the name up (the user sees every match) and ask which one; the question waits in the state.
            return Decision(kind="act", steps=[Step(intent="find_partner", text=e.ambiguous[0].text,
                                                    then=[s.intent for s in steps])])
        explicit = e.partner_ids or e.unknown_ids or e.unknown_names
        if step.intent == "compare":
            chosen = list(explicit)
            if len(chosen) < 2:
                chosen += [p for p in (interp.referenced or dialogue.focus) if p not in chosen]
            if len(chosen) < 2:  # one partner named: its standing, not a comparison
                out.append(step.model_copy(update={"intent": "score", "partners": chosen[:1]}))
                continue
            out.append(step.model_copy(update={"partners": chosen[:3]}))
            continue
        if explicit:
            out.append(step.model_copy(update={"partners": list(explicit)[:3]}))
            continue
        if interp.referenced and interp.reference != "list":
            out.append(step.model_copy(update={"partners": interp.referenced[:1]}))
            continue
        called_list = interp.reference == "list" and dialogue.last_list is not None \
            and dialogue.last_list.tool == "list_dormant_partners"
        not_called = bool(dialogue.call_list) and interp.entities.reference == "many" \
            and bool(_NOT_CALLED.search(interp.text))
        if step.intent == "revenue_impact" and (called_list or not_called) and not _BOOK_WIDE.search(interp.text):
            out.append(step.model_copy(update={"mode": "list"}))  # "if none of them is called": the list's stake
            continue
        compared = dialogue.last_list is not None and dialogue.last_list.tool == "compare_partners"
        if interp.reference == "list" and compared and (needs_partner(step.intent, role)
                                                        or step.intent in BOOK_OR_PARTNER):
            out.append(step.model_copy(update={"partners": interp.referenced[:3]}))  # "each of them"
            continue
        if needs_partner(step.intent, role):
            inherited = dialogue.focus[:1]
            if not inherited and interp.reference == "list":
                inherited = interp.referenced[:1]
            if not inherited and _GENERIC_PARTNER.search(step.text or interp.text):
                out.append(step.model_copy(update={"intent": "playbook"}))
                continue
            if not inherited and len(steps) > 1:
                continue  # one part of several names no partner: answer the others rather than ask
            if not inherited:
                return Decision(kind="clarify", clarify="which_partner",
                                pending=Pending(kind="which_partner", intents=[s.intent for s in steps]))
            out.append(step.model_copy(update={"partners": inherited}))
            continue
        after_list = dialogue.last is not None and "list_dormant_partners" in dialogue.last.tools
        if step.intent in BOOK_OR_PARTNER and _ELLIPTIC.match(interp.text) and dialogue.focus \
                and interp.reference != "list" and not after_list:
            out.append(step.model_copy(update={"partners": dialogue.focus[:1]}))
            continue
        out.append(step)
    if not out:
        return Decision(kind="act", steps=[Step(intent="help")])
    return Decision(kind="act", steps=out)


def rejects(text: str) -> bool:
    return bool(_REJECT.search(text))


def proposal_after(decision: Decision, role: str, listed: list[str], focus: list[str]) -> ProposedStep | None:
    """The one next step the answer offers, which "ok do that" carries out."""
    intents = decision.intents
    if not intents or decision.kind != "act":
        return None
    last = intents[-1]
    partners = decision.steps[-1].partners
    if role == "partner":
        return {"score": ProposedStep(intent="explain_score"), "explain_score": ProposedStep(intent="biggest_gap"),
                "outlook": ProposedStep(intent="biggest_gap"), "plan": ProposedStep(intent="next_steps"),
                "pipeline": ProposedStep(intent="playbook", text="deal registration sourced pipeline"),
                }.get(last)
    if last == "call_list" and listed:
        return ProposedStep(intent="call_opener", partner_ids=listed[:1])
    if last in {"score", "compare"} and (partners or focus):
        return ProposedStep(intent="explain_score", partner_ids=(partners or focus)[:1])
    if last in {"explain_score", "outlook"} and (partners or focus):
        return ProposedStep(intent="call_opener", partner_ids=(partners or focus)[:1])
    if last == "biggest_gap" and (partners or focus):
        return ProposedStep(intent="plan", partner_ids=(partners or focus)[:1])
    return None
