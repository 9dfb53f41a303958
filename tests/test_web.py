"""The web layer without a browser: the Markdown renderer and its sanitising, chat events and history as the page
gets them, activity labels, plain-text excerpts, the page addresses, and the REST routes the pages added (evidence
timeline, active plan, stalled limit, activation per book, demo leader). The browser tests are in tests/browser/."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from agent.tools import ALL_TOOLS
from knowledge.excerpt import excerpt, plain_text
from readiness.db import session_scope
from readiness.gtm.facts import load_facts, load_facts_many
from readiness.lifecycle import program_lifecycle
from readiness.models import Partner
from readiness.program import program_health
from readiness.scope import Principal
from readiness.scoring import score_all
from readiness.timeline import evidence_timeline
from server.schemas import HistoryMessage, ToolCall
from server.turns import TurnEvent
from server.web.activity import FALLBACK, LABELS, activity_label
from server.web.chat import ChatPresenter
from server.web.markdown import TAGS, render_answer, render_document
from tests.api_support import Api, app_for
from tests.conftest import LUMENWARE_AS_OF

pytestmark = pytest.mark.xdist_group("server")
AS_OF = date.fromisoformat(LUMENWARE_AS_OF)
STATIC = Path(__file__).resolve().parent.parent / "server" / "static"
PLAYBOOKS = {"icp-worksheet": "Define your ICP", "pam-first-call-dormant": "The first call"}


# ---- Markdown -----------------------------------------------------------------------------------------------------


def test_answers_render_to_sanitised_html_whatever_the_model_writes() -> None:
    hostile = ("<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) "
               '<a href="#" onclick="steal()">hi</a> <style>body{}</style> <iframe src="//evil"></iframe>')
    html = render_answer(hostile, PLAYBOOKS)
    tags = re.findall(r"<(\w+)([^>]*)>", html)
    assert {name for name, _ in tags} <= TAGS | {"div"}
    assert not [attrs for _, attrs in tags if re.search(r"\son\w+=|style=|javascript:", attrs)]
    assert "&lt;script&gt;" in html  # shown as text, not run


def test_markdown_structure_becomes_html_with_no_markers_left() -> None:
    html = render_answer("## Your plan\n**35**/100 and `code`\n- one\n- two\n\n| a | b |\n|--:|---|\n| 1 | 2 |", {})
    assert "<h4>Your plan</h4>" in html  # demoted below the page's own headings
    assert "<strong>35</strong>" in html and "<code>code</code>" in html and "<li>one</li>" in html
    assert '<div class="md-table" role="region" aria-label="Table" tabindex="0"><table>' in html
    assert '<th scope="col">a</th>' in html and "style=" not in html  # the page's CSP refuses inline styles
    text = re.sub(r"<[^>]+>", "", html)
    assert "##" not in text and "**" not in text and "`" not in text and "|" not in text


def test_line_breaks_in_an_answer_are_kept() -> None:
    assert render_answer("Missing: ICP.\nEvidence: none.", {}).count("<br") == 1


def test_citations_link_to_playbook_pages_only_when_the_reader_may_open_them() -> None:
    html = render_answer("See [icp-worksheet], [unknown-guide] and [claimed].", {"icp-worksheet": "Define your ICP"})
    assert '<a href="/playbooks/icp-worksheet" rel="noopener noreferrer">Define your ICP</a>' in html
    assert "[unknown-guide]" in html and "[claimed]" in html  # not a playbook this reader may open: plain text
    # A title written before its id becomes the link instead of appearing twice, bold or not.
    for written in ("Define your ICP [icp-worksheet]", "**Define your ICP** [icp-worksheet]"):
        html = render_answer(f"- {written} — Steps: pick one", {"icp-worksheet": "Define your ICP"})
        assert html.count("Define your ICP") == 1 and "**" not in html


def test_playbook_documents_render_worksheet_boxes_and_keep_headings() -> None:
    html = render_document("## Step 1\n\n- [ ] list industries\n- [x] done\n\n<script>x</script>")
    assert "<h2>Step 1</h2>" in html and "<li>☐ list industries</li>" in html and "<li>☑ done</li>" in html
    assert "<script" not in html


# ---- excerpts -----------------------------------------------------------------------------------------------------


def test_excerpts_are_plain_text_and_never_cut_mid_word() -> None:
    chunk = ("## Step 5: Use the registration\n\nOnce approved, the registration is your ticket.\n\n"
             "- [ ] Ask for an introduction to the **AE** who owns the account (see `ae-handoff`).\n"
             "| Role | Cares about |\n|---|---|\n| Buyer | Budget |")
    text = plain_text(chunk)
    assert text.startswith("Once approved") and "##" not in text and "[ ]" not in text and "**" not in text
    assert "`" not in text and "|" not in text and "Role; Cares about" in text
    for limit in range(40, len(text), 7):
        cut = excerpt(chunk, limit)
        assert len(cut) <= limit
        stem = cut.removesuffix("…")
        assert text.startswith(stem)
        nxt = text[len(stem): len(stem) + 1]
        assert nxt in ("", " "), f"cut mid-word at {limit}: {cut!r}"


# ---- chat as the page gets it ---------------------------------------------------------------------------------------


def test_every_agent_tool_has_words_for_partners_and_staff() -> None:
    for tool in ALL_TOOLS:
        assert tool.name in LABELS, f"{tool.name} has no activity label"
    contract = re.findall(r"^\| `(\w+)` \|", (STATIC.parents[1] / "docs" / "TOOLS.md").read_text(), re.M)
    assert set(contract) <= set(LABELS)
    assert activity_label("get_readiness_score", "partner") == "Checked your readiness score"
    assert activity_label("get_readiness_score", "pam") == "Checked the readiness score"
    assert activity_label("a_tool_added_later", "partner") == FALLBACK.partner


def _presenter(role: str, ticks: list[float]) -> ChatPresenter:
    clock = iter(ticks)
    p = ChatPresenter(Principal(role=role, id="p-004" if role == "partner" else "pam-02"),  # type: ignore[arg-type]
                      render_every_s=0.08, clock=lambda: next(clock))
    p.playbooks = dict(PLAYBOOKS)
    return p


def test_streamed_tokens_carry_rendered_html_at_most_every_interval_and_the_message_always() -> None:
    p = _presenter("partner", [0.0, 0.01, 0.05, 0.09, 0.10])
    tokens = ["## Plan", "\n- **one** ", "[icp-worksheet]", "\n- two", " more"]
    shown = [p.present(TurnEvent(type="token", text=t)) for t in tokens]
    assert [e.text for e in shown] == tokens  # every token still streams as text
    with_html = [e for e in shown if e.html is not None]
    assert len(with_html) == 2  # at 0.0 and 0.09: throttled
    assert "<h4>Plan</h4>" in with_html[0].html  # type: ignore[operator]
    assert '<a href="/playbooks/icp-worksheet"' in with_html[1].html  # type: ignore[operator]
    final = p.present(TurnEvent(type="message", text="".join(tokens)))
    assert final.html is not None and "<li>two more</li>" in final.html


def test_tool_events_and_history_are_labelled_and_history_rendered() -> None:
    p = _presenter("partner", [0.0])
    call = p.present(TurnEvent(type="tool_call", name="search_playbooks", args={"query": "icp"}))
    assert call.label == "Searched the playbooks" and json.loads(call.model_dump_json())["label"]
    history = p.history([
        HistoryMessage(role="user", content="hi"),
        HistoryMessage(role="assistant", content="", tool_calls=[ToolCall(name="get_nudges", args={})]),
        HistoryMessage(role="tool", content="{}", name="get_nudges"),
        HistoryMessage(role="assistant", content="**Due now:** see [icp-worksheet]"),
    ])
    assert history[0].html is None and history[2].html is None
    assert history[1].tool_calls[0].label == "Checked what is due"
    assert history[3].html is not None and "<strong>Due now:</strong>" in history[3].html
    assert "/playbooks/icp-worksheet" in history[3].html


def test_a_partner_gets_no_link_to_a_pam_guide(api: Api) -> None:
    partner = ChatPresenter(Principal(role="partner", id="p-004"))
    pam = ChatPresenter(Principal(role="pam", id="pam-02"))
    guides = {pid for pid in pam.playbooks if pid not in partner.playbooks}
    assert guides, "the fixture library has a PAM-only guide"
    guide = sorted(guides)[0]
    assert "/playbooks/" not in partner.render(f"see [{guide}]")
    assert f"/playbooks/{guide}" in pam.render(f"see [{guide}]")


def test_stream_and_history_over_http_carry_html_and_labels(api: Api) -> None:
    r = api.client.post("/stream", json={"message": "what's my readiness score?"}, headers=api.h("p004"))
    assert r.status_code == 200
    events = [(m.group(1), json.loads(m.group(2))) for m in re.finditer(r"event: (\w+)\r?\ndata: (.*)", r.text)]
    names = [n for n, _ in events]
    assert "token" in names and "message" in names and "tool_call" in names
    assert any(d.get("html") for n, d in events if n == "token")
    message = next(d for n, d in events if n == "message")
    assert message["html"].startswith("<p>") and "**" not in message["html"]
    assert all(d["label"] == "Checked your readiness score" for n, d in events
               if n in ("tool_call", "tool_result") and d["name"] == "get_readiness_score")
    thread = events[0][1]["thread_id"]
    history = api.client.get(f"/history/{thread}", headers=api.h("p004")).json()["messages"]
    last = history[-1]
    assert last["role"] == "assistant" and last["html"] and last["content"] == message["text"]
    assert any(c["label"] for m in history for c in m["tool_calls"])


# ---- pages ----------------------------------------------------------------------------------------------------------


def test_every_page_address_serves_the_shell_and_the_icon_is_no_404(api: Api) -> None:
    for path in ("/", "/partners/p-004", "/books/pam-02", "/playbooks/icp-worksheet"):
        r = api.client.get(path)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"], path
        assert '<main id="main"' in r.text and "content-security-policy" in r.headers
    assert api.client.get("/playbooks/../etc").status_code == 404
    icon = api.client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_the_shell_preloads_every_script_module_and_references_only_files_that_exist() -> None:
    shell = (STATIC / "index.html").read_text()
    preloaded = set(re.findall(r'rel="modulepreload" href="/static/js/([\w/]+\.js)"', shell))
    modules = {str(p.relative_to(STATIC / "js")) for p in (STATIC / "js").rglob("*.js")} - {"app.js"}
    assert preloaded == modules
    for ref in re.findall(r'(?:href|src)="/static/([^"]+)"', shell):
        assert (STATIC / ref).is_file(), ref
    for js in (STATIC / "js").rglob("*.js"):
        for imp in re.findall(r'from "(\.{1,2}/[^"]+)"', js.read_text()):
            assert (js.parent / imp).resolve().is_file(), f"{js.name} imports missing {imp}"


def test_no_script_sets_html_from_anything_but_server_sanitised_values() -> None:
    for js in (STATIC / "js").rglob("*.js"):
        for line in js.read_text().splitlines():
            if "innerHTML" in line and "node.innerHTML = value.html" not in line:
                pytest.fail(f"{js.name}: innerHTML outside trustedHtml: {line.strip()}")
            assert "insertAdjacentHTML" not in line and "outerHTML" not in line and "eval(" not in line


# ---- REST routes the pages added ------------------------------------------------------------------------------------


def test_the_evidence_timeline_is_scoped_dated_and_newest_first(api: Api) -> None:
    r = api.client.get("/v1/partners/p-004/timeline", headers=api.h("p004"))
    assert r.status_code == 200, r.text
    body = r.json()
    days = [i["on"] for i in body["items"]]
    assert days == sorted(days, reverse=True) and all(d <= LUMENWARE_AS_OF for d in days)
    assert not any("login" in i["label"].lower() for i in body["items"])  # logins are counted, not listed
    assert len(body["months"]) == 12 and body["months"][-1]["month"] == LUMENWARE_AS_OF[:7]
    with session_scope(api.engine) as s:
        direct = evidence_timeline(s, "p-004", AS_OF)
    assert body["total"] == direct.total and len(body["items"]) == len(direct.items)
    logins = sum(m["counts"].get("engagement", 0) for m in body["months"])
    assert logins > 0
    # Scope: another book's partner reads as unknown.
    assert api.client.get("/v1/partners/p-014/timeline", headers=api.h("pam2")).status_code == 404
    assert api.client.get("/v1/partners/p-014/timeline", headers=api.h("p004")).status_code == 404
    assert api.client.get("/v1/partners/p-004/timeline?limit=3", headers=api.h("pam2")).json()["items"] == \
        body["items"][:3]


def test_the_active_plan_reads_null_until_created_then_the_plan(api: Api) -> None:
    assert api.client.get("/v1/partners/p-004/plans", headers=api.h("p004")).json() == {"active": None}
    created = api.client.post("/v1/partners/p-004/plan", headers=api.h("p004")).json()
    active = api.client.get("/v1/partners/p-004/plans", headers=api.h("pam2")).json()["active"]
    assert active["plan_id"] == created["plan_id"] and len(active["milestones"]) == len(created["milestones"])
    assert api.client.get("/v1/partners/p-004/plans", headers=api.h("pam3")).status_code == 404


def test_stalled_partners_can_be_limited_and_carry_names(api: Api) -> None:
    full = api.client.get("/v1/lifecycle", headers=api.h("pam2")).json()
    short = api.client.get("/v1/lifecycle?stalled_limit=2", headers=api.h("pam2")).json()
    assert short["stages"] == full["stages"] and short["stalled"] == full["stalled"][:2]
    assert sum(st["stalled"] for st in full["stages"]) == len(full["stalled"])
    with session_scope(api.engine) as s:
        names = dict(s.execute(select(Partner.partner_id, Partner.name)).all())
    assert all(lc["name"] == names[lc["partner_id"]] for lc in full["stalled"])
    book = api.client.get("/v1/book?stalled_limit=0", headers=api.h("pam2")).json()
    assert book["lifecycle"]["stalled"] == [] and book["lifecycle"]["stages"] == full["stages"]


def test_activation_rate_is_the_lifecycle_share_that_reached_activated(api: Api) -> None:
    with session_scope(api.engine) as s:
        health = program_health(s, AS_OF)
        report = program_lifecycle(s, AS_OF)
        by_book = {pam: program_lifecycle(s, AS_OF, list(s.scalars(
            select(Partner.partner_id).where(Partner.pam_id == pam)))) for pam in ("pam-01", "pam-02", "pam-03")}
    activated = next(st.reached for st in report.stages if st.stage == "activated")
    assert health.activated_partners == activated and health.activation_rate == round(activated / report.partners, 4)
    for row in health.per_pam:
        lc = by_book[row.pam_id]  # type: ignore[index]
        assert row.activated_partners == next(st.reached for st in lc.stages if st.stage == "activated")
        assert row.churn_risk == sum(1 for c in health.churn_risk if c.pam_id == row.pam_id)
    body = api.client.get("/v1/program/health", headers=api.h("leader")).json()
    assert body["activation_rate"] == health.activation_rate


def test_a_demo_leader_signs_in_and_reads_program_health(store: object) -> None:
    with TestClient(app_for(host="127.0.0.1")) as c:
        offered = [p["as"] for p in c.get("/principals").json()["principals"]]
        assert offered[0] == "leader:program"
        token = c.post("/login", json={"as": "leader:program"}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        assert c.get("/v1/program/health", headers=h).status_code == 200
        assert c.get("/me", headers=h).json()["role"] == "leader"
        assert c.post("/login", json={"as": "leader:someone"}).status_code == 404  # only what is offered
        assert c.post("/login", json={"as": "admin:root"}).status_code == 422


# ---- domain pieces the pages rely on ---------------------------------------------------------------------------


def test_facts_loaded_for_a_whole_book_equal_the_one_partner_facts(api: Api) -> None:
    with session_scope(api.engine) as s:
        ids = list(s.scalars(select(Partner.partner_id).where(Partner.pam_id == "pam-02")))
        many = load_facts_many(s, [*ids, "p-unknown"], AS_OF)
        assert set(many) == set(ids)
        for pid in ids:
            one = load_facts(s, pid, AS_OF)
            got = many[pid]
            assert got.events == one.events and got.partner is one.partner and got.profile is one.profile
            assert [o.opportunity_id for o in got.opportunities] == [o.opportunity_id for o in one.opportunities]


def test_nudges_skip_exactly_the_not_ever_partners(api: Api) -> None:
    from readiness.nudges import _not_ever, nudges_due

    with session_scope(api.engine) as s:
        ids = list(s.scalars(select(Partner.partner_id)))
        expected = {sc.partner_id for sc in score_all(s, AS_OF, ids, with_momentum=False) if sc.outlook == "not_ever"}
        assert _not_ever(s, AS_OF, ids) == expected and expected
        assert not {n.partner_id for n in nudges_due(s, AS_OF)} & expected


def test_the_grow_list_is_the_domain_list_for_the_callers_book(api: Api) -> None:
    from readiness.scoring import growth_list

    body = api.client.get("/v1/grow-list?limit=25", headers=api.h("pam2")).json()
    with session_scope(api.engine) as s:
        expected = [e.partner_id for e in growth_list(s, AS_OF, "pam-02", limit=25)]
    assert body["pam_id"] == "pam-02" and [e["partner_id"] for e in body["entries"]] == expected
    assert all(e["influenced_count"] > 0 for e in body["entries"])
    assert api.client.get("/v1/grow-list", headers=api.h("p004")).status_code == 403
    assert api.client.get("/v1/grow-list?pam=pam-03", headers=api.h("pam2")).status_code == 403
    program = api.client.get("/v1/grow-list?pam=pam-02&limit=25", headers=api.h("leader")).json()
    assert program["entries"] == body["entries"]
