"""The REST API (`/v1`) end to end on the lumenware program with store keys: what each principal reads and writes,
idempotent signal writes, the claim → confirm / reject loop, playbooks, uploads, and the OpenAPI contract."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from readiness.db import session_scope
from readiness.models import AuditLog, ReadinessSignal
from readiness.presentation import shown_score
from readiness.scoring import call_list, score_partner
from tests.api_support import Api
from tests.conftest import LUMENWARE_AS_OF

pytestmark = pytest.mark.xdist_group("server")
AS_OF = date.fromisoformat(LUMENWARE_AS_OF)


def test_a_pam_reads_its_call_list_and_drills_into_a_partner(api: Api) -> None:
    r = api.client.get("/v1/call-list", params={"limit": 5}, headers=api.h("pam2"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["pam_id"] == "pam-02" and body["as_of"] == LUMENWARE_AS_OF
    entries = body["entries"]
    assert entries and [e["rank"] for e in entries] == list(range(1, len(entries) + 1))
    with session_scope(api.engine) as s:
        expected = [e.partner_id for e in call_list(s, AS_OF, "pam-02", limit=5)]
    assert [e["partner_id"] for e in entries] == expected
    assert all(e["pam_id"] == "pam-02" and e["reasons"] and e["next_step"] for e in entries)
    # Ordered by priority (revenue at stake x evidence strength x urgency), the scoring engineer's call-list rule.
    priority = [e["priority"] for e in entries]
    assert priority == sorted(priority, reverse=True)

    first = entries[0]["partner_id"]
    score = api.client.get(f"/v1/partners/{first}/score", headers=api.h("pam2")).json()
    with session_scope(api.engine) as s:
        live = score_partner(s, first, AS_OF)
    assert score["score"] == shown_score(live.score) and score["tier"] == live.tier
    assert abs(sum(d["contribution"] for d in score["dimensions"]) - score["score"]) < 0.5
    assert score["weights"] == {d.key: round(d.weight, 1) for d in live.dimensions}
    assert any(s["evidence"] for d in score["dimensions"] for s in d["subsignals"])
    assert score["trend"][-1] == {"as_of": LUMENWARE_AS_OF, "score": score["score"], "tier": score["tier"],
                                  "segment": score["segment"]}
    diagnosis = api.client.get(f"/v1/partners/{first}/diagnosis", headers=api.h("pam2")).json()
    assert diagnosis["partner_id"] == first and len(diagnosis["assessments"]) == 6
    if diagnosis["top_gap"]:
        assert diagnosis["top_gap"]["playbooks"] or diagnosis["catalog_empty"]


def test_each_principal_lists_exactly_its_scope(api: Api) -> None:
    def ids(name: str) -> set[str]:
        page = api.client.get("/v1/partners", params={"limit": 500}, headers=api.h(name)).json()
        assert page["total"] == len(page["items"])
        return {p["partner_id"] for p in page["items"]}

    book2, book3, everyone = ids("pam2"), ids("pam3"), ids("leader")
    assert ids("p004") == {"p-004"} and ids("p014") == {"p-014"}
    assert "p-004" in book2 and "p-014" in book3 and not book2 & book3
    assert book2 | book3 < everyone == ids("admin") and len(everyone) == 48
    one = api.client.get("/v1/partners/p-004", headers=api.h("p004")).json()
    assert one["name"] == "Thistle Networks" and one["pam_id"] == "pam-02" and one["pam_name"]
    found = api.client.get("/v1/partners", params={"q": "thistle"}, headers=api.h("pam2")).json()
    assert [p["partner_id"] for p in found["items"]] == ["p-004"]


def test_routes_a_role_never_uses_are_refused_and_other_books_are_not_found(api: Api) -> None:
    for path in ("/v1/call-list", "/v1/lifecycle", "/v1/book", "/v1/claims", "/v1/program/health"):
        assert api.client.get(path, headers=api.h("p004")).status_code == 403, path
    assert api.client.get("/v1/program/health", headers=api.h("pam2")).status_code == 403
    assert api.client.get("/v1/call-list", params={"pam": "pam-03"}, headers=api.h("pam2")).status_code == 403
    theirs = api.client.get("/v1/call-list", params={"pam": "pam-03"}, headers=api.h("leader")).json()
    assert theirs["entries"] and {e["pam_id"] for e in theirs["entries"]} == {"pam-03"}
    assert api.client.get("/v1/call-list", params={"pam": "pam-99"}, headers=api.h("leader")).status_code == 404
    health = api.client.get("/v1/program/health", headers=api.h("leader")).json()
    assert health["partners"] == 48 and {r["pam_id"] for r in health["per_pam"]} >= {"pam-01", "pam-02", "pam-03"}
    book = api.client.get("/v1/book", headers=api.h("pam2")).json()
    assert book["partners"] == book["scored"] == sum(book["segments"].values()) == sum(book["tiers"].values())
    assert book["lifecycle"]["partners"] == book["partners"]


def test_a_signal_retried_with_its_idempotency_key_is_recorded_once(api: Api) -> None:
    body = {"dimension": "capability", "level": "high", "evidence": "Two more engineers certified in October"}
    first = api.client.post("/v1/partners/p-004/signals", json=body, headers=api.h("pam2", **{"Idempotency-Key": "k1"}))
    assert first.status_code == 201, first.text
    again = api.client.post("/v1/partners/p-004/signals", json=body, headers=api.h("pam2", **{"Idempotency-Key": "k1"}))
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.json()["created"] is False
    assert first.json()["status"] == "recorded" and first.json()["score"] is not None
    # The same key for a different signal is an error, not a silent replay.
    other = api.client.post("/v1/partners/p-004/signals", json={**body, "level": "low"},
                            headers=api.h("pam2", **{"Idempotency-Key": "k1"}))
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]
    # Keys are namespaced by caller: the partner's own "k1" is a different signal.
    own = api.client.post("/v1/partners/p-004/signals", json=body, headers=api.h("p004", **{"Idempotency-Key": "k1"}))
    assert own.status_code == 201 and own.json()["id"] != first.json()["id"] and own.json()["status"] == "claimed"
    with session_scope(api.engine) as s:
        rows = s.scalar(select(func.count()).select_from(ReadinessSignal).where(ReadinessSignal.partner_id == "p-004"))
        audits = s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "signal.record"))
    assert rows == 2 and audits == 2
    listed = api.client.get("/v1/partners/p-004/signals", headers=api.h("p004")).json()
    assert [x["id"] for x in listed] == [first.json()["id"], own.json()["id"]]
    assert api.client.post("/v1/partners/p-004/signals", json=body, headers=api.h("leader")).status_code == 403
    assert api.client.post("/v1/partners/p-004/signals", json={"dimension": "capability", "evidence": "x"},
                           headers=api.h("pam2")).status_code == 422


def test_claims_await_the_pam_who_confirms_or_rejects_them(api: Api) -> None:
    signal = api.client.post("/v1/partners/p-004/signals", headers=api.h("p004"), json={
        "dimension": "delivery_credibility", "level": "medium", "evidence": "First customer workshop delivered"}).json()
    plan = api.client.post("/v1/partners/p-004/plan", headers=api.h("p004")).json()
    assert api.client.get("/v1/partners/p-004/plan", headers=api.h("pam2")).json()["plan_id"] == plan["plan_id"]
    key = next(m["key"] for m in plan["milestones"] if m["status"] in ("open", "stalled", "overdue"))
    url = f"/v1/partners/p-004/plan/milestones/{key}"
    assert api.client.patch(url, json={"action": "claim"}, headers=api.h("pam2")).status_code == 403
    assert api.client.patch(url, json={"action": "confirm"}, headers=api.h("p004")).status_code == 403
    claimed = api.client.patch(url, json={"action": "claim", "note": "done last week"}, headers=api.h("p004"))
    assert claimed.status_code == 200 and claimed.json()["status"] == "claimed"

    waiting = api.client.get("/v1/claims", headers=api.h("pam2")).json()
    assert [(m["partner_id"], m["key"]) for m in waiting["milestones"]] == [("p-004", key)]
    assert [x["signal_id"] for x in waiting["signals"]] == [signal["id"]]
    assert api.client.get("/v1/claims", headers=api.h("pam3")).json() == {"milestones": [], "signals": []}
    # Another book's PAM cannot see the claim, let alone decide it.
    assert api.client.patch(url, json={"action": "reject"}, headers=api.h("pam3")).status_code == 404
    assert api.client.post(f"/v1/signals/{signal['id']}/review", json={"decision": "confirm"},
                           headers=api.h("pam3")).status_code == 404

    rejected = api.client.patch(url, json={"action": "reject", "note": "no evidence"}, headers=api.h("pam2"))
    assert rejected.json()["status"] in ("open", "stalled", "overdue")
    assert api.client.patch(url, json={"action": "reject"}, headers=api.h("pam2")).status_code == 409
    api.client.patch(url, json={"action": "claim"}, headers=api.h("p004"))
    assert api.client.patch(url, json={"action": "confirm"}, headers=api.h("pam2")).json()["status"] == "done"
    reviewed = api.client.post(f"/v1/signals/{signal['id']}/review", json={"decision": "confirm"},
                               headers=api.h("pam2"))
    assert reviewed.status_code == 200 and reviewed.json()["supersedes_id"] == signal["id"]
    assert api.client.get("/v1/claims", headers=api.h("pam2")).json() == {"milestones": [], "signals": []}
    assert api.client.patch("/v1/partners/p-004/plan/milestones/no_such_step", json={"action": "claim"},
                            headers=api.h("p004")).status_code == 404


def test_nudges_and_pipeline_follow_the_principal(api: Api) -> None:
    mine = api.client.get("/v1/nudges", headers=api.h("p004")).json()
    assert mine["scope"] == "partner:p-004" and all(n["partner_id"] == "p-004" for n in mine["nudges"])
    book = api.client.get("/v1/nudges", headers=api.h("pam2")).json()
    assert book["scope"] == "pam:pam-02" and book["nudges"]
    ids = {p["partner_id"] for p in api.client.get("/v1/partners", headers=api.h("pam2")).json()["items"]}
    assert {n["partner_id"] for n in book["nudges"]} <= ids
    assert api.client.get("/v1/nudges", headers=api.h("leader")).status_code == 403  # name a book or a partner
    assert api.client.get("/v1/nudges", params={"partner_id": "p-014"}, headers=api.h("pam2")).status_code == 404
    own = api.client.get("/v1/pipeline", headers=api.h("p004")).json()
    books = api.client.get("/v1/pipeline", headers=api.h("pam2")).json()
    program = api.client.get("/v1/pipeline", headers=api.h("leader")).json()
    assert own["partners_in_scope"] == 1 and books["partners_in_scope"] == len(ids)
    assert program["open_sourced"]["amount"] >= books["open_sourced"]["amount"] > 0
    assert set(own) >= {"open_sourced", "open_influenced", "won_sourced_trailing", "won_influenced_trailing"}


def test_playbooks_for_partners_exclude_pam_guides_and_render_safely(api: Api) -> None:
    every = api.client.get("/v1/playbooks", headers=api.h("pam2")).json()
    partner = api.client.get("/v1/playbooks", headers=api.h("p004")).json()
    pam_only = [p["id"] for p in every if p["audience"] == "pam"]
    assert pam_only and not {p["id"] for p in partner} & set(pam_only)
    hidden = api.client.get(f"/v1/playbooks/{pam_only[0]}", headers=api.h("p004"))
    unknown = api.client.get("/v1/playbooks/no-such-playbook", headers=api.h("p004"))
    assert hidden.status_code == unknown.status_code == 404 and hidden.json() == unknown.json()
    doc = api.client.get(f"/v1/playbooks/{partner[0]['id']}", headers=api.h("p004")).json()
    assert doc["markdown"] and doc["html"].count("<") > 3 and "<script" not in doc["html"]
    icp = api.client.get("/v1/playbooks", params={"gap": "icp"}, headers=api.h("p004")).json()
    assert icp and all("icp" in p["gaps"] for p in icp)
    found = api.client.get("/v1/playbooks/search", params={"q": "who is our ideal customer", "k": 3},
                           headers=api.h("p004")).json()
    assert found["results"] and found["results"][0]["playbook_id"] == "fx-icp-basics"
    assert not {h["playbook_id"] for h in found["results"]} & set(pam_only)
    guide = api.client.get("/v1/playbooks/search", params={"q": "dormant partner call", "gap": "ae_engagement"},
                           headers=api.h("pam2")).json()
    assert "fx-pam-dormant" in {h["playbook_id"] for h in guide["results"]}


def test_playbook_rendering_removes_scripts_and_handlers() -> None:
    from server.api.playbooks import render

    html = render("# Title\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>"
                  "\n\n[ok](https://example.com/guide)")
    assert "<h1>Title</h1>" in html and '<a href="https://example.com/guide"' in html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html


def test_an_admin_uploads_files_and_gets_the_import_report_with_quarantines(api: Api) -> None:
    partners = ("partner_id,name,type,region,country,program_tier,joined_on,pam_id\n"
                "p-901,Upload Test One,reseller,NA,US,Select,2026-01-05,pam-02\n"
                "p-902,Upload Test Two,not-a-type,NA,US,Select,2026-01-05,pam-02\n")
    files = {"files": ("partners.csv", partners.encode(), "text/csv")}
    assert api.client.post("/v1/imports", files=files, headers=api.h("leader")).status_code == 403
    r = api.client.post("/v1/imports", files=files, data={"rescore": "true"}, headers=api.h("admin"))
    assert r.status_code == 200, r.text
    report = r.json()["report"]
    assert report["files"]["partners.csv"]["inserted"] == 1 and report["total"]["quarantined"] == 1
    assert [(q["file"], q["row"]) for q in report["quarantine"]] == [("partners.csv", 3)]
    assert "type" in report["quarantine"][0]["reason"] and r.json()["rescored"] == 49
    assert api.client.get("/v1/partners/p-901", headers=api.h("pam2")).json()["name"] == "Upload Test One"
    again = api.client.post("/v1/imports", files=files, headers=api.h("admin")).json()["report"]
    assert again["files"]["partners.csv"]["inserted"] == 0 and again["files"]["partners.csv"]["unchanged"] == 1
    evil = {"files": ("../../etc/partners.csv", partners.encode(), "text/csv")}
    assert api.client.post("/v1/imports", files=evil, headers=api.h("admin")).json()["report"]["files"]
    bad_name = {"files": ("partners.exe", b"x", "text/csv")}
    assert api.client.post("/v1/imports", files=bad_name, headers=api.h("admin")).status_code == 422
    assert api.client.post("/v1/imports", files=files, data={"mapping": "nope"},
                           headers=api.h("admin")).status_code == 422


def test_admin_keys_over_rest_create_list_and_revoke(api: Api) -> None:
    made = api.client.post("/v1/keys", json={"role": "pam", "principal_id": "pam-03", "name": "crm"},
                           headers=api.h("admin"))
    assert made.status_code == 201 and made.json()["key"].startswith("pp_")
    key, key_id = made.json()["key"], made.json()["info"]["key_id"]
    listed = api.client.get("/v1/keys", headers=api.h("admin")).json()
    assert key_id in {k["key_id"] for k in listed} and key not in str(listed)
    assert api.client.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).json()["principal_id"] == "pam-03"
    assert api.client.delete(f"/v1/keys/{key_id}", headers=api.h("admin")).json()["status"] == "revoked"
    assert api.client.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert api.client.get("/v1/keys", headers=api.h("pam2")).status_code == 403
    assert api.client.post("/v1/keys", json={"role": "partner", "principal_id": "p-999"},
                           headers=api.h("admin")).status_code == 404


def test_openapi_documents_models_examples_errors_and_the_bearer_scheme(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    v1 = {p: ops for p, ops in spec["paths"].items() if p.startswith("/v1/")}
    assert len(v1) >= 20
    for path, ops in v1.items():
        for method, op in ops.items():
            ok = op["responses"].get("200") or op["responses"].get("201")
            assert ok and "schema" in ok["content"]["application/json"], (method, path)
            assert "401" in op["responses"], (method, path)
            assert op.get("security"), (method, path)
    schemas = spec["components"]["schemas"]
    for name in ("CallListResponse", "ScoreResponse", "PartnerPage", "SignalCreate", "MilestoneAction", "ErrorBody"):
        assert schemas[name].get("examples") or any("examples" in f for f in schemas[name]["properties"].values()), name
