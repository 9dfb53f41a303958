"""Plain-text excerpts of playbook chunks, for answers and search results.

A chunk is Markdown (a heading line, lists with `- [ ]` boxes, tables, emphasis); shown inside a sentence it must
read as text: no `##`, no `- [ ]`, no `**`, no table pipes, and never cut mid-word ("the appro"). The heading is
dropped because results carry it separately (`heading_path`).
"""

from __future__ import annotations

import re

_HEADING = re.compile(r"^#{1,6}\s")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")
_LIST_MARK = re.compile(r"^(?:[-*+]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?")
_QUOTE = re.compile(r"^>\s?")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EM = re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])|(?<!\w)_(?=\S)([^_]+?)(?<=\S)_(?!\w)")
_CODE = re.compile(r"`([^`]*)`")
_SENTENCE_END = re.compile(r"[.!?](?=\s)")


def plain_text(markdown: str) -> str:
    """The chunk's words with the Markdown syntax taken out, on one line."""
    parts: list[str] = []
    for raw in markdown.splitlines():
        line = raw.strip()
        if not line or _HEADING.match(line) or _TABLE_RULE.match(line):
            continue
        line = _QUOTE.sub("", _LIST_MARK.sub("", line))
        if line.startswith("|"):
            line = "; ".join(cell.strip() for cell in line.strip("|").split("|") if cell.strip())
        parts.append(line)
    text = " ".join(parts)
    text = _LINK.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    text = _STRONG.sub(r"\2", text)
    text = _EM.sub(lambda m: m.group(1) or m.group(2), text)
    return " ".join(text.split())


def excerpt(markdown: str, limit: int = 220) -> str:
    """At most `limit` characters of plain text, ending at a sentence end when one falls in the last 40%, else at a
    word boundary with an ellipsis."""
    text = plain_text(markdown)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    ends = [m.end() for m in _SENTENCE_END.finditer(cut + " ")]
    if ends and ends[-1] >= limit * 0.6:
        return cut[: ends[-1]]
    space = cut.rfind(" ")
    return (cut[:space] if space > 0 else cut).rstrip(" ,;:—–-") + "…"


__all__ = ["excerpt", "plain_text"]
