"""`partnerpilot init | partners list | partners show`."""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy import func, select

from partnerpilot.cli.common import console, engine, fail, print_json, session
from readiness.models import ActivityEvent, GTMProfile, Opportunity, Pam, Partner

partners_app = typer.Typer(help="Browse partners in the store.", no_args_is_help=True)


def init() -> None:
    """Create or migrate the store."""
    eng = engine()
    console.print(f"store ready: {eng.url.render_as_string(hide_password=True)}")


@partners_app.command("list")
def partners_list(
    pam: str | None = typer.Option(None, "--pam", help="Only partners in this PAM's book."),
    limit: int = typer.Option(0, "--limit", min=0, help="At most this many (0: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List partners."""
    with session() as s:
        q = select(Partner).order_by(Partner.partner_id)
        if pam:
            if s.get(Pam, pam) is None:
                fail(f"unknown PAM {pam!r}", 2)
            q = q.where(Partner.pam_id == pam)
        if limit:
            q = q.limit(limit)
        rows = s.scalars(q).all()
        data = [
            {
                "partner_id": p.partner_id,
                "name": p.name,
                "pam_id": p.pam_id,
                "type": p.type,
                "region": p.region,
                "program_tier": p.program_tier,
                "joined_on": p.joined_on.isoformat() if p.joined_on else None,
            }
            for p in rows
        ]
    if as_json:
        print_json(data)
        return
    table = Table("id", "name", "type", "region", "tier", "PAM", title=f"{len(data)} partners")
    for d in data:
        table.add_row(
            d["partner_id"], d["name"], d["type"], d["region"] or "", d["program_tier"] or "", d["pam_id"] or ""
        )
    console.print(table)


@partners_app.command("show")
def partners_show(
    partner_id: str = typer.Argument(..., help="Partner id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one partner: profile, activity counts, opportunities, GTM profile."""
    with session() as s:
        p = s.get(Partner, partner_id)
        if p is None:
            fail(f"unknown partner {partner_id!r}", 2)
        kinds = dict(
            s.execute(
                select(ActivityEvent.kind, func.count())
                .where(ActivityEvent.partner_id == partner_id)
                .group_by(ActivityEvent.kind)
            ).all()
        )
        opps = s.scalars(select(Opportunity).where(Opportunity.partner_id == partner_id)).all()
        gtm = s.get(GTMProfile, partner_id)
        data = {
            "partner_id": p.partner_id,
            "name": p.name,
            "type": p.type,
            "region": p.region,
            "country": p.country,
            "program_tier": p.program_tier,
            "joined_on": p.joined_on.isoformat() if p.joined_on else None,
            "pam_id": p.pam_id,
            "specializations": p.specializations,
            "employee_count": p.employee_count,
            "customer_overlap_accounts": p.customer_overlap_accounts,
            "competitive_conflict": p.competitive_conflict,
            "activity_counts": kinds,
            "opportunities": [
                {
                    "opportunity_id": o.opportunity_id,
                    "account_name": o.account_name,
                    "amount": o.amount,
                    "stage": o.stage,
                    "attribution": o.attribution,
                    "created_on": o.created_on.isoformat() if o.created_on else None,
                }
                for o in opps
            ],
            "gtm_profile": None
            if gtm is None
            else {
                "icp_statement": gtm.icp_statement,
                "use_cases": gtm.use_cases,
                "positioning": gtm.positioning,
                "sales_motion": gtm.sales_motion,
            },
        }
    if as_json:
        print_json(data)
        return
    console.print(
        f"[bold]{data['name']}[/bold] ({data['partner_id']}) · {data['type']} · {data['region']} · PAM {data['pam_id']}"
    )
    console.print(
        f"joined {data['joined_on']} · {data['employee_count']} employees · "
        f"overlap {data['customer_overlap_accounts']}"
    )
    if data["competitive_conflict"]:
        console.print(f"[red]competitive conflict:[/red] {data['competitive_conflict']}")
    table = Table("kind", "events", title="activity")
    for k, n in sorted(kinds.items()):
        table.add_row(k, str(n))
    console.print(table)
    ot = Table("opportunity", "account", "amount", "stage", "attribution", title="opportunities")
    for o in data["opportunities"]:
        amount = f"{o['amount'] or 0:,.0f}"
        ot.add_row(o["opportunity_id"], o["account_name"] or "", amount, o["stage"], o["attribution"])
    console.print(ot)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.add_typer(partners_app, name="partners")
