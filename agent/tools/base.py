"""What every tool shares: the JSON envelope, scope resolution from the injected context, idempotency keys.

Tools never take identity from their arguments: the principal comes from the runtime context. Domain errors come
back as a tool message the model can recover from; no traceback reaches the user.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import structlog
from langchain.tools import ToolRuntime
from langchain_core.messages import HumanMessage
from pydantic import BaseModel
from sqlalchemy.orm import Session

from agent.context import Context
from agent.services import get_services
from readiness.errors import OutOfScope, ReadinessError, UnknownPartner, ValidationFailed
from readiness.scope import AmbiguousPartner, PartnerRef, resolve_partner

log = structlog.get_logger(__name__)


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, date):
        return obj.isoformat()
    return str(obj)


def ok(data: Any) -> str:
    return json.dumps({"ok": True, "data": data}, default=_default, ensure_ascii=False)


def error(message: str, code: str, refused: bool = False, **extra: Any) -> str:
    return json.dumps({"ok": False, "code": code, "error": message, "refused": refused, **extra}, default=_default)


def guarded(fn: Callable[..., str]) -> Callable[..., str]:
    """Turn domain errors into recoverable tool messages; scope violations are flagged as refusals."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> str:
        try:
            return fn(*args, **kwargs)
        except OutOfScope as exc:
            return error(str(exc), "out_of_scope", refused=True)
        except AmbiguousPartner as exc:
            return error(str(exc), "ambiguous", candidates=[c.model_dump() for c in exc.candidates])
        except UnknownPartner as exc:
            # Outside a leader's view, "no such partner" and "not yours" must read the same: a reply that differs
            # would tell a PAM or a partner which names exist in other books.
            if _role(args, kwargs) != "leader":
                return error("That partner is not in your book; I can only discuss partners you manage.",
                             "out_of_scope", refused=True)
            return error(str(exc), "not_found")
        except ValidationFailed as exc:
            return error(str(exc), "invalid")
        except ReadinessError as exc:
            return error(str(exc), "error")
        except Exception:  # a bug or an outage: log it, tell the model plainly
            log.exception("tool_failed", tool=fn.__name__)
            return error("an internal error occurred; please try again or ask something else", "internal")

    return wrapper


def _role(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    runtime = kwargs.get("runtime", args[0] if args else None)
    ctx = getattr(runtime, "context", None)
    return ctx.role if isinstance(ctx, Context) else None


def context_of(runtime: Any) -> Context:
    ctx = getattr(runtime, "context", None)
    if not isinstance(ctx, Context) or not ctx.principal_id:
        raise OutOfScope("no authenticated principal for this conversation")
    return ctx


def subject(session: Session, ctx: Context, partner: str | None) -> PartnerRef:
    """The partner a call is about: the principal itself for partners, a partner in the book for PAMs."""
    return resolve_partner(session, ctx.principal, partner)


def thread_id(runtime: Any) -> str | None:
    config = getattr(runtime, "config", None) or {}
    return (config.get("configurable") or {}).get("thread_id")


def idempotency_key(runtime: Any, tool: str, args: dict[str, Any]) -> str:
    """Same thread, same user turn, same call: same key. A retried turn therefore writes once."""
    state = getattr(runtime, "state", None) or {}
    messages = state.get("messages", []) if isinstance(state, dict) else []
    turn = sum(1 for m in messages if isinstance(m, HumanMessage))
    ctx = context_of(runtime)
    raw = json.dumps([thread_id(runtime), ctx.principal.actor, turn, tool, args], sort_keys=True, default=str)
    return f"{tool}:{hashlib.sha256(raw.encode()).hexdigest()[:32]}"


_NAMED = re.compile(r"\b[A-Z][\w&'-]*(?:\s+[A-Z][\w&'-]*)+")


def statement_key(runtime: Any, tool: str, args: dict[str, Any], evidence: str = "evidence") -> str:
    """Same principal, partner and dimension, same fact: same key, whatever the thread or turn, so progress told twice
    is recorded once. The fact is the names the statement gives (a customer, a certification: "the Northwind
    Freight case study is published, like I said" repeats "the Northwind Freight case study went live"), else its
    words, case, spacing and punctuation aside."""
    ctx = context_of(runtime)
    canonical = {k: " ".join(re.sub(r"[^\w\s]", " ", str(v).lower()).split()) if isinstance(v, str) else v
                 for k, v in args.items()}
    names = sorted({m.group(0).lower() for m in _NAMED.finditer(str(args.get(evidence) or ""))})
    if names:
        canonical[evidence] = names
    raw = json.dumps([ctx.principal.actor, tool, canonical], sort_keys=True, default=str)
    return f"{tool}:{hashlib.sha256(raw.encode()).hexdigest()[:32]}"


WRITE_TOOLS = {"update_milestone", "record_readiness_signal"}
# A turn records what the user said, once or twice; a model looping on a write tool must not flood the store.
MAX_WRITES_PER_TURN = 2


def check_write_budget(runtime: Any) -> None:
    """Refuse a write when the current turn already made MAX_WRITES_PER_TURN write calls (this one excluded)."""
    state = getattr(runtime, "state", None) or {}
    messages = state.get("messages", []) if isinstance(state, dict) else []
    calls: list[str] = []
    for m in reversed(messages):
        if isinstance(m, HumanMessage):
            break
        calls += [c["id"] for c in getattr(m, "tool_calls", []) or [] if c["name"] in WRITE_TOOLS]
    this = getattr(runtime, "tool_call_id", None)
    earlier = [c for c in calls if c != this]
    if len(earlier) >= MAX_WRITES_PER_TURN:
        raise ValidationFailed(f"at most {MAX_WRITES_PER_TURN} updates per message; this one was not recorded. "
                               "Answer the user with what was recorded.")


def services_session() -> Any:
    return get_services().session()


# Parameterised so LangChain validates the injected runtime against our context type.
Runtime = ToolRuntime[Context, dict[str, Any]]
