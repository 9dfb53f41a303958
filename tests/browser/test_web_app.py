"""The web app in a real browser (Debian's headless Chromium), against a real server process, asserting on the DOM.

Server "lumen": the sample program (evals/datasets/lumenware) with six months of score snapshots, served by
`partnerpilot up` (the `make run` path, which also builds the knowledge index). Server "book": a seeded program
(`partnerpilot seed`) whose largest PAM book holds 200 partners, for the page-ready measurement.

Every view is screenshotted at 1280×800 and 390×844 into var/screenshots/, checked with axe-core's rules (no serious
or critical violation), for raw Markdown markers and sideways scrolling; no test may leave a console error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.browser.harness import (
    SCREENSHOTS,
    Browser,
    ScriptedModel,
    Server,
    assert_view_clean,
    browser,
    measure_ready,
    prepare_seeded_book,
    require_browser,
    serve,
    snapshot_history,
)

pytestmark = [pytest.mark.xdist_group("browser"), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
LUMENWARE = ROOT / "evals" / "datasets" / "lumenware"
FIXTURE_PLAYBOOKS = ROOT / "tests" / "fixtures" / "playbooks"
AS_OF = date(2026, 10, 31)
# From the raw data (evals/datasets/lumenware/partners.csv): both in pam-02's book, both offered on the demo login.
PARTNER, OTHER_PARTNER, PAM = "p-004", "p-010", "pam-02"
READY_BUDGET_MS = 500.0
BOOK_SIZE = 200


@pytest.fixture(scope="module")
def lumen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_browser()
    from readiness.importers import import_into_sqlite_file

    home = tmp_path_factory.mktemp("web-lumen")
    db = home / "partnerpilot.db"
    import_into_sqlite_file(db, LUMENWARE)
    snapshot_history(f"sqlite:///{db}", AS_OF)
    with serve(home, {"PARTNERPILOT_DATABASE_URL": f"sqlite:///{db}", "PARTNERPILOT_AS_OF": AS_OF.isoformat()}) as s:
        yield s


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_browser()
    home = tmp_path_factory.mktemp("web-book")
    with serve(home, prepare_seeded_book(home, AS_OF, FIXTURE_PLAYBOOKS), up=False) as s:
        yield s


@pytest.fixture
def web(lumen: Server) -> Iterator[Browser]:
    with browser(lumen.url) as b:
        yield b


# ---- helpers ----------------------------------------------------------------------------------------------------


def number(text: str) -> float:
    return float(re.sub(r"[^0-9.\-]", "", text))


def js(x: float) -> str:
    """A number as the page's script writes it (35.0 reads "35")."""
    return str(int(x)) if float(x).is_integer() else str(x)


def send_chat(b: Browser, message: str) -> Any:
    """Type a message and send it with Enter; wait for the answer to finish. Returns the answer's element and the
    distinct lengths its text went through while streaming (recorded in the page by a MutationObserver)."""
    from selenium.webdriver.common.keys import Keys

    b.js("""
      window.__growth = [];
      const log = document.querySelector('.chat .log');
      window.__obs && window.__obs.disconnect();
      window.__obs = new MutationObserver(() => {
        const last = [...log.querySelectorAll('.msg.assistant')].pop();
        if (!last) return;
        const n = (last.querySelector('.md').innerText + last.querySelector('.tail').textContent).length;
        if (window.__growth[window.__growth.length - 1] !== n) window.__growth.push(n);
      });
      window.__obs.observe(log, {subtree: true, childList: true, characterData: true});
    """)
    before = len(b.css(".msg.assistant"))
    box = b.one(".composer textarea")
    box.click()
    box.send_keys(message)
    box.send_keys(Keys.ENTER)
    b.wait(lambda d: len(b.css(".msg.assistant")) > before, message="no answer bubble")
    b.wait(lambda d: b.one(".composer .stop").get_attribute("hidden") is not None, timeout=60,
           message="the answer did not finish")
    return b.css(".msg.assistant")[-1], b.js("return window.__growth")


# ---- scenarios --------------------------------------------------------------------------------------------------


