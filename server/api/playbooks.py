"""`/v1/playbooks`: the enablement library: list, search, one playbook rendered. A partner key sees the playbooks
written for partners; PAM guides are not found for it (the same 404 as an unknown id)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from agent.services import get_services
from knowledge.catalog import GAPS, PlaybookMeta, load_playbooks, playbook_dir
from knowledge.excerpt import excerpt
from readiness.lifecycle import has_customers
from readiness.models import Partner
from readiness.scope import Principal
from readiness.settings import get_settings
from server.api.models import PlaybookDocument, PlaybookHit, PlaybookSearch, PlaybookSummary
from server.api.scope import not_found
from server.auth import current_principal
from server.errors import ErrorBody
from server.web.markdown import render_document

router = APIRouter(prefix="/playbooks", tags=["playbooks"],
                   responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}, 429: {"model": ErrorBody}})
GapQuery = Query(None, pattern="^(" + "|".join(GAPS) + ")$", description="Only playbooks for this gap.")


def _stamp(folder: Path) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.md")))


@lru_cache(maxsize=4)
def _library(folder: str, stamp: tuple[tuple[str, int], ...]) -> dict[str, tuple[PlaybookMeta, str]]:
    return {meta.id: (meta, body) for meta, body in load_playbooks(Path(folder))}


def library() -> dict[str, tuple[PlaybookMeta, str]]:
    """Every playbook by id, re-read when a file in the folder changes."""
    folder = playbook_dir()
    return _library(str(folder), _stamp(folder))


def visible_to(meta: PlaybookMeta, principal: Principal) -> bool:
    return principal.role != "partner" or meta.audience in ("partner", "both")


def _summary(meta: PlaybookMeta) -> PlaybookSummary:
    return PlaybookSummary(id=meta.id, title=meta.title, gaps=list(meta.gaps), phase=meta.phase,
                           partner_types=list(meta.partner_types), audience=meta.audience,
                           requires_customers=meta.requires_customers, updated_on=meta.updated_on,
                           word_count=meta.word_count)


def render(markdown: str) -> str:
    """Markdown to HTML, sanitised (server.web.markdown: the one renderer, shared with the chat)."""
    return render_document(markdown)


@router.get("", response_model=list[PlaybookSummary], summary="Playbooks you may read")
def list_playbooks(gap: str | None = GapQuery, principal: Principal = Depends(current_principal)
                   ) -> list[PlaybookSummary]:
    return [_summary(meta) for meta, _ in library().values()
            if visible_to(meta, principal) and (gap is None or gap in meta.gaps)]


@router.get("/search", response_model=PlaybookSearch, summary="Search the playbooks")
async def search_playbooks(
    q: str = Query(min_length=1, max_length=500, description="A question or keywords."),
    gap: str | None = GapQuery,
    k: int = Query(5, ge=1, le=20),
    principal: Principal = Depends(current_principal),
) -> PlaybookSearch:
    """Hybrid search (embeddings + BM25). A partner gets playbooks for its business model and stage."""

    def run() -> PlaybookSearch:
        partner_type, customers = None, None
        if principal.role == "partner":
            with get_services().session() as s:
                own = s.get(Partner, principal.id)
                partner_type = own.type if own else None
                customers = has_customers(s, principal.id, get_settings().today())
        hits = get_services().kb().search(q, k=k, gaps=[gap] if gap else None,
                                          audience="partner" if principal.role == "partner" else "pam",
                                          partner_type=partner_type, has_customers=customers)
        return PlaybookSearch(query=q, gap=gap, results=[
            PlaybookHit(playbook_id=h.playbook_id, title=h.title, heading_path=h.heading_path, anchor=h.anchor,
                        excerpt=excerpt(h.text, 400), score=round(h.score, 3)) for h in hits])

    return await run_in_threadpool(run)


@router.get("/{playbook_id}", response_model=PlaybookDocument, summary="One playbook, rendered")
def get_playbook(playbook_id: str = PathParam(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=100),
                 principal: Principal = Depends(current_principal)) -> PlaybookDocument:
    found = library().get(playbook_id)
    if found is None or not visible_to(found[0], principal):
        raise not_found("playbook not found")
    meta, body = found
    return PlaybookDocument(**_summary(meta).model_dump(), markdown=body, html=render(body))


__all__ = ["library", "render", "router"]
