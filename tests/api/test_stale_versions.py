"""Every command that takes If-Match refuses a stale version over HTTP, storing nothing.

The commands are read from the served /openapi.json: a new one that takes If-Match and has
no entry in ``COMMANDS`` fails ``test_every_if_match_command_is_covered``. Each command is
tried with the version just before the record's own at every stage of the record's life,
including stages where the command would also be refused for the record's status: the
answer is always 409 stale_version (the version is checked first), and neither the record's
events nor the blob files change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.api.conftest import Api, Logins, new_user
from tests.api.support import assert_error, drafted
from tests.support.pdfs import make_pdf
from tests.support.waiting import wait_until


@dataclass
class Scene:
    """The people and records the commands act on."""

    ids: dict[str, str] = field(default_factory=dict)
    clients: dict[str, httpx.Client] = field(default_factory=dict)


Body = Callable[[Scene], dict[str, Any]]


@dataclass(frozen=True)
class Command:
    """How to send one command: on which record, as whom, with what (valid) body."""

    record: str  # the Scene id the path's parameter takes: document, copy, agency, ...
    actor: str
    body: Body = lambda _: {}
    upload: bool = False


def _pdf_form(**fields: str) -> Body:
    return lambda _: {"data": fields, "files": {"file": (
        "ban-sua.pdf", make_pdf(1, text="Bản sửa " + repr(sorted(fields.items()))),
        "application/pdf")}}


DOCUMENT, COPY = "document", "copy"
COMMANDS: dict[tuple[str, str], Command] = {
    ("POST", "/documents/{document_id}/revisions"): Command(
        DOCUMENT, "official", _pdf_form(note="Sửa câu chữ"), upload=True),
    ("POST", "/documents/{document_id}/appendices"): Command(
        DOCUMENT, "official", _pdf_form(title="Phụ lục I"), upload=True),
    ("POST", "/documents/{document_id}/comments"): Command(
        DOCUMENT, "leader", lambda _: {"text": "Góp ý"}),
    ("POST", "/documents/{document_id}/submit"): Command(
        DOCUMENT, "official", lambda _: {"text": "Kính trình"}),
    ("POST", "/documents/{document_id}/approve"): Command(
        DOCUMENT, "leader", lambda _: {"text": "Đồng ý"}),
    ("POST", "/documents/{document_id}/return"): Command(
        DOCUMENT, "leader", lambda _: {"text": "Sửa lại"}),
    ("POST", "/documents/{document_id}/sign"): Command(
        DOCUMENT, "leader", lambda _: {"principal_title": "Giám đốc"}),
    ("POST", "/documents/{document_id}/signature-requests"): Command(
        DOCUMENT, "leader", lambda _: {"method": "provider"}),
    ("POST", "/documents/{document_id}/number"): Command(DOCUMENT, "clerk"),
    ("POST", "/documents/{document_id}/seal"): Command(DOCUMENT, "clerk"),
    ("POST", "/documents/{document_id}/dispatch"): Command(
        DOCUMENT, "clerk", lambda _: {"recipients": ["SOB"]}),
    ("POST", "/documents/{document_id}/recall"): Command(
        DOCUMENT, "clerk", lambda _: {"reason": "Sai nội dung"}),
    ("POST", "/documents/{document_id}/links"): Command(
        DOCUMENT, "official", lambda s: {"relation": "replaces", "target_id": s.ids["issued"]}),
    ("POST", "/incoming/{incoming_id}/register"): Command(COPY, "clerk_b"),
    ("POST", "/incoming/{incoming_id}/return"): Command(
        COPY, "clerk_b", lambda _: {"reason": "Gửi nhầm nơi"}),
    ("POST", "/incoming/{incoming_id}/assign"): Command(
        COPY, "leader_b", lambda s: {"lead_user_id": s.ids["official_b"], "working_days": 5}),
    ("POST", "/incoming/{incoming_id}/progress"): Command(
        COPY, "official_b", lambda _: {"note": "Đang xử lý"}),
    ("POST", "/incoming/{incoming_id}/extension"): Command(
        COPY, "official_b", lambda _: {"proposed_deadline": "2027-12-01T17:00:00+07:00",
                                       "reason": "Cần thêm thời gian"}),
    ("POST", "/incoming/{incoming_id}/extension/decision"): Command(
        COPY, "leader_b", lambda _: {"granted": True, "comment": "Đồng ý"}),
    ("POST", "/incoming/{incoming_id}/complete"): Command(
        COPY, "official_b", lambda _: {"result": "Đã xử lý"}),
    ("POST", "/incoming/{incoming_id}/confirm-withdrawal"): Command(COPY, "clerk_b"),
    ("POST", "/agencies/{agency_id}/units"): Command(
        "agency", "root", lambda _: {"code": "KT", "name": "Kinh tế"}),
    ("PUT", "/agencies/{agency_id}/calendar"): Command(
        "agency", "root", lambda _: {"extra_days_off": ["2026-12-24"]}),
    ("PUT", "/agencies/{agency_id}/place-name"): Command(
        "agency", "root", lambda _: {"place_name": "Hải Châu"}),
    ("PUT", "/users/{user_id}/roles"): Command(
        "user", "root", lambda _: {"roles": ["leader"]}),
    ("PATCH", "/agencies/{agency_id}/webhooks/{webhook_id}"): Command(
        "webhook", "root", lambda _: {"kinds": ["received"]}),
}


def stored_version(api: Api, record: str) -> int:
    """The record's version in the event store (its last event's)."""
    with psycopg.connect(api.db.owner.conninfo()) as conn:
        row = conn.execute("SELECT max(originator_version) FROM docmgmt.docmgmt_events"
                           " WHERE originator_id = %s", (record,)).fetchone()
    assert row is not None
    assert row[0] is not None
    return int(row[0])


def blob_files(api: Api) -> frozenset[str]:
    """Every file under the data folder's blob store (stored, half-written, spooled)."""
    roots = [api.settings.blob_dir, api.settings.spool_dir]
    return frozenset(str(p) for root in roots if root.exists()
                     for p in root.rglob("*") if p.is_file())


