"""HTTP hygiene over HTTP: security headers on every answer, safe error details, an
OpenAPI document that describes the errors served, a 405 that names the real methods, and a
/docs page that needs no network."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from api.main import create_app
from tests.api.conftest import Api, Logins
from tests.api.support import assert_error, drafted, sha256
from tests.support.pdfs import make_pdf
from tests.support.server import free_port

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def assert_secure(r: httpx.Response) -> None:
    """The answer carries every security header, and no HSTS over plain HTTP."""
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, (r.request.method, r.request.url, name, r.headers)
    csp = r.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp, csp
    assert "frame-ancestors 'none'" in csp, csp
    assert "unsafe-inline" not in csp, csp
    assert "http" not in csp, csp
    assert "strict-transport-security" not in r.headers


def test_every_answer_carries_the_security_headers(shared_api: Api, login: Logins) -> None:
    official = login("official_a")
    anonymous = shared_api.client()
    doc_id = drafted(official, make_pdf(1, text="headers-" + uuid.uuid4().hex))
    too_big = b"x" * (shared_api.settings.max_upload_bytes + 2 * 1024 * 1024)
    answers = {
        "health": anonymous.get("/health"),
        "token": anonymous.post("/auth/token", data={"username": "official_a",
                                                    "password": "correct-horse-battery"}),
        "wrong password": anonymous.post("/auth/token", data={"username": "official_a",
                                                             "password": "wrong"}),
        "no token": anonymous.get("/me"),
        "me": official.get("/me"),
        "document": official.get(f"/documents/{doc_id}"),
        "file": official.get(f"/documents/{doc_id}/file"),
        "not found": official.get("/no-such-thing"),
        "method": official.delete("/documents"),
        "invalid": official.get("/documents/not-a-uuid"),
        "too large": official.post("/documents", content=too_big,
                                   headers={"Content-Type": "application/octet-stream"}),
        "openapi": anonymous.get("/openapi.json"),
        "docs": anonymous.get("/docs"),
        "docs asset": anonymous.get("/docs/assets/swagger-ui.css"),
    }
    expected = {"health": 200, "token": 200, "wrong password": 401, "no token": 401, "me": 200,
                "document": 200, "file": 200, "not found": 404, "method": 405, "invalid": 422,
                "too large": 413, "openapi": 200, "docs": 200, "docs asset": 200}
    assert {name: r.status_code for name, r in answers.items()} == expected
    for r in answers.values():
        assert_secure(r)


def test_hsts_only_when_served_over_tls(shared_api: Api) -> None:
    client = shared_api.client()
    # Plain HTTP: browsers ignore HSTS there, and the API does not claim TLS it lacks.
    assert "strict-transport-security" not in client.get("/health").headers
    # Behind a TLS-terminating proxy that uvicorn trusts (--forwarded-allow-ips, here the
    # default 127.0.0.1), the scheme is https and HSTS is sent, on errors too.
    for path in ("/health", "/no-such-thing"):
        r = client.get(path, headers={"X-Forwarded-Proto": "https"})
        assert r.headers["strict-transport-security"].startswith("max-age=31536000"), path


@contextmanager
def _served(app: FastAPI) -> Iterator[str]:
    """Serve an app without its lifespan (no database): for routes that need none."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server stopped at start"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_an_unexpected_500_carries_the_headers_and_no_detail(shared_api: Api) -> None:
    app = create_app(shared_api.settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret /srv/docmgmt/data/keys.p12 is broken")

    with _served(app) as base:
        r = httpx.get(base + "/boom", headers={"X-Request-ID": "boom-1"})
    body = assert_error(r, 500, "internal_error")
    assert "/srv" not in r.text, body
    assert "RuntimeError" not in r.text, body
    assert r.headers["X-Request-ID"] == "boom-1"
    assert_secure(r)


def test_the_html_validation_report_admits_only_its_own_style(login: Logins) -> None:
    official = login("official_a")
    files = {"file": ("x.pdf", make_pdf(1, text="report"), "application/pdf")}
    r = official.post("/validate", params={"format": "html"}, files=files)
    assert r.status_code == 200, r.text
    styles = re.findall(r"<style>(.*?)</style>", r.text, re.DOTALL)
    assert len(styles) == 1
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    csp = r.headers["content-security-policy"]
    assert csp.endswith(f"style-src 'sha256-{digest}'"), csp
    assert "script" not in csp
    assert_secure(r)


# --- error details say what a client may know, never where or how ---------------------


def test_a_storage_error_shows_no_server_path(shared_api: Api, login: Logins) -> None:
    official = login("official_a")
    pdf = make_pdf(1, text="path-" + uuid.uuid4().hex)
    doc_id = drafted(official, pdf)
    digest = sha256(pdf)
    blob = shared_api.settings.blob_dir / "sha256" / digest[:2] / digest[2:4] / digest
    # Someone with disk access puts a directory where the stored PDF was.
    blob.chmod(0o600)
    blob.unlink()
    blob.mkdir()
    try:
        r = official.get(f"/documents/{doc_id}/file")
    finally:
        blob.rmdir()
    body = assert_error(r, 503, "storage_unavailable")
    assert "try again" in body["detail"]
    for leak in (str(shared_api.settings.data_dir), "/blobs", "Errno", "sha256/", digest):
        assert leak not in r.text, (leak, body)
    assert_secure(r)


def test_a_broken_pdf_is_refused_without_the_parser_s_words(login: Logins) -> None:
    official = login("official_a")
    pdf = make_pdf(1, text="broken-" + uuid.uuid4().hex)
    broken = {"truncated": pdf[: len(pdf) // 2] + b"\n%%EOF\n",
              "no page tree": pdf.replace(b"/Pages", b"/Pagex")}
    for name, body in broken.items():
        files = {"file": ("x.pdf", body, "application/pdf")}
        for r in (official.post("/documents", data={"summary": name}, files=files),
                  official.post("/validate", files=files)):
            body_ = assert_error(r, 422, "malformed_pdf")
            # Before: "the PDF cannot be parsed: startxref not found" (pypdf's words).
            assert body_["detail"] == "the PDF cannot be parsed", (name, body_)


# --- 405 names the methods the path really has ----------------------------------------


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def test_405_allow_lists_the_methods_of_the_path(shared_api: Api, login: Logins) -> None:
    official = login("official_a")
    r = official.delete("/documents")
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET, POST"
    assert r.json()["detail"] == "DELETE is not allowed here; allowed: GET, POST"
    body = assert_error(official.get("/no-such-thing"), 404, "not_found")
    assert body["detail"] == "nothing is served at this address"
    # Every documented path: a method it does not have is refused, naming the ones it has.
    paths: dict[str, dict[str, Any]] = official.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        documented = sorted(m.upper() for m in operations)
        unused = next(m for m in ("PATCH", "PUT", "DELETE", "POST") if m not in documented)
        r = official.request(unused, _concrete(path))
        assert r.status_code == 405, (path, unused, r.text)
        assert r.headers["Allow"] == ", ".join(documented), path


# --- the OpenAPI document describes the errors as they are served ----------------------


def test_openapi_describes_every_error_with_the_one_error_schema(shared_api: Api) -> None:
    doc = shared_api.client().get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["ErrorBody"]["required"] == ["error", "detail"]
    operations = [(path, method, op) for path, ops in doc["paths"].items()
                  for method, op in ops.items()]
    for path, method, op in operations:
        responses = op["responses"]
        errors = {int(s) for s in responses if s.isdigit() and int(s) >= 400}
        assert {422, 503} <= errors, (path, method)
        if op.get("security"):
            assert {401, 403, 404} <= errors, (path, method)
        for status in errors:
            schema = responses[str(status)]["content"]["application/json"]["schema"]
            if (path, status) == ("/health", 503):  # its report, which names the part down
                assert schema["required"] == ["status"]
                continue
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, method, status)
    assert {401, 429} <= {int(s) for s in doc["paths"]["/auth/token"]["post"]["responses"]}
    assert "415" in doc["paths"]["/documents"]["post"]["responses"]


# --- /docs needs no network ----------------------------------------------------------


def test_docs_load_from_the_server_itself(shared_api: Api) -> None:
    client = shared_api.client()
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "http://" not in page, page
    assert "https://" not in page, page
    assert "<script>" not in page  # no inline script: the CSP needs no 'unsafe-inline'
    refs = re.findall(r'(?:src|href|data-openapi-url)="([^"]+)"', page)
    assert len(refs) == 5, refs
    for ref in refs:
        assert ref.startswith("/"), ref
        assert not ref.startswith("//"), ref
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 100, ref
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp, csp
    assert "unsafe" not in csp, csp
    assert "http" not in csp, csp
    assert "validatorUrl: null" in client.get("/docs/assets/init.js").text
    assert client.get("/docs/assets/redoc.standalone.js").status_code == 404
    assert client.get("/redoc").status_code == 404


def test_an_unreadable_body_is_an_invalid_request(shared_api: Api, login: Logins) -> None:
    # Found by schemathesis: bytes that are not UTF-8 JSON got FastAPI's undocumented 400.
    admin = shared_api.client("root")
    for content in (b"\xff", b"u\xc3\x28\xa0"):
        r = admin.post("/users", content=content, headers={"Content-Type": "application/json"})
        assert_error(r, 422, "invalid_request")
        assert_secure(r)
