"""Shared set-up for the REST / auth / hostile-input tests: the lumenware program in a fresh SQLite copy, store API
keys for every kind of principal, and an app built on them.

From the raw data (evals/datasets/lumenware/partners.csv): p-004 Thistle Networks is in pam-02's book; p-014
Vantage Networks is in pam-03's; p-002 Westbrook Consulting is in pam-01's.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from agent import services
from agent.services import configure
from readiness.db import make_engine, session_scope
from readiness.keys import create_key, revoke_key
from readiness.models import ApiKey
from readiness.settings import Settings, get_settings
from server.app import create_app

FIXTURE_PLAYBOOKS = Path(__file__).parent / "fixtures" / "playbooks"
KEY_SPECS: dict[str, tuple[str, str | None]] = {
    "pam2": ("pam", "pam-02"), "pam3": ("pam", "pam-03"), "p004": ("partner", "p-004"),
    "p014": ("partner", "p-014"), "leader": ("leader", None), "admin": ("admin", None),
}


@dataclass
class Api:
    client: TestClient
    engine: Engine
    keys: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)

    def h(self, name: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}", **extra}


def make_keys(engine: Engine) -> tuple[dict[str, str], dict[str, str]]:
    """A key per principal in KEY_SPECS, plus a revoked and an expired admin key (the strongest role, so any
    answer but 401 to them would be a leak)."""
    keys, ids = {}, {}
    with session_scope(engine) as s:
        for name, (role, pid) in KEY_SPECS.items():
            made = create_key(s, role, pid, name=name)  # type: ignore[arg-type]
            keys[name], ids[name] = made.key, made.info.key_id
        revoked = create_key(s, "admin", name="revoked")
        revoke_key(s, revoked.info.key_id)
        keys["revoked"], ids["revoked"] = revoked.key, revoked.info.key_id
        soon = create_key(s, "admin", name="expired", expires_at=datetime.now(UTC) + timedelta(hours=1))
        keys["expired"], ids["expired"] = soon.key, soon.info.key_id
        # An hour passes: the key is past its expiry.
        s.execute(update(ApiKey).where(ApiKey.key_id == soon.info.key_id)
                  .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    return keys, ids


@pytest.fixture
def store(lumenware_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A fresh copy of the lumenware store as the process's services, checkpoints under a temp home."""
    from tests.conftest import LUMENWARE_AS_OF  # not at import time: conftest imports this module

    db = tmp_path / "store.db"
    shutil.copyfile(lumenware_db, db)
    monkeypatch.setenv("PARTNERPILOT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PARTNERPILOT_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("PARTNERPILOT_AS_OF", LUMENWARE_AS_OF)
    monkeypatch.setenv("PARTNERPILOT_PROVIDER", "offline")
    # The small fixture library: a search builds its index in seconds, not the whole corpus's quarter minute.
    monkeypatch.setenv("PARTNERPILOT_KNOWLEDGE_DIR", str(FIXTURE_PLAYBOOKS))
    for name in ("PARTNERPILOT_API_TOKENS", "PARTNERPILOT_DEMO_LOGIN", "PARTNERPILOT_REDIS_URL",
                 "PARTNERPILOT_OIDC_JWKS", "PARTNERPILOT_RATE_LIMIT_PER_MINUTE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    engine = make_engine(f"sqlite:///{db}")
    monkeypatch.setattr(services, "_services", services._services)  # restored after the test
    configure(engine)
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def app_for(**overrides: Any) -> Any:
    return create_app(Settings(**overrides))


@pytest.fixture
def api(store: Engine) -> Iterator[Api]:
    keys, ids = make_keys(store)
    with TestClient(app_for()) as client:
        yield Api(client=client, engine=store, keys=keys, key_ids=ids)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_service(reason: str | None) -> None:
    """Redis runs on every machine of this project, CI included: missing there is a failure, elsewhere a skip."""
    if reason is None:
        return
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def redis_problem(url: str = "redis://127.0.0.1:6379/0") -> str | None:
    from server.shared import RedisState, SharedUnavailable

    try:
        RedisState(url).ping()
        return None
    except SharedUnavailable as exc:
        return str(exc)


REDIS_URL = os.environ.get("PARTNERPILOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

__all__ = ["KEY_SPECS", "REDIS_URL", "Api", "api", "app_for", "free_port", "make_keys",
           "redis_problem", "require_service", "store"]
