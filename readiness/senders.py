"""How nudge digests leave the building: SMTP e-mail and Slack-compatible webhooks (the I/O half of delivery)."""

from __future__ import annotations

import smtplib
import ssl
from datetime import date
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid

import httpx

from readiness.delivery import Channel, Digest, Sender, channels, email_text, slack_payload, subject
from readiness.settings import Settings


def email_message(digest: Digest, settings: Settings, as_of: date) -> EmailMessage:
    # Header lines up to RFC 5322's 998 characters: a folded List-Unsubscribe URL would be mangled into
    # encoded words that mail clients cannot follow.
    msg = EmailMessage(policy=SMTP_POLICY.clone(max_line_length=998))
    msg["From"] = settings.smtp_from or ""
    msg["To"] = digest.email or ""
    msg["Subject"] = subject(digest, as_of)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=(settings.smtp_from or "partnerpilot").rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to a robot
    if digest.unsubscribe_url:
        # RFC 2369 / 8058: mail clients show an unsubscribe button that POSTs to the link.
        msg["List-Unsubscribe"] = f"<{digest.unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(email_text(digest, as_of))
    return msg


def smtp_sender(settings: Settings, as_of: date) -> Sender:
    def send(digest: Digest) -> None:
        message = email_message(digest, settings, as_of)
        host, port, timeout = settings.smtp_host or "", settings.smtp_port, settings.nudge_send_timeout_s
        if settings.smtp_security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                                     context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if settings.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password or "")
            client.send_message(message)

    return send


def webhook_sender(settings: Settings, as_of: date) -> Sender:
    url = settings.nudge_webhook_url or ""

    def send(digest: Digest) -> None:
        response = httpx.post(url, json=slack_payload(digest, as_of), timeout=settings.nudge_send_timeout_s)
        if not response.is_success:
            raise RuntimeError(f"webhook answered {response.status_code}: {response.text[:200]}")

    return send


def senders_for(settings: Settings, as_of: date) -> dict[Channel, Sender]:
    """A sender for each configured channel."""
    make = {"email": smtp_sender, "webhook": webhook_sender}
    return {c: make[c](settings, as_of) for c in channels(settings)}


__all__ = ["email_message", "senders_for", "smtp_sender", "webhook_sender"]
