"""Text in: one rule for every text a user sends (no control characters, bounded lengths,
64-bit numbers), applied before any route runs, so a refused request records nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest

from api.main import create_app
from api.textguard import TextGuard
from tests.api.conftest import Api, Logins, new_user
from tests.api.support import assert_error, draft, drafted, event_count, stored
from tests.support.pdfs import make_pdf

NUL = "abc\x00def"
TOO_BIG = str(2**63)


def test_a_nul_in_a_draft_summary_is_refused_and_stores_nothing(
    shared_api: Api, login: Logins
) -> None:
    official = login("official_a")
    before = stored(shared_api)
    # Before the rule this answered 201 and wedged the read side for good.
    body = assert_error(draft(official, summary=NUL), 422, "invalid_text")
    assert "body.summary" in body["detail"]
    assert "U+0000" in body["detail"]
    assert stored(shared_api) == before
    # Tabs and line breaks are text; a file name is text too.
    assert draft(official, summary="Về việc\thội nghị\r\nngày 1").status_code == 201
    # A raw multipart body: httpx would percent-escape the control character itself.
    boundary = "b0undary"
    raw = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"summary\"\r\n\r\n"
           f"Về việc\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\";"
           f" filename=\"du\x01thao.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
           ).encode() + make_pdf(1) + f"\r\n--{boundary}--\r\n".encode()
    r = official.post("/documents", content=raw,
                      headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert "body.file.filename" in assert_error(r, 422, "invalid_text")["detail"]
    assert stored(shared_api).events == before.events + 1


def test_comments_and_unit_names_refuse_control_characters(
    shared_api: Api, login: Logins, shared_city: dict[str, Any]
) -> None:
    official, admin = login("official_a"), login("root")
    doc_id = drafted(official)
    events = event_count(shared_api)
    r = official.post(f"/documents/{doc_id}/comments", json={"text": "ok\u0000"})
    assert "body.text" in assert_error(r, 422, "invalid_text")["detail"]
    r = admin.post(f"/agencies/{shared_city['SOA']}/units", json={"code": "X1", "name": "a\u0000b"})
    assert "body.name" in assert_error(r, 422, "invalid_text")["detail"]
    # DEL, C1 controls and lone surrogates are refused as well.
    for bad in ("a\x7fb", "a\x9bb", "a\ud800b"):
        r = official.post(f"/documents/{doc_id}/comments",
                          content=json.dumps({"text": bad}),
                          headers={"Content-Type": "application/json"})
        assert_error(r, 422, "invalid_text")
    # Lengths are bounded before the domain's own limits even look.
    r = official.post(f"/documents/{doc_id}/comments", json={"text": "x" * 10_001})
    assert_error(r, 422, "text_too_long")
    assert event_count(shared_api) == events
    assert official.post(f"/documents/{doc_id}/comments",
                         json={"text": "dòng 1\ndòng 2\tđã sửa"}).status_code == 201


@pytest.mark.parametrize("url", ["/inbox?status=%00", "/documents?status=%00",
                                 "/outbox?status=%00", "/audit/events?type=%00",
                                 "/documents?cursor=a%01b", "/search?q=%00"])
def test_a_nul_in_a_query_filter_is_422_and_the_read_is_not_recorded(
    shared_api: Api, login: Logins, shared_city: dict[str, Any], url: str
) -> None:
    auditor = _auditor(shared_api, login, shared_city)
    client = auditor if url.startswith("/audit") else login("clerk_a")
    events = event_count(shared_api)
    assert "query." in assert_error(client.get(url), 422, "invalid_text")["detail"]
    # Before the rule the auditor's read was recorded, then the query failed with a 500.
    assert event_count(shared_api) == events


def test_numbers_in_queries_must_fit_in_64_bits(
    shared_api: Api, login: Logins, shared_city: dict[str, Any]
) -> None:
    official = login("official_a")
    auditor = _auditor(shared_api, login, shared_city)
    doc_id = drafted(official)
    for client, url in [(official, "/documents"), (auditor, "/audit/events"),
                        (auditor, f"/audit/documents/{doc_id}/trail")]:
        events = event_count(shared_api)
        r = client.get(url, params={"offset": TOO_BIG})
        assert "query.offset" in assert_error(r, 422, "number_out_of_range")["detail"]
        # Refused before the auditor's read is recorded.
        assert event_count(shared_api) == events
        assert client.get(url, params={"offset": str(2**63 - 1)}).status_code == 200
    assert_error(official.get(f"/documents/{doc_id}/revisions/{TOO_BIG}/file"), 422,
                 "number_out_of_range")


def test_headers_that_reach_events_are_bounded(shared_api: Api, login: Logins) -> None:
    official = login("official_a")
    r = official.get("/me", headers={"User-Agent": "x" * 1025})
    assert "header.user-agent" in assert_error(r, 422, "text_too_long")["detail"]
    r = official.get("/me", headers={"X-Request-ID": "r" * 129})
    assert_error(r, 422, "text_too_long")
    # A UTF-8 user agent arrives as latin-1 bytes 0x80-0xFF: that is text, not control.
    r = official.get("/me", headers={"User-Agent": "Trình duyệt/1.0".encode()})
    assert r.status_code == 200, r.text


def test_the_guard_refuses_control_characters_in_headers_a_server_lets_through() -> None:
    # h11 already refuses these; another HTTP server (httptools) may not.
    reached: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "path": "/me", "query_string": b"",
             "headers": [(b"user-agent", b"evil\x00agent")]}
    asyncio.run(TextGuard(app)(scope, receive, send))
    assert reached == []
    assert sent[0]["status"] == 422
    assert b'"invalid_text"' in sent[1]["body"]
    assert b"header.user-agent" in sent[1]["body"]


# --- every route ----------------------------------------------------------------------


def _auditor(api: Api, login: Logins, city: dict[str, Any]) -> httpx.Client:
    if "auditor" not in city:
        admin = login("root")
        username, user_id = new_user(admin, city["SOA"], ["auditor"], prefix="auditor")
        r = admin.post(f"/users/{user_id}/audit-mandates", json={
            "agency_id": city["SOA"], "valid_from": "2020-01-01T00:00:00+07:00",
            "valid_to": "2099-01-01T00:00:00+07:00", "legal_basis": "QĐ 1/QĐ-TTr"})
        assert r.status_code == 201, r.text
        city["auditor"] = username
    return login(city["auditor"])


def _schema(doc: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = body["schema"]
    schema = next((s for s in schema.get("anyOf", []) if "$ref" in s), schema)
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _multipart(fields: dict[str, str], files: dict[str, str]) -> dict[str, Any]:
    """httpx keyword arguments for a raw multipart body (httpx would escape control
    characters in file names itself)."""
    b = "b0undary"
    raw = b"".join(f"--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                   .encode() for k, v in fields.items())
    for k, filename in files.items():
        raw += (f"--{b}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{filename}\""
                "\r\nContent-Type: application/pdf\r\n\r\n").encode() + make_pdf(1) + b"\r\n"
    raw += f"--{b}--\r\n".encode()
    return {"content": raw, "headers": {"Content-Type": f"multipart/form-data; boundary={b}"}}


Request = tuple[str, str, str, dict[str, Any]]


def _is_integer(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "integer" or any(
        s.get("type") == "integer" for s in schema.get("anyOf", []))


def _requests(doc: dict[str, Any], ids: dict[str, str]) -> list[Request]:
    """(field, method, url, httpx keyword arguments): one request per string parameter or
    body field of every operation, with a NUL in that one field."""
    out: list[Request] = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            params = op.get("parameters", [])
            values = {p["name"]: ids.get(p["name"], ids["default"]) for p in params
                      if p["in"] == "path"}
            url = path.format(**values)
            for p in params:
                if p["in"] == "path":
                    bad = path.format(**(values | {p["name"]: "a%00b"}))
                    out.append(("path", method, bad, {}))
                elif p["in"] == "query":
                    out.append((f"query.{p['name']}", method, url,
                                {"params": {p["name"]: NUL}}))
                if _is_integer(p["schema"]):
                    big = {"params": {p["name"]: TOO_BIG}} if p["in"] == "query" else {}
                    where = (path.format(**(values | {p["name"]: TOO_BIG}))
                             if p["in"] == "path" else url)
                    out.append((f"number:{p['in']}.{p['name']}", method, where, big))
            for kind, body in op.get("requestBody", {}).get("content", {}).items():
                props = _schema(doc, body).get("properties", {})
                assert props, (method, path, kind)
                for name, prop in props.items():
                    if kind == "application/json":
                        value: Any = [NUL] if prop.get("type") == "array" else NUL
                        out.append((f"body.{name}", method, url, {"json": {name: value}}))
                    elif prop.get("format") == "binary" or "contentMediaType" in prop:
                        out.append((f"body.{name}.filename", method, url,
                                    _multipart({}, {name: "a\x00.pdf"})))
                    elif kind == "multipart/form-data":
                        out.append((f"body.{name}", method, url,
                                    _multipart({name: NUL}, {"file": "a.pdf"})))
                    else:
                        out.append((f"body.{name}", method, url, {"data": {name: NUL}}))
    return out


def test_every_route_refuses_a_nul_in_every_text_it_takes(
    shared_api: Api, login: Logins, shared_city: dict[str, Any]
) -> None:
    official, admin = login("official_a"), login("root")
    doc_id = drafted(official)
    ids = {"document_id": doc_id, "agency_id": shared_city["SOA"],
           "user_id": shared_city["official_a"], "default": str(uuid.uuid4()),
           "kind": "outgoing", "revision": "1", "number": "1"}
    doc = create_app(shared_api.settings).openapi()
    requests = _requests(doc, ids)
    # Every operation of the served API is walked: none takes no input at all but /health.
    operations = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    walked = {(m, u) for _, m, u, _ in requests}
    assert len(operations) >= 50
    assert len(requests) >= 150
    fields = {f for f, _, _, _ in requests}
    assert {"query.status", "query.offset", "body.summary", "body.text", "body.name",
            "body.file.filename", "body.username", "body.password", "path",
            "number:query.offset", "number:query.limit", "number:path.revision"} <= fields
    events = event_count(shared_api)
    refused = []
    for field, method, url, kwargs in requests:
        r = admin.request(method.upper(), url, **kwargs)
        code, named = "invalid_text", field
        if field.startswith("number:"):
            # Every whole-number parameter refuses 2^63 (a 500 from asyncpg before).
            code, named = "number_out_of_range", field.split(":")[1].split(".")[0]
        if r.status_code != 422 or r.json().get("error") != code \
                or named not in r.json()["detail"]:
            refused.append((method, url, field, r.status_code, r.text[:200]))
    assert refused == [], "\n".join(map(str, refused))
    assert len(walked) >= len(operations) - 1
    # Nothing was recorded: no event, no read record.
    assert event_count(shared_api) == events
