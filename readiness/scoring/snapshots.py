"""Score snapshots (`score_snapshots`): one row per partner per as_of, upserted.

They are the cache behind the call list and the history behind trends. Freshness: `rescore_partner` rewrites a
partner's row after a new signal; `refresh_snapshots` rewrites a whole book or program (run it after an import);
the call list re-scores live every partner it shows, so what a PAM sees is never stale.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from readiness.dataversion import mark_changed
from readiness.models import Partner, ScoreSnapshot, utcnow
from readiness.scoring.config import ScoringConfig, load_config
from readiness.scoring.gcpause import paused_gc
from readiness.scoring.plays import DORMANT_PLAYS
from readiness.scoring.runs import save_run
from readiness.scoring.schemas import PartnerScore

BATCH = 5000
GTM_BEHAVIOUR, GTM_WITH_TEXT = "behaviour", "behaviour and profile text"


_DORMANT = frozenset(DORMANT_PLAYS)


def on_dormant_list(play: str | None) -> bool:
    """On the dormant call list: its primary play is a dormant one (grow-to-sourcing partners have their own)."""
    return play in _DORMANT


_SQLITE_UPSERT = (
    "INSERT INTO score_snapshots (partner_id, as_of, score, tier, segment, dimensions, pam_id, revenue_at_stake, "
    "on_call_list, play, priority, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (partner_id, as_of) DO UPDATE SET "
    "score = excluded.score, tier = excluded.tier, segment = excluded.segment, dimensions = excluded.dimensions, "
    "pam_id = excluded.pam_id, revenue_at_stake = excluded.revenue_at_stake, on_call_list = excluded.on_call_list, "
    "play = excluded.play, priority = excluded.priority, created_at = excluded.created_at"
)


_VALUE_COLUMNS = ("score", "tier", "segment", "dimensions", "pam_id", "revenue_at_stake", "on_call_list", "play",
                  "priority")
# A few rows upserted again with the values they hold (the call list re-scoring its shortlist) change nothing: no
# write, and the store's data version (readiness.dataversion) stays put, so cached reads stay valid.
_SQLITE_UPSERT_CHANGED = _SQLITE_UPSERT + " WHERE " + " OR ".join(
    f"score_snapshots.{c} IS NOT excluded.{c}" for c in _VALUE_COLUMNS)


def _sqlite_now() -> str:
    return utcnow().replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _execute_sqlite(session: Session, params: list[tuple[Any, ...]], sql: str = _SQLITE_UPSERT) -> None:
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, params)
        mark_changed(session, cursor.rowcount)  # the driver's cursor: the data version must still move
    finally:
        cursor.close()


def _upsert_sqlite(session: Session, rows: list[dict[str, Any]]) -> None:
    """A full rescore writes 100k rows: skip SQLAlchemy's per-row type processing and store exactly what its
    SQLite types would (ISO date, JSON text, 0/1, 'YYYY-MM-DD HH:MM:SS.ffffff')."""
    now = _sqlite_now()
    _execute_sqlite(session, [
        (r["partner_id"], r["as_of"].isoformat(), r["score"], r["tier"], r["segment"],
         orjson.dumps(r["dimensions"]).decode(), r["pam_id"], r["revenue_at_stake"],
         1 if r["on_call_list"] else 0, r["play"], r["priority"], now)
        for r in rows
    ], _SQLITE_UPSERT_CHANGED)


_PG_COLUMNS = ("partner_id", "as_of", "score", "tier", "segment", "dimensions", "pam_id", "revenue_at_stake",
               "on_call_list", "play", "priority", "created_at")
# Above this many rows PostgreSQL gets them by COPY into a temporary table and one INSERT ... ON CONFLICT from it
# (100,000 rows through executemany took most of a full rescore's time there).
PG_COPY_MIN_ROWS = 1000


def _upsert_postgresql_copy(session: Session, rows: list[dict[str, Any]]) -> None:
    cols = ", ".join(_PG_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _PG_COLUMNS if c not in ("partner_id", "as_of"))
    now = utcnow()
    raw = session.connection().connection.driver_connection  # psycopg, inside the session's transaction
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(f"CREATE TEMP TABLE score_snapshots_load ON COMMIT DROP AS SELECT {cols} FROM score_snapshots "
                    "WITH NO DATA")
        with cur.copy(f"COPY score_snapshots_load ({cols}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row((r["partner_id"], r["as_of"], r["score"], r["tier"], r["segment"],
                                orjson.dumps(r["dimensions"]).decode(), r["pam_id"], r["revenue_at_stake"],
                                bool(r["on_call_list"]), r["play"], r["priority"], now))
        cur.execute(f"INSERT INTO score_snapshots ({cols}) SELECT {cols} FROM score_snapshots_load "
                    f"ON CONFLICT (partner_id, as_of) DO UPDATE SET {updates}")
        mark_changed(session, cur.rowcount)  # the driver's cursor: the data version must still move
        cur.execute("DROP TABLE score_snapshots_load")


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    # Rows in one order (by partner) whoever writes: a live call list's upsert and a full refresh running at once in
    # two workers otherwise lock rows in opposite orders and deadlock.
    rows = sorted(rows, key=lambda r: str(r["partner_id"]))
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        _upsert_sqlite(session, rows)
        return
    if dialect == "postgresql" and len(rows) >= PG_COPY_MIN_ROWS:
        _upsert_postgresql_copy(session, rows)
        return
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = ins(ScoreSnapshot)
    stmt = stmt.on_conflict_do_update(
        index_elements=["partner_id", "as_of"],
        set_={"score": stmt.excluded.score, "tier": stmt.excluded.tier, "segment": stmt.excluded.segment,
              "dimensions": stmt.excluded.dimensions, "pam_id": stmt.excluded.pam_id,
              "revenue_at_stake": stmt.excluded.revenue_at_stake, "on_call_list": stmt.excluded.on_call_list,
              "play": stmt.excluded.play, "priority": stmt.excluded.priority, "created_at": func.now()},
        # json has no equality operator in PostgreSQL: its text is compared.
        where=or_(*(cast(stmt.excluded[c], Text).is_distinct_from(cast(ScoreSnapshot.__table__.c[c], Text))
                    if c == "dimensions" else stmt.excluded[c].is_distinct_from(ScoreSnapshot.__table__.c[c])
                    for c in _VALUE_COLUMNS)),
    )
    conn = session.connection()
    now = utcnow()
    for k in range(0, len(rows), BATCH):  # executemany: one compiled statement, batched parameters
        conn.execute(stmt, [{**r, "created_at": now} for r in rows[k : k + BATCH]])


def _judged_text(score: PartnerScore) -> bool:
    """Whether the profile text rubric contributed to this score's GTM block (it cites it as evidence)."""
    from readiness.scoring.score import PROFILE_TEXT_EVIDENCE

    return any(e.startswith(PROFILE_TEXT_EVIDENCE) for g in score.gtm for sub in g.subsignals for e in sub.evidence)


