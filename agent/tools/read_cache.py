"""The agent's read tools remember their results per worker under the store's data version
(readiness.dataversion): a tool result is a function of the store, the principal, the as-of date and the call's
arguments, so the same call under the same version gets the same JSON without scoring again. Any commit that changes
the store (an import, a recorded signal, a milestone, a plan created on first read) moves the version, so the next
call reads afresh; entries of older versions are never asked for again and age out of the LRU, and none is kept
longer than scoring keeps its program baselines (readiness.scoring.priors.CACHE_TTL_S).

A result is kept only when the tool answered (not an internal error). Nothing is kept when the version cannot be
read (a store without the counter) or when `PARTNERPILOT_READ_CACHE=false`.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Hashable
from typing import Any

from agent.context import Context
from agent.services import get_services
from readiness.dataversion import read_version
from readiness.lru import Lru
from readiness.scoring.priors import CACHE_TTL_S
from readiness.settings import get_settings

# A tool result is a few KB of JSON (a call list ~10 KB): at most a few MB per worker; a conversation's reads are a
# handful of entries, so this serves a few hundred partners' conversations between two changes of the store.
ENTRIES = 1024
MAX_AGE_S = CACHE_TTL_S

_entries = Lru(ENTRIES)


def clear() -> None:
    _entries.clear()


def _key(name: str, ctx: Context, kwargs: dict[str, Any], version: Hashable) -> Hashable:
    args = json.dumps({k: v for k, v in kwargs.items() if k != "runtime"}, sort_keys=True, default=str)
    engine = get_services().engine
    return (str(engine.url), version, ctx.as_of, ctx.role, ctx.principal_id, name, args)


def read_through(fn: Callable[..., str]) -> Callable[..., str]:
    """For a read-only tool (inside `@tool`, outside `@guarded`): its result under the current data version."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> str:
        runtime = kwargs.get("runtime", args[0] if args else None)
        ctx = getattr(runtime, "context", None)
        if not isinstance(ctx, Context) or not ctx.principal_id or not get_settings().read_cache:
            return fn(*args, **kwargs)
        version = read_version(get_services().engine)
        if version is None:
            return fn(*args, **kwargs)
        key = _key(fn.__name__, ctx, kwargs, version)
        now = time.monotonic()
        found = _entries.get(key)
        if found is not None and now - found[0] < MAX_AGE_S:
            return str(found[1])
        result = fn(*args, **kwargs)
        if '"code": "internal"' not in result:
            _entries.put(key, (now, result))
        return result

    return wrapper


__all__ = ["clear", "read_through"]
