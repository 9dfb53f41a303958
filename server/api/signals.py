"""`/v1/partners/{id}/signals` and `/v1/signals/{id}/review`: readiness signals written back by people and systems.

`POST` takes an `Idempotency-Key` header: the key (namespaced by the caller, so two callers cannot collide) becomes
the signal's unique idempotency key in the store, so a retry, even concurrent with the first attempt, returns the
first result and writes nothing. Reusing a key for a different signal is refused.
"""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from fastapi import Path as PathParam

from agent.services import get_services
from readiness.models import ReadinessSignal
from readiness.scope import Principal
from readiness.settings import get_settings
from readiness.signals import SignalIn, SignalOut, record_signal, review_signal, signal_history
from server.api.models import SignalCreate, SignalReview
from server.api.partners import PartnerIdPath
from server.api.scope import forbidden, in_scope, not_found, partner_in_scope
from server.auth import current_principal
from server.errors import ErrorBody
from server.readcache import partner_read

router = APIRouter(tags=["signals"], responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                                                 404: {"model": ErrorBody}, 429: {"model": ErrorBody}})
SOURCE_OF_ROLE = {"partner": "partner", "pam": "pam", "admin": "import"}


def store_key(principal: Principal, header: str) -> str:
    return f"api:{principal.actor[:60]}:{hashlib.sha256(header.encode()).hexdigest()[:40]}"


def _same_request(out: SignalOut, partner_id: str, body: SignalCreate) -> bool:
    return (out.partner_id, out.dimension, out.level, out.value, out.evidence or "") == (
        partner_id, body.dimension, body.level, body.value, body.evidence.strip())


@router.get("/partners/{partner_id}/signals", response_model=list[SignalOut], summary="Signal history")
def list_signals(request: Request, partner_id: str = PartnerIdPath, principal: Principal = Depends(current_principal)
                 ) -> list[SignalOut] | Response:
    """Every signal of the partner, oldest first: originals and the reviews that supersede them."""
    def run() -> list[SignalOut]:
        with get_services().session() as s:
            return signal_history(s, partner_id)

    return partner_read(request, principal, partner_id, "signals", in_scope(principal, partner_id), run)


@router.post("/partners/{partner_id}/signals", response_model=SignalOut, status_code=status.HTTP_201_CREATED,
             summary="Record a readiness signal (idempotent with Idempotency-Key)",
             responses={200: {"model": SignalOut, "description": "a retry: the first result, nothing written"},
                        422: {"model": ErrorBody}})
def create_signal(
    body: SignalCreate,
    response: Response,
    partner_id: str = PartnerIdPath,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", min_length=1, max_length=200,
                                         pattern=r"^[\x21-\x7e]+$",
                                         description="Any unique string per signal; a retry sends the same one."),
    principal: Principal = Depends(current_principal),
) -> SignalOut:
    """A partner's own signal awaits its PAM's confirmation; a PAM's counts at once; an admin key records it as an
    import. The partner is rescored at once (`score` in the answer)."""
    source = SOURCE_OF_ROLE.get(principal.role)
    if source is None:
        raise forbidden("signals are written by the partner, its PAM or an admin key")
    if body.level is None and body.value is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="give a level (low|medium|high) or a value")
    with get_services().session() as s:
        partner_in_scope(s, principal, partner_id)
        out = record_signal(s, SignalIn(
            partner_id=partner_id, dimension=body.dimension, level=body.level, value=body.value,
            evidence=body.evidence, source=source, actor=principal.actor,
            idempotency_key=store_key(principal, idempotency_key) if idempotency_key else None,
        ), as_of=get_settings().today())
    if not out.created:
        if not _same_request(out, partner_id, body):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                detail="this Idempotency-Key was already used for a different signal")
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return out


@router.post("/signals/{signal_id}/review", response_model=SignalOut, summary="Confirm, reject or override a signal")
def review(body: SignalReview, signal_id: int = PathParam(ge=1, le=2**62),
           principal: Principal = Depends(current_principal)) -> SignalOut:
    """The partner's PAM appends a review that supersedes the signal (append-only); a retried review adds nothing."""
    if principal.role != "pam":
        raise forbidden("only a partner's PAM reviews its signals")
    with get_services().session() as s:
        row = s.get(ReadinessSignal, signal_id)
        if row is None:
            raise not_found("signal not found")
        try:
            partner_in_scope(s, principal, row.partner_id)
        except HTTPException as exc:
            raise not_found("signal not found") from exc
        return review_signal(s, signal_id, principal.id, body.decision, value=body.value, level=body.level,
                             note=body.note, as_of=get_settings().today())


__all__ = ["router", "store_key"]
