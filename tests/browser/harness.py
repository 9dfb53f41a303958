"""Driving the web app in Debian's headless Chromium (Selenium + chromium-driver) against a real server process.

- `require_browser`: Chromium and ChromeDriver must be installed (`.ci/run` installs them); missing is a failure in
  CI and a skip elsewhere, with the install command.
- `prepare_store`: a store with a program in it and monthly score snapshots (the trend the partner cards draw).
- `Server`: `partnerpilot up` (or uvicorn) on a free 127.0.0.1 port, in its own process and home.
- `Browser`: one Chromium with an exact viewport (1280×800 or 390×844, emulated), console errors collected, the
  checks every view gets (raw Markdown markers, horizontal overflow, axe-core's rules) and screenshots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"
SIZES = {"desktop": (1280, 800), "mobile": (390, 844)}
# Markdown syntax that must never reach a reader as text.
RAW_MARKDOWN = {
    "heading": re.compile(r"(?m)^\s*#{1,6}\s+\S"),
    "bold": re.compile(r"\*\*\S|\S\*\*"),
    "code": re.compile(r"`"),
    "link": re.compile(r"\]\((?:https?:|/)"),
    "task box": re.compile(r"(?m)^\s*[-*]\s+\[[ xX]\]"),
    "table rule": re.compile(r"\|\s*:?-{3,}"),
}


def require_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed; install with: {INSTALL}"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def month_ends(as_of: date, months: int) -> list[date]:
    """The last day of each of the `months` months before as_of's month, then as_of itself."""
    days = []
    y, m = as_of.year, as_of.month
    for _ in range(months):
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        days.append(date.fromordinal(nxt.toordinal() - 1))
    return [*reversed(days), as_of]


def snapshot_history(db_url: str, as_of: date, months: int = 6) -> None:
    """Score snapshots at month ends, as a nightly rescore would have left them."""
    from readiness.db import make_engine, session_scope
    from readiness.scoring import refresh_snapshots

    engine = make_engine(db_url)
    try:
        for day in month_ends(as_of, months):
            with session_scope(engine) as s:
                refresh_snapshots(s, day)
    finally:
        engine.dispose()


SEED_PARTNERS, SEED = 650, 21  # `partnerpilot seed` with these gives pam-01 a book of exactly 200 partners


