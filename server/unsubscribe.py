"""`/nudges/unsubscribe`: the link in every nudge e-mail. The signed link is the credential (no key needed): a GET
shows a confirmation button (link scanners must not unsubscribe anyone), a POST unsubscribes, which is also what a
mail client's one-click unsubscribe (RFC 8058) sends."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from agent.services import get_services
from readiness.delivery import UNSUBSCRIBE_PATH, unsubscribe, verify_unsubscribe

router = APIRouter(include_in_schema=False)
_PAGE = ("<!doctype html><html><head><meta charset='utf-8'><title>PartnerPilot nudges</title></head>"
         "<body style='font-family:sans-serif;max-width:36em;margin:3em auto'>{body}</body></html>")


def _page(body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(body=body), status_code=status_code)


def _unsubscribe(recipient: str) -> None:
    with get_services().session() as s:
        unsubscribe(s, recipient, source="link")


@router.get(UNSUBSCRIBE_PATH)
def confirm(request: Request, r: str = Query(max_length=200), sig: str = Query(max_length=64)) -> HTMLResponse:
    if not verify_unsubscribe(request.app.state.settings, r, sig):
        return _page("<p>This unsubscribe link is not valid.</p>", 404)
    return _page(f"<p>Stop PartnerPilot nudges to <b>{escape(r)}</b>?</p>"
                 f"<form method='post'><button type='submit'>Unsubscribe</button></form>")


@router.post(UNSUBSCRIBE_PATH)
async def confirmed(request: Request, r: str = Query(max_length=200), sig: str = Query(max_length=64)
                    ) -> HTMLResponse:
    if not verify_unsubscribe(request.app.state.settings, r, sig):
        return _page("<p>This unsubscribe link is not valid.</p>", 404)
    await run_in_threadpool(_unsubscribe, r)
    return _page(f"<p><b>{escape(r)}</b> will get no more PartnerPilot nudges.</p>")


__all__ = ["router"]
