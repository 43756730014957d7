"""A signing service that waits for the signer's confirmation, seen from the pages: the
document page waits (htmx asks again every few seconds) and goes on once the signer has
confirmed, or shows why not once they refused."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import PASSWORD, Api, make_city, served_api
from tests.signing import conftest as signing_fixtures
from tests.support import confirm_provider as confirm_fixtures
from tests.support.confirm_provider import ConfirmService
from tests.support.pages import Pages, text_of
from tests.support.pdfs import make_pdf
from tests.support.pg import Cluster
from tests.workflow import conftest as workflow_fixtures
from tests.workflow.conftest import AGENCY_CODE, KeysFile

animator_server = signing_fixtures.animator_server
test_pki = signing_fixtures.test_pki
keys_file = workflow_fixtures.keys_file
pinned_registry = workflow_fixtures.pinned_registry
confirm_provider = confirm_fixtures.confirm_provider
HX = {"HX-Request": "true"}


@pytest.fixture
def served(pg_cluster: Cluster, tmp_path: Path, keys_file: KeysFile,
           confirm_provider: ConfirmService, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[tuple[Api, dict[str, Any]]]:
    """The app with agency SOA signing through the confirmation service, and its leader
    (the service's user) with the test PKI leader's certificate registered by the admin."""
    monkeypatch.setenv("TEST_CONFIRM_SECRET", confirm_provider.secret)
    config = json.loads(keys_file.path.read_text(encoding="utf-8"))
    config["agencies"][AGENCY_CODE]["signing"] = {
        "type": "confirm", "url": confirm_provider.url, "client_id": "docmgmt",
        "secret_env": "TEST_CONFIRM_SECRET"}
    config["users"] = {}
    keys = tmp_path / "keys-confirm.json"
    keys.write_text(json.dumps(config), encoding="utf-8")
    with served_api(pg_cluster, tmp_path / "data", keys_file=keys) as api:
        ids = make_city(api)
        admin = api.client("root")
        r = admin.post("/users", json={
            "username": confirm_fixtures.USERNAME, "full_name": "Nguyễn Văn An",
            "title": "Giám đốc", "password": PASSWORD, "roles": ["leader"],
            "agency_id": ids["SOA"]})
        assert r.status_code == 201, r.text
        r = admin.post(f"/users/{r.json()['id']}/certificates", json={
            "certificate": base64.b64encode(keys_file.pki.cert("leader").dump()).decode(),
            "chain": [base64.b64encode(keys_file.pki.cert("interm").dump()).decode()]})
        assert r.status_code == 201, r.text
        admin.close()
        yield api, ids


def _approved(api: Api, summary: str) -> str:
    official, leader = api.client("official_a"), api.client(confirm_fixtures.USERNAME)
    try:
        r = official.post("/documents", data={"summary": summary, "doc_type": "CV"},
                          files={"file": ("d.pdf", make_pdf(1, text=summary), "application/pdf")})
        assert r.status_code == 201, r.text
        doc = str(r.json()["id"])
        assert official.post(f"/documents/{doc}/submit", json={}).status_code == 200
        assert leader.post(f"/documents/{doc}/approve", json={}).status_code == 200
        return doc
    finally:
        official.close()
        leader.close()


def _waiting(leader: Pages, doc: str) -> str:
    """Ask the service through the page; the document page then waits. The poll address."""
    r = leader.post(f"/app/documents/{doc}/signature-requests", {"method": "provider"})
    assert r.status_code == 303, text_of(r.text)
    assert r.headers["location"] == f"/app/documents/{doc}?notice=signature_requested"
    page = leader.get(f"/app/documents/{doc}").text
    assert "Xác nhận trên ứng dụng ký số của bạn" in text_of(page)
    found = re.search(r'hx-get="([^"]+)" hx-trigger="every 3s"', page)
    assert found, "the waiting request is not polled"
    # While the signer has not confirmed, the fragment comes back as it was.
    r = leader.get(found.group(1), headers=HX)
    assert r.status_code == 200
    assert 'hx-trigger="every 3s"' in r.text
    return found.group(1)


def test_the_page_waits_for_the_confirmation_then_goes_on(
        served: tuple[Api, dict[str, Any]], confirm_provider: ConfirmService) -> None:
    api, _ = served
    leader = Pages(api.base)
    assert leader.sign_in(confirm_fixtures.USERNAME, PASSWORD).status_code == 303
    doc = _waiting(leader, _approved(api, "Chờ xác nhận trên điện thoại"))
    confirm_provider.confirm(confirm_provider.only().transaction_id)
    r = leader.get(doc, headers=HX)
    document = doc.split("/signature-requests/")[0]
    assert r.headers["hx-redirect"] == f"{document}?notice=signed"
    # Opened without script, the poll address goes back to the page too.
    assert leader.get(doc).headers["location"] == f"{document}?notice=signed"
    leader.close()


def test_a_refusal_at_the_service_is_shown_next_to_the_form(
        served: tuple[Api, dict[str, Any]], confirm_provider: ConfirmService) -> None:
    api, _ = served
    leader = Pages(api.base)
    assert leader.sign_in(confirm_fixtures.USERNAME, PASSWORD).status_code == 303
    poll = _waiting(leader, _approved(api, "Người ký từ chối trên điện thoại"))
    confirm_provider.refuse(confirm_provider.only().transaction_id)
    r = leader.get(poll, headers=HX)
    document, request_id = poll.split("/signature-requests/")
    assert r.headers["hx-redirect"] == f"{document}?request={request_id}"
    text = text_of(leader.get(r.headers["hx-redirect"]).text)
    assert "Yêu cầu ký đã bị từ chối trên dịch vụ ký số." in text
    assert "Cách ký" in text  # the form again
    leader.close()
