"""API fixtures: a served app on a fresh database, an admin, an agency and its users."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.bootstrap import build_write_side
from docmgmt.db import Database
from docmgmt.settings import Settings
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


@pytest.fixture
def api(api_settings: Settings, database: Database) -> Iterator[Api]:
    """The API over HTTP, with an admin 'root' bootstrapped from the command-line path."""
    write = build_write_side(api_settings)
    try:
        write.identity.bootstrap_admin("root", PASSWORD, "Quản trị viên", "ADMIN", "Quản trị")
    finally:
        write.close()
    with serve(api_settings) as base:
        yield Api(base, api_settings, database)


@pytest.fixture
def city(api: Api) -> dict[str, Any]:
    """Two agencies (A with a unit, B) and their users, made through the API as the admin."""
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
