"""Nudges that reach people: each PAM gets one digest of the nudges due in their book, by e-mail and/or a
Slack-compatible webhook, each nudge at most once per reminder window, never to someone who unsubscribed.

A nudge is (partner, code, due since); its window `n` covers days [n·w, (n+1)·w) after it fell due (w =
`nudge_window_days`), so a nudge that stays due is repeated once per window. Before anything is sent, a run
claims each (channel, recipient, nudge, window) with a row in `nudge_deliveries` under a partial unique index:
two runs at once cannot both claim it, a re-run finds it claimed, and a failed send is marked failed so the next
run retries it. A crash between sending and marking leaves the claim standing: at most once, not at least once.

Partners have no contact address in the canonical data, so nudges addressed to a partner go to its PAM too,
in a section to pass on. The transport (SMTP, HTTP) is in `readiness.senders`; this module decides and records.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Literal
from urllib.parse import urlencode

from pydantic import BaseModel, Field
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from readiness.db import session_scope
from readiness.models import NudgeDelivery, NudgeUnsubscribe, Pam, Partner
from readiness.nudges import Nudge, nudges_due
from readiness.settings import Settings

Channel = Literal["email", "webhook"]
UNSUBSCRIBE_PATH = "/nudges/unsubscribe"
SLACK_MAX_NUDGES = 40  # Slack allows 50 blocks per message; the rest is summarised in one line


class DeliveryConfigError(ValueError):
    """Delivery is configured inconsistently (e.g. an SMTP host without a sender address)."""


class Digest(BaseModel):
    """What one recipient gets on one channel in one run."""

    channel: Channel
    recipient: str  # the unsubscribe key: the PAM's e-mail address, or pam:ID when it has none
    pam_id: str
    pam_name: str
    email: str | None
    nudges: list[Nudge]
    unsubscribe_url: str | None = None


class Outcome(BaseModel):
    channel: Channel
    recipient: str
    pam_id: str
    nudges: int = Field(description="nudges in the digest (sent, or that would be sent on a dry run)")
    already_sent: int = Field(description="due nudges this recipient already got in their current window")
    status: Literal["sent", "failed", "dry_run", "nothing_new", "unsubscribed", "no_address"]
    error: str | None = None


class DeliveryReport(BaseModel):
    as_of: date
    dry_run: bool
    channels: list[Channel]
    due: int = Field(description="nudges due in scope")
    outcomes: list[Outcome]
    unassigned: int = Field(description="due nudges of partners with no PAM: nobody to tell")

    @property
    def sent(self) -> int:
        return sum(o.nudges for o in self.outcomes if o.status == "sent")

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "failed")


# Sends one digest; raises on failure (the message becomes the delivery log's error).
Sender = Callable[[Digest], None]


def channels(settings: Settings) -> list[Channel]:
    """The configured channels; e-mail needs a host and a sender."""
    found: list[Channel] = []
    if settings.smtp_host:
        if not settings.smtp_from:
            raise DeliveryConfigError("PARTNERPILOT_SMTP_HOST is set but PARTNERPILOT_SMTP_FROM is not: set the "
                                      "sender address of nudge e-mails")
        found.append("email")
    if settings.nudge_webhook_url:
        found.append("webhook")
    return found


def recipient_key(email: str | None, pam_id: str) -> str:
    return email.strip().lower() if email and email.strip() else f"pam:{pam_id}"


def window_of(nudge: Nudge, as_of: date, window_days: int) -> int:
    return max(0, (as_of - nudge.due_since).days) // window_days


def _signature(secret: str, recipient: str) -> str:
    return hmac.new(secret.encode(), f"unsubscribe:{recipient}".encode(), hashlib.sha256).hexdigest()[:32]


def unsubscribe_url(settings: Settings, recipient: str) -> str | None:
    """A signed one-click unsubscribe link, when the server's public URL and a secret key are configured."""
    if not settings.public_url or not settings.secret_key:
        return None
    query = urlencode({"r": recipient, "sig": _signature(settings.secret_key, recipient)})
    return f"{settings.public_url.rstrip('/')}{UNSUBSCRIBE_PATH}?{query}"


def verify_unsubscribe(settings: Settings, recipient: str, signature: str) -> bool:
    if not settings.secret_key:
        return False
    return hmac.compare_digest(_signature(settings.secret_key, recipient), signature)


def unsubscribe(session: Session, recipient: str, source: str) -> bool:
    """Stop nudges to `recipient` on every channel; False when it was already unsubscribed."""
    key = recipient.strip().lower()
    if session.get(NudgeUnsubscribe, key) is not None:
        return False
    session.add(NudgeUnsubscribe(recipient=key, source=source))
    return True