def test_sign_in_page_is_labelled_and_clean(web: Browser) -> None:
    web.open("/")
    select = web.one("form.signin select")
    label = web.js("return document.querySelector(`label[for='${arguments[0].id}']`).textContent", select)
    assert label == "Sign in as"
    offered = [o.get_attribute("value") for o in web.css("form.signin option")]
    assert "leader:program" in offered and f"pam:{PAM}" in offered and f"partner:{PARTNER}" in offered
    assert web.css("#chat[hidden]"), "the chat waits for a signed-in reader"
    assert_view_clean(web.check_view("sign-in"), "sign-in")


def test_partner_sees_gauge_and_plan_claims_a_milestone_and_chats(web: Browser, lumen: Server) -> None:
    from selenium.webdriver.common.by import By

    token = lumen.login(f"partner:{PARTNER}")
    score = lumen.get(f"/v1/partners/{PARTNER}/score", token)
    web.sign_in(f"partner:{PARTNER}")

    # The gauge states the API's score and tier; every dimension shows its weight and a bar.
    gauge = web.one(".card-score svg[role=img]")
    assert gauge.get_attribute("aria-label") == f"Readiness score: {js(score['score'])} out of 100, {score['tier']}"
    assert web.one(".gauge-value").text == js(score["score"])
    assert web.one(".card-score .pill.tier").text == score["tier"]
    dims = web.css(".dimension")
    assert len(dims) == len(score["dimensions"])
    for el, d in zip(dims, score["dimensions"], strict=True):
        assert el.find_element(By.CSS_SELECTOR, ".dim-weight").text == f"weight {js(d['weight'])}%"
        assert el.find_element(By.CSS_SELECTOR, ".dim-score").text == f"{js(d['score'])}/100"
        assert el.find_elements(By.CSS_SELECTOR, "svg.bar")
    # The trend: one point per stored snapshot (six month ends and today), its numbers in a table for readers.
    trend_rows = web.css(".card-trend table.sr-only tbody tr")
    assert len(trend_rows) == len(score["trend"]) >= 7
    # The top gap links its playbooks to their pages.
    diagnosis = lumen.get(f"/v1/partners/{PARTNER}/diagnosis", token)
    links = [a.get_attribute("href") for a in web.css(".card-gap .playbooks a")]
    assert links == [f"{lumen.url}/playbooks/{p['id']}" for p in diagnosis["top_gap"]["playbooks"]]

    # No plan yet: start one, then claim its first open milestone with a note.
    web.one("button[data-action='start-plan']").click()
    web.wait(lambda d: web.css(".checklist .milestone"), message="the plan did not appear")
    plan = lumen.get(f"/v1/partners/{PARTNER}/plans", token)["active"]
    assert len(web.css(".checklist .milestone")) == len(plan["milestones"])
    first = next(m for m in plan["milestones"] if m["status"] in ("open", "overdue", "stalled"))
    item = web.one(f".milestone[data-key='{first['key']}']")
    item.find_element(By.CSS_SELECTOR, "button[data-action='claim']").click()
    note = web.one(".claim-form textarea")
    assert web.js("return document.activeElement") == note  # the form takes focus: keyboard users type at once
    note.send_keys("Ran it with our sales lead on Tuesday")
    web.one(".claim-form button[type=submit]").click()
    web.wait(lambda d: "Claimed, awaiting confirmation" in web.one(f".milestone[data-key='{first['key']}']").text,
             message="the claim is not shown")
    stored = lumen.get(f"/v1/partners/{PARTNER}/plans", token)["active"]
    assert next(m for m in stored["milestones"] if m["key"] == first["key"])["status"] == "claimed"
    assert_view_clean(web.check_view("partner-home"), "partner home")

    # Chat: a rendered, streamed answer whose citation opens its playbook page; activity in words, no tool names.
    answer, _ = send_chat(web, "Which playbook helps me define my ideal customer profile?")
    html = answer.get_attribute("innerHTML")
    assert "<ul>" in html or "<p>" in html
    citations = answer.find_elements(By.CSS_SELECTOR, ".md a[href^='/playbooks/']")
    assert citations, "no citation link in the answer"
    activity = answer.find_element(By.CSS_SELECTOR, ".activity").text
    assert "Searched the playbooks" in activity
    assert "search_playbooks" not in answer.text and "(" not in activity, "partners see no tool names or arguments"
    assert not answer.find_elements(By.CSS_SELECTOR, ".activity details"), "partners get no tool details"

    # The same score in the chat as on the page.
    scored, _ = send_chat(web, "What's my readiness score?")
    assert re.search(rf"\b{re.escape(js(score['score']))}\b", scored.text), (scored.text, score["score"])
    assert_view_clean(web.check_view("partner-chat", show="#chat"), "partner chat")

    cited = citations[0].get_attribute("href")
    pid = cited.rsplit("/", 1)[1]
    doc = lumen.get(f"/v1/playbooks/{pid}", token)
    web.driver.find_elements(By.CSS_SELECTOR, ".msg.assistant .md a[href^='/playbooks/']")[0].click()
    web.wait_ready()
    assert web.driver.current_url == cited
    assert web.one("article.playbook h1").text == doc["title"]
    assert web.css("article.playbook .prose h2"), "the playbook body is rendered"
    assert_view_clean(web.check_view("playbook"), "playbook page")

    # Back to the dashboard, then a reload: the thread is restored and scrolled to its end.
    web.driver.back()
    web.wait_ready()
    web.driver.refresh()
    web.wait_ready()
    assert len(web.css(".msg.assistant")) >= 2
    at_end = web.js("const l = document.querySelector('.chat .log');"
                    "return l.scrollHeight - l.scrollTop - l.clientHeight")
    assert at_end <= 2, f"the thread is not scrolled to its end ({at_end} px left)"
    assert len(web.css(".thread-list li button")) == 1

    # Stop: on a slow network the answer is still streaming when the reader stops it.
    web.driver.execute_cdp_cmd("Network.enable", {})
    web.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": False, "latency": 3000, "downloadThroughput": -1, "uploadThroughput": -1})
    box = web.one(".composer textarea")
    box.send_keys("What should I do this week?")
    web.one(".composer button.send").click()
    web.wait(lambda d: web.one(".composer .stop").get_attribute("hidden") is None, message="no stop button")
    web.one(".composer .stop").click()
    web.wait(lambda d: web.css(".msg.assistant .badge.stopped"), message="the answer was not stopped")
    assert web.one(".composer button.send").is_enabled()
    web.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    web.collect_console()
    assert not [e for e in web.console_errors() if "AbortError" not in e]