def snapshot_row(score: PartnerScore) -> dict[str, Any]:
    flags = [f.code for f in score.dormant_flags]
    on_list = on_dormant_list(score.play)
    return {
        "partner_id": score.partner_id, "as_of": score.as_of, "score": score.score, "tier": score.tier,
        "segment": score.segment, "pam_id": score.pam_id, "revenue_at_stake": score.revenue_at_stake or 0.0,
        "on_call_list": on_list, "play": score.play, "priority": score.priority or 0.0,
        "dimensions": {
            "dimensions": {d.key: round(d.score, 2) for d in score.dimensions},
            "gtm": {g.key: round(g.score, 2) for g in score.gtm},
            "gtm_basis": GTM_WITH_TEXT if _judged_text(score) else GTM_BEHAVIOUR,
            "outlook": score.outlook, "flags": flags, "revenue_at_stake": score.revenue_at_stake or 0.0,
            "callable": on_list,
        },
    }


def upsert_snapshots(session: Session, scores: Iterable[PartnerScore]) -> int:
    rows = [snapshot_row(s) for s in scores]
    _upsert(session, rows)
    return len(rows)


def refresh_snapshots(session: Session, as_of: date, partner_ids: list[str] | None = None,
                      config: ScoringConfig | None = None) -> int:
    """Score (vectorized, no per-partner objects) and upsert the snapshot of every partner in scope."""
    with paused_gc(None if partner_ids is None else len(partner_ids)):
        return _refresh(session, as_of, partner_ids, config)


def _json_tokens(values: list[Any]) -> list[bytes]:
    """orjson's text of each value of a column of floats, from one call (a float's text has no comma): the same
    text orjson writes for it inside a row's object."""
    return orjson.dumps(values)[1:-1].split(b",") if values else []


def _json_of(values: list[Any]) -> list[bytes]:
    """orjson's text of each value (hashable; few distinct), each distinct value serialised once."""
    seen: dict[Any, bytes] = {}
    return [seen[v] if v in seen else seen.setdefault(v, orjson.dumps(v)) for v in values]


def _dimensions_head(dim_keys: list[str], gtm_keys: list[str]) -> bytes:
    """The `dimensions` JSON object of a snapshot row up to its revenue at stake, with a %b slot per value: byte for
    byte what orjson.dumps writes for the dict (compact, keys in insertion order). `_dimensions_tail` ends it."""
    def obj(keys: list[str]) -> bytes:
        return b"{" + b",".join(orjson.dumps(k).replace(b"%", b"%%") + b":%b" for k in keys) + b"}"

    return (b'{"dimensions":' + obj(dim_keys) + b',"gtm":' + obj(gtm_keys)
            + b',"gtm_basis":%b,"outlook":%b,"flags":%b,"revenue_at_stake":')


_CALLABLE = {True: b',"callable":true}', False: b',"callable":false}'}


