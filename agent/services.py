"""Process-wide services the tools use (store engine, knowledge base). Created lazily from settings;
tests and the eval runner install their own with `configure`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from readiness.db import init_db, make_engine, session_scope


@dataclass
class Services:
    engine: Engine
    knowledge: Any = None  # knowledge.retriever.KnowledgeBase, built on first use

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.engine) as s:
            yield s

    def kb(self) -> Any:
        if self.knowledge is None:
            from knowledge.retriever import KnowledgeBase

            self.knowledge = KnowledgeBase()
        return self.knowledge


_lock = threading.Lock()
_services: Services | None = None


def configure(engine: Engine, knowledge: Any = None) -> Services:
    global _services
    with _lock:
        _services = Services(engine=engine, knowledge=knowledge)
    return _services


def get_services() -> Services:
    global _services
    with _lock:
        if _services is None:
            engine = make_engine()
            init_db(engine)
            _services = Services(engine=engine)
        return _services
