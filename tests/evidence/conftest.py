"""Evidence fixtures: a served API with the evidence router, and one bundled document."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.api.conftest import Api, Logins, make_city, served_api
from tests.api.support import drafted
from tests.support.pdfs import make_pdf
from tests.support.pg import Cluster


@pytest.fixture(scope="module")
def evidence_api(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory,
                 ) -> Iterator[Api]:
    """A served API on its own database (the app includes the evidence route)."""
    with served_api(pg_cluster, tmp_path_factory.mktemp("data")) as api:
        yield api


@dataclass(frozen=True)
class Bundled:
    """A document made through the API and its evidence bundle as downloaded."""

    api: Api
    city: dict[str, Any]
    login: Logins
    document_id: str
    zip_path: Path
    files: frozenset[str]
    last_event: int  # the store's last notification id when the bundle was exported


@pytest.fixture(scope="module")
def bundled(evidence_api: Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bundled]:
    """Draft, revise, comment and download a document, then download its evidence."""
    city = make_city(evidence_api)
    login = Logins(evidence_api)
    official, leader = login("official_a"), login("leader_a")
    first, second = make_pdf(1, text="evidence draft"), make_pdf(2, text="evidence rev 2")
    # The official drafts it and uploads a second revision.
    doc = drafted(official, first)
    r = official.post(f"/documents/{doc}/revisions", data={"note": "sửa lần 1"},
                      files={"file": ("ban-sua.pdf", second, "application/pdf")})
    assert r.status_code == 201, r.text
    # The leader comments and downloads both revisions.
    r = leader.post(f"/documents/{doc}/comments", json={"text": "Đồng ý, trình ký"})
    assert r.status_code == 201, r.text
    assert leader.get(f"/documents/{doc}/file").content == second
    assert leader.get(f"/documents/{doc}/revisions/1/file").content == first
    # The leader exports the evidence bundle.
    r = leader.get(f"/documents/{doc}/evidence")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    path = tmp_path_factory.mktemp("bundle") / "evidence.zip"
    path.write_bytes(r.content)
    # Later tests add views of the document; what the bundle holds is fixed here.
    with psycopg.connect(evidence_api.db.owner.conninfo()) as conn:
        row = conn.execute("SELECT max(notification_id) FROM docmgmt.docmgmt_events"
                           ).fetchone()
    assert row is not None
    yield Bundled(evidence_api, city, login, doc, path,
                  frozenset(hashlib.sha256(b).hexdigest() for b in (first, second)),
                  int(row[0]))
    login.close()
