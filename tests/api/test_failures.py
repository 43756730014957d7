"""When parts of the system fail or race: JSON errors, no stack traces, nothing half-recorded."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql
from pydantic import SecretStr

from docmgmt.kernel.db import Database
from tests.api.conftest import PASSWORD, Api, Logins, new_user, served_api
from tests.api.support import assert_error, draft, drafted, event_count, sha256
from tests.support.pdfs import make_pdf
from tests.support.pg import Cluster


def _official(api: Api) -> httpx.Client:
    """An agency with one official, made over HTTP; the official's client."""
    admin = api.client("root")
    r = admin.post("/agencies", json={"code": "SOX", "name": "Sở X"})
    assert r.status_code == 201, r.text
    username, _ = new_user(admin, r.json()["id"], ["official", "leader"], prefix="official")
    return api.client(username)


# --- the object store is down ---------------------------------------------------------


@pytest.fixture
def api_without_object_store(pg_cluster: Cluster, tmp_path: Path) -> Iterator[Api]:
    """The API configured for an S3 endpoint where nothing listens."""
    with served_api(pg_cluster, tmp_path / "data", storage_backend="s3",
                    s3_endpoint="127.0.0.1:1", s3_access_key=SecretStr("dummy-access"),
                    s3_secret_key=SecretStr("dummy-secret-key")) as api:
        yield api


def test_an_unreachable_object_store_is_503_and_records_nothing(
    api_without_object_store: Api,
) -> None:
    api = api_without_object_store
    official = _official(api)
    # Health says which part is down.
    r = api.client().get("/health")
    assert r.status_code == 503, r.text
    assert r.json() == {"status": "unavailable", "database": "ok",
                        "object_store": "unavailable: StorageUnavailableError",
                        "read_model": "ok", "read_model_restarts": 0, "ledger": "ok",
                        "dispatch": "ok", "webhooks": "ok", "exchange": "ok",
                        "oversight": "ok"}
    # A draft cannot be stored: the official is told to retry later, and no event names it.
    events = event_count(api)
    r = draft(official, make_pdf(1, text="store-down"))
    body = assert_error(r, 503, "storage_unavailable")
    # Told to retry, but not which host failed nor the library's words.
    assert "try again" in body["detail"]
    assert "127.0.0.1" not in body["detail"]
    assert "Errno" not in body["detail"]
    assert event_count(api) == events
    assert list(api.settings.spool_dir.iterdir()) == []
    assert official.get("/documents").json()["total"] == 0
    # The parts that need no object store still work.
    assert official.get("/me").status_code == 200


# --- the database is down -------------------------------------------------------------

LOGIN_PATIENCE = 6.0
"""Seconds a client waits for a login; an outage should be reported well within that."""


def _allow_connections(db: Database, allowed: bool) -> None:
    # Run from the maintenance database: nobody can connect to one that refuses connections.
    admin = replace(db.owner, dbname="postgres")
    with psycopg.connect(admin.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
            sql.Identifier(db.owner.dbname), sql.Literal(allowed)))
        if not allowed:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = %s AND pid <> pg_backend_pid()",
                         (db.owner.dbname,))


@dataclass
class Outage:
    """What users saw while the database was away, and the system afterwards."""

    api: Api
    official: httpx.Client
    doc_id: str
    events_before: int
    events_after: int
    during: dict[str, httpx.Response]
    health_during: httpx.Response
    login_during: httpx.Response | None


