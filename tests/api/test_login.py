"""Password login, tokens and sessions: wrong passwords, rate limits, expiry, tampering, logout."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from werk.api import create_app
from werk.api.auth import identity_of
from werk.api.identity import COOKIE, TOKEN_PREFIX
from werk.api.users import Users, hash_password, verify_password
from werk.errors import ConfigError, InvalidInput
from werk.settings import Settings
from werk.sharing.principal import Grant, Role
from werk.store import Store, open_store

ADMIN = "login-admin-secret"
PASSWORD = "correct horse battery"
A = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    the_store = open_store(f"duckdb:///{tmp_path / 'werk.duckdb'}")
    Users(the_store).create(
        "ann", PASSWORD, grants=[Grant("acme/wob", Role.VIEWER), Grant("acme/gru", Role.ENGINEER)]
    )
    yield the_store
    the_store.close()


@pytest.fixture
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, admin_key=SecretStr(ADMIN), login_attempts=3)
    with TestClient(create_app(settings, store=store)) as c:
        yield c


def login(client: TestClient, user: str = "ann", password: str = PASSWORD) -> str:
    r = client.post("/api/v1/auth/login", json={"user": user, "password": password})
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_login_answers_a_token_and_an_httponly_cookie(client: TestClient) -> None:
    r = client.post("/api/v1/auth/login", json={"user": "ann", "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token"].startswith(TOKEN_PREFIX)
    assert body["participant"] == "platform"
    assert body["grants"] == [
        {"path": "acme/gru", "role": "engineer"},
        {"path": "acme/wob", "role": "viewer"},
    ]
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    # the cookie alone authenticates (the dashboard), so does the bearer token (scripts)
    me = client.get("/api/v1/auth/me")
    assert (me.status_code, me.json()["name"], me.json()["kind"]) == (200, "ann", "user")
    client.cookies.clear()
    assert client.get("/api/v1/auth/me", headers=bearer(body["token"])).json()["role"] == "engineer"
    assert client.get("/api/v1/auth/me").status_code == 401


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(client: TestClient) -> None:
    for user, password in (("ann", "wrong password!"), ("nobody", PASSWORD)):
        r = client.post("/api/v1/auth/login", json={"user": user, "password": password})
        assert (r.status_code, r.json()["key"]) == (401, "auth.invalid_credentials")
        assert COOKIE not in r.headers.get("set-cookie", "")


def test_failed_logins_are_rate_limited_per_user(client: TestClient, store: Store) -> None:
    for _ in range(3):
        r = client.post("/api/v1/auth/login", json={"user": "ann", "password": "not the one!"})
        assert r.status_code == 401
    # now even the right password waits: guessing stops here
    r = client.post("/api/v1/auth/login", json={"user": "ann", "password": PASSWORD})
    assert (r.status_code, r.json()["key"]) == (429, "auth.too_many_attempts")
    assert 0 < int(r.headers["Retry-After"]) <= 300
    # other users from the same address still log in (the address allows 4x as many)
    Users(store).create("bob", PASSWORD)
    assert login(client, "bob")


def test_failed_logins_are_rate_limited_per_address(client: TestClient) -> None:
    statuses = [
        client.post(
            "/api/v1/auth/login", json={"user": f"user-{i}", "password": "guess guess!"}
        ).status_code
        for i in range(13)
    ]
    assert statuses == [401] * 12 + [429]


def test_an_expired_token_is_refused(client: TestClient, store: Store) -> None:
    identity = identity_of(client.app.state)  # type: ignore[attr-defined]
    user = Users(store).get("ann")
    old, _ = identity.tokens.issue(user, datetime.now(UTC) - timedelta(hours=1))
    r = client.get("/api/v1/auth/me", headers=bearer(old))
    assert (r.status_code, r.json()["key"]) == (401, "auth.expired_token")


def _reclaim(token: str, **changes: object) -> str:
    body, _, signature = token.removeprefix(TOKEN_PREFIX).partition(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{TOKEN_PREFIX}{forged}.{signature}"


def test_a_tampered_token_is_refused(client: TestClient, store: Store) -> None:
    Users(store).create("root", PASSWORD, grants=[Grant("", Role.ADMIN)])
    token = login(client)
    client.cookies.clear()
    for forged in (
        _reclaim(token, sub="root"),
        _reclaim(token, exp=int(datetime.now(UTC).timestamp()) + 10**6),
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        TOKEN_PREFIX + "garbage",
    ):
        r = client.get("/api/v1/keys", headers=bearer(forged))
        assert (r.status_code, r.json()["key"]) == (401, "auth.invalid_token"), forged


def test_logout_disable_and_new_password_end_sessions(client: TestClient, store: Store) -> None:
    token = login(client)
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).json() == {"logged_out": True}
    r = client.get("/api/v1/auth/me", headers=bearer(token))
    assert (r.status_code, r.json()["key"]) == (401, "auth.expired_token")

    token = login(client)
    client.cookies.clear()
    r = client.put(
        "/api/v1/users/ann/password", json={"password": "a new long password"}, headers=A
    )
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    token = login(client, password="a new long password")

    assert client.post("/api/v1/users/ann/disable", headers=A).json()["disabled"] is True
    r = client.get("/api/v1/auth/me", headers=bearer(token))
    assert (r.status_code, r.json()["key"]) == (401, "auth.disabled_user")
    r = client.post("/api/v1/auth/login", json={"user": "ann", "password": "a new long password"})
    assert (r.status_code, r.json()["key"]) == (401, "auth.disabled_user")


def test_a_revoked_grant_holds_from_the_next_request(client: TestClient) -> None:
    token = login(client)
    client.cookies.clear()
    assert (
        client.get("/api/v1/latest", params={"path": "acme/wob"}, headers=bearer(token)).json()[
            "count"
        ]
        == 0
    )
    r = client.delete("/api/v1/users/ann/grants", params={"path": "acme/wob"}, headers=A)
    assert [g["path"] for g in r.json()["grants"]] == ["acme/gru"]
    r = client.get("/api/v1/latest", params={"path": "acme/wob"}, headers=bearer(token))
    assert (r.status_code, r.json()["key"]) == (404, "access.not_found")


def test_users_and_participants_over_the_api(client: TestClient) -> None:
    r = client.post(
        "/api/v1/participants",
        json={"id": "acme", "name": "ACME", "kind": "plant_operator", "owns": ["acme"]},
        headers=A,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        "/api/v1/users",
        json={"name": "otto", "password": PASSWORD, "participant": "acme"},
        headers=A,
    )
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/users/otto/grants", json={"path": "acme", "role": "viewer"}, headers=A)
    assert r.json()["grants"] == [{"path": "acme", "role": "viewer"}]
    me = client.get("/api/v1/auth/me", headers=bearer(login(client, "otto"))).json()
    assert (me["participant"], me["role"]) == ("acme", "viewer")
    listed = client.get("/api/v1/participants", headers=bearer(login(client, "otto"))).json()
    assert {p["id"]: p["owns"] for p in listed["data"]} == {"platform": None, "acme": ["acme"]}
    r = client.post(
        "/api/v1/users", json={"name": "x", "password": "short", "participant": "acme"}, headers=A
    )
    assert (r.status_code, r.json()["key"]) == (422, "users.weak_password")
    r = client.post(
        "/api/v1/users", json={"name": "y", "password": PASSWORD, "participant": "z"}, headers=A
    )
    assert (r.status_code, r.json()["key"]) == (404, "participants.not_found")


def test_passwords_are_salted_scrypt_hashes() -> None:
    one, two = hash_password(PASSWORD), hash_password(PASSWORD)
    assert one["alg"] == "scrypt"
    assert one["salt"] != two["salt"]
    assert one["hash"] != two["hash"]
    assert verify_password(PASSWORD, one)
    assert not verify_password(PASSWORD + "!", one)
    assert not verify_password(PASSWORD, None)
    with pytest.raises(InvalidInput):
        hash_password("short")


def test_weak_token_secrets_are_refused_outside_dev_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as weak:
        Settings(data_dir=tmp_path, token_secret=SecretStr("changeme"))
    assert weak.value.fields["field"] == "token_secret"
    assert Settings(data_dir=tmp_path, token_secret=SecretStr("changeme"), dev=True)
    assert Settings(data_dir=tmp_path, token_secret=SecretStr("x" * 40)).token_secret
