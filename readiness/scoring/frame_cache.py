"""Small scoring frames (one partner, a shortlist, a book) remembered per process under the store's data version
(readiness.dataversion): a frame is a function of the store, the date and the partners asked for, and one chat turn
or dashboard asks for the same partner's frame several times (its score, its momentum's earlier dates, whether it
is written off for nudges). Any commit that changes the store moves the version, so the next request computes
afresh; a transaction that has written and not committed yet never reads or fills the cache (its own changes are
not under any version yet). Entries age out after the program baselines' own lifetime (priors.CACHE_TTL_S).

`PARTNERPILOT_READ_CACHE=false` turns it off. Whole-program frames are never kept (a full rescore's frame is
large, and it is computed to be written down).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import date
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from readiness import dataversion
from readiness.scoring.priors import CACHE_TTL_S
from readiness.settings import get_settings

T = TypeVar("T")
MAX_PARTNERS = 512  # frames of more partners are computed every time
# Memory is bounded by frames and by partner rows across them: a one-partner frame holds ~45 KB (measured with
# tracemalloc on lumenware), a bigger one a few KB more per partner. A turn reads 3-4 frames, so 256 frames serve
# dozens of conversations at once, at most ~12 MB of one-partner frames or ~5,000 partners' rows per worker. (A soak
# with a signal written every 0.5 s, each moving the version, filled a 20,000-row bound: workers grew +24 %.)
MAX_FRAMES = 256
MAX_ROWS = 5_000

_entries: OrderedDict[Hashable, tuple[float, Any, object]] = OrderedDict()
_rows = 0  # partners across the kept frames
_lock = threading.Lock()


def clear() -> None:
    global _rows
    with _lock:
        _entries.clear()
        _rows = 0


def _version(session: Session) -> tuple[Any, ...] | None:
    """The data version this session reads under, or None: the store has no counter, or this transaction has
    written (flushed or not) and so reads data that no version names yet."""
    if session.new or session.dirty or session.deleted:
        return None
    conn = session.connection()
    if conn.info.get(dataversion.CHANGED_KEY):
        return None
    dbapi = conn.connection.dbapi_connection
    if dbapi is None or not dataversion.has_table(dbapi, conn.info, conn.dialect.name):
        return None
    row = conn.exec_driver_sql(dataversion.READ_SQL).first()  # (n, stamp): one state of one store
    return None if row is None else tuple(row)


def remembered(session: Session, as_of: date, partner_ids: list[str], config: object, compute: Callable[[], T]
               ) -> T:
    """`compute()`'s frame, or the one it gave under the same data version, date, partners and scoring config (the
    configured one: a reloaded file is a new object, and the entry holds its config so the id stays its own)."""
    if len(partner_ids) > MAX_PARTNERS or not get_settings().read_cache:
        return compute()
    version = _version(session)
    if version is None:
        return compute()
    key = (str(session.get_bind().url), version, as_of, id(config), tuple(partner_ids))
    now = time.monotonic()
    with _lock:
        found = _entries.get(key)
        if found is not None and now - found[0] < CACHE_TTL_S:
            _entries.move_to_end(key)
            return found[1]  # type: ignore[no-any-return]
    value = compute()
    global _rows
    with _lock:
        if key not in _entries:
            _rows += len(partner_ids)
        _entries[key] = (now, value, config)
        _entries.move_to_end(key)
        while (_rows > MAX_ROWS or len(_entries) > MAX_FRAMES) and _entries:
            old, _ = _entries.popitem(last=False)
            _rows -= len(old[-1])  # type: ignore[index]
    return value


__all__ = ["MAX_PARTNERS", "clear", "remembered"]
