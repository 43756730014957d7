"""API fixtures: a served app on a fresh database, an admin, an agency and its users."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from docmgmt.bootstrap import build_write_side
from docmgmt.identity.users import bootstrap_admin
from docmgmt.kernel.db import Database
from docmgmt.settings import Settings
from tests.support.pg import Cluster
from tests.support.server import serve, settings_for

PASSWORD = "correct-horse-battery"


@dataclass
class Api:
    """A running API and a way to act as any of its users."""

    base: str
    settings: Settings
    db: Database

    def client(self, username: str | None = None, password: str = PASSWORD) -> httpx.Client:
        """An HTTP client, logged in as ``username`` when given."""
        client = httpx.Client(base_url=self.base, timeout=60)
        if username:
            r = client.post("/auth/token", data={"username": username, "password": password})
            assert r.status_code == 200, r.text
            client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        return client


@pytest.fixture
def api_settings(database: Database, tmp_path: Path) -> Settings:
    """Settings for a served app on a fresh database."""
    return settings_for(database, tmp_path / "data", max_upload_bytes=5 * 1024 * 1024)


def bootstrap_root(settings: Settings) -> None:
    """Create the admin 'root' through the command-line path (no HTTP)."""
    write = build_write_side(settings)
    try:
        bootstrap_admin(write.identity, "root", PASSWORD, "Quản trị viên", "ADMIN", "Quản trị")
    finally:
        write.close()


@pytest.fixture
def api(api_settings: Settings, database: Database) -> Iterator[Api]:
    """The API over HTTP, with an admin 'root' bootstrapped from the command-line path."""
    bootstrap_root(api_settings)
    with serve(api_settings) as base:
        yield Api(base, api_settings, database)


@pytest.fixture
def city(api: Api) -> dict[str, Any]:
    """Two agencies (A with a unit, B) and their users, made through the API as the admin."""
    return make_city(api)


def make_city(api: Api) -> dict[str, Any]:
    """Agencies SOA (with unit VP) and SOB, and users official_a, leader_a, clerk_a,
    official_b; returns their ids by code and username."""
    admin = api.client("root")
    ids: dict[str, Any] = {}
    for code, name in [("SOA", "Sở A"), ("SOB", "Sở B")]:
        r = admin.post("/agencies", json={"code": code, "name": name})
        assert r.status_code == 201, r.text
        ids[code] = r.json()["id"]
    r = admin.post(f"/agencies/{ids['SOA']}/units", json={"code": "VP", "name": "Văn phòng"})
    assert r.status_code == 201, r.text
    users = {
        "official_a": ("SOA", ["official"]),
        "leader_a": ("SOA", ["leader"]),
        "clerk_a": ("SOA", ["clerk"]),
        "official_b": ("SOB", ["official"]),
    }
    for username, (agency, roles) in users.items():
        r = admin.post("/users", json={
            "username": username, "full_name": username.replace("_", " ").title(),
            "password": PASSWORD, "roles": roles, "agency_id": ids[agency],
        })
        assert r.status_code == 201, r.text
        ids[username] = r.json()["id"]
    return ids


# --- one served API per test module ---------------------------------------------------
# Logins and account creation hash passwords with argon2 (a few hundred ms each), so tests
# that only add records of their own share one server, one city and one login per user.


@contextmanager
def served_api(pg_cluster: Cluster, data_dir: Path, **overrides: object) -> Iterator[Api]:
    """Serve the API on a fresh database with 'root' bootstrapped, like the ``api`` fixture,
    for fixtures of a wider scope or with other settings; drops the database afterwards."""
    db = pg_cluster.new_database()
    try:
        settings = settings_for(db, data_dir, **({"max_upload_bytes": 5 * 1024 * 1024}
                                                 | overrides))
        bootstrap_root(settings)
        with serve(settings) as base:
            yield Api(base, settings, db)
    finally:
        pg_cluster.drop_database(db)


@pytest.fixture(scope="module")
def shared_api(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A served API on its own fresh database, shared by the tests of one module."""
    with served_api(pg_cluster, tmp_path_factory.mktemp("data")) as api:
        yield api


@pytest.fixture(scope="module")
def shared_city(shared_api: Api) -> dict[str, Any]:
    """The city of ``make_city`` on the shared API (tests must not change its accounts)."""
    return make_city(shared_api)


class Logins:
    """Logged-in clients of the shared API, one login per user for the module."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self._clients: dict[str, httpx.Client] = {}

    def __call__(self, username: str) -> httpx.Client:
        """A client logged in as ``username`` (reused across the module's tests)."""
        if username not in self._clients:
            self._clients[username] = self.api.client(username)
        return self._clients[username]

    def close(self) -> None:
        """Close every client."""
        for client in self._clients.values():
            client.close()


@pytest.fixture(scope="module")
def login(shared_api: Api, shared_city: dict[str, Any]) -> Iterator[Logins]:
    """``login("official_a")``: a cached logged-in client on the shared API."""
    logins = Logins(shared_api)
    yield logins
    logins.close()


def new_user(
    admin: httpx.Client, agency_id: str, roles: list[str], prefix: str = "user"
) -> tuple[str, str]:
    """Create a uniquely named account through the API as the admin: (username, id)."""
    username = f"{prefix}_{uuid.uuid4().hex[:8]}"
    r = admin.post("/users", json={
        "username": username, "full_name": username, "password": PASSWORD, "roles": roles,
        "agency_id": agency_id,
    })
    assert r.status_code == 201, r.text
    return username, str(r.json()["id"])
