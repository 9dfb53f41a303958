"""`partnerpilot nudges [--pam ID]` lists the nudges due; `nudges send` delivers them; `nudges unsubscribe |
resubscribe ADDRESS` manages who gets them.

`nudges send [--pam ID] [--dry-run]` e-mails (SMTP) and/or posts (Slack-compatible webhook) one digest per PAM
of the nudges due in their book, each nudge at most once per `PARTNERPILOT_NUDGE_WINDOW_DAYS` per recipient;
run it from cron as often as you like. Nothing is sent until a channel is configured.
"""

from __future__ import annotations

import typer
from rich.table import Table

from partnerpilot.cli.common import AS_OF_HELP, console, engine, fail, print_json, resolve_as_of, session
from partnerpilot.cli.gtm import JSON_HELP, nudges_cmd
from readiness.delivery import DeliveryConfigError, DeliveryReport, deliver, resubscribe, unsubscribe
from readiness.settings import get_settings

nudges_app = typer.Typer(help="Nudges due, their delivery, and unsubscribes.", invoke_without_command=True)

NOT_CONFIGURED = ("no delivery channel is configured, so nothing was sent: set PARTNERPILOT_SMTP_HOST and "
                  "PARTNERPILOT_SMTP_FROM (e-mail) and/or PARTNERPILOT_NUDGE_WEBHOOK_URL (Slack-compatible webhook)")


@nudges_app.callback()
def nudges_list(
    ctx: typer.Context,
    pam: str | None = typer.Option(None, "--pam", help="Only partners in this PAM's book."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Nudges due: stalled milestones, no login, deals without an AE, certified but not selling."""
    if ctx.invoked_subcommand is None:
        nudges_cmd(pam=pam, as_of=as_of, as_json=as_json)


def _print(report: DeliveryReport) -> None:
    verb = "would send" if report.dry_run else "sent"
    count = sum(o.nudges for o in report.outcomes) if report.dry_run else report.sent
    table = Table("channel", "recipient", "PAM", "nudges", "already sent", "status",
                  title=f"{report.due} nudges due as of {report.as_of}; {verb} {count}")
    for o in report.outcomes:
        table.add_row(o.channel, o.recipient, o.pam_id, str(o.nudges), str(o.already_sent),
                      o.status + (f": {o.error}" if o.error else ""))
    console.print(table)
    if report.unassigned:
        console.print(f"{report.unassigned} due nudges concern partners with no PAM: nobody to send them to")


@nudges_app.command("send")
def send_cmd(
    pam: str | None = typer.Option(None, "--pam", help="Only this PAM's book."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be sent; send and record nothing."),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Deliver due nudges by e-mail and webhook, each at most once per window per recipient."""
    from readiness.senders import senders_for

    settings = get_settings()
    day = resolve_as_of(as_of)
    try:
        senders = {} if dry_run else senders_for(settings, day)
    except DeliveryConfigError as exc:
        fail(str(exc), 2)
    if not senders and not dry_run:
        fail(NOT_CONFIGURED, 2)
    report = deliver(engine(), settings, day, senders, pam_id=pam, dry_run=dry_run)
    if as_json:
        print_json({**report.model_dump(mode="json"), "sent": report.sent, "failed": report.failed})
    else:
        if dry_run and not report.channels:
            console.print(f"[yellow]{NOT_CONFIGURED}[/yellow]")
        _print(report)
    if report.failed:
        fail(f"{report.failed} digest(s) failed; they will be retried on the next run", 1)


@nudges_app.command("unsubscribe")
def unsubscribe_cmd(recipient: str = typer.Argument(..., help="E-mail address (or pam:ID for a PAM without one).")
                    ) -> None:
    """Stop all nudges to this recipient."""
    with session() as s:
        changed = unsubscribe(s, recipient, source="cli")
    console.print(f"{recipient}: {'unsubscribed' if changed else 'was already unsubscribed'}")


@nudges_app.command("resubscribe")
def resubscribe_cmd(recipient: str = typer.Argument(..., help="E-mail address (or pam:ID).")) -> None:
    """Send nudges to this recipient again."""
    with session() as s:
        changed = resubscribe(s, recipient)
    console.print(f"{recipient}: {'resubscribed' if changed else 'was not unsubscribed'}")


def register(app: typer.Typer) -> None:
    app.add_typer(nudges_app, name="nudges")


__all__ = ["nudges_app", "register"]