MODEL_ANSWER = ("## Your next step\n\nYour biggest gap is **sales motion**: you are trained but have not "
                "registered a deal.\n\n- Pick three accounts from your customer overlap.\n- Register the first deal "
                "this week.\n\n| Step | When |\n|---|---|\n| Pick accounts | Monday |\n| Register | Friday |\n\n"
                "The playbook for it: [icp-worksheet].")


@pytest.fixture(scope="module")
def modelled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, ScriptedModel]]:
    """The sample program served with the `openai` provider pointed at a scripted, streaming model."""
    require_browser()
    from readiness.importers import import_into_sqlite_file

    home = tmp_path_factory.mktemp("web-model")
    db = home / "partnerpilot.db"
    import_into_sqlite_file(db, LUMENWARE)
    model = ScriptedModel(MODEL_ANSWER)
    env = {"PARTNERPILOT_DATABASE_URL": f"sqlite:///{db}", "PARTNERPILOT_AS_OF": AS_OF.isoformat(),
           "PARTNERPILOT_PROVIDER": "openai", "OPENAI_BASE_URL": model.url, "OPENAI_API_KEY": "scripted",
           "PARTNERPILOT_MODEL": "scripted"}
    try:
        with serve(home, env, up=False) as s:
            yield s, model
    finally:
        model.close()