def _refresh(session: Session, as_of: date, partner_ids: list[str] | None, config: ScoringConfig | None) -> int:
    from readiness.scoring.revenue import activation_curve, curve_fitted_alongside, revenue_at_stake_array
    from readiness.scoring.score import compute_frame

    cfg = config or load_config()
    whole = partner_ids is None
    sqlite = session.get_bind().dialect.name == "sqlite"
    with curve_fitted_alongside(session, as_of, cfg):
        frame = compute_frame(session, as_of, partner_ids, cfg)
        # Everything but revenue at stake is prepared while the activation curve may still be fitting alongside.
        n = frame.feats.n
        plays = [p or None for p in frame.plays.primary.tolist()]
        dim_keys, gtm_keys = list(frame.dims.scores), list(frame.gtm)
        dim_cols = [np.round(frame.dims.scores[k], 2).tolist() for k in dim_keys]
        gtm_cols = [np.round(frame.gtm[k], 2).tolist() for k in gtm_keys]
        codes: list[list[str]] = [[] for _ in range(n)]
        for code, arr in frame.flags.items():
            for i in np.flatnonzero(arr).tolist():
                codes[i].append(code)
        segment, outlook = frame.segment.tolist(), frame.outlook
        # A whole-program rescore judges GTM from behaviour alone unless GTM counts in the total (profile texts are
        # judged per partner, too slow for 100,000); each snapshot says which.
        basis = [GTM_WITH_TEXT if frame.gtm_text.get(i) else GTM_BEHAVIOUR for i in range(n)] if frame.gtm_text \
            else [GTM_BEHAVIOUR] * n
        on_list = list(map(_DORMANT.__contains__, plays))
        if sqlite:
            head = _dimensions_head(dim_keys, gtm_keys)
            heads = [head % v for v in zip(*(_json_tokens(c) for c in (*dim_cols, *gtm_cols)), _json_of(basis),
                                           _json_of(outlook), _json_of(list(map(tuple, codes))), strict=True)]
    # A whole-program rescore refits the activation curve (new outcomes may have arrived) and stores it with the
    # baselines; a partial one scores with what the last whole-program rescore stored.
    stake = np.asarray(revenue_at_stake_array(session, frame, use_stored=not whole), dtype=float)
    if whole:
        save_run(session, as_of, cfg, n, frame.priors, activation_curve(session, as_of, cfg, False))
    priority = frame.plays.priority(stake).tolist()
    stakes = stake.tolist()
    if sqlite:
        # The SQLite bulk path takes parameter tuples straight away, each row's JSON written from a template with
        # orjson's text of its values: no per-row dict for 100,000 partners.
        day, now = as_of.isoformat(), _sqlite_now()
        params = [
            (pid, day, total, tier, seg, (h + st_json + _CALLABLE[on]).decode(), pam, st, 1 if on else 0, play, pr,
             now)
            for pid, total, tier, seg, pam, st, st_json, on, play, pr, h in zip(
                frame.ids, frame.total.tolist(), frame.tier.tolist(), segment, frame.feats.pam_ids, stakes,
                _json_tokens(stakes), on_list, plays, priority, heads, strict=True)
        ]
        _execute_sqlite(session, params)
        return len(params)
    dims = zip(*dim_cols, strict=True) if dim_cols else iter([()] * n)
    gtm = zip(*gtm_cols, strict=True) if gtm_cols else iter([()] * n)
    rows = [
        {"partner_id": pid, "as_of": as_of, "score": total, "tier": tier, "segment": seg, "pam_id": pam,
         "revenue_at_stake": st, "on_call_list": on, "play": play, "priority": pr,
         "dimensions": {"dimensions": dict(zip(dim_keys, d, strict=True)), "gtm": dict(zip(gtm_keys, g, strict=True)),
                        "gtm_basis": b, "outlook": out, "flags": c, "revenue_at_stake": st, "callable": on}}
        for pid, total, tier, seg, pam, st, on, play, pr, d, g, out, c, b in zip(
            frame.ids, frame.total.tolist(), frame.tier.tolist(), segment, frame.feats.pam_ids, stakes, on_list,
            plays, priority, dims, gtm, outlook, codes, basis, strict=True)
    ]
    _upsert(session, rows)
    return len(rows)


def rescore_partner(session: Session, partner_id: str, as_of: date) -> PartnerScore:
    """Score one partner and upsert its snapshot (used after a new readiness signal). No momentum: a snapshot
    does not store it, and it would cost two more scorings as of 30 and 90 days earlier."""
    from readiness.errors import UnknownPartner
    from readiness.scoring.score import score_all

    scores = score_all(session, as_of, [partner_id], with_momentum=False)
    if not scores:
        raise UnknownPartner(f"no partner with id {partner_id!r}")
    score = scores[0]
    upsert_snapshots(session, [score])
    session.flush()
    return score


def missing_snapshots(session: Session, as_of: date, pam_id: str | None) -> int:
    """How many partners in scope have no snapshot for as_of (both counts answered from indexes)."""
    partners = select(func.count()).select_from(Partner)
    snaps = select(func.count()).select_from(ScoreSnapshot).where(ScoreSnapshot.as_of == as_of)
    if pam_id is not None:
        partners = partners.where(Partner.pam_id == pam_id)
        snaps = snaps.where(ScoreSnapshot.pam_id == pam_id)
    return int(session.execute(partners).scalar_one()) - int(session.execute(snaps).scalar_one())
