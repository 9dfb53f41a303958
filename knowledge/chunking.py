"""Markdown-aware, token-aware chunking of playbooks.

Each heading opens a section that remembers its heading path ("Define your ICP > Step 2: Name the trigger event").
Small sections are packed with their siblings under the same top-level heading (the chunk then carries the common
parent path, so its citation anchor still points at a heading that contains all of its text); a section above the
budget is split at paragraph, then line, then token boundaries, and only those split pieces overlap a little, so a
sentence cut at a boundary is still readable in one of them. Chunk ids are content hashes: unchanged text keeps its
id across runs, which is what lets the index re-embed only what changed.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from knowledge.tokens import count_tokens, encoding

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


class ChunkingConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    # Sections are packed together until a chunk reaches min_tokens (never beyond max_tokens).
    min_tokens: int = 180
    max_tokens: int = 320
    # Overlap between consecutive pieces of ONE split section; packed sections never overlap.
    overlap_tokens: int = 40
    # A section this small (e.g. a "Related playbooks" line) joins the previous chunk instead of standing alone.
    tiny_tokens: int = 40


class Chunk(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    playbook_id: str
    heading_path: list[str]
    anchor: str
    text: str
    tokens: int
    ordinal: int

    @property
    def heading_label(self) -> str:
        return " > ".join(self.heading_path)


@dataclass
class _Section:
    path: list[tuple[str, str]]  # (heading text, slug) from the top-level heading down
    text: str
    tokens: int = 0
    group: str = ""  # slug of the top-level heading: packing never crosses it


@dataclass
class _Draft:
    sections: list[_Section] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(self.texts)


def clean_heading(raw: str) -> str:
    text = _LINK.sub(r"\1", raw)
    return re.sub(r"[*`]|(?<!\w)_|_(?!\w)", "", text).strip()


def slugify(heading: str) -> str:
    """GitHub-style anchor: lowercase, punctuation dropped, spaces to hyphens."""
    slug = re.sub(r"[^\w\- ]", "", heading.lower(), flags=re.UNICODE)
    return slug.strip().replace(" ", "-")


def _sections(body: str) -> list[_Section]:
    sections: list[_Section] = []
    stack: list[tuple[int, str, str]] = []  # (level, heading, slug)
    seen: dict[str, int] = {}
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            path = [(h, s) for _, h, s in stack]
            sections.append(_Section(path=path, text=text, group=path[0][1] if path else ""))
        lines.clear()

    for line in body.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        m = None if in_fence else _HEADING.match(line)
        if not m:
            lines.append(line)
            continue
        flush()
        level, heading = len(m.group(1)), clean_heading(m.group(2))
        base = slugify(heading)
        # Duplicate headings get -1, -2 ... like GitHub renders them, so anchors stay unique and resolvable.
        slug = base if base not in seen else f"{base}-{seen[base]}"
        seen[base] = seen.get(base, 0) + 1
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading, slug))
        lines.append(line)
    flush()
    # A document with one title heading (a single "# Title") would otherwise be one packing group: group by the
    # level below it instead.
    top_level = min((len(m.group(1)) for m in map(_HEADING.match, body.splitlines()) if m), default=0)
    single_top = sum(1 for line in body.splitlines() if (m := _HEADING.match(line)) and len(m.group(1)) == top_level)
    for s in sections:
        s.tokens = count_tokens(s.text)
        if single_top == 1 and len(s.path) > 1:
            s.group = s.path[1][1]
    return sections


def _common_path(paths: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    common = paths[0]
    for p in paths[1:]:
        n = 0
        while n < min(len(common), len(p)) and common[n] == p[n]:
            n += 1
        common = common[:n]
    return common


def _split_units(text: str, max_tokens: int) -> list[str]:
    """Pieces of at most max_tokens: paragraphs, else lines, else raw token windows."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        if count_tokens(para) <= max_tokens:
            out.append(para)
            continue
        for line in para.splitlines():
            if count_tokens(line) <= max_tokens:
                out.append(line)
                continue
            ids = encoding().encode(line, disallowed_special=())
            out.extend(encoding().decode(ids[i : i + max_tokens]) for i in range(0, len(ids), max_tokens))
    return [u for u in out if u.strip()]


