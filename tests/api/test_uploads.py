"""Uploads that cannot become a revision: each is refused precisely and leaves nothing behind."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, Logins
from tests.api.support import DRAFT_FIELDS, Stored, assert_error, drafted, stored
from tests.support.pdfs import make_pdf, write_large_pdf

LIMIT = 5 * 1024 * 1024


def _truncated() -> bytes:
    pdf = make_pdf(2, text="truncated")
    return pdf[: len(pdf) // 2]


BAD_FILES = [
    pytest.param(b"Kinh gui: So Noi vu\nDe nghi...\n" * 50, 415, "not_a_pdf", id="plain-text"),
    pytest.param(b"", 415, "not_a_pdf", id="empty-file"),
    pytest.param(b"\x89PNG\r\n\x1a\n" + os.urandom(2000), 415, "not_a_pdf", id="png"),
    pytest.param(_truncated(), 422, "malformed_pdf", id="truncated"),
    pytest.param(b"%PDF-1.7\n" + os.urandom(4000), 422, "malformed_pdf", id="garbage"),
    pytest.param(make_pdf(1, password="mat-khau"), 422, "encrypted_pdf", id="encrypted"),
    pytest.param(make_pdf(0), 422, "empty_pdf", id="zero-pages"),
]


def _assert_nothing_left(api: Api, before: Stored) -> None:
    after = stored(api)
    assert after == before
    assert after.spool == frozenset(), "an upload was left in the spool folder"
    assert after.partial == frozenset(), "a half-written blob was left behind"


@pytest.mark.parametrize(("content", "status", "code"), BAD_FILES)
def test_a_bad_file_is_refused_as_a_draft_and_stores_nothing(
    shared_api: Api, login: Logins, content: bytes, status: int, code: str
) -> None:
    before = stored(shared_api)
    r = login("official_a").post("/documents", data=DRAFT_FIELDS,
                                 files={"file": ("van-ban.pdf", content, "application/pdf")})
    assert_error(r, status, code)
    _assert_nothing_left(shared_api, before)


@pytest.mark.parametrize(("content", "status", "code"), BAD_FILES)
def test_a_bad_file_is_refused_as_a_revision_and_stores_nothing(
    shared_api: Api, login: Logins, content: bytes, status: int, code: str
) -> None:
    official = login("official_a")
    doc_id = drafted(official)
    before = stored(shared_api)
    r = official.post(f"/documents/{doc_id}/revisions", headers={"If-Match": '"1"'},
                      files={"file": ("ban-sua.pdf", content, "application/pdf")})
    assert_error(r, status, code)
    _assert_nothing_left(shared_api, before)
    doc = official.get(f"/documents/{doc_id}").json()
    assert (doc["version"], doc["revision_count"]) == (1, 1)


def test_a_request_without_a_file_is_invalid(shared_api: Api, login: Logins) -> None:
    official = login("official_a")
    doc_id = drafted(official)
    before = stored(shared_api)
    for r in (official.post("/documents", data=DRAFT_FIELDS),
              official.post(f"/documents/{doc_id}/revisions", data={"note": "không có tệp"})):
        body = assert_error(r, 422, "invalid_request")
        assert any(e["loc"] == ["body", "file"] for e in body["detail"])
    _assert_nothing_left(shared_api, before)


# --- the size limit -------------------------------------------------------------------


@pytest.fixture(scope="module")
def large_pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Valid one-page PDFs over the 5 MiB limit: 6 MB, and 8 MB (past the body limit too)."""
    folder = tmp_path_factory.mktemp("large")
    return {"6MB": write_large_pdf(folder / "6mb.pdf", 6_000_000),
            "8MB": write_large_pdf(folder / "8mb.pdf", 8_000_000)}


def _multipart_chunks(path: Path, boundary: str) -> Iterator[bytes]:
    for name, value in DRAFT_FIELDS.items():
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
               f"{value}\r\n").encode()
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"lon.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").encode()
    with path.open("rb") as fh:
        while chunk := fh.read(256 * 1024):
            yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


def _post_chunked(client: httpx.Client, url: str, path: Path) -> httpx.Response:
    boundary = uuid.uuid4().hex
    return client.post(url, content=_multipart_chunks(path, boundary),
                       headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


@pytest.mark.parametrize("size", ["6MB", "8MB"])
def test_a_file_over_the_limit_is_413_with_content_length(
    shared_api: Api, login: Logins, large_pdfs: dict[str, Path], size: str
) -> None:
    before = stored(shared_api)
    with large_pdfs[size].open("rb") as fh:
        request = login("official_a").build_request(
            "POST", "/documents", data=DRAFT_FIELDS,
            files={"file": ("lon.pdf", fh, "application/pdf")})
        assert int(request.headers["Content-Length"]) > LIMIT
        r = login("official_a").send(request)
    body = assert_error(r, 413, "file_too_large")
    assert "limit" in body["detail"]
    _assert_nothing_left(shared_api, before)


@pytest.mark.parametrize("size", [
    pytest.param("6MB", id="6MB"),
    pytest.param("8MB", id="8MB"),
])
def test_a_file_over_the_limit_is_413_when_streamed_chunked(
    shared_api: Api, login: Logins, large_pdfs: dict[str, Path], size: str
) -> None:
    before = stored(shared_api)
    client = login("official_a")
    request = client.build_request("POST", "/documents", content=_multipart_chunks(
        large_pdfs[size], "b" * 32), headers={
            "Content-Type": "multipart/form-data; boundary=" + "b" * 32})
    assert request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in request.headers
    body = assert_error(client.send(request), 413, "file_too_large")
    assert "limit" in body["detail"]
    _assert_nothing_left(shared_api, before)


def test_a_revision_over_the_limit_is_413_and_stores_nothing(
    shared_api: Api, login: Logins, large_pdfs: dict[str, Path]
) -> None:
    official = login("official_a")
    doc_id = drafted(official)
    before = stored(shared_api)
    assert_error(_post_chunked(official, f"/documents/{doc_id}/revisions", large_pdfs["6MB"]),
                 413, "file_too_large")
    _assert_nothing_left(shared_api, before)
    assert official.get(f"/documents/{doc_id}").json()["revision_count"] == 1


def test_a_file_just_under_the_limit_is_accepted_streamed(
    shared_api: Api, login: Logins, tmp_path: Path
) -> None:
    # The control for the size tests: the same chunked path succeeds below the limit.
    path = write_large_pdf(tmp_path / "under.pdf", LIMIT - 64 * 1024)
    client = login("official_a")
    r = _post_chunked(client, "/documents", path)
    assert r.status_code == 201, r.text
    doc: dict[str, Any] = client.get(f"/documents/{r.json()['id']}").json()
    assert doc["current_size"] == path.stat().st_size
    assert stored(shared_api).spool == frozenset()
