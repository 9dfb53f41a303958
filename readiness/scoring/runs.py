"""Scoring runs (`scoring_runs`): the program baselines and activation curve a full rescore used for a date and
config, so an incremental rescore (and a chat started later) scores with the same ones instead of refitting."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from readiness.models import ScoringRun, utcnow
from readiness.scoring.config import ScoringConfig

if TYPE_CHECKING:
    from readiness.scoring.priors import Priors
    from readiness.scoring.revenue import ActivationCurve


def load_run(session: Session, as_of: date, cfg: ScoringConfig) -> ScoringRun | None:
    return session.scalars(select(ScoringRun).where(ScoringRun.as_of == as_of,
                                                    ScoringRun.config_hash == cfg.fingerprint())).first()


def save_run(session: Session, as_of: date, cfg: ScoringConfig, partners: int, priors: Priors,
             curve: ActivationCurve) -> None:
    # One statement, not delete-then-insert: two workers finishing their first full rescore of a date at once
    # would otherwise both insert and one would fail on the unique key.
    values = {"as_of": as_of, "config_hash": cfg.fingerprint(), "partners": partners, "priors": priors.to_json(),
              "curve": curve.to_json(), "created_at": utcnow()}
    ins = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = ins(ScoringRun).values(**values)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["as_of", "config_hash"],
        set_={k: stmt.excluded[k] for k in ("partners", "priors", "curve", "created_at")}))
    session.flush()
