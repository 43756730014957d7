"""Uploads refused, files downloaded and evidence exported on each blob store, end to end.

The BlobStore contract runs on both stores; these run the served API on each, so the path
from a route to the store (spooling, refusal before storing, streaming back, bundling the
files into evidence) is exercised on SeaweedFS's S3 as well as on the local filesystem.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from docmgmt.ledger.bundle_verify import verify_bundle
from tests.api.conftest import Api, Logins, make_city, served_api
from tests.api.support import DRAFT_FIELDS, assert_error, drafted, event_count, sha256
from tests.support.pdfs import make_pdf
from tests.support.pg import Cluster
from tests.support.s3server import S3Endpoint


@dataclass
class StoreApi:
    """A served API on one blob store, and a way to list what that store holds."""

    api: Api
    login: Logins
    objects: Callable[[], frozenset[str]]


@pytest.fixture(scope="module", params=["filesystem", pytest.param("s3", marks=pytest.mark.s3)])
def store_api(request: pytest.FixtureRequest, pg_cluster: Cluster,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreApi]:
    """The API served on the filesystem store, then on an S3 bucket of its own."""
    data = tmp_path_factory.mktemp("data")
    overrides: dict[str, Any] = {}
    if request.param == "s3":
        s3: S3Endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"api-{data.name.replace('_', '-')[:40]}".lower()
        overrides = {"storage_backend": "s3", "s3_endpoint": s3.endpoint,
                     "s3_access_key": s3.access_key, "s3_secret_key": s3.secret_key,
                     "s3_bucket": bucket}
        client = s3.client()

        def objects() -> frozenset[str]:
            if not client.bucket_exists(bucket):
                return frozenset()
            return frozenset(str(o.object_name)
                             for o in client.list_objects(bucket, recursive=True))
    with served_api(pg_cluster, data, **overrides) as api:
        if request.param == "filesystem":
            root = api.settings.blob_dir

            def objects() -> frozenset[str]:
                return frozenset(str(p.relative_to(root)) for p in root.rglob("*")
                                 if p.is_file())
        make_city(api)
        login = Logins(api)
        yield StoreApi(api, login, objects)
        login.close()


def _spool(api: Api) -> list[Path]:
    root = api.settings.spool_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize(("content", "status", "code"), [
    pytest.param(b"Kinh gui: So Noi vu\n" * 50, 415, "not_a_pdf", id="plain-text"),
    pytest.param(make_pdf(1, password="mat-khau"), 422, "encrypted_pdf", id="encrypted"),
])
def test_a_refused_upload_stores_nothing(store_api: StoreApi, content: bytes, status: int,
                                         code: str) -> None:
    official = store_api.login("official_a")
    doc = drafted(official)
    before = (event_count(store_api.api), store_api.objects())
    # Refused as a new draft and as a revision: no event, no object, nothing spooled.
    r = official.post("/documents", data=DRAFT_FIELDS,
                      files={"file": ("van-ban.pdf", content, "application/pdf")})
    assert_error(r, status, code)
    r = official.post(f"/documents/{doc}/revisions", data={"note": "x"},
                      files={"file": ("ban-sua.pdf", content, "application/pdf")})
    assert_error(r, status, code)
    assert (event_count(store_api.api), store_api.objects()) == before
    assert _spool(store_api.api) == []


def test_a_draft_is_stored_and_downloaded(store_api: StoreApi) -> None:
    official, leader = store_api.login("official_a"), store_api.login("leader_a")
    pdf = make_pdf(2, text=f"tải về {store_api.api.settings.storage_backend}")
    before = store_api.objects()
    doc = drafted(official, pdf)
    # One new object, named by the file's SHA-256, and the same bytes come back.
    added = store_api.objects() - before
    assert len(added) == 1, added
    assert sha256(pdf) in next(iter(added))
    r = leader.get(f"/documents/{doc}/file")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content == pdf


def test_evidence_bundles_the_stored_files_and_verifies(store_api: StoreApi) -> None:
    official, leader = store_api.login("official_a"), store_api.login("leader_a")
    first, second = make_pdf(1, text="bằng chứng 1"), make_pdf(1, text="bằng chứng 2")
    doc = drafted(official, first)
    r = official.post(f"/documents/{doc}/revisions", data={"note": "sửa"},
                      files={"file": ("ban-sua.pdf", second, "application/pdf")})
    assert r.status_code == 201, r.text
    r = leader.get(f"/documents/{doc}/evidence")
    assert r.status_code == 200, r.text
    path = Path(store_api.api.settings.data_dir) / f"evidence-{doc}.zip"
    path.write_bytes(r.content)
    report = verify_bundle(path)
    assert report.ok, report.explain()
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist() if n.startswith("files/")}
    assert files == {f"files/{sha256(first)}.pdf": first, f"files/{sha256(second)}.pdf": second}
