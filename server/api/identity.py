"""`/v1/me` (who the key acts as) and `/v1/keys` (admin: the same key management as `partnerpilot keys`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, status
from fastapi import Path as PathParam

from agent.services import get_services
from readiness.keys import KeyInfo, create_key, expiry_of, list_keys, revoke_key
from readiness.models import Pam, Partner
from readiness.scope import Principal
from server.api.models import KeyCreate, KeyCreated, Me
from server.api.scope import not_found
from server.auth import current_principal, require_roles
from server.errors import ErrorBody

router = APIRouter(tags=["identity"], responses={401: {"model": ErrorBody}, 429: {"model": ErrorBody}})
admin_only = require_roles("admin")


@router.get("/me", response_model=Me, summary="Who this key acts as")
def me(request: Request, principal: Principal = Depends(current_principal)) -> Me:
    with get_services().session() as s:
        row = s.get(Partner, principal.id) if principal.role == "partner" else (
            s.get(Pam, principal.id) if principal.role == "pam" else None)
        name = row.name if row is not None else None
    return Me(role=principal.role, principal_id=principal.id, name=name, credential=request.state.credential.kind)


@router.get("/keys", response_model=list[KeyInfo], summary="API keys (admin)", responses={403: {"model": ErrorBody}})
def keys(principal: Principal = Depends(admin_only)) -> list[KeyInfo]:
    with get_services().session() as s:
        return list_keys(s)


@router.post("/keys", response_model=KeyCreated, status_code=status.HTTP_201_CREATED, summary="Create a key (admin)",
             responses={403: {"model": ErrorBody}, 404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
def new_key(body: KeyCreate, principal: Principal = Depends(admin_only)) -> KeyCreated:
    """The secret is in this answer only; the store keeps its hash."""
    expires = expiry_of(body.expires_on) if body.expires_on else None
    with get_services().session() as s:
        made = create_key(s, body.role, body.principal_id, name=body.name, expires_at=expires,
                          created_by=principal.actor)
    return KeyCreated(key=made.key, info=made.info)


@router.delete("/keys/{key_id}", response_model=KeyInfo, summary="Revoke a key (admin)",
               responses={403: {"model": ErrorBody}, 404: {"model": ErrorBody}})
def delete_key(key_id: str = PathParam(pattern=r"^[0-9a-f]{12}$"), principal: Principal = Depends(admin_only)
               ) -> KeyInfo:
    """Every worker refuses the key from the next request on."""
    with get_services().session() as s:
        if not any(k.key_id == key_id for k in list_keys(s)):
            raise not_found("key not found")
        return revoke_key(s, key_id, actor=principal.actor)


__all__ = ["router"]
