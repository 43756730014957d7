"""Projections never wedge: stored events are forever, so the read side copes with any of
them (a NUL PostgreSQL cannot hold), and one that still fails is reported, not retried in a
tight loop, while the rest of the system keeps serving."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from docmgmt.domain.common import Actor, Confidentiality, DocumentType, FileRef, Urgency
from docmgmt.identity.agencies import add_unit
from docmgmt.incoming import views as exchange_views
from docmgmt.kernel.store import DocMgmt
from tests.api.conftest import Api, make_city
from tests.api.support import drafted
from tests.support import outgoing as outgoing_store
from tests.support.identity import admin_acting_as
from tests.support.server import serve

STAND_IN = "\u2400"


@pytest.fixture
def below_the_api(api: Api) -> Iterator[DocMgmt]:
    """The write side's application on the served API's database, bypassing HTTP."""
    app = DocMgmt(env=api.db.app.eventsourcing_env("docmgmt", 2))
    yield app
    app.close()


def _store_nul_events(app: DocMgmt, city: dict[str, Any]) -> uuid.UUID:
    """A draft, a comment, a unit and a renamed agency whose texts hold NUL, written
    straight into the event store as an old version of the API let them in."""
    actor = Actor(uuid.UUID(city["official_a"]), "official_a", "127.0.0.1", "ua\x00x", "r\x00")
    digest = uuid.uuid4().hex * 2
    file = FileRef(f"sha256/{digest[:2]}/{digest[2:4]}/{digest}", digest, 10, 1, "a\x00.pdf")
    agency = uuid.UUID(city["SOA"])
    doc = outgoing_store.draft(app, agency_id=agency, unit_id=None, summary="abc\x00def",
                               doc_type=DocumentType.CONG_VAN, urgency=Urgency.NORMAL,
                               confidentiality=Confidentiality.NORMAL, legal_normative=False,
                               file=file, actor=actor).id
    outgoing_store.comment(app, doc, "góp\x00ý", actor)
    add_unit(app, admin_acting_as(actor), agency, "NUL", "Phòng\x00A", None)
    return doc


def _listed(client: httpx.Client, doc_id: str, timeout: float = 10,
            comments: int = 0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        items = client.get("/documents", params={"limit": 200}).json()["items"]
        found = [d for d in items if d["id"] == doc_id and d["comment_count"] >= comments]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"{doc_id} never appeared in the list"
        time.sleep(0.05)


def test_a_stored_nul_event_projects_and_the_system_keeps_serving(
    api: Api, below_the_api: DocMgmt
) -> None:
    city = make_city(api)
    official = api.client("official_a")
    doc = _store_nul_events(below_the_api, city)
    # The views catch up: the document is listed, its NUL shown as a visible stand-in.
    listed = _listed(official, str(doc), comments=1)
    assert listed["summary"] == f"abc{STAND_IN}def"
    assert listed["comment_count"] == 1
    units = api.client("root").get("/agencies").json()
    assert f"Phòng{STAND_IN}A" in str(units)
    # Later writes are not held up: a new draft is listed as soon as it is answered.
    started = time.monotonic()
    later = drafted(official)
    assert time.monotonic() - started < 3
    assert any(d["id"] == later for d in official.get("/documents").json()["items"])
    # The exchange views caught up too: search finds the draft by its words.
    assert str(doc) in api.client("clerk_a").get("/search", params={"q": "abc"}).text
    health = api.client().get("/health")
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok"


def test_a_restart_on_a_database_holding_nul_events_is_clean(
    api: Api, below_the_api: DocMgmt
) -> None:
    city = make_city(api)
    doc = _store_nul_events(below_the_api, city)
    _listed(api.client("official_a"), str(doc))
    # A new app on the same database (the views already hold the stand-ins) ...
    with serve(api.settings) as base:
        health = httpx.get(base + "/health", timeout=10)
        assert health.status_code == 200, health.text
        assert health.json()["status"] == "ok"
        client = httpx.Client(base_url=base, timeout=30)
        r = client.post("/auth/token", data={"username": "official_a",
                                             "password": "correct-horse-battery"})
        client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        # ... serves the old document and new ones alike.
        assert _listed(client, str(doc))["summary"] == f"abc{STAND_IN}def"
        assert _listed(client, drafted(client), timeout=3)
        assert httpx.get(base + "/health", timeout=10).json()["read_model_restarts"] == 0


def _position_of(api: Api, aggregate_id: str) -> int:
    with psycopg.connect(api.db.owner.conninfo()) as conn:
        row = conn.execute("SELECT min(notification_id) FROM docmgmt.docmgmt_events"
                           " WHERE originator_id = %s", (aggregate_id,)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_projection_failing_on_one_event_is_reported_and_the_rest_keeps_serving(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_city(api)
    official, clerk = api.client("official_a"), api.client("clerk_a")
    # A defect in the exchange projection's handler for one draft (the server runs in
    # this process, so the patch reaches it).
    real = exchange_views.search_key

    def broken(*fields: str | None) -> str:
        if any(f and "POISON" in f for f in fields):
            raise RuntimeError("cannot index /srv/docmgmt/secret/path.txt")
        return real(*fields)

    monkeypatch.setattr(exchange_views, "search_key", broken)
    # The write answers at once, and the read model shows it.
    started = time.monotonic()
    poisoned = drafted(official, summary="POISON pill")
    assert time.monotonic() - started < 3
    _listed(official, poisoned, timeout=2)
    # Health names the projection, the event's position and the error, without a path.
    deadline = time.monotonic() + 5
    while (r := api.client().get("/health")).status_code != 503:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.05)
    body = r.json()
    assert body["read_model"] == "ok"
    [failure] = body["failures"]
    assert failure["projection"] == "exchange"
    assert failure["position"] == _position_of(api, poisoned)
    assert failure["error"] == "RuntimeError: cannot index <path>"
    assert body["exchange"].startswith(f"failed at event {failure['position']}")
    # Other writes still answer at once and reach the read model.
    for _ in range(3):
        started = time.monotonic()
        later = drafted(official, summary="Về việc khác")
        assert time.monotonic() - started < 2
        _listed(official, later, timeout=1)
    # Retried with a growing pause, not in a tight loop (it was every 0.5 s).
    time.sleep(3)
    attempts = api.client().get("/health").json()["failures"][0]["attempts"]
    assert 2 <= attempts <= 4
    # The defect fixed, the projection gets past the event and catches up by itself.
    monkeypatch.setattr(exchange_views, "search_key", real)
    deadline = time.monotonic() + 40
    while (r := api.client().get("/health")).status_code != 200:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.2)
    assert "failures" not in r.json()
    found = clerk.get("/search", params={"q": "khác"}).json()
    assert later in str(found)