def path_for(template: str, scene: Scene, record: str) -> str:
    """The command's path for the scene's record."""
    return template.format(document_id=scene.ids[record], incoming_id=scene.ids[record],
                           agency_id=scene.ids[record], user_id=scene.ids[record],
                           webhook_id=scene.ids.get("webhook", ""))


def refuses_stale(api: Api, scene: Scene, record: str, kind: str) -> set[tuple[str, str]]:
    """Every command on records of ``kind`` answers a stale If-Match on ``record`` with 409
    stale_version, and stores nothing; returns the commands tried.

    A command whose actor cannot see the record yet (a handler before the assignment) is
    not tried: the record is hidden from them (404) before any version is compared."""
    tried: set[tuple[str, str]] = set()
    for (method, template), command in COMMANDS.items():
        if command.record != kind:
            continue
        client = scene.clients[command.actor]
        if kind == COPY and client.get(f"/incoming/{scene.ids[record]}").status_code == 404:
            continue
        if kind == "webhook":
            # The path names the agency and the subscription; the version is the latter's.
            path = template.format(agency_id=scene.ids["agency"],
                                   webhook_id=scene.ids[record])
        else:
            path = path_for(template, scene, record)
        version = stored_version(api, scene.ids[record])
        events, blobs = version, blob_files(api)
        body = command.body(scene)
        stale = {"If-Match": f'"{version - 1}"'}
        r = (client.request(method, path, headers=stale, **body) if command.upload
             else client.request(method, path, headers=stale, json=body))
        assert (r.status_code, r.json().get("error")) == (409, "stale_version"), (
            f"{method} {template} as {command.actor}: {r.text}")
        assert_error(r, 409, "stale_version")
        assert stored_version(api, scene.ids[record]) == events, f"{method} {path} stored"
        assert blob_files(api) == blobs, f"{method} {path} left files"
        tried.add((method, template))
    return tried


def ok(r: httpx.Response, status: int = 200) -> Any:
    """The JSON body of a successful answer."""
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def scene(shared_api: Api, shared_city: dict[str, Any], login: Logins) -> Iterator[Scene]:
    """The shared city's people of agencies A and B, with a clerk and a leader added at B."""
    admin = login("root")
    scene = Scene(ids=dict(shared_city))
    for name in ("official_a", "leader_a", "clerk_a", "official_b"):
        scene.clients[name.removesuffix("_a")] = login(name)
    for role in ("clerk", "leader"):
        username, user_id = new_user(admin, shared_city["SOB"], [role], prefix=f"{role}_b")
        scene.clients[f"{role}_b"] = shared_api.client(username)
        scene.ids[f"{role}_b"] = user_id
    scene.clients["root"] = admin
    yield scene
    for name in ("clerk_b", "leader_b"):
        scene.clients[name].close()


def test_every_if_match_command_is_covered(shared_api: Api) -> None:
    doc = shared_api.client().get("/openapi.json").json()
    served = {
        (method.upper(), path)
        for path, operations in doc["paths"].items()
        for method, operation in operations.items()
        if any(p.get("in") == "header" and p["name"].lower() == "if-match"
               for p in operation.get("parameters", []))
    }
    assert served == set(COMMANDS), (
        f"commands with If-Match but no stale-version case: {sorted(served - set(COMMANDS))};"
        f" cases for commands no longer served: {sorted(set(COMMANDS) - served)}")


