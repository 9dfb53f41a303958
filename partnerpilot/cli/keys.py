"""`partnerpilot keys create | list | revoke`: API keys for the HTTP API, kept in the store (only hashes)."""

from __future__ import annotations

from datetime import date

import typer
from rich.table import Table

from partnerpilot.cli.common import console, fail, print_json, session
from readiness.errors import ReadinessError
from readiness.keys import KeyRole, create_key, expiry_of, list_keys, revoke_key

keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)


def _role(partner: str | None, pam: str | None, leader: bool, admin: bool) -> tuple[KeyRole, str | None]:
    chosen: list[tuple[KeyRole, str | None]] = []
    if partner:
        chosen.append(("partner", partner))
    if pam:
        chosen.append(("pam", pam))
    if leader:
        chosen.append(("leader", None))
    if admin:
        chosen.append(("admin", None))
    if len(chosen) != 1:
        fail("give exactly one of --partner ID, --pam ID, --leader, --admin", 2)
    return chosen[0]


@keys_app.command("create")
def keys_create(
    partner: str | None = typer.Option(None, "--partner", help="A key acting as this partner (its own data only)."),
    pam: str | None = typer.Option(None, "--pam", help="A key acting as this PAM (their book)."),
    leader: bool = typer.Option(False, "--leader", help="A channel leader's key (the whole program, read)."),
    admin: bool = typer.Option(False, "--admin", help="An administrator's key (imports, metrics, keys)."),
    name: str | None = typer.Option(None, "--name", help="What the key is for (shown in `keys list`)."),
    expires: str | None = typer.Option(None, "--expires", help="Last valid day, YYYY-MM-DD (UTC); default never."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (the key included)."),
) -> None:
    """Create a key and print it once: only its hash is stored, so copy it now."""
    role, principal_id = _role(partner, pam, leader, admin)
    expires_at = None
    if expires is not None:
        try:
            expires_at = expiry_of(date.fromisoformat(expires))
        except ValueError:
            fail(f"--expires must be a date like 2027-01-31, got {expires!r}", 2)
    try:
        with session() as s:
            new = create_key(s, role, principal_id, name=name, expires_at=expires_at, created_by="cli")
    except ReadinessError as exc:
        fail(str(exc), 2)
    if as_json:
        print_json(new)
        return
    who = f"{role}:{new.info.principal_id}"
    console.print(f"created key [bold]{new.info.key_id}[/bold] for {who}"
                  + (f", valid through {expires}" if expires else "") + ". It is shown only this once:")
    typer.echo(new.key)
    console.print(f"[dim]use it as: Authorization: Bearer {new.key[:10]}…   revoke: partnerpilot keys revoke "
                  f"{new.info.key_id}[/dim]")


@keys_app.command("list")
def keys_list(
    active: bool = typer.Option(False, "--active", help="Only keys that can still authenticate."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every key with its principal and status (never the secret)."""
    with session() as s:
        rows = list_keys(s, include_revoked=not active)
    if active:
        rows = [r for r in rows if r.status == "active"]
    if as_json:
        print_json(rows)
        return
    t = Table("principal", "name", "created (UTC)", "expires (UTC)", "status")
    t.add_column("key id", no_wrap=True, min_width=12)  # what `keys revoke` takes: never cut
    for r in rows:
        t.add_row(f"{r.role}:{r.principal_id}", r.name or "", r.created_at.strftime("%Y-%m-%d %H:%M"),
                  r.expires_at.strftime("%Y-%m-%d %H:%M") if r.expires_at else "never", r.status, r.key_id)
    console.print(t)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key id (from `keys list`), not the secret."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Revoke a key: every worker refuses it from the next request on."""
    try:
        with session() as s:
            info = revoke_key(s, key_id, actor="cli")
    except ReadinessError as exc:
        fail(str(exc), 2)
    if as_json:
        print_json(info)
        return
    when = f"{info.revoked_at:%Y-%m-%d %H:%M} UTC" if info.revoked_at else "now"
    console.print(f"key {info.key_id} ({info.role}:{info.principal_id}) revoked at {when}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
