"""The auth matrix over every route the app serves: no key, a malformed token, an unknown key, a revoked key and an
expired key all get 401; a principal outside the resource's scope gets 404 (the same as an unknown resource), and
a role a route is not for gets 403.

Routes are enumerated from the app itself (OpenAPI paths, plus routes hidden from the schema and mounted apps), so
a route added later is covered without editing this file; only public routes are listed here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute

from server.web.pages import router as web_pages
from tests.api_support import Api

pytestmark = pytest.mark.xdist_group("server")

PUBLIC = {
    ("GET", "/"), ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/principals"), ("POST", "/login"),
    ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
    # The link in nudge e-mails: its HMAC signature is the credential (tests/test_nudge_delivery.py).
    ("GET", "/nudges/unsubscribe"), ("POST", "/nudges/unsubscribe"),
}
# The web pages are one static shell holding no data (it reads /v1 with the reader's token): public by design.
PUBLIC |= {(m, r.path) for r in web_pages.routes for m in r.methods}
PATH_VALUES = {"partner_id": "p-004", "key": "icp_workshop", "signal_id": "1", "playbook_id": "icp-worksheet",
               "thread_id": "t-1", "key_id": "0123456789ab"}
BAD_TOKENS = {
    "no key": None,
    "not a bearer": "Basic dXNlcjpwYXNz",
    "malformed": "Bearer not-a-key",
    "unknown key": "Bearer pp_0123456789ab_" + "A" * 43,
}


def _routes(app: Any) -> list[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path, ops in app.openapi()["paths"].items():
        found |= {(m.upper(), path) for m in ops}

    def walk(routes: Any) -> None:
        for r in routes:
            if isinstance(r, APIRoute) and not r.include_in_schema:
                found.update((m, r.path) for m in r.methods)
            elif hasattr(r, "original_router"):  # an included router: its hidden routes too
                walk(r.original_router.routes)
            elif type(r).__name__ == "Mount" and getattr(r, "path", "") != "/static":
                found.add(("POST", r.path + "/"))  # a mounted app (e.g. MCP) answers POST

    walk(app.routes)
    return sorted(found)


def _fill(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: PATH_VALUES.get(m.group(1), "x"), path)


def _call(api: Api, method: str, path: str, auth: str | None) -> Any:
    headers = {"Authorization": auth} if auth else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PATCH", "PUT"):
        kwargs["json"] = {}
    return api.client.request(method, _fill(path), **kwargs)


def test_every_protected_route_refuses_missing_bad_revoked_and_expired_keys(api: Api) -> None:
    routes = [r for r in _routes(api.client.app) if r not in PUBLIC]
    assert len(routes) >= 30, routes  # the REST API, the chat routes, metrics, logout
    failures = []
    for method, path in routes:
        attempts = {**BAD_TOKENS, "revoked key": f"Bearer {api.keys['revoked']}",
                    "expired key": f"Bearer {api.keys['expired']}"}
        for label, auth in attempts.items():
            r = _call(api, method, path, auth)
            if r.status_code != 401 or "detail" not in r.json():
                failures.append(f"{method} {path} with {label}: {r.status_code}")
    assert not failures, "\n".join(failures)


# (method, path, key, body): a principal whose scope does not hold the partner → 404, the same answer as for a
# partner that does not exist.
OUT_OF_SCOPE = [
    ("GET", "/v1/partners/{p}", None),
    ("GET", "/v1/partners/{p}/score", None),
    ("GET", "/v1/partners/{p}/diagnosis", None),
    ("GET", "/v1/partners/{p}/lifecycle", None),
    ("GET", "/v1/partners/{p}/plan", None),
    ("GET", "/v1/partners/{p}/signals", None),
    ("POST", "/v1/partners/{p}/signals", {"dimension": "capability", "level": "high", "evidence": "x"}),
    ("PATCH", "/v1/partners/{p}/plan/milestones/icp_workshop", {"action": "claim"}),
    ("GET", "/v1/nudges?partner_id={p}", None),
    ("GET", "/v1/pipeline?partner_id={p}", None),
]


@pytest.mark.parametrize(("caller", "target"), [("p014", "p-004"), ("pam3", "p-004"), ("pam2", "p-014")])
def test_a_partner_outside_the_scope_reads_exactly_like_one_that_does_not_exist(api: Api, caller: str,
                                                                                 target: str) -> None:
    for method, template, body in OUT_OF_SCOPE:
        if method == "PATCH" and not caller.startswith("p0"):
            continue  # only partners claim; a PAM is refused for the role first (403, tested below)
        outside = api.client.request(method, template.format(p=target), json=body, headers=api.h(caller))
        missing = api.client.request(method, template.format(p="p-nope"), json=body, headers=api.h(caller))
        assert outside.status_code == missing.status_code == 404, (method, template, outside.text)
        assert outside.json() == missing.json(), (method, template)


ROLE_REFUSALS = {
    "p004": ["GET /v1/call-list", "GET /v1/lifecycle", "GET /v1/book", "GET /v1/claims", "GET /v1/program/health",
             "GET /v1/keys", "POST /v1/keys", "DELETE /v1/keys/0123456789ab", "POST /v1/imports", "GET /metrics",
             "POST /v1/signals/1/review"],
    "pam2": ["GET /v1/program/health", "GET /v1/keys", "POST /v1/imports", "GET /metrics",
             "GET /v1/call-list?pam=pam-03", "GET /v1/book?pam=pam-03"],
    "leader": ["GET /v1/keys", "POST /v1/imports", "GET /metrics", "POST /v1/partners/p-004/signals",
               "POST /v1/partners/p-004/plan", "POST /v1/signals/1/review"],
}


@pytest.mark.parametrize("caller", sorted(ROLE_REFUSALS))
def test_a_role_a_route_is_not_for_gets_403(api: Api, caller: str) -> None:
    bodies = {"/v1/keys": {"role": "leader"}, "/v1/partners/p-004/signals": {
        "dimension": "capability", "level": "high", "evidence": "x"}, "/v1/signals/1/review": {"decision": "confirm"}}
    for spec in ROLE_REFUSALS[caller]:
        method, path = spec.split(" ", 1)
        kwargs: dict[str, Any] = {"headers": api.h(caller)}
        if method == "POST" and path == "/v1/imports":
            kwargs["files"] = {"files": ("partners.csv", b"partner_id\n", "text/csv")}
        elif method in ("POST", "PATCH"):
            kwargs["json"] = bodies.get(path.split("?")[0], {})
        r = api.client.request(method, path, **kwargs)
        assert r.status_code == 403, (caller, spec, r.status_code, r.text)
        assert "detail" in r.json()