def test_document_and_copy_commands_refuse_stale_versions_at_every_stage(
    shared_api: Api, scene: Scene
) -> None:
    c = scene.clients
    api = shared_api

    def step(record: str, actor: str, path: str, body: dict[str, Any]) -> None:
        version = stored_version(api, scene.ids[record])
        r = c[actor].post(path, json=body, headers={"If-Match": f'"{version}"'})
        assert r.is_success, r.text  # the step itself (its code is pinned elsewhere)
        assert stored_version(api, scene.ids[record]) > version

    # An official drafts a document, and the leader comments on it (version 2).
    scene.ids[DOCUMENT] = drafted(c["official"])
    scene.ids["issued"] = scene.ids[DOCUMENT]
    doc = f"/documents/{scene.ids[DOCUMENT]}"
    step(DOCUMENT, "leader", f"{doc}/comments", {"text": "Góp ý đầu"})
    tried = refuses_stale(api, scene, DOCUMENT, DOCUMENT)

    # It goes through approval, signing, numbering and sealing; at each stage every
    # document command with a stale version is refused, whether or not it is due.
    for actor, path, body in [("official", f"{doc}/submit", {"text": "Kính trình"}),
                              ("leader", f"{doc}/approve", {"text": "Đồng ý"}),
                              ("leader", f"{doc}/sign", {"principal_title": "Giám đốc"}),
                              ("clerk", f"{doc}/number", {}),
                              ("clerk", f"{doc}/seal", {})]:
        step(DOCUMENT, actor, path, body)
        tried |= refuses_stale(api, scene, DOCUMENT, DOCUMENT)

    # The clerk dispatches it to B; B's copy arrives and the document shows the delivery.
    step(DOCUMENT, "clerk", f"{doc}/dispatch", {"recipients": ["SOB"]})

    def recipient() -> dict[str, Any]:
        body = ok(c["clerk"].get(f"{doc}/recipients"))
        return next(r for r in body["recipients"] if r["code"] == "SOB")

    scene.ids[COPY] = str(wait_until(lambda: recipient()["incoming_id"], what="the delivery"))
    wait_until(lambda: recipient()["state"] == "delivered", what="the delivery receipt")
    tried |= refuses_stale(api, scene, DOCUMENT, DOCUMENT)
    copy = f"/incoming/{scene.ids[COPY]}"
    tried |= refuses_stale(api, scene, COPY, COPY)

    # B registers, assigns, hears of progress and an extension request, then completes.
    assign = {"lead_user_id": scene.ids["official_b"], "working_days": 5}
    extension = {"proposed_deadline": "2027-11-01T17:00:00+07:00", "reason": "Chờ ý kiến"}
    for actor, path, body in [("clerk_b", f"{copy}/register", {}),
                              ("leader_b", f"{copy}/assign", assign),
                              ("official_b", f"{copy}/progress", {"note": "Bắt đầu"}),
                              ("official_b", f"{copy}/extension", extension)]:
        step(COPY, actor, path, body)
        tried |= refuses_stale(api, scene, COPY, COPY)
    step(COPY, "leader_b", f"{copy}/extension/decision", {"granted": True})
    step(COPY, "official_b", f"{copy}/complete", {"result": "Đã xử lý"})
    tried |= refuses_stale(api, scene, COPY, COPY)

    # The sender recalls the document; B's copy is withdrawn.
    wait_until(lambda: recipient()["state"] == "registered", what="the acknowledgement")
    step(DOCUMENT, "clerk", f"{doc}/recall", {"reason": "Sai nội dung"})
    wait_until(lambda: ok(c["clerk_b"].get(copy))["withdrawn"], what="the withdrawal")
    tried |= refuses_stale(api, scene, DOCUMENT, DOCUMENT)
    tried |= refuses_stale(api, scene, COPY, COPY)

    # Every document and copy command was tried at least once.
    assert tried == {key for key, command in COMMANDS.items()
                     if command.record in (DOCUMENT, COPY)}


def test_admin_commands_refuse_stale_versions(
    shared_api: Api, scene: Scene, tmp_path: Path
) -> None:
    admin = scene.clients["root"]
    # A fresh agency (version 2 once its calendar is set) and a fresh account.
    agency = ok(admin.post("/agencies", json={"code": "SOC", "name": "Sở C"}), 201)["id"]
    scene.ids["agency"] = agency
    ok(admin.put(f"/agencies/{agency}/calendar", json={"extra_days_off": ["2026-12-25"]},
                 headers={"If-Match": '"1"'}))
    _, user = new_user(admin, agency, ["official"], prefix="stale")
    scene.ids["user"] = user
    ok(admin.put(f"/users/{user}/roles", json={"roles": ["official", "clerk"]},
                 headers={"If-Match": '"1"'}))
    hook = ok(admin.post(f"/agencies/{agency}/webhooks", json={
        "url": "https://hooks.example.gov.vn/in", "kinds": ["received"]}), 201)["id"]
    scene.ids["webhook"] = hook
    ok(admin.patch(f"/agencies/{agency}/webhooks/{hook}", json={"kinds": ["overdue"]},
                   headers={"If-Match": '"1"'}))
    refuses_stale(shared_api, scene, "agency", "agency")
    refuses_stale(shared_api, scene, "user", "user")
    refuses_stale(shared_api, scene, "webhook", "webhook")
