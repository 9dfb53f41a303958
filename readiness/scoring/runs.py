"""Scoring runs (`scoring_runs`): the program baselines and activation curve a full rescore used for a date and
config, so an incremental rescore (and a chat started later) scores with the same ones instead of refitting."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from readiness.models import ScoringRun
from readiness.scoring.config import ScoringConfig

if TYPE_CHECKING:
    from readiness.scoring.priors import Priors
    from readiness.scoring.revenue import ActivationCurve


def load_run(session: Session, as_of: date, cfg: ScoringConfig) -> ScoringRun | None:
    return session.scalars(select(ScoringRun).where(ScoringRun.as_of == as_of,
                                                    ScoringRun.config_hash == cfg.fingerprint())).first()


def save_run(session: Session, as_of: date, cfg: ScoringConfig, partners: int, priors: Priors,
             curve: ActivationCurve) -> None:
    session.execute(delete(ScoringRun).where(ScoringRun.as_of == as_of, ScoringRun.config_hash == cfg.fingerprint()))
    session.add(ScoringRun(as_of=as_of, config_hash=cfg.fingerprint(), partners=partners, priors=priors.to_json(),
                           curve=curve.to_json()))
    session.flush()
