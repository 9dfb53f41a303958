"""The input guard's reading of a message, before any model sees it: a request to change role or instructions, a
partner outside the principal's scope named in full, or an off-topic request, declined in code whatever model runs."""

from __future__ import annotations

from datetime import date

from agent.planner.dialogue import DialogueState
from agent.planner.policy import decline_reason
from agent.planner.understand import UnderstandingContext, get_understander, name_index
from readiness.scope import PartnerRef

# The guard declines on the classifier only when it is this sure; below it the model decides (and tools still
# enforce scope).
GUARD_CONFIDENCE = 0.5
# A full-name match this close to a partner outside the principal's scope (and closer than any partner inside it).
OUTSIDER_MATCH = 90.0


def declined_intent(text: str, role: str, visible: list[PartnerRef], outsiders: list[PartnerRef], as_of: date,
                    dialogue: DialogueState | None = None, principal_id: str = "") -> str | None:
    """'escalation' or 'out_of_scope' when the message must be declined, else None. A message that also states the
    user's own progress is left to the planner, which records that and declines the rest."""
    from agent.planner.policy import stated_progress
    from agent.planner.text import plain

    text = plain(text)
    ctx = UnderstandingContext(role=role, directory=visible, as_of=as_of, principal_id=principal_id)
    interp = get_understander().interpret(text, dialogue or DialogueState(), ctx)
    if outsiders:
        outside = name_index(outsiders).best_score(text)
        if outside >= OUTSIDER_MATCH and outside > name_index(visible).best_score(text):
            return None if stated_progress(interp) else "escalation"
    return decline_reason(interp, GUARD_CONFIDENCE)
