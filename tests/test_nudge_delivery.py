"""Nudges that reach people: e-mail to a local aiosmtpd server and a Slack-compatible webhook to a local receiver,
each nudge once per window and recipient (also when runs race), unsubscribes, retries after a failure, and
nothing sent without configuration. Lumenware as of 2026-10-31 (20 nudges due over three PAMs' books)."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from readiness.db import make_engine, session_scope
from readiness.delivery import deliver, unsubscribe_url
from readiness.importers import import_dataset
from readiness.models import NudgeDelivery, Pam, Partner
from readiness.nudges import nudges_due
from readiness.senders import senders_for
from readiness.settings import Settings
from tests.conftest import LUMENWARE, LUMENWARE_AS_OF
from tests.live import free_port

AS_OF = date.fromisoformat(LUMENWARE_AS_OF)


class Inbox:
    """aiosmtpd handler: keeps every message it is handed."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"


class Hook:
    """A local Slack-compatible webhook receiver; `fail` makes it answer 500."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.fail = False
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.fail:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"down")
                    return
                hook.payloads.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/nudges"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    thread = threading.Thread(target=h.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield h
    finally:
        h.server.shutdown()


@pytest.fixture
def store(lumenware_db: Path, tmp_path: Path) -> Iterator[Engine]:
    db = tmp_path / "store.db"
    shutil.copyfile(lumenware_db, db)
    engine = make_engine(f"sqlite:///{db}")
    yield engine
    engine.dispose()


def _settings(inbox: tuple[Inbox, int], hook: Hook, **extra: Any) -> Settings:
    return Settings(smtp_host="127.0.0.1", smtp_port=inbox[1], smtp_security="none",
                    smtp_from="pilot@lumenware.example", nudge_webhook_url=hook.url, secret_key="test-secret",
                    public_url="http://pilot.lumenware.example", **extra)


def _due_by_pam(engine: Engine, as_of: date) -> dict[str, tuple[str, list[Any]]]:
    with session_scope(engine) as s:
        due = nudges_due(s, as_of)
        owner = dict(s.execute(select(Partner.partner_id, Partner.pam_id)).all())
        emails = dict(s.execute(select(Pam.pam_id, Pam.email)).all())
    out: dict[str, tuple[str, list[Any]]] = {}
    for n in due:
        out.setdefault(owner[n.partner_id], (emails[owner[n.partner_id]], []))[1].append(n)
    return out


def _send(engine: Engine, settings: Settings, as_of: date = AS_OF, **kw: Any) -> Any:
    return deliver(engine, settings, as_of, senders_for(settings, as_of), **kw)


def test_each_pam_gets_one_email_and_one_webhook_post_with_their_own_nudges(
        store: Engine, inbox: tuple[Inbox, int], hook: Hook) -> None:
    settings = _settings(inbox, hook)
    expected = _due_by_pam(store, AS_OF)
    report = _send(store, settings)
    assert report.due == sum(len(v[1]) for v in expected.values()) == 20 and report.failed == 0
    mails = {m["To"]: m for m in inbox[0].messages}
    assert set(mails) == {email for email, _ in expected.values()}
    for _pam, (email, nudges) in expected.items():
        body = mails[email].get_payload(decode=True).decode()
        for n in nudges:  # every nudge of this book, with its reason and next step, and none of another book's
            assert f"{n.name} ({n.partner_id}): {n.reason}" in body and n.next_step in body
        others = [n for p, (_, ns) in expected.items() if p != _pam for n in ns]
        assert not any(f"({n.partner_id})" in body for n in others)
        assert mails[email]["List-Unsubscribe"].startswith("<http://pilot.lumenware.example/nudges/unsubscribe?")
        assert mails[email]["Subject"] == f"PartnerPilot: {len(nudges)} nudges in your book (2026-10-31)"
    assert len(hook.payloads) == len(expected)
    posted = {p["blocks"][0]["text"]["text"]: p for p in hook.payloads}
    assert all(p["text"] and len(p["blocks"]) > 1 for p in posted.values())

    # A re-run within the window sends nothing: every nudge is already delivered to its recipient.
    again = _send(store, settings)
    assert again.sent == 0 and {o.status for o in again.outcomes} == {"nothing_new"}
    assert sum(o.already_sent for o in again.outcomes) == 2 * 20  # e-mail and webhook
    assert len(inbox[0].messages) == len(expected) and len(hook.payloads) == len(expected)
    # A week later the nudges still due are in a new window: one reminder each.
    later = AS_OF + timedelta(days=settings.nudge_window_days)
    still_due = sum(len(v[1]) for v in _due_by_pam(store, later).values())
    reminder = _send(store, settings, as_of=later)
    assert reminder.sent == 2 * still_due > 0


def test_dry_run_and_missing_configuration_send_and_record_nothing(
        store: Engine, inbox: tuple[Inbox, int], hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(inbox, hook)
    dry = deliver(store, settings, AS_OF, {}, dry_run=True)
    assert {o.status for o in dry.outcomes} == {"dry_run"} and sum(o.nudges for o in dry.outcomes) == 2 * 20
    assert inbox[0].messages == [] and hook.payloads == []

    import partnerpilot.cli.common as common
    from partnerpilot.cli import app

    monkeypatch.setattr(common, "_engine", store)
    for var in ("SMTP_HOST", "NUDGE_WEBHOOK_URL"):
        monkeypatch.delenv(f"PARTNERPILOT_{var}", raising=False)
    from readiness.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["nudges", "send", "--as-of", LUMENWARE_AS_OF])
    assert result.exit_code == 2 and "no delivery channel is configured" in result.output
    monkeypatch.setenv("PARTNERPILOT_SMTP_HOST", "127.0.0.1")  # a host without a sender is refused, not guessed
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["nudges", "send", "--as-of", LUMENWARE_AS_OF])
    assert result.exit_code == 2 and "PARTNERPILOT_SMTP_FROM" in result.output
    get_settings.cache_clear()
    with session_scope(store) as s:
        assert s.scalar(select(func.count()).select_from(NudgeDelivery)) == 0
    assert inbox[0].messages == []


def test_cli_send_for_one_pam_then_idempotent(store: Engine, inbox: tuple[Inbox, int], hook: Hook,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import partnerpilot.cli.common as common
    from partnerpilot.cli import app
    from readiness.settings import get_settings

    monkeypatch.setattr(common, "_engine", store)
    env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(inbox[1]), "SMTP_SECURITY": "none",
           "SMTP_FROM": "pilot@lumenware.example", "NUDGE_WEBHOOK_URL": hook.url}
    for k, v in env.items():
        monkeypatch.setenv(f"PARTNERPILOT_{k}", v)
    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(app, ["nudges", "send", "--pam", "pam-02", "--as-of", LUMENWARE_AS_OF, "--json"])
        assert first.exit_code == 0, first.output
        data = json.loads(first.stdout)
        pam2 = _due_by_pam(store, AS_OF)["pam-02"]
        assert data["sent"] == 2 * len(pam2[1]) and [m["To"] for m in inbox[0].messages] == [pam2[0]]
        # Without an unsubscribe link configured, the mail says how to stop it.
        assert f"partnerpilot nudges unsubscribe {pam2[0]}" in inbox[0].messages[0].get_payload(decode=True).decode()
        second = CliRunner().invoke(app, ["nudges", "send", "--pam", "pam-02", "--as-of", LUMENWARE_AS_OF, "--json"])
        assert json.loads(second.stdout)["sent"] == 0 and len(inbox[0].messages) == 1
        listed = CliRunner().invoke(app, ["nudges", "--pam", "pam-02", "--as-of", LUMENWARE_AS_OF, "--json"])
        assert len(json.loads(listed.stdout)) == len(pam2[1])  # the listing still works as before
    finally:
        get_settings.cache_clear()


def test_unsubscribe_link_stops_nudges_to_that_recipient_only(store: Engine, inbox: tuple[Inbox, int], hook: Hook,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from agent import services
    from server.app import create_app

    settings = _settings(inbox, hook)
    link = unsubscribe_url(settings, "marco.ruiz@lumenware.example")
    assert link is not None
    path = link.removeprefix("http://pilot.lumenware.example")
    monkeypatch.setattr(services, "_services", services._services)
    services.configure(store)
    with TestClient(create_app(settings)) as client:
        assert client.get(path).status_code == 200  # a confirmation page: a link scanner unsubscribes nobody
        forged = path.replace("sig=", "sig=0")
        assert client.post(forged[: forged.index("sig=") + 36]).status_code == 404
        one_click = client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 200 and "no more" in one_click.text
    report = _send(store, settings)
    statuses = {(o.channel, o.recipient): o.status for o in report.outcomes}
    assert statuses[("email", "marco.ruiz@lumenware.example")] == "unsubscribed"
    assert statuses[("webhook", "marco.ruiz@lumenware.example")] == "unsubscribed"
    assert {s for (_, r), s in statuses.items() if r != "marco.ruiz@lumenware.example"} == {"sent"}
    assert "marco.ruiz@lumenware.example" not in {m["To"] for m in inbox[0].messages}

    import partnerpilot.cli.common as common
    from partnerpilot.cli import app

    monkeypatch.setattr(common, "_engine", store)
    assert CliRunner().invoke(app, ["nudges", "resubscribe", "marco.ruiz@lumenware.example"]).exit_code == 0
    back = _send(store, settings)
    assert {o.recipient for o in back.outcomes if o.status == "sent"} == {"marco.ruiz@lumenware.example"}


def test_a_failed_send_is_recorded_and_retried_by_the_next_run(store: Engine, inbox: tuple[Inbox, int],
                                                               hook: Hook) -> None:
    settings = _settings(inbox, hook)
    hook.fail = True
    first = _send(store, settings)
    failed = [o for o in first.outcomes if o.status == "failed"]
    assert {o.channel for o in failed} == {"webhook"} and all("500" in (o.error or "") for o in failed)
    assert {o.status for o in first.outcomes if o.channel == "email"} == {"sent"}
    with session_scope(store) as s:
        assert s.scalar(select(func.count()).where(NudgeDelivery.status == "failed")) == 20
    hook.fail = False
    retry = _send(store, settings)
    assert {(o.channel, o.status) for o in retry.outcomes} == {("webhook", "sent"), ("email", "nothing_new")}
    assert sum(o.nudges for o in retry.outcomes) == 20 and len(hook.payloads) == 3


@pytest.mark.parametrize("engine_name", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_racing_runs_deliver_each_nudge_once(engine_name: str, request: pytest.FixtureRequest,
                                            inbox: tuple[Inbox, int], hook: Hook) -> None:
    engine: Engine = request.getfixturevalue(f"{engine_name}_engine")
    import_dataset(engine, LUMENWARE)
    settings = _settings(inbox, hook)
    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = list(pool.map(lambda _: _send(engine, settings), range(4)))
    assert sum(r.sent for r in reports) == 2 * 20 and all(r.failed == 0 for r in reports)
    delivered = [p for m in inbox[0].messages for p in m.get_payload(decode=True).decode().splitlines()
                 if p.startswith("- ")]
    assert len(delivered) == len(set(delivered)) == 20  # no nudge e-mailed twice, none lost
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).where(NudgeDelivery.status == "sent")) == 2 * 20
