"""Two workers refreshing a date's snapshots at once (each one's first call list of the day, on PostgreSQL) both
succeed: the scoring run is upserted, not deleted and re-inserted, and snapshot rows are written in one order
whoever writes them, so neither hits the unique key nor deadlocks."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import Engine, func, select

from readiness.db import session_scope
from readiness.importers import import_dataset
from readiness.models import ScoreSnapshot, ScoringRun
from readiness.scoring import clear_caches, refresh_snapshots
from tests.conftest import LUMENWARE, LUMENWARE_AS_OF

AS_OF = date.fromisoformat(LUMENWARE_AS_OF)


@pytest.mark.postgres
def test_two_refreshes_of_one_date_at_once_both_succeed(postgres_engine: Engine) -> None:
    import_dataset(postgres_engine, LUMENWARE)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def refresh(ids_desc: bool) -> None:
        try:
            with session_scope(postgres_engine) as s:
                ids = sorted(s.scalars(select(ScoreSnapshot.partner_id).distinct()).all(), reverse=ids_desc)
                start.wait(timeout=30)
                refresh_snapshots(s, AS_OF)  # the whole program: writes the scoring run too
                refresh_snapshots(s, AS_OF, ids or None)
        except BaseException as exc:  # reported below
            errors.append(exc)

    for _ in range(3):
        clear_caches()
        threads = [threading.Thread(target=refresh, args=(d,)) for d in (False, True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
    with session_scope(postgres_engine) as s:
        assert s.scalar(select(func.count()).select_from(ScoringRun).where(ScoringRun.as_of == AS_OF)) == 1
        assert s.scalar(select(func.count()).select_from(ScoreSnapshot).where(ScoreSnapshot.as_of == AS_OF)) > 0
