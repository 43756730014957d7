"""The webhook routes over HTTP: admin only, secret shown once, clear errors, deliveries."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from docmgmt.bootstrap import build_write_side
from docmgmt.domain.common import Role
from docmgmt.identity.agencies import register_agency
from docmgmt.identity.users import NewUser, bootstrap_admin, create_user
from docmgmt.kernel.db import Database
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import DocMgmt
from tests.support.identity import admin_acting_as
from tests.support.server import serve, settings_for
from tests.webhooks.support import ACTOR, arrive, wait_until

PASSWORD = "correct-horse-battery"
PATH = "/agencies/{agency_id}/webhooks"


def login(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    r = client.post("/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return client


@pytest.fixture
def allowed() -> list[str]:
    """Hosts the server's webhook allow-list names (none unless a test says so)."""
    return []


@pytest.fixture
def setup(database: Database, tmp_path: Path,
          allowed: list[str]) -> Iterator[tuple[str, dict[str, uuid.UUID]]]:
    settings = settings_for(database, tmp_path / "data", webhook_allowed_hosts=allowed)
    write = build_write_side(settings)
    try:
        root_id = bootstrap_admin(write.identity, "root", PASSWORD, "Quản trị", "ADMIN", "QT")
        sender = register_agency(write.app, admin_acting_as(ACTOR), "SOA", "Sở A", None).id
        recipient = register_agency(write.app, admin_acting_as(ACTOR), "SOB", "Sở B", None).id
        admin = write.app.get_user(root_id)
        who = Principal(admin.id, "root", admin.agency_id, None, frozenset({Role.ADMIN}))
        create_user(write.identity, who, NewUser("clerk.b", "Văn thư B", PASSWORD,
                                                 [Role.CLERK], recipient))
    finally:
        write.close()
    with serve(settings) as base:
        yield base, {"sender": sender, "recipient": recipient}


def test_admin_subscribes_lists_inspects_and_cancels(
    setup: tuple[str, dict[str, uuid.UUID]], database: Database
) -> None:
    base, ids = setup
    admin = login(base, "root")
    url = f"/agencies/{ids['recipient']}/webhooks"
    # The admin subscribes: the secret is in the answer, and only there.
    r = admin.post(url, json={"url": "https://hooks.example.gov.vn/in",
                              "kinds": ["received", "overdue"]})
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["secret"]
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    assert created["kinds"] == ["received", "overdue"]
    listed = admin.get(url).json()
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert secret not in admin.get(url).text
    # Nowhere in the event log, in any form.
    with psycopg.connect(database.owner.conninfo()) as conn:
        states = [bytes(s) for (s,) in conn.execute(
            "SELECT state FROM docmgmt.docmgmt_events").fetchall()]
    raw = bytes.fromhex(secret)
    assert not any(secret.encode() in s or raw in s for s in states)

    r = admin.get(f"{url}/{created['id']}/deliveries")
    assert r.status_code == 200
    assert r.json() == []

    # Cancelled: gone from the list (but listed with include_cancelled).
    r = admin.request("DELETE", f"{url}/{created['id']}", json={"reason": "Đổi hệ thống"})
    assert r.status_code == 200, r.text
    assert admin.get(url).json() == []
    assert admin.get(url, params={"include_cancelled": True}).json()[0]["active"] is False
    r = admin.request("DELETE", f"{url}/{created['id']}")
    assert r.status_code == 409
    assert r.json()["error"] == "webhook_cancelled"


@pytest.mark.parametrize("allowed", [["127.0.0.1"]])
def test_deliveries_are_listed_with_their_status(
    setup: tuple[str, dict[str, uuid.UUID]], database: Database
) -> None:
    base, ids = setup
    admin = login(base, "root")
    url = f"/agencies/{ids['recipient']}/webhooks"
    hook = admin.post(url, json={"url": "http://127.0.0.1:9/x", "kinds": ["received"]}).json()
    app = DocMgmt(env=database.app.eventsourcing_env("docmgmt", 2))
    try:
        doc = arrive(app, ids["sender"], ids["recipient"])
    finally:
        app.close()

    def listed() -> list[dict[str, object]]:
        r = admin.get(f"{url}/{hook['id']}/deliveries", params={"status": "pending"})
        assert r.status_code == 200, r.text
        return list(r.json())

    wait_until(lambda: len(listed()) == 1, what="the delivery to be queued")
    [row] = listed()
    assert row["kind"] == "received"
    assert row["document_id"] == str(doc.id)
    assert row["attempts"] == 0
    assert row["status"] == "pending"


