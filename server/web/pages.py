"""The web app's pages: one HTML shell for every page address; the page's script reads the address, signs in and
draws each view from the REST API (`/v1`) with the reader's own bearer token. No page figure is computed here.

Addresses: `/` (the reader's home: partner, PAM or leader), `/partners/{id}` (drill-down), `/books/{pam_id}` (a
leader looking at one PAM's book), `/playbooks/{id}` (a playbook, rendered from the knowledge base).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response

from server.api.scope import PARTNER_ID

STATIC = Path(__file__).resolve().parent.parent / "static"
SHELL = STATIC / "index.html"
ICON = STATIC / "favicon.svg"
SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

router = APIRouter(include_in_schema=False)


def shell() -> FileResponse:
    # The shell holds no data; revalidating keeps a new release's script and markup in step.
    return FileResponse(SHELL, media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/")
def home() -> FileResponse:
    return shell()


@router.get("/partners/{partner_id}")
def partner_page(partner_id: str = PathParam(pattern=PARTNER_ID)) -> FileResponse:
    return shell()


@router.get("/books/{pam_id}")
def book_page(pam_id: str = PathParam(pattern=PARTNER_ID)) -> FileResponse:
    return shell()


@router.get("/playbooks/{playbook_id}")
def playbook_page(playbook_id: str = PathParam(pattern=SLUG, max_length=100)) -> FileResponse:
    return shell()


@router.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page links; answer with the page's icon instead of a 404."""
    return FileResponse(ICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


__all__ = ["router"]
