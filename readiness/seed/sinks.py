"""Where a synthetic program goes: canonical CSV files, or straight into the store with Core batch inserts."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import Engine, insert

from readiness.activity_days import BulkLoad
from readiness.models import ActivityEvent, GTMProfile, Opportunity, Pam, Partner, PartnerAttributeValue
from readiness.seed.plan import day_to_date
from readiness.seed.program import CSV_COLUMNS, SyntheticProgram, activity_row, opportunity_row

# progress(step, done, total): `done` partners (or rows) finished out of `total` in that step.
Progress = Callable[[str, int, int], None]
BATCH = 20_000


class SeedSummary(BaseModel):
    partners: int
    pams: int
    events: int
    opportunities: int
    sourced_opportunities: int
    influenced_opportunities: int
    zero_revenue_share: float  # share of partners with no closed-won sourced revenue
    out_dir: str | None = None


class _Tally:
    def __init__(self) -> None:
        self.events = self.opps = self.sourced = self.influenced = 0
        self.producing: set[str] = set()

    def add_opp(self, partner_id: str, attribution: str, stage: str) -> None:
        self.opps += 1
        self.sourced += attribution == "sourced"
        self.influenced += attribution == "influenced"
        if attribution == "sourced" and stage == "closed_won":
            self.producing.add(partner_id)

    def summary(self, program: SyntheticProgram, out_dir: Path | None = None) -> SeedSummary:
        n = len(program.plans)
        return SeedSummary(partners=n, pams=len(program.pams), events=self.events, opportunities=self.opps,
                           sourced_opportunities=self.sourced, influenced_opportunities=self.influenced,
                           zero_revenue_share=round(1 - len(self.producing) / n, 4),
                           out_dir=str(out_dir) if out_dir else None)


def write_csv(program: SyntheticProgram, out_dir: Path | str, progress: Progress | None = None) -> SeedSummary:
    """Write the five canonical files plus `latent.csv` (analysis only) into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tally = _Tally()
    n = len(program.plans)

    def writer(name: str, columns: list[str]):  # type: ignore[no-untyped-def]
        f = (out / name).open("w", newline="", encoding="utf-8")
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        return f, w

    for name in ("pams.csv", "partners.csv", "gtm_profiles.csv", "partner_attributes.csv"):
        f, w = writer(name, CSV_COLUMNS[name])
        with f:
            w.writerows(program.files()[name])
    f, w = writer("latent.csv", ["partner_id", "latent_readiness", "archetype"])
    with f:
        w.writerows(program.latent_rows())
    # Opportunities and activity come from one simulation per partner, written side by side.
    fo, wo = writer("opportunities.csv", CSV_COLUMNS["opportunities.csv"])
    fa, wa = writer("activity.csv", CSV_COLUMNS["activity.csv"])
    with fo, fa:
        for i, plan in enumerate(program.plans, 1):
            opps = program.partner_opportunities(plan)
            for o in opps:
                tally.add_opp(plan.partner_id, o.attribution, o.stage)
            wo.writerows(opportunity_row(plan, o) for o in opps)
            events = program.partner_events(plan, opps)
            tally.events += len(events)
            wa.writerows(activity_row(plan, e) for e in events)
            if progress and (i % 500 == 0 or i == n):
                progress("partners", i, n)
    return tally.summary(program, out)


def _null(s: str) -> str | None:
    return s or None


def load_into_store(engine: Engine, program: SyntheticProgram, progress: Progress | None = None) -> SeedSummary:
    """Insert the program with SQLAlchemy Core executemany batches, in one transaction."""
    tally = _Tally()
    n = len(program.plans)
    with engine.begin() as conn:
        conn.execute(insert(Pam.__table__), [dict(p) for p in program.pams])
        partner_rows = []
        for p in program.plans:
            partner_rows.append({
                "partner_id": p.partner_id, "name": p.name, "type": p.type, "region": p.region,
                "country": p.country, "program_tier": p.program_tier,
                "joined_on": day_to_date(p.joined_day) if p.joined_day is not None else None, "pam_id": p.pam_id,
                "specializations": list(p.specializations), "employee_count": p.employee_count,
                "customer_overlap_accounts": p.overlap, "competitive_conflict": _null(p.conflict),
            })
            if len(partner_rows) >= BATCH:
                conn.execute(insert(Partner.__table__), partner_rows)
                partner_rows = []
        if partner_rows:
            conn.execute(insert(Partner.__table__), partner_rows)
        gtm_rows = [
            {"partner_id": r["partner_id"], "icp_statement": _null(r["icp_statement"]),
             "use_cases": [u for u in r["use_cases"].split(";") if u], "positioning": _null(r["positioning"]),
             "sales_motion": _null(r["sales_motion"]), "updated_on": date.fromisoformat(r["updated_on"])}
            for r in program.gtm_rows()
        ]
        for k in range(0, len(gtm_rows), BATCH):
            conn.execute(insert(GTMProfile.__table__), gtm_rows[k : k + BATCH])
        del gtm_rows
        history = [
            {"entry_id": f"{r['partner_id']}|{r['attribute']}|{r['valid_from']}", "partner_id": r["partner_id"],
             "attribute": r["attribute"], "valid_from": date.fromisoformat(r["valid_from"]), "value": _null(r["value"])}
            for r in program.attribute_rows()
        ]
        for k in range(0, len(history), BATCH):
            conn.execute(insert(PartnerAttributeValue.__table__), history[k : k + BATCH])
        del history

        opp_batch: list[dict] = []
        ev_batch: list[dict] = []
        # SQLite's per-(partner, kind) day lists: rebuilt once after the load rather than kept row by row.
        days = BulkLoad(conn.connection.driver_connection.cursor()) if conn.dialect.name == "sqlite" else None
        if days is not None:
            days.suspend()
        for i, plan in enumerate(program.plans, 1):
            opps = program.partner_opportunities(plan)
            for o in opps:
                tally.add_opp(plan.partner_id, o.attribution, o.stage)
                opp_batch.append({
                    "opportunity_id": o.opportunity_id, "partner_id": plan.partner_id,
                    "account_name": o.account_name, "amount": o.amount, "currency": "USD", "stage": o.stage,
                    "attribution": o.attribution, "created_on": day_to_date(o.created_day),
                    "close_date": day_to_date(o.close_day), "forecast_category": o.forecast_category,
                    "industry": o.industry, "employee_band": o.employee_band,
                })
            for event_id, day, secs, kind, detail, value in program.partner_events(plan, opps):
                ev_batch.append({
                    "event_id": event_id, "partner_id": plan.partner_id,
                    "occurred_at": datetime.fromtimestamp(day * 86400 + secs, tz=UTC), "day": day,
                    "kind": kind, "detail": _null(detail), "value": value, "known_kind": True,
                })
            if len(ev_batch) >= BATCH:
                tally.events += len(ev_batch)
                conn.execute(insert(ActivityEvent.__table__), ev_batch)
                ev_batch = []
            if len(opp_batch) >= BATCH:
                conn.execute(insert(Opportunity.__table__), opp_batch)
                opp_batch = []
            if progress and (i % 500 == 0 or i == n):
                progress("partners", i, n)
        if ev_batch:
            tally.events += len(ev_batch)
            conn.execute(insert(ActivityEvent.__table__), ev_batch)
        if opp_batch:
            conn.execute(insert(Opportunity.__table__), opp_batch)
        if days is not None:
            days.resume()
    return tally.summary(program)