def test_a_model_answer_streams_token_by_token_and_renders(modelled: tuple[Server, ScriptedModel]) -> None:
    from selenium.webdriver.common.by import By

    server, model = modelled
    with browser(server.url) as b:
        b.sign_in(f"partner:{PARTNER}")
        answer, growth = send_chat(b, "What should I do next?")
        assert model.requests >= 1
        # Many visible steps while the model streams, not one jump at the end.
        assert len(growth) >= 8 and growth[:8] == sorted(growth[:8]), f"the answer did not stream: {growth}"
        md = answer.find_element(By.CSS_SELECTOR, ".md")
        assert md.find_element(By.TAG_NAME, "h4").text == "Your next step"
        assert md.find_element(By.TAG_NAME, "strong").text == "sales motion"
        assert len(md.find_elements(By.CSS_SELECTOR, "ul li")) == 2
        assert [c.text for c in md.find_elements(By.CSS_SELECTOR, "table th")] == ["Step", "When"]
        link = md.find_element(By.CSS_SELECTOR, "a[href='/playbooks/icp-worksheet']")
        assert link.text and "[" not in md.text and "**" not in md.text and "##" not in md.text
        assert not b.raw_markdown() and not b.console_errors()


def test_pam_sorts_the_call_list_confirms_a_claim_and_drills_down(web: Browser, lumen: Server) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    # A claim to confirm: the partner starts its plan and claims a milestone (over the API, as another tab would).
    partner = lumen.login(f"partner:{OTHER_PARTNER}")
    plan = lumen.send("POST", f"/v1/partners/{OTHER_PARTNER}/plan", partner)
    claim = next(m for m in plan["milestones"] if m["status"] in ("open", "overdue", "stalled"))
    lumen.send("PATCH", f"/v1/partners/{OTHER_PARTNER}/plan/milestones/{claim['key']}", partner,
               {"action": "claim", "note": "done with the AE"})
    pam = lumen.login(f"pam:{PAM}")
    calls = lumen.get("/v1/call-list?limit=100", pam)["entries"]
    web.sign_in(f"pam:{PAM}")

    rows = web.css(".card-calls tbody tr")
    assert len(rows) == len(calls)
    assert [r.get_attribute("data-key") for r in rows] == [e["partner_id"] for e in calls]

    def column(key: str) -> list[float]:
        idx = [th.get_attribute("data-key") for th in web.css(".card-calls thead th")].index(key)
        return [number(r.find_elements(By.CSS_SELECTOR, "th, td")[idx].text) for r in web.css(".card-calls tbody tr")]

    stake = web.one(".card-calls th[data-key='revenue_at_stake']")
    stake.find_element(By.TAG_NAME, "button").click()
    assert stake.get_attribute("aria-sort") == "descending"
    assert column("revenue_at_stake") == sorted(column("revenue_at_stake"), reverse=True)
    # Keyboard: focus the readiness header and press Enter.
    readiness = web.one(".card-calls th[data-key='readiness'] button")
    web.js("arguments[0].focus()", readiness)
    readiness.send_keys(Keys.ENTER)
    assert web.one(".card-calls th[data-key='readiness']").get_attribute("aria-sort") == "descending"
    assert column("readiness") == sorted(column("readiness"), reverse=True)
    readiness.send_keys(Keys.ENTER)
    assert column("readiness") == sorted(column("readiness"))
    # Filter by segment: the rows left are the API's entries of that segment.
    segment = Select(web.one(".card-calls select[data-filter='segment']"))
    wanted = calls[0]["segment"]
    segment.select_by_value(wanted)
    keys = {r.get_attribute("data-key") for r in web.css(".card-calls tbody tr")}
    assert keys == {e["partner_id"] for e in calls if e["segment"] == wanted}
    segment.select_by_value("")

    # The claim awaits confirmation; confirm it.
    row = web.one(f".card-claims tr[data-key='{OTHER_PARTNER}:{claim['key']}']")
    assert claim["title"] in row.text
    row.find_element(By.CSS_SELECTOR, "button[data-action='confirm']").click()
    web.wait(lambda d: not web.css(f".card-claims tr[data-key='{OTHER_PARTNER}:{claim['key']}']"),
             message="the confirmed claim is still listed")
    stored = lumen.get(f"/v1/partners/{OTHER_PARTNER}/plans", pam)["active"]
    assert next(m for m in stored["milestones"] if m["key"] == claim["key"])["status"] == "done"
    # Book health: the funnel's figures are the API's.
    health = lumen.get("/v1/book", pam)
    funnel = {r.find_element(By.TAG_NAME, "th").text: [c.text for c in r.find_elements(By.TAG_NAME, "td")]
              for r in web.css(".card-health .funnel-table tbody tr")}
    for st in health["lifecycle"]["stages"]:
        assert funnel[st["stage"].capitalize()][:3] == [str(st["reached"]), str(st["current"]), str(st["stalled"])]
    assert_view_clean(web.check_view("pam-home"), "PAM home")

    # Drill-down from the call list: the partner's cards plus the evidence timeline.
    target = calls[0]
    web.one(f".card-calls tr[data-key='{target['partner_id']}'] a").click()
    web.wait_ready()
    assert web.driver.current_url.endswith(f"/partners/{target['partner_id']}")
    assert web.one("main h1").text == target["name"]
    timeline = lumen.get(f"/v1/partners/{target['partner_id']}/timeline?limit=40", pam)
    assert len(web.css(".timeline li")) == len(timeline["items"]) > 0
    assert web.css(".card-timeline svg[role=img]") and web.css(".card-score svg[role=img]")
    assert_view_clean(web.check_view("drill-down"), "drill-down")