def resubscribe(session: Session, recipient: str) -> bool:
    row = session.get(NudgeUnsubscribe, recipient.strip().lower())
    if row is None:
        return False
    session.delete(row)
    return True


def _live(session: Session, channel: Channel, recipient: str) -> set[tuple[str, str, date, int]]:
    rows = session.execute(select(NudgeDelivery.partner_id, NudgeDelivery.code, NudgeDelivery.due_since,
                                  NudgeDelivery.window_index).where(
        NudgeDelivery.channel == channel, NudgeDelivery.recipient == recipient, NudgeDelivery.status != "failed"))
    return {(r[0], r[1], r[2], r[3]) for r in rows}


def _claim(engine: Engine, digest: Digest, as_of: date, window_days: int) -> list[tuple[Nudge, int]]:
    """Insert a `sending` row per nudge not yet delivered in its window; (nudge, row id) for those this run won.
    One short transaction per nudge: a conflict (another run claimed it first) loses only that nudge."""
    won: list[tuple[Nudge, int]] = []
    for n in digest.nudges:
        row = NudgeDelivery(partner_id=n.partner_id, code=n.code, audience=n.audience, due_since=n.due_since,
                            window_index=window_of(n, as_of, window_days), channel=digest.channel,
                            recipient=digest.recipient, as_of=as_of, status="sending")
        try:
            with session_scope(engine) as s:
                s.add(row)
                s.flush()
                won.append((n, row.id))
        except IntegrityError:
            if won and won[-1][0] is n:
                won.pop()
    return won


def _finish(engine: Engine, ids: Sequence[int], error: str | None) -> None:
    with session_scope(engine) as s:
        values = ({"status": "failed", "error": error[:2000]} if error is not None
                  else {"status": "sent", "sent_at": datetime.now(UTC)})
        s.execute(update(NudgeDelivery).where(NudgeDelivery.id.in_(list(ids))).values(**values))


def plan_digests(session: Session, settings: Settings, as_of: date, pam_id: str | None = None,
                 chosen: Sequence[Channel] | None = None) -> tuple[list[Nudge], list[Digest], int]:
    """(nudges due in scope, one digest per PAM and channel, due nudges whose partner has no PAM)."""
    due = nudges_due(session, as_of, pam_id=pam_id)
    owners = dict(session.execute(select(Partner.partner_id, Partner.pam_id).where(
        Partner.partner_id.in_({n.partner_id for n in due}))).all()) if due else {}
    by_pam: dict[str, list[Nudge]] = {}
    unassigned = 0
    for n in due:
        owner = owners.get(n.partner_id)
        if owner is None:
            unassigned += 1
            continue
        by_pam.setdefault(owner, []).append(n)
    pams = {p.pam_id: p for p in session.scalars(select(Pam).where(Pam.pam_id.in_(list(by_pam))))}
    digests: list[Digest] = []
    for pid in sorted(by_pam):
        pam = pams[pid]
        recipient = recipient_key(pam.email, pid)
        for channel in chosen if chosen is not None else channels(settings):
            digests.append(Digest(channel=channel, recipient=recipient, pam_id=pid, pam_name=pam.name,
                                  email=pam.email.strip() if pam.email else None, nudges=by_pam[pid],
                                  unsubscribe_url=unsubscribe_url(settings, recipient)))
    return due, digests, unassigned


