"""Markdown to sanitised HTML: the one renderer for the assistant's answers and the playbook pages.

markdown-it-py parses with raw HTML off (a `<script>` in the source comes out as text), then nh3 keeps only the tags
and attributes listed here, so nothing executable, no inline style (the page's CSP would refuse it) and no
`javascript:` URL reaches the browser whatever the model writes. Chat answers also get:
- citations: a playbook id in square brackets (`[icp-worksheet]`, how the agent is told to cite) that the reader may
  open becomes a link to its page, `/playbooks/{id}`, titled; an id the reader may not open stays plain text;
- line breaks kept (answers are written line by line) and headings demoted below the page's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

TAGS = {
    "a", "p", "br", "hr", "ul", "ol", "li", "strong", "em", "del", "code", "pre", "blockquote",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"scope"}}
URL_SCHEMES = {"http", "https", "mailto"}
# A table can be wider than a chat bubble or a phone: it scrolls inside a focusable, named region.
TABLE_WRAP = '<div class="md-table" role="region" aria-label="Table" tabindex="0"><table>'
# Worksheet check boxes ("- [ ] step") read as boxes, not brackets.
TASK = re.compile(r"<li>\[([ xX])\] ")
CITATION = re.compile(r"\[([a-z0-9]+(?:-[a-z0-9]+)*)\](?![(:\[])")


def _parser(breaks: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": breaks, "typographer": False})
    md.enable(["table", "strikethrough"])
    return md


_DOCUMENT = _parser(breaks=False)
_CHAT = _parser(breaks=True)


def _demote_headings(tokens: list[Token], by: int) -> None:
    for tok in tokens:
        if tok.type in ("heading_open", "heading_close"):
            tok.tag = f"h{min(6, int(tok.tag[1]) + by)}"


def _header_scope(tokens: list[Token]) -> None:
    for tok in tokens:
        if tok.type == "th_open":
            tok.attrs = {"scope": "col"}  # drops markdown-it's inline text-align style
        elif tok.type == "td_open":
            tok.attrs = {}


def _clean(html: str) -> str:
    safe = nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="noopener noreferrer")
    safe = TASK.sub(lambda m: f"<li>{'☑' if m.group(1) in 'xX' else '☐'} ", safe)
    return safe.replace("<table>", TABLE_WRAP).replace("</table>", "</table></div>")


def render_document(markdown: str, heading_offset: int = 0) -> str:
    """A whole Markdown document (a playbook) as sanitised HTML."""
    tokens = _DOCUMENT.parse(markdown)
    _demote_headings(tokens, heading_offset)
    _header_scope(tokens)
    return _clean(_DOCUMENT.renderer.render(tokens, _DOCUMENT.options, {}))


def _escape_link_text(text: str) -> str:
    return re.sub(r"([\\\[\]*_`<>])", r"\\\1", text)


def link_citations(text: str, playbooks: Mapping[str, str]) -> str:
    """`[id]` → a Markdown link to the playbook's page, titled. When the title is written just before the id
    ("ICP worksheet [icp-worksheet]"), the title itself becomes the link rather than appearing twice."""

    def replace(m: re.Match[str]) -> str:
        pid = m.group(1)
        title = playbooks.get(pid)
        if title is None:
            return m.group(0)
        return f"[{_escape_link_text(title)}](/playbooks/{pid})"

    for pid, title in playbooks.items():
        if f"[{pid}]" in text and title:
            text = re.sub(r"(?:\*{1,2}|_{1,2})?" + re.escape(title) + r"(?:\*{1,2}|_{1,2})?[ \t]*(?=\[" + re.escape(pid)
                          + r"\])", "", text)
    return CITATION.sub(replace, text)


def render_answer(text: str, playbooks: Mapping[str, str], heading_offset: int = 2) -> str:
    """An assistant answer as sanitised HTML, citations linked to the playbooks the reader may open."""
    tokens = _CHAT.parse(link_citations(text, playbooks))
    _demote_headings(tokens, heading_offset)
    _header_scope(tokens)
    return _clean(_CHAT.renderer.render(tokens, _CHAT.options, {}))


__all__ = ["link_citations", "render_answer", "render_document"]