def prepare_seeded_book(home: Path, as_of: date, playbooks: Path) -> dict[str, str]:
    """A program from `partnerpilot seed` whose largest book holds 200 partners, with six months of snapshots;
    returns the server environment for it (the small fixture playbook library: the PAM home searches nothing)."""
    home.mkdir(parents=True, exist_ok=True)
    db = home / "partnerpilot.db"
    env = {"PARTNERPILOT_HOME": str(home), "PARTNERPILOT_DATABASE_URL": f"sqlite:///{db}",
           "PARTNERPILOT_AS_OF": as_of.isoformat(), "PARTNERPILOT_KNOWLEDGE_DIR": str(playbooks)}
    seeded = subprocess.run(
        [str(Path(sys.executable).parent / "partnerpilot"), "seed", "--partners", str(SEED_PARTNERS), "--seed",
         str(SEED), "--json"], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    if seeded.returncode != 0:
        raise RuntimeError(f"partnerpilot seed failed: {seeded.stderr[-2000:]}")
    snapshot_history(f"sqlite:///{db}", as_of)
    return env


def measure_ready(b: Browser, loads: int) -> dict[str, Any]:
    """Reload the current page `loads` times: navigation start to `pp-ready` (every card and chart drawn) each
    time, and the API requests of the last load (start and duration, ms)."""
    samples = []
    for _ in range(loads):
        b.driver.refresh()
        b.wait_ready()
        samples.append(float(b.js("return performance.getEntriesByName('pp-ready')[0].startTime")))
    requests = b.js("return performance.getEntriesByType('resource').filter(e => /\\/(v1|me|threads)/.test(e.name))"
                    ".map(e => [e.name.replace(location.origin, ''), Math.round(e.startTime), Math.round(e.duration)])")
    ordered = sorted(samples)
    return {"loads": loads, "ready_ms_median": round(statistics.median(samples), 1),
            "ready_ms_p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1),
            "ready_ms_min": round(ordered[0], 1), "ready_ms_max": round(ordered[-1], 1),
            "samples_ms": [round(x, 1) for x in samples], "last_load_requests": requests,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def login(self, who: str) -> str:
        """A demo token for `who` (what the sign-in form does), for checking figures against the API."""
        res = httpx.post(f"{self.url}/login", json={"as": who}, timeout=10)
        res.raise_for_status()
        return str(res.json()["token"])

    def get(self, path: str, token: str) -> Any:
        res = httpx.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        res.raise_for_status()
        return res.json()

    def send(self, method: str, path: str, token: str, body: Any = None) -> Any:
        res = httpx.request(method, f"{self.url}{path}", headers={"Authorization": f"Bearer {token}"}, json=body,
                            timeout=30)
        res.raise_for_status()
        return res.json()


@contextmanager
def serve(home: Path, env: dict[str, str], up: bool = True, timeout_s: float = 240.0) -> Iterator[Server]:
    """`partnerpilot up` (imports the sample into an empty store, builds the knowledge index, serves), or plain
    uvicorn, on a free port; stopped (by its own pid) afterwards."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    # Nothing from the caller's environment that would change who signs in or which model answers.
    ignored = ("PARTNERPILOT_API_TOKENS", "PARTNERPILOT_OIDC_JWKS", "PARTNERPILOT_REDIS_URL", "OPENAI_API_KEY",
               "OPENAI_BASE_URL", "PARTNERPILOT_MODEL")
    full_env = {k: v for k, v in os.environ.items() if k not in ignored}
    full_env.update({"PARTNERPILOT_HOME": str(home), "PARTNERPILOT_PROVIDER": "offline",
                     "PARTNERPILOT_DEMO_LOGIN": "true", "ANONYMIZED_TELEMETRY": "False",
                     "PARTNERPILOT_RATE_LIMIT_PER_MINUTE": "0", **env})  # one user clicking fast: no rate limit
    bindir = Path(sys.executable).parent
    cmd = ([str(bindir / "partnerpilot"), "up", "--port", str(port)] if up
           else [sys.executable, "-m", "uvicorn", "server.app:app", "--port", str(port), "--log-level", "warning"])
    log = home / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not up after {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield Server(url=url, proc=proc, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class ScriptedModel:
    """An OpenAI-compatible endpoint on 127.0.0.1 that answers every chat completion with one scripted answer,
    streamed in small chunks `delay_s` apart, as a hosted model streams tokens (the offline planner composes its
    answer at once, so only a model shows streaming as a reader sees it)."""

    def __init__(self, answer: str, chunk_chars: int = 6, delay_s: float = 0.03) -> None:
        import http.server
        import threading

        model = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                model.requests += 1
                if not body.get("stream"):
                    self._send_json({"id": "scripted", "object": "chat.completion", "created": 0,
                                     "model": body.get("model", "scripted"), "choices": [{
                                         "index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": model.answer}}],
                                     "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                pieces = [model.answer[k: k + chunk_chars] for k in range(0, len(model.answer), chunk_chars)]
                for k, piece in enumerate(pieces):
                    delta = {"role": "assistant", "content": piece} if k == 0 else {"content": piece}
                    self._chunk({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
                    time.sleep(delay_s)
                self._chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                self._chunk({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": len(pieces),
                                                      "total_tokens": 1 + len(pieces)}})
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _chunk(self, payload: dict[str, Any]) -> None:
                payload = {"id": "scripted", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
                           **payload}
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()

            def _send_json(self, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.answer = answer
        self.requests = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Browser:
    driver: Any
    base: str
    console: list[dict[str, Any]] = field(default_factory=list)

    # ---- navigation ------------------------------------------------------------------------------------------
    def size(self, name: str) -> None:
        width, height = SIZES[name]
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": name == "mobile"})

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)
        self.wait_ready()

    def wait_ready(self, timeout: float = 30.0, chat: bool = True) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, timeout).until(
            lambda d: d.execute_script("return document.documentElement.dataset.ready === 'true'"))
        if chat and self.driver.execute_script("return !document.getElementById('chat').hidden"):
            WebDriverWait(self.driver, timeout).until(
                lambda d: d.execute_script("return document.documentElement.dataset.chatReady === 'true'"))

    def wait(self, condition: Callable[[Any], Any], timeout: float = 20.0, message: str = "") -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout).until(condition, message)

    def sign_in(self, who: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        self.open("/")
        Select(self.driver.find_element(By.CSS_SELECTOR, "form.signin select")).select_by_value(who)
        self.driver.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()
        self.wait(lambda d: d.execute_script("return !!sessionStorage.getItem('pp.token')"))
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#identity:not([hidden])"))
        self.wait_ready()

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def css(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def one(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    # ---- checks ----------------------------------------------------------------------------------------------
    def collect_console(self) -> list[dict[str, Any]]:
        entries = list(self.driver.get_log("browser"))
        self.console.extend(entries)
        return entries

    def console_errors(self) -> list[str]:
        self.collect_console()
        return [e["message"] for e in self.console if e.get("level") == "SEVERE"]

    def raw_markdown(self) -> dict[str, list[str]]:
        text = self.js("return document.body.innerText")
        return {name: pattern.findall(text)[:3] for name, pattern in RAW_MARKDOWN.items() if pattern.search(text)}

    def horizontal_overflow(self) -> int:
        """Pixels the page scrolls sideways (tables scroll inside their own regions, the page must not)."""
        return int(self.js("return document.documentElement.scrollWidth - window.innerWidth"))

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's WCAG 2.x A/AA rules (and its best practices) over the page: violations, any impact."""
        if not self.js("return typeof window.axe === 'object'"):
            self.js(AXE.read_text(encoding="utf-8"))
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations'], runOnly: {type: 'tag', values: "
            "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
            ".then(r => done(JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, "
            "nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))))"
            ".catch(e => done(JSON.stringify([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}])));")
        return list(json.loads(result))

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def full_screenshot(self, name: str, size: str) -> Path:
        """The whole page at this width: the viewport stretched to the page's height for one capture."""
        width, height = SIZES[size]
        full = int(self.js("return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)"))
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": max(height, min(full, 12000)), "deviceScaleFactor": 1,
            "mobile": size == "mobile"})
        time.sleep(0.2)
        try:
            return self.screenshot(name)
        finally:
            self.size(size)

    def check_view(self, name: str, sizes: tuple[str, ...] = ("desktop", "mobile"), show: str | None = None
                   ) -> dict[str, Any]:
        """Every view, at each size: a screenshot (scrolled to `show` when given), no raw Markdown, no sideways
        scrolling, no serious or critical axe violation; and no console error so far. Returns the findings (the test
        asserts on them)."""
        findings: dict[str, Any] = {}
        for size in sizes:
            self.size(size)
            self.js("window.scrollTo(0, 0)")
            if show:  # the part of the page this view is about (the chat sits below the cards on a phone)
                self.js("document.querySelector(arguments[0]).scrollIntoView({block: 'end'})", show)
            time.sleep(0.2)  # layout settles after the viewport change
            width, height = SIZES[size]
            self.screenshot(f"{name}-{width}x{height}")
            self.full_screenshot(f"{name}-{width}x{height}-full", size)
            violations = self.axe()
            findings[size] = {
                "raw_markdown": self.raw_markdown(),
                "overflow_px": self.horizontal_overflow(),
                "serious": [v for v in violations if v["impact"] in ("serious", "critical")],
                "other": [v["id"] for v in violations if v["impact"] not in ("serious", "critical")],
            }
        self.size("desktop")
        findings["console_errors"] = self.console_errors()
        return findings


def assert_view_clean(findings: dict[str, Any], name: str) -> None:
    for size in ("desktop", "mobile"):
        f = findings.get(size)
        if f is None:
            continue
        assert not f["raw_markdown"], f"{name} at {size}: raw Markdown on the page: {f['raw_markdown']}"
        assert f["overflow_px"] <= 0, f"{name} at {size}: the page scrolls sideways by {f['overflow_px']} px"
        assert not f["serious"], f"{name} at {size}: serious accessibility violations: {f['serious']}"
    assert not findings["console_errors"], f"{name}: console errors: {findings['console_errors']}"


@contextmanager
def browser(base: str) -> Iterator[Browser]:
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800",
                "--disable-gpu", "--no-first-run", "--disable-extensions", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    driver.set_script_timeout(60)
    b = Browser(driver=driver, base=base)
    try:
        b.size("desktop")
        yield b
    finally:
        driver.quit()


def copy_store(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


__all__ = ["SCREENSHOTS", "SIZES", "Browser", "ScriptedModel", "Server", "assert_view_clean", "browser", "copy_store",
           "free_port", "measure_ready", "month_ends", "prepare_seeded_book", "require_browser", "serve",
           "snapshot_history"]