def test_errors_are_clear_json(setup: tuple[str, dict[str, uuid.UUID]]) -> None:
    base, ids = setup
    admin = login(base, "root")
    url = f"/agencies/{ids['recipient']}/webhooks"
    r = admin.post(url, json={"url": "ftp://files.example.gov.vn/", "kinds": ["received"]})
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_webhook_url"
    assert "http:// or https://" in r.json()["detail"]
    r = admin.post(url, json={"url": "https://h.example/", "kinds": ["sent"]})
    assert (r.status_code, r.json()["error"]) == (422, "invalid_input")
    r = admin.post(f"/agencies/{uuid.uuid4()}/webhooks",
                   json={"url": "https://h.example/", "kinds": ["received"]})
    assert (r.status_code, r.json()["error"]) == (404, "agency_not_found")
    r = admin.get(f"{url}/{uuid.uuid4()}/deliveries")
    assert (r.status_code, r.json()["error"]) == (404, "webhook_not_found")
    r = admin.request("DELETE", f"{url}/{uuid.uuid4()}")
    assert (r.status_code, r.json()["error"]) == (404, "webhook_not_found")
    # Only admins administer webhooks, even a clerk of the agency itself.
    clerk = login(base, "clerk.b")
    r = clerk.post(url, json={"url": "https://h.example/", "kinds": ["received"]})
    assert (r.status_code, r.json()["error"]) == (403, "permission_denied")
    assert clerk.get(url).status_code == 403


def test_internal_targets_are_refused_naming_the_reason(
    setup: tuple[str, dict[str, uuid.UUID]]
) -> None:
    base, ids = setup
    admin = login(base, "root")
    url = f"/agencies/{ids['recipient']}/webhooks"
    own = base + "/health"  # the API's own URL
    for target, code in [
        ("http://127.0.0.1/", "webhook_target_loopback"),
        ("http://localhost:5432/", "webhook_target_loopback"),
        ("http://[::1]:8000/", "webhook_target_loopback"),
        ("http://2130706433/", "webhook_target_loopback"),
        ("http://0x7f000001/", "webhook_target_loopback"),
        (own, "webhook_target_loopback"),
        ("http://169.254.169.254/latest/meta-data/", "webhook_target_link_local"),
        ("http://10.0.0.1/", "webhook_target_private"),
        ("http://100.64.0.1/", "webhook_target_shared_address"),
        ("http://0.0.0.0:8000/", "webhook_target_unspecified"),
        ("http://[::ffff:127.0.0.1]/", "webhook_target_loopback"),
    ]:
        r = admin.post(url, json={"url": target, "kinds": ["received"]})
        assert (r.status_code, r.json()["error"]) == (422, code), (target, r.text)
    assert admin.get(url).json() == [], "nothing was subscribed"
    # A change of URL is checked the same way.
    hook = admin.post(url, json={"url": "https://hooks.example.gov.vn/in",
                                 "kinds": ["received"]}).json()
    r = admin.patch(f"{url}/{hook['id']}", json={"url": "http://0x7f000001:6379/"})
    assert (r.status_code, r.json()["error"]) == (422, "webhook_target_loopback")
    [listed] = admin.get(url).json()
    assert listed["url"] == "https://hooks.example.gov.vn/in"


@pytest.mark.parametrize("allowed", [["127.0.0.1"]])
def test_the_deliveries_list_shows_no_connection_error_text(
    setup: tuple[str, dict[str, uuid.UUID]], database: Database
) -> None:
    base, ids = setup
    admin = login(base, "root")
    url = f"/agencies/{ids['recipient']}/webhooks"
    # Port 9 (discard) is closed here: the connection is refused.
    hook = admin.post(url, json={"url": "http://127.0.0.1:9/x", "kinds": ["received"]})
    assert hook.status_code == 201, hook.text
    app = DocMgmt(env=database.app.eventsourcing_env("docmgmt", 2))
    try:
        arrive(app, ids["sender"], ids["recipient"])
    finally:
        app.close()

    def attempted() -> list[dict[str, object]]:
        r = admin.get(f"{url}/{hook.json()['id']}/deliveries")
        return [d for d in r.json() if int(d["attempts"]) >= 1 and d["last_error"]]

    wait_until(lambda: len(attempted()) == 1, what="a failed attempt")
    [row] = attempted()
    assert row["last_error"] == "connection_refused"
    assert row["last_status"] is None
    text = admin.get(f"{url}/{hook.json()['id']}/deliveries").text
    for leak in ("Errno", "refused'", "Connection refused", "HTTPConnection", "127.0.0.1"):
        assert leak not in text
