"""Identity: store keys and their CLI, OIDC bearers verified against a JWKS, demo login rules and demo-token
revocation, per-key rate limits (in process and shared through Redis), and Redis configured but down."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from readiness.db import session_scope
from readiness.keys import create_key, hash_key, resolve_key
from readiness.models import ApiKey, AuditLog
from readiness.scope import Principal
from readiness.settings import Settings
from server.demo import DemoTokens, demo_state
from tests.api_support import REDIS_URL, Api, app_for, free_port, redis_problem, require_service

pytestmark = pytest.mark.xdist_group("server")


# ---- store keys ---------------------------------------------------------------------------------------------


def test_keys_cli_prints_the_key_once_stores_only_its_hash_and_revokes_at_once(store: Engine) -> None:
    from partnerpilot.cli import app as cli
    from partnerpilot.cli import common

    common._engine = None  # the CLI opens the store named by the environment (this test's copy)
    runner = CliRunner()
    made = runner.invoke(cli, ["keys", "create", "--pam", "pam-02", "--name", "crm sync", "--json"])
    assert made.exit_code == 0, made.output
    new = json.loads(made.output)
    key, key_id = new["key"], new["info"]["key_id"]
    secret = key.removeprefix(f"pp_{key_id}_")
    assert key.startswith(f"pp_{key_id}_") and len(secret) == 43  # 32 random bytes, base64url
    with session_scope(store) as s:
        row = s.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).one()
        assert row.secret_hash == hash_key(key) and key not in (row.secret_hash, row.name)
        assert s.scalars(select(AuditLog).where(AuditLog.action == "key.create")).first() is not None
    listed = runner.invoke(cli, ["keys", "list", "--json"])
    assert key_id in listed.output and key not in listed.output and secret not in listed.output
    assert runner.invoke(cli, ["keys", "create", "--pam", "pam-02", "--leader"]).exit_code == 2
    assert "unknown pam" in runner.invoke(cli, ["keys", "create", "--pam", "pam-99"]).output

    with TestClient(app_for()) as c:
        assert c.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).json()["principal_id"] == "pam-02"
        assert runner.invoke(cli, ["keys", "revoke", key_id]).exit_code == 0
        assert c.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    common._engine = None


def test_a_key_resolves_only_with_its_exact_secret_and_until_its_expiry(store: Engine) -> None:
    with session_scope(store) as s:
        made = create_key(s, "partner", "p-004", expires_at=datetime.now(UTC) + timedelta(days=1))
        assert resolve_key(s, made.key) == (made.info.key_id, Principal(role="partner", id="p-004"))
        tampered = made.key[:-1] + ("A" if made.key[-1] != "A" else "B")
        assert resolve_key(s, tampered) is None
        assert resolve_key(s, made.key, now=datetime.now(UTC) + timedelta(days=2)) is None


# ---- OIDC ---------------------------------------------------------------------------------------------------


def _rsa_jwks(kid: str) -> tuple[Any, dict[str, Any]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return private, {"keys": [{**public, "kid": kid, "use": "sig", "alg": "RS256"}]}


def _token(private: Any, kid: str, claims: dict[str, Any]) -> str:
    now = int(time.time())
    body = {"iss": "https://idp.test", "aud": "partnerpilot", "sub": "user-1", "iat": now, "exp": now + 300, **claims}
    return jwt.encode(body, private, algorithm="RS256", headers={"kid": kid})


def test_oidc_bearers_verified_against_a_jwks_file_map_a_claim_to_the_principal(store: Engine, tmp_path: Path) -> None:
    private, jwks = _rsa_jwks("k1")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    other, _ = _rsa_jwks("k1")
    settings = {"oidc_jwks": str(path), "oidc_issuer": "https://idp.test", "oidc_audience": "partnerpilot"}
    with TestClient(app_for(**settings)) as c:
        def me(token: str) -> Any:
            return c.get("/v1/me", headers={"Authorization": f"Bearer {token}"})

        good = me(_token(private, "k1", {"partnerpilot_principal": "pam:pam-02"}))
        assert good.status_code == 200 and good.json() == {"role": "pam", "principal_id": "pam-02",
                                                           "name": good.json()["name"], "credential": "oidc"}
        assert c.get("/v1/partners/p-014", headers={"Authorization": "Bearer " + _token(
            private, "k1", {"partnerpilot_principal": "pam:pam-02"})}).status_code == 404
        for bad in (_token(other, "k1", {"partnerpilot_principal": "pam:pam-02"}),  # signed by someone else
                    _token(private, "k1", {"partnerpilot_principal": "pam:pam-02", "exp": int(time.time()) - 120}),
                    _token(private, "k1", {"partnerpilot_principal": "pam:pam-02", "aud": "other-app"}),
                    _token(private, "k1", {"partnerpilot_principal": "pam:pam-02", "iss": "https://evil.test"}),
                    _token(private, "k1", {}),  # no principal claim
                    _token(private, "k1", {"partnerpilot_principal": "root:all"}),
                    _token(private, "k1", {"partnerpilot_principal": "pam:pam-99"})):  # not in the store
            assert me(bad).status_code == 401
        unsigned = jwt.encode({"partnerpilot_principal": "admin:x", "exp": int(time.time()) + 60}, None,
                              algorithm="none")
        assert me(unsigned).status_code == 401


def test_oidc_jwks_fetched_from_a_url(store: Engine) -> None:
    private, jwks = _rsa_jwks("url-key")
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
        with TestClient(app_for(oidc_jwks=url, oidc_issuer="https://idp.test", oidc_audience="partnerpilot")) as c:
            token = _token(private, "url-key", {"partnerpilot_principal": "partner:p-004"})
            r = c.get("/v1/partners", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and [p["partner_id"] for p in r.json()["items"]] == ["p-004"]
    finally:
        server.shutdown()


# ---- demo login ---------------------------------------------------------------------------------------------


def test_demo_login_is_on_only_on_loopback_without_keys_and_never_on_postgres(store: Engine) -> None:
    assert demo_state(Settings(host="127.0.0.1"), keys_in_store=False).enabled
    assert demo_state(Settings(host="::1"), keys_in_store=False).enabled
    assert not demo_state(Settings(host="0.0.0.0"), keys_in_store=False).enabled
    assert demo_state(Settings(host="0.0.0.0", demo_login=True), keys_in_store=False).enabled
    for blocked in (Settings(demo_login=True, api_tokens="t=pam:pam-02"), Settings(demo_login=True,
                    oidc_jwks="/x.json"), Settings(demo_login=True, database_url="postgresql+psycopg://u@h/db")):
        assert not demo_state(blocked, keys_in_store=False).enabled
    assert not demo_state(Settings(demo_login=True), keys_in_store=True).enabled
    # Started some other way on every interface while settings say loopback: a LAN request is still refused.
    assert not demo_state(Settings(host="127.0.0.1"), keys_in_store=False, local_addr="192.168.1.20").enabled
    assert demo_state(Settings(host="127.0.0.1"), keys_in_store=False, local_addr="127.0.0.1").enabled

    with TestClient(app_for(host="127.0.0.1")) as c:
        offered = [p["as"] for p in c.get("/principals").json()["principals"]]
        assert c.post("/login", json={"as": offered[0]}).status_code == 200
        # Only principals offered on /principals: p-014 is not among them (the first two partners of each book are).
        assert "partner:p-014" not in offered
        assert c.post("/login", json={"as": "partner:p-014"}).status_code == 404
        # The first key created turns demo login off, and with it every demo token already issued.
        token = c.post("/login", json={"as": offered[0]}).json()["token"]
        assert c.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        with session_scope(store) as s:
            create_key(s, "admin")
        assert c.post("/login", json={"as": offered[0]}).status_code == 404
        assert c.get("/principals").status_code == 404
        assert c.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with TestClient(app_for(host="0.0.0.0", demo_login=True, api_tokens="tok=pam:pam-02")) as c:
        assert c.post("/login", json={"as": "pam:pam-02"}).status_code == 404


def test_demo_tokens_are_short_lived_and_revocable(store: Engine) -> None:
    with TestClient(app_for(host="127.0.0.1", demo_token_ttl_s=600)) as c:
        issued = c.post("/login", json={"as": "pam:pam-02"}).json()
        lifetime = datetime.fromisoformat(issued["expires_at"]) - datetime.now(UTC)
        assert timedelta(minutes=9) < lifetime <= timedelta(minutes=10)
        auth = {"Authorization": f"Bearer {issued['token']}"}
        assert c.get("/v1/me", headers=auth).status_code == 200
        assert c.post("/logout", headers=auth).json()["revoked"] is True
        assert c.get("/v1/me", headers=auth).status_code == 401
    tokens = DemoTokens("k", ttl_s=60)
    token, _ = tokens.issue(Principal(role="pam", id="pam-02"), now=1000.0)
    assert tokens.verify(token, now=1030.0) is not None and tokens.verify(token, now=1061.0) is None
    assert Settings().demo_token_ttl_s <= 3600  # default: short-lived


# ---- rate limits and Redis ----------------------------------------------------------------------------------


def test_a_key_over_its_rate_limit_gets_429_with_retry_after_and_other_keys_do_not(api: Api) -> None:
    _wait_for_fresh_minute()
    with TestClient(app_for(rate_limit_per_minute=5)) as c:
        codes = [c.get("/v1/me", headers=api.h("pam2")).status_code for _ in range(6)]
        limited = c.get("/v1/me", headers=api.h("pam2"))
        assert codes == [200] * 5 + [429] and limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60 and "rate limit" in limited.json()["detail"]
        assert c.get("/v1/me", headers=api.h("pam3")).status_code == 200


def test_rate_limits_and_demo_revocations_hold_across_workers_through_redis(store: Engine) -> None:
    require_service(redis_problem(REDIS_URL))
    _wait_for_fresh_minute()
    with session_scope(store) as s:
        key = create_key(s, "pam", "pam-02").key
    shared = {"redis_url": REDIS_URL, "rate_limit_per_minute": 6}
    with TestClient(app_for(**shared)) as one, TestClient(app_for(**shared)) as two:
        auth = {"Authorization": f"Bearer {key}"}
        codes = [(one if i % 2 else two).get("/v1/me", headers=auth).status_code for i in range(8)]
        assert codes == [200] * 6 + [429, 429]
    demo = {"redis_url": REDIS_URL, "host": "127.0.0.1", "secret_key": "shared-secret"}
    with session_scope(store) as s:  # demo login needs a store without keys
        for row in s.scalars(select(ApiKey)):
            s.delete(row)
    with TestClient(app_for(**demo)) as one, TestClient(app_for(**demo)) as two:
        token = one.post("/login", json={"as": "pam:pam-02"}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert two.get("/v1/me", headers=auth).status_code == 200  # verifies on the other worker
        assert one.post("/logout", headers=auth).json()["revoked"] is True
        assert two.get("/v1/me", headers=auth).status_code == 401


def _wait_for_fresh_minute() -> None:
    left = 60 - time.time() % 60
    if left < 10:
        time.sleep(left + 0.1)


def test_redis_configured_but_unreachable_is_a_clear_503_and_not_ready(api: Api) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    with TestClient(app_for(redis_url=down)) as c:
        r = c.get("/v1/me", headers=api.h("pam2"))
        assert r.status_code == 503 and "Redis at redis://127.0.0.1" in r.json()["detail"]
        assert "unreachable" in r.json()["detail"] and r.headers["retry-after"]
        ready = c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["redis"]["ok"] is False
        assert ready.json()["checks"]["store"]["ok"] is True
    with TestClient(app_for(redis_url=down, rate_limit_per_minute=0)) as c:
        # Limits off still checks nothing in Redis for keys: store keys are authoritative in the store.
        assert c.get("/v1/me", headers=api.h("pam2")).status_code == 200


def test_up_refuses_several_workers_without_postgres_and_redis_and_names_the_fix(
    store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    from typer import Exit

    from partnerpilot.cli.up import check_deployment

    for settings, workers, needle in (
        (Settings(), 2, "PARTNERPILOT_DATABASE_URL=postgresql"),
        (Settings(database_url="postgresql+psycopg://u@127.0.0.1/db"), 2, "PARTNERPILOT_REDIS_URL=redis://"),
        (Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0"), 1, "is unreachable"),
    ):
        with pytest.raises(Exit):
            check_deployment(settings, workers=workers)
        assert needle in " ".join(capsys.readouterr().err.split())
    check_deployment(Settings(), workers=1)