def _tail(text: str, overlap: int) -> str:
    ids = encoding().encode(text, disallowed_special=())
    if len(ids) <= overlap:
        return text
    tail = encoding().decode(ids[-overlap:])
    # Start the overlap at a word boundary so it does not open with half a word.
    return tail.split(" ", 1)[1] if " " in tail else tail


def _split_section(section: _Section, cfg: ChunkingConfig) -> list[_Section]:
    budget = cfg.max_tokens - cfg.overlap_tokens
    pieces: list[list[str]] = [[]]
    size = 0
    for unit in _split_units(section.text, budget):
        n = count_tokens(unit)
        if pieces[-1] and size + n > budget:
            pieces.append([])
            size = 0
        pieces[-1].append(unit)
        size += n
    texts = ["\n\n".join(p) for p in pieces]
    out = [texts[0]]
    for prev, cur in itertools.pairwise(texts):
        out.append(_tail(prev, cfg.overlap_tokens) + "\n\n" + cur)
    return [_Section(path=section.path, text=t, tokens=count_tokens(t), group=section.group) for t in out]


def chunk_markdown(playbook_id: str, body: str, config: ChunkingConfig | None = None) -> list[Chunk]:
    """Chunks of one playbook body (front-matter already removed), in document order."""
    cfg = config or ChunkingConfig()
    units: list[_Section] = []
    for section in _sections(body):
        units.extend(_split_section(section, cfg) if section.tokens > cfg.max_tokens else [section])

    drafts: list[_Draft] = []
    for n, unit in enumerate(units):
        current = drafts[-1] if drafts else None
        if current is not None:
            size = count_tokens(current.text + "\n\n" + unit.text)
            same_group = current.sections[-1].group == unit.group
            # A split piece already fills a chunk; its siblings must not be glued back onto it.
            packable = (
                same_group and count_tokens(current.text) < cfg.min_tokens and current.sections[-1].path != unit.path
            )
            # A tiny section alone in its group (a closing "Related playbooks" line) joins the previous chunk; a
            # tiny heading that opens a group with more sections after it stays to lead its own children.
            opens_group = n + 1 < len(units) and units[n + 1].group == unit.group
            stray = unit.tokens < cfg.tiny_tokens and (same_group or not opens_group)
            if size <= cfg.max_tokens and (packable or stray):
                current.sections.append(unit)
                current.texts.append(unit.text)
                continue
        drafts.append(_Draft(sections=[unit], texts=[unit.text]))

    chunks: list[Chunk] = []
    used: set[str] = set()
    for ordinal, draft in enumerate(drafts):
        path = _common_path([s.path for s in draft.sections]) or draft.sections[0].path
        headings = [h for h, _ in path]
        text = draft.text
        digest = hashlib.sha256("\x1f".join([playbook_id, " > ".join(headings), text]).encode()).hexdigest()
        chunk_id = f"{playbook_id}:{digest[:16]}"
        if chunk_id in used:  # identical text under an identical path twice in one file: keep both, distinctly
            chunk_id = f"{chunk_id}-{ordinal}"
        used.add(chunk_id)
        anchor = f"{playbook_id}#{path[-1][1]}" if path else playbook_id
        chunks.append(
            Chunk(
                id=chunk_id,
                playbook_id=playbook_id,
                heading_path=headings,
                anchor=anchor,
                text=text,
                tokens=count_tokens(text),
                ordinal=ordinal,
            )
        )
    return chunks


__all__ = ["Chunk", "ChunkingConfig", "chunk_markdown", "clean_heading", "slugify"]
