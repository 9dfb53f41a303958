"""Scoring benchmark on PostgreSQL (not a test): prints JSON.

Store: the same program as `scoring_bench` (100,000 partners, about 10.8M events, `readiness.seed` seed 42) in a
database `pp_bench_scoring_100k_v2` on the server of PARTNERPILOT_TEST_POSTGRES_URL (default the local one), built
once with COPY and kept between runs. Measures the full rescore into the snapshot table, cold (no snapshot,
baselines or activation curve for the date) and warm, the scoring frame alone, and the naive per-partner loop on a
sample with its ratio to the vectorized rescore. PostgreSQL aggregates the activity table in one statement with
its own parallel workers (no forked readers, unlike SQLite).

    .venv/bin/python -m benchmarks.scoring_pg_bench [--partners 100000]
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from benchmarks.scoring_bench import AS_OF, STORE_VERSION, machine_load, measure_full_rescore, naive_ratio
from readiness.db import init_db, make_engine
from readiness.seed import generate_program
from readiness.seed.plan import day_to_date

SERVER = os.environ.get("PARTNERPILOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _database(partners: int) -> str:
    return f"pp_bench_scoring_{partners // 1000}k_v{STORE_VERSION}"


def _url(name: str) -> str:
    return SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"


def _copy(conn: psycopg.Connection[Any], table: str, columns: list[str], rows: Any) -> None:
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _load(name: str, partners: int, events: float) -> None:
    """The seeded program straight into the tables with COPY (the importer's row-by-row validation is measured by
    the import benchmark, not here)."""
    program = generate_program(partners, 42, AS_OF, events_per_partner=events)
    with psycopg.connect(SERVER.rsplit("/", 1)[0] + f"/{name}") as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("DROP INDEX IF EXISTS ix_activity_partner_kind_day")
        _copy(conn, "pams", ["pam_id", "name", "email"], ((p["pam_id"], p["name"], p["email"]) for p in program.pams))
        _copy(conn, "partners", ["partner_id", "name", "type", "region", "country", "program_tier", "joined_on",
                                 "pam_id", "specializations", "employee_count", "customer_overlap_accounts",
                                 "competitive_conflict"],
              ((p.partner_id, p.name, p.type, p.region, p.country, p.program_tier,
                day_to_date(p.joined_day) if p.joined_day is not None else None, p.pam_id,
                orjson.dumps(p.specializations).decode(), p.employee_count, p.overlap, p.conflict or None)
               for p in program.plans))
        _copy(conn, "partner_attribute_history", ["entry_id", "partner_id", "attribute", "valid_from", "value"],
              ((f"{r['partner_id']}|{r['attribute']}|{r['valid_from']}", r["partner_id"], r["attribute"],
                r["valid_from"], r["value"] or None) for r in program.attribute_rows()))
        opps: list[tuple[Any, ...]] = []
        with conn.cursor().copy("COPY activity_events (event_id, partner_id, occurred_at, day, kind, detail, value, "
                                "known_kind) FROM STDIN") as copy:
            for plan in program.plans:
                simulated = program.partner_opportunities(plan)
                opps += [(o.opportunity_id, plan.partner_id, o.account_name, o.amount, "USD", o.stage, o.attribution,
                          day_to_date(o.created_day), day_to_date(o.close_day), o.forecast_category, o.industry,
                          o.employee_band) for o in simulated]
                for event_id, day, secs, kind, detail, value in program.partner_events(plan, simulated):
                    copy.write_row((event_id, plan.partner_id, datetime.fromtimestamp(day * 86400 + secs, tz=UTC),
                                    day, kind, detail or None, value, True))
        _copy(conn, "opportunities", ["opportunity_id", "partner_id", "account_name", "amount", "currency", "stage",
                                      "attribution", "created_on", "close_date", "forecast_category", "industry",
                                      "employee_band"], opps)
        conn.execute("CREATE INDEX ix_activity_partner_kind_day ON activity_events (partner_id, kind, day)")
        conn.execute("ANALYZE")
        conn.commit()


def build_database(partners: int, events: float) -> str:
    name = _database(partners)
    with psycopg.connect(SERVER, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return name
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(_url(name))
    init_db(engine)
    engine.dispose()
    try:
        _load(name, partners, events)
    except BaseException:
        with psycopg.connect(SERVER, autocommit=True) as admin:  # a half-loaded store must not be reused
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        raise
    return name


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--partners", type=int, default=100_000)
    ap.add_argument("--events-per-partner", type=float, default=100.0)
    ap.add_argument("--naive-sample", type=int, default=100)
    args = ap.parse_args(argv)
    name = build_database(args.partners, args.events_per_partner)
    engine = make_engine(_url(name))
    init_db(engine)
    out: dict[str, object] = {"benchmark": "scoring (PostgreSQL)", "database": name, "machine": machine_load()}
    frame = measure_full_rescore(engine, out, 20.0)
    out["naive_loop"] = {**naive_ratio(engine, frame.ids, args.naive_sample,
                                       out["full_rescore_cold"]["wall_s"]),  # type: ignore[index]
                         "cpu_note": "CPU seconds are this process only: the server's work is not in them"}
    out["machine_after"] = machine_load()
    engine.dispose()
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
