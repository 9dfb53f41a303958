"""The REST API over the domain, under `/v1`: every route scoped by the authenticated principal."""

from __future__ import annotations

from fastapi import APIRouter

from server.api import book, identity, imports, partners, plans, playbooks, signals

router = APIRouter(prefix="/v1")
for _module in (identity, partners, plans, signals, book, playbooks, imports):
    router.include_router(_module.router)
router.include_router(plans.collection)

__all__ = ["router"]
