"""Nudges on lumenware as of 2026-10-31; expectations read from the raw activity.csv and partners.csv."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from readiness.db import session_scope
from readiness.nudges import Nudge, NudgeSettings, nudges_due
from tests.conftest import LUMENWARE
from tests.test_gtm import AS_OF, lw_engine  # noqa: F401 - module-scoped lumenware store


@pytest.fixture
def lw(lw_engine: Engine) -> Iterator[Session]:  # noqa: F811
    with session_scope(lw_engine) as s:
        yield s
        s.rollback()


@pytest.fixture
def nudges(lw: Session) -> list[Nudge]:
    return nudges_due(lw, AS_OF)


def _codes(nudges: list[Nudge], partner_id: str) -> set[str]:
    return {n.code for n in nudges if n.partner_id == partner_id}


def test_one_nudge_per_partner_and_code_each_with_a_next_step(nudges: list[Nudge]) -> None:
    counts = Counter((n.partner_id, n.code) for n in nudges)
    assert counts and max(counts.values()) == 1
    assert all(n.next_step and n.reason and n.due_since <= AS_OF for n in nudges)
    assert [n.due_since for n in nudges] == sorted(n.due_since for n in nudges)


def test_no_login_for_thirty_days(nudges: list[Nudge]) -> None:
    """p-046's last portal_login is 2026-04-14; p-044 logged in on 2026-10-31. p-025 (competitive conflict, no
    customer overlap, silent since its one login on 2025-04-01) is written off as "not ever": no reminder at all."""
    n = next(n for n in nudges if n.partner_id == "p-046" and n.code == "no_login")
    assert n.audience == "pam" and n.due_since == date(2026, 5, 14) and "2026-04-14" in n.reason
    assert "no_login" not in _codes(nudges, "p-044")
    assert _codes(nudges, "p-025") == set()


def test_registered_deal_without_ae_meeting(nudges: list[Nudge]) -> None:
    """p-012 registered deals on 2026-09-03 and 2026-09-27; its last ae_meeting was 2026-08-25.
    p-005 registered its 4 deals without any AE touch, but before 2026-05 (older than the 180-day lookback)."""
    n = next(n for n in nudges if n.partner_id == "p-012" and n.code == "deal_without_ae")
    assert "2 deal registration(s) since 2026-09-03" in n.reason
    assert n.due_since == date(2026, 9, 17)  # 14-day grace after the first unattended registration
    assert "deal_without_ae" not in _codes(nudges, "p-005")


def test_certification_with_no_deal_after_sixty_days(nudges: list[Nudge], lw: Session) -> None:
    """p-004 certified 2026-07-07 and never registered a deal (116 days); p-005 certified before its 4 deals."""
    n = next(n for n in nudges if n.partner_id == "p-004" and n.code == "certified_no_deal")
    assert n.audience == "partner" and n.due_since == date(2026, 9, 5)
    assert "certified_no_deal" not in _codes(nudges, "p-005")
    # Fifty days after the certification it is not due yet.
    assert "certified_no_deal" not in _codes(nudges_due(lw, date(2026, 8, 26), partner_ids=["p-004"]), "p-004")


def test_scoping_by_pam_and_thresholds(lw: Session, nudges: list[Nudge]) -> None:
    mine = nudges_due(lw, AS_OF, pam_id="pam-03")
    assert mine and {n.partner_id for n in mine} <= {f"p-{i:03d}" for i in (5, 8, 9, 11, 12, 14, 18, 20, 21, 24, 25,
                                                                         26, 27, 31, 37, 43)}
    assert [n for n in nudges if n.partner_id in {m.partner_id for m in mine}] == mine
    relaxed = nudges_due(lw, AS_OF, settings=NudgeSettings(no_login_days=150))
    assert {n.partner_id for n in relaxed if n.code == "no_login"} == _silent_since(150) - _structural()


def _rows(name: str) -> list[dict[str, str]]:
    with (LUMENWARE / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _silent_since(days: int) -> set[str]:
    """Partners whose last portal_login is more than `days` before AS_OF (read from the raw CSV)."""
    last: dict[str, str] = {}
    for r in _rows("activity.csv"):
        if r["kind"] == "portal_login":
            last[r["partner_id"]] = max(last.get(r["partner_id"], ""), r["occurred_at"][:10])
    return {pid for pid, d in last.items() if (AS_OF - date.fromisoformat(d)).days > days}


def _structural() -> set[str]:
    """Competitive conflict and no customer overlap: the program's "not ever" partners."""
    return {r["partner_id"] for r in _rows("partners.csv")
            if r["competitive_conflict"].strip() and r["customer_overlap_accounts"] in {"", "0"}}