def test_leader_sees_program_health_across_books(web: Browser, lumen: Server) -> None:
    from selenium.webdriver.common.by import By

    health = lumen.get("/v1/program/health", lumen.login("leader:program"))
    web.sign_in("leader:program")
    tiles = {t.find_element(By.CSS_SELECTOR, ".tile-label").text: t.find_element(By.CSS_SELECTOR, ".tile-value").text
             for t in web.css(".tile")}
    assert tiles["Partners"] == str(health["partners"])
    assert number(tiles["Activation rate"]) == pytest.approx(health["activation_rate"] * 100, abs=0.05)
    assert number(tiles["Time to first deal"]) == pytest.approx(health["time_to_first_deal_median_days"], abs=0.5)
    books = web.css(".card-books tbody tr")
    assert {r.get_attribute("data-key") for r in books} == {r["pam_id"] for r in health["per_pam"]}
    assert_view_clean(web.check_view("leader"), "leader view")
    # A book from the program view: the PAM's call list, read-only.
    web.one(f".card-books tr[data-key='{PAM}'] a").click()
    web.wait_ready()
    assert web.css(".card-calls tbody tr") and not web.css(".card-claims button[data-action]")


def test_pam_home_of_a_200_partner_book_is_ready_and_measured(book: Server) -> None:
    """Navigation start to the last chart drawn (`pp-ready`), 200-partner book, offline model; reported in
    var/screenshots/pam-home-ready.json. The 500 ms target is `benchmarks/web_bench.py`'s to check on a quiet
    machine; here, among the other tests on two cores, a bound three times looser catches a regression."""
    leader = book.login("leader:program")
    pams = sorted(book.get("/v1/program/health", leader)["per_pam"], key=lambda r: -r["partners"])
    assert pams[0]["partners"] >= BOOK_SIZE
    with browser(book.url) as b:
        b.sign_in(f"pam:{pams[0]['pam_id']}")  # the first load also warms the server (caches, today's snapshots)
        assert b.css(".card-calls tbody tr") and b.css(".card-health svg[role=img]")
        report = {"book_partners": pams[0]["partners"], **measure_ready(b, 7),
                  "call_list_rows": len(b.css(".card-calls tbody tr")), "target_ms": READY_BUDGET_MS}
        errors = b.console_errors()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "pam-home-ready.json").write_text(json.dumps(report, indent=2))
    print(f"\nPAM home, {report['book_partners']}-partner book: ready in {report['ready_ms_median']} ms median "
          f"(min {report['ready_ms_min']}, max {report['ready_ms_max']}, {report['loads']} warm loads, "
          f"load average {report['load_average']})")
    assert not errors, errors
    assert report["ready_ms_median"] <= 3 * READY_BUDGET_MS, report
