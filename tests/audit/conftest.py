"""Fixtures for the audit tests: one served app per module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import PASSWORD, Api, Logins, bootstrap_root, make_city
from tests.support.pg import Cluster
from tests.support.server import serve, settings_for


@pytest.fixture(scope="module")
def audit_api(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A served API with the audit routes, on its own fresh database, for one module."""
    db = pg_cluster.new_database()
    try:
        settings = settings_for(db, tmp_path_factory.mktemp("data"),
                                max_upload_bytes=5 * 1024 * 1024)
        bootstrap_root(settings)
        with serve(settings) as base:
            yield Api(base, settings, db)
    finally:
        pg_cluster.drop_database(db)


@pytest.fixture(scope="module")
def audit_city(audit_api: Api) -> dict[str, Any]:
    """Agencies SOA and SOB with their users, plus an auditor (in SOA) named 'auditor' who
    holds an audit mandate for both agencies."""
    ids = make_city(audit_api)
    admin = audit_api.client("root")
    r = admin.post("/users", json={
        "username": "auditor", "full_name": "Kiểm toán viên", "password": PASSWORD,
        "roles": ["auditor"], "agency_id": ids["SOA"],
    })
    assert r.status_code == 201, r.text
    ids["auditor"] = r.json()["id"]
    for agency in ("SOA", "SOB"):
        r = admin.post(f"/users/{ids['auditor']}/audit-mandates", json={
            "agency_id": ids[agency], "legal_basis": "Quyết định thanh tra số 1/QĐ-TTr"})
        assert r.status_code == 201, r.text
    return ids


@pytest.fixture(scope="module")
def as_user(audit_api: Api, audit_city: dict[str, Any]) -> Iterator[Logins]:
    """``as_user("official_a")``: a cached logged-in client of the module's API."""
    logins = Logins(audit_api)
    yield logins
    logins.close()
