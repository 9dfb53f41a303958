"""Dates the data itself establishes (for the "today" rule of a demo store)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from readiness.models import ActivityEvent, Opportunity

EPOCH = date(1970, 1, 1)


def newest_data_date(session: Session) -> date | None:
    """The newest day something happened in the store: the latest activity event or opportunity creation (close
    dates are excluded: an open opportunity's close date is a forecast, not something that happened)."""
    day = session.scalar(select(func.max(ActivityEvent.day)))
    created = session.scalar(select(func.max(Opportunity.created_on)))
    if isinstance(created, str):  # SQLite through a raw path returns ISO text
        created = date.fromisoformat(created[:10])
    found = [d for d in (EPOCH + timedelta(days=int(day)) if day is not None else None, created) if d is not None]
    return max(found) if found else None