@pytest.fixture(scope="module")
def outage(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    """One database outage under a running API, recorded once for the tests below."""
    with served_api(pg_cluster, tmp_path_factory.mktemp("outage")) as api:
        # An official drafts a document and comments on it.
        official = _official(api)
        doc_id = drafted(official, make_pdf(1, text="before-outage"))
        r = official.post(f"/documents/{doc_id}/comments", json={"text": "Trước sự cố"})
        assert r.status_code == 201, r.text
        events_before = event_count(api)
        # The database stops accepting connections and drops the open ones.
        _allow_connections(api.db, False)
        try:
            # Each request on a new connection, so one answer cannot spoil the next.
            def fresh() -> httpx.Client:
                return httpx.Client(base_url=api.base, timeout=30,
                                    headers={"Authorization": official.headers["Authorization"]})

            during = {
                "list": fresh().get("/documents"),
                "get": fresh().get(f"/documents/{doc_id}"),
                "comment": fresh().post(f"/documents/{doc_id}/comments",
                                        json={"text": "Trong sự cố"}),
                "history": fresh().get(f"/documents/{doc_id}/history"),
                "download": fresh().get(f"/documents/{doc_id}/file"),
                "me": fresh().get("/me"),
            }
            health_during = fresh().get("/health")
            try:
                login_during: httpx.Response | None = httpx.post(
                    api.base + "/auth/token", timeout=LOGIN_PATIENCE,
                    data={"username": "root", "password": PASSWORD})
            except httpx.TimeoutException:
                login_during = None
        finally:
            # The database comes back.
            _allow_connections(api.db, True)
        yield Outage(api, official, doc_id, events_before, event_count(api), during,
                     health_during, login_during)


def test_health_reports_the_database_down_during_an_outage(outage: Outage) -> None:
    r = outage.health_during
    assert r.status_code == 503, r.text
    assert r.json()["status"] == "unavailable"
    assert r.json()["database"].startswith("unavailable")
    assert r.json()["object_store"] == "ok"


def test_requests_during_an_outage_are_json_503(outage: Outage) -> None:
    for name, r in outage.during.items():
        assert "Traceback" not in r.text, name
        body = assert_error(r, 503, "database_unavailable")
        assert r.headers.get("Retry-After") == "5", name
        assert "try again" in body["detail"], name


def test_nothing_is_recorded_during_an_outage_and_no_trace_leaks(outage: Outage) -> None:
    assert outage.events_after == outage.events_before
    for name, r in outage.during.items():
        assert r.status_code >= 500, (name, r.text)
        assert r.json()["error"], name
        assert "Traceback" not in r.text, name
        assert "asyncpg" not in r.text, name


def test_login_during_an_outage_is_a_prompt_503(outage: Outage) -> None:
    r = outage.login_during
    if r is None:
        pytest.fail(f"no answer to the login within {LOGIN_PATIENCE} s")
    assert_error(r, 503, "database_unavailable")


def test_after_an_outage_the_events_are_intact_and_reads_work(outage: Outage) -> None:
    api, official, doc_id = outage.api, outage.official, outage.doc_id
    # The keep-alive connection of the official's client died with the database; a new
    # connection carries the same token.
    client = httpx.Client(base_url=api.base, timeout=30,
                          headers={"Authorization": official.headers["Authorization"]})
    r = client.get(f"/documents/{doc_id}")
    assert r.status_code == 200, r.text
    assert r.json()["comment_count"] >= 1
    assert doc_id in {d["id"] for d in client.get("/documents").json()["items"]}
    history = client.get(f"/documents/{doc_id}/history").json()
    assert [(e["type"], e["payload"].get("text")) for e in history[:2]] == [
        ("OutgoingDocument.Drafted", None), ("OutgoingDocument.Commented", "Trước sự cố")]
    assert "Trong sự cố" not in {e["payload"].get("text") for e in history}
    r = client.get(f"/documents/{doc_id}/file")
    assert r.status_code == 200, r.text
    assert api.client("root").get("/me").status_code == 200
    assert api.client().get("/health").status_code == 200


def test_after_an_outage_new_writes_reach_the_read_model(outage: Outage) -> None:
    client = httpx.Client(base_url=outage.api.base, timeout=30,
                          headers={"Authorization": outage.official.headers["Authorization"]})
    url = f"/documents/{outage.doc_id}"
    before = client.get(url)
    # A comment after the outage, against the version the document shows.
    r = client.post(f"{url}/comments", json={"text": "Sau sự cố"},
                    headers={"If-Match": before.headers["ETag"]})
    assert r.status_code == 201, r.text
    # The document shows it at once (read-your-writes), with the new version as its ETag.
    after = client.get(url)
    assert after.json()["comment_count"] == before.json()["comment_count"] + 1
    assert after.headers["ETag"] == f'"{r.json()["version"]}"'


# --- races ----------------------------------------------------------------------------


def test_ten_simultaneous_comments_on_one_version_let_exactly_one_through(
    shared_api: Api, login: Logins
) -> None:
    official = login("official_a")
    doc_id = drafted(official, make_pdf(1, text="race"))
    token = official.headers["Authorization"]
    clients = [httpx.Client(base_url=shared_api.base, timeout=60,
                            headers={"Authorization": token}) for _ in range(10)]
    start = threading.Barrier(len(clients))
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def post(n: int, client: httpx.Client) -> None:
        start.wait()
        r = client.post(f"/documents/{doc_id}/comments", json={"text": f"Ý kiến {n}"},
                        headers={"If-Match": '"1"'})
        with lock:
            results.append(r)

    # Ten reviewers who all read version 1 press "send" at the same moment.
    threads = [threading.Thread(target=post, args=(n, c)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for c in clients:
        c.close()
    # One comment wins; every other is told it is stale, as JSON.
    assert sorted(r.status_code for r in results) == [201] + [409] * 9, [r.text for r in results]
    for r in results:
        if r.status_code == 409:
            assert r.json()["error"] in {"stale_version", "concurrent_write"}, r.text
            assert "Traceback" not in r.text
    # Exactly one comment is on record.
    doc = official.get(f"/documents/{doc_id}").json()
    assert (doc["version"], doc["comment_count"]) == (2, 1)
    history = official.get(f"/documents/{doc_id}/history").json()
    assert [e["type"] for e in history] == ["OutgoingDocument.Drafted",
                                            "OutgoingDocument.Commented"]


def test_simultaneous_downloads_all_get_the_file(shared_api: Api, login: Logins) -> None:
    official = login("official_a")
    pdf = make_pdf(2, text="download-race")
    doc_id = drafted(official, pdf)
    token = official.headers["Authorization"]
    clients = [httpx.Client(base_url=shared_api.base, timeout=60,
                            headers={"Authorization": token}) for _ in range(5)]
    start = threading.Barrier(len(clients))
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def download(client: httpx.Client) -> None:
        start.wait()
        r = client.get(f"/documents/{doc_id}/file")
        with lock:
            results.append(r)

    # Five colleagues open the same draft at the same moment.
    threads = [threading.Thread(target=download, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for c in clients:
        c.close()
    # Reading never conflicts: everyone gets the file, and every download is on record.
    assert [r.status_code for r in results] == [200] * 5, [r.text for r in results]
    assert {sha256(r.content) for r in results} == {sha256(pdf)}
    history = official.get(f"/documents/{doc_id}/history").json()
    assert [e["type"] for e in history].count("AccessLog.Viewed") == 5
    # Views are kept apart from the document: its version did not move.
    assert official.get(f"/documents/{doc_id}").json()["version"] == 1


# --- stored files that went bad -------------------------------------------------------


def test_a_tampered_or_missing_stored_file_is_never_served(
    shared_api: Api, login: Logins
) -> None:
    official = login("official_a")
    pdf = make_pdf(1, text="tamper-" + uuid.uuid4().hex)
    doc_id = drafted(official, pdf)
    digest = sha256(pdf)
    blob = shared_api.settings.blob_dir / "sha256" / digest[:2] / digest[2:4] / digest
    assert blob.read_bytes() == pdf
    events = event_count(shared_api)
    # Someone with disk access alters the stored PDF.
    tampered = pdf.replace(b"tamper", b"TAMPER")
    assert tampered != pdf
    blob.chmod(0o600)
    blob.write_bytes(tampered)
    # The download is refused with a JSON error naming the cause, and no view is recorded.
    r = official.get(f"/documents/{doc_id}/file")
    assert_error(r, 500, "blob_corrupted")
    assert b"TAMPER" not in r.content
    assert event_count(shared_api) == events
    # A stored file that disappeared is reported as such.
    blob.unlink()
    assert_error(official.get(f"/documents/{doc_id}/revisions/1/file"), 500, "blob_not_found")
    assert event_count(shared_api) == events
    types = [e["type"] for e in official.get(f"/documents/{doc_id}/history").json()]
    assert types == ["OutgoingDocument.Drafted"]


# --- requests the API does not know ---------------------------------------------------


def test_unknown_routes_and_methods_are_json_errors(shared_api: Api, login: Logins) -> None:
    client = login("official_a")
    assert_error(client.get("/no-such-thing"), 404, "not_found")
    assert_error(client.delete("/documents"), 405, "method_not_allowed")
    assert_error(client.get("/documents/not-a-uuid"), 422, "invalid_request")
    r = client.post("/agencies", content=b"{not json", headers={"Content-Type":
                                                                 "application/json"})
    assert_error(r, 422, "invalid_request")


def test_every_response_carries_a_request_id(shared_api: Api, login: Logins) -> None:
    client = login("official_a")
    r = client.get("/me", headers={"X-Request-ID": "abc-123"})
    assert r.headers["X-Request-ID"] == "abc-123"
    generated = client.get("/me").headers["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/me").headers["X-Request-ID"] != generated
    r = client.get("/documents/not-a-uuid", headers={"X-Request-ID": "err-1"})
    assert r.headers["X-Request-ID"] == "err-1"