def deliver(engine: Engine, settings: Settings, as_of: date, senders: dict[Channel, Sender],
            pam_id: str | None = None, dry_run: bool = False) -> DeliveryReport:
    """Send each configured channel's digests (one per PAM) of the nudges not yet delivered in their window.

    `senders` holds a sender per channel to use; a dry run sends and records nothing and needs none."""
    active = [c for c in channels(settings) if dry_run or c in senders]
    with session_scope(engine) as s:
        due, digests, unassigned = plan_digests(s, settings, as_of, pam_id, active)
        unsubscribed = {r for (r,) in s.execute(select(NudgeUnsubscribe.recipient).where(
            NudgeUnsubscribe.recipient.in_({d.recipient for d in digests})))} if digests else set()
        done = {(d.channel, d.recipient): _live(s, d.channel, d.recipient) for d in digests}
    window = settings.nudge_window_days
    outcomes: list[Outcome] = []
    for d in digests:
        key = lambda n: (n.partner_id, n.code, n.due_since, window_of(n, as_of, window))  # noqa: E731
        fresh = [n for n in d.nudges if key(n) not in done[(d.channel, d.recipient)]]
        base = {"channel": d.channel, "recipient": d.recipient, "pam_id": d.pam_id,
                "already_sent": len(d.nudges) - len(fresh)}
        if d.recipient in unsubscribed:
            outcomes.append(Outcome(**base, nudges=0, status="unsubscribed"))
            continue
        if d.channel == "email" and d.email is None:
            outcomes.append(Outcome(**base, nudges=0, status="no_address"))
            continue
        if not fresh:
            outcomes.append(Outcome(**base, nudges=0, status="nothing_new"))
            continue
        if dry_run:
            outcomes.append(Outcome(**base, nudges=len(fresh), status="dry_run"))
            continue
        won = _claim(engine, d.model_copy(update={"nudges": fresh}), as_of, window)
        if not won:
            outcomes.append(Outcome(**base, nudges=0, status="nothing_new"))
            continue
        digest = d.model_copy(update={"nudges": [n for n, _ in won]})
        ids = [i for _, i in won]
        try:
            senders[d.channel](digest)
        except Exception as exc:  # any transport failure: recorded, retried by the next run
            _finish(engine, ids, f"{type(exc).__name__}: {exc}")
            outcomes.append(Outcome(**base, nudges=len(won), status="failed", error=f"{type(exc).__name__}: {exc}"))
            continue
        _finish(engine, ids, None)
        outcomes.append(Outcome(**base, nudges=len(won), status="sent"))
    return DeliveryReport(as_of=as_of, dry_run=dry_run, channels=active, due=len(due), outcomes=outcomes,
                          unassigned=unassigned)


# ---- what a digest says -------------------------------------------------------------------------------------


def _sections(nudges: Sequence[Nudge]) -> list[tuple[str, list[Nudge]]]:
    yours = [n for n in nudges if n.audience == "pam"]
    theirs = [n for n in nudges if n.audience == "partner"]
    return [(title, rows) for title, rows in (("For you to act on", yours),
                                             ("For your partners (pass these on)", theirs)) if rows]


def subject(digest: Digest, as_of: date) -> str:
    count = len(digest.nudges)
    return f"PartnerPilot: {count} nudge{'s' if count != 1 else ''} in your book ({as_of.isoformat()})"


def email_text(digest: Digest, as_of: date) -> str:
    lines = [f"Hi {digest.pam_name},", "", f"Due in your book as of {as_of.isoformat()}:"]
    for title, rows in _sections(digest.nudges):
        lines += ["", f"{title}:"]
        for n in rows:
            lines += [f"- {n.name} ({n.partner_id}): {n.reason}", f"  Next step: {n.next_step}"]
    lines += ["", "--", "You get this because you manage these partners in PartnerPilot."]
    if digest.unsubscribe_url:
        lines.append(f"Stop these e-mails: {digest.unsubscribe_url}")
    else:
        lines.append(f"To stop them, ask your administrator to run: partnerpilot nudges unsubscribe "
                     f"{digest.recipient}")
    return "\n".join(lines) + "\n"


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(digest: Digest, as_of: date) -> dict[str, object]:
    """A Slack-compatible incoming-webhook message: `text` for notifications and plain clients, `blocks` for Slack."""
    head = f"{subject(digest, as_of)} for {digest.pam_name}"
    blocks: list[dict[str, object]] = [{"type": "header", "text": {"type": "plain_text", "text": head[:150]}}]
    shown = 0
    for title, rows in _sections(digest.nudges):
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{_mrkdwn(title)}*"}]})
        for n in rows:
            if shown == SLACK_MAX_NUDGES:
                break
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (
                f"*{_mrkdwn(n.name)}* ({_mrkdwn(n.partner_id)}): {_mrkdwn(n.reason)}\n"
                f"_Next step:_ {_mrkdwn(n.next_step)}")[:3000]}})
            shown += 1
    if shown < len(digest.nudges):
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"…and {len(digest.nudges) - shown} more in PartnerPilot."}]})
    lines = [head] + [f"• {n.name} ({n.partner_id}): {n.reason} Next step: {n.next_step}" for n in digest.nudges]
    return {"text": "\n".join(lines), "blocks": blocks}


__all__ = [
    "DeliveryConfigError",
    "DeliveryReport",
    "Digest",
    "Outcome",
    "Sender",
    "channels",
    "deliver",
    "email_text",
    "plan_digests",
    "recipient_key",
    "resubscribe",
    "slack_payload",
    "subject",
    "unsubscribe",
    "unsubscribe_url",
    "verify_unsubscribe",
    "window_of",
]
