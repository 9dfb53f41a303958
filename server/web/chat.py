"""The chat as the web page shows it: the `/stream` events and `/history` messages with the answer rendered to
sanitised HTML on the server, and tool activity labelled in words.

Streaming stays token by token: every `token` event still carries its text, and at most every `render_every_s`
one also carries `html`, the whole answer so far rendered; the page shows that HTML and appends the tokens that
arrived since as plain text. The final `message` event always carries the rendered answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from readiness.scope import Principal
from server.api.playbooks import library, visible_to
from server.schemas import HistoryMessage
from server.turns import TurnEvent
from server.web.activity import activity_label
from server.web.markdown import render_answer

RENDER_EVERY_S = 0.08


class WebTurnEvent(TurnEvent):
    html: str | None = None
    label: str | None = None


def citable_playbooks(principal: Principal) -> dict[str, str]:
    """Playbook id → title, for the playbooks this reader may open (a partner never gets a link to a PAM guide)."""
    return {pid: meta.title for pid, (meta, _body) in library().items() if visible_to(meta, principal)}


class ChatPresenter:
    """Adds `html` and `label` to one turn's events, in order."""

    def __init__(self, principal: Principal, render_every_s: float = RENDER_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.role = principal.role
        self.playbooks = citable_playbooks(principal)
        self.render_every_s = render_every_s
        self.clock = clock
        self.text = ""
        self.rendered_at: float | None = None

    def render(self, text: str) -> str:
        return render_answer(text, self.playbooks)

    def present(self, event: TurnEvent) -> WebTurnEvent:
        extra: dict[str, str] = {}
        if event.type == "token" and event.text:
            self.text += event.text
            now = self.clock()
            if self.rendered_at is None or now - self.rendered_at >= self.render_every_s:
                extra["html"] = self.render(self.text)
                self.rendered_at = now
        elif event.type == "message":
            self.text = event.text or ""
            extra["html"] = self.render(self.text)
        elif event.type in ("tool_call", "tool_result") and event.name:
            extra["label"] = activity_label(event.name, self.role)
        return WebTurnEvent(**event.model_dump(), **extra)

    def history(self, messages: list[HistoryMessage]) -> list[HistoryMessage]:
        """Assistant messages with their rendered HTML, tool calls with their labels."""
        out = []
        for m in messages:
            calls = [c.model_copy(update={"label": activity_label(c.name, self.role)}) for c in m.tool_calls]
            html = self.render(m.content) if m.role == "assistant" and m.content else None
            out.append(m.model_copy(update={"tool_calls": calls, "html": html}))
        return out


__all__ = ["ChatPresenter", "WebTurnEvent", "citable_playbooks"]
