"""Replay of an incoming copy: at every version it matches what the API showed then."""

from __future__ import annotations

from typing import Any, NamedTuple

import httpx
import pytest

from tests.api.conftest import Api, Logins, new_user
from tests.api.support import assert_error, drafted
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres

# What both GET /incoming/{id} and the replay name, compared at each version.
_SHARED = ("version", "status", "deadline", "pending_extension", "return_reason", "withdrawn",
           "arrival_number", "summary")


class Life(NamedTuple):
    """B's copy id, the API's view of it after each step, and A's recipients view."""

    copy_id: str
    seen: list[dict[str, Any]]
    sent: list[dict[str, Any]]


def _ok(r: httpx.Response) -> Any:
    assert r.is_success, r.text
    return r.json()


@pytest.fixture(scope="module")
def life(audit_api: Api, audit_city: dict[str, Any], as_user: Logins) -> Life:
    """A document sent from A to B, B's copy handled to completion, then recalled; what the
    API showed of the copy and of the sender's recipients after each step."""
    admin = audit_api.client("root")
    b: dict[str, httpx.Client] = {}
    ids: dict[str, str] = {}
    for role in ("clerk", "leader"):
        username, ids[role] = new_user(admin, audit_city["SOB"], [role], prefix=f"{role}_b")
        b[role] = audit_api.client(username)
    b["official"] = as_user("official_b")
    official, leader, clerk = (as_user(u) for u in ("official_a", "leader_a", "clerk_a"))
    # Agency A drafts, approves, signs, numbers, seals and dispatches a document to B.
    doc = f"/documents/{drafted(official)}"
    for client, action, body in [(official, "submit", {"text": "Kính trình"}),
                                 (leader, "approve", {"text": "Đồng ý"}),
                                 (leader, "sign", {"principal_title": "Giám đốc"}),
                                 (clerk, "number", {}), (clerk, "seal", {}),
                                 (clerk, "dispatch", {"recipients": ["SOB"]})]:
        _ok(client.post(f"{doc}/{action}", json=body))

    def recipient() -> dict[str, Any]:
        return next(r for r in _ok(clerk.get(f"{doc}/recipients"))["recipients"]
                    if r["code"] == "SOB")

    copy_id = str(wait_until(lambda: recipient()["incoming_id"], what="the delivery"))
    wait_until(lambda: recipient()["state"] == "delivered", what="the delivery receipt")
    sent = [_ok(clerk.get(f"{doc}/recipients")) | {"id": doc.rsplit("/", 1)[1]}]
    copy = f"/incoming/{copy_id}"
    seen = [_ok(b["clerk"].get(copy))]
    # B registers, assigns, hears progress, an extension asked and granted, and completes.
    assign = {"lead_user_id": audit_city["official_b"], "working_days": 5,
              "instructions": "Chủ trì tham mưu"}
    extension = {"proposed_deadline": "2027-11-01T17:00:00+07:00", "reason": "Chờ ý kiến"}
    for actor, action, body in [("clerk", "register", {}), ("leader", "assign", assign),
                                ("official", "progress", {"note": "Bắt đầu"}),
                                ("official", "extension", extension),
                                ("leader", "extension/decision",
                                 {"granted": True, "comment": "Đồng ý gia hạn"}),
                                ("official", "complete", {"result": "Đã xử lý xong"})]:
        _ok(b[actor].post(f"{copy}/{action}", json=body))
        seen.append(_ok(b["clerk"].get(copy)))
    wait_until(lambda: recipient()["state"] == "registered", what="the acknowledgement")
    sent.append(_ok(clerk.get(f"{doc}/recipients")) | {"id": sent[0]["id"]})
    # A recalls the document; B's copy is withdrawn and B confirms it.
    _ok(clerk.post(f"{doc}/recall", json={"reason": "Sai thẩm quyền ban hành"}))
    wait_until(lambda: _ok(b["clerk"].get(copy))["withdrawn"], what="the withdrawal")
    seen.append(_ok(b["clerk"].get(copy)))
    _ok(b["clerk"].post(f"{copy}/confirm-withdrawal", json={}))
    seen.append(_ok(b["clerk"].get(copy)))
    wait_until(lambda: recipient()["state"] == "recall_confirmed", what="the confirmation")
    sent.append(_ok(clerk.get(f"{doc}/recipients")) | {"id": sent[0]["id"]})
    return Life(copy_id, seen, sent)


def test_incoming_replay_at_every_version_matches_what_the_api_showed(
    as_user: Logins, life: Life
) -> None:
    copy_id, seen = life.copy_id, life.seen
    # The auditor with a mandate for B replays each version the API showed.
    auditor = as_user("auditor")
    for shown in seen:
        r = auditor.get(f"/documents/{copy_id}/replay", params={"version": shown["version"]})
        state = _ok(r)
        assert state["kind"] == "incoming"
        for key in _SHARED:
            if key in shown:
                assert state[key] == shown[key], (key, shown["version"])
        assert state["steps"][-1]["version"] == shown["version"]


def test_incoming_replay_names_who_did_each_step_and_what_they_said(
    as_user: Logins, life: Life
) -> None:
    copy_id, seen = life.copy_id, life.seen
    state = _ok(as_user("auditor").get(f"/documents/{copy_id}/replay",
                                       params={"version": seen[-1]["version"]}))
    said = [s.get("reason") or s.get("note") or s.get("comment") or s.get("result")
            or s.get("instructions") for s in state["steps"]]
    for words in ("Chủ trì tham mưu", "Bắt đầu", "Chờ ý kiến", "Đồng ý gia hạn",
                  "Đã xử lý xong"):
        assert words in said
    completed = next(s for s in state["steps"] if s.get("result") == "Đã xử lý xong")
    assert completed["actor"]["username"] == "official_b"
    assert completed["actor"]["client_ip"]
    # The recall's withdrawal and B's confirmation are the last two steps.
    assert state["withdrawn"]
    assert state["steps"][-1]["actor"]["username"].startswith("clerk_b_")


def test_incoming_replay_is_hidden_outside_the_mandate(
    as_user: Logins, life: Life
) -> None:
    copy_id, seen = life.copy_id, life.seen
    url = f"/documents/{copy_id}/replay"
    # Agency A's official never sees B's copy; beyond the last version is the precise 404.
    assert_error(as_user("official_a").get(url, params={"version": 1}), 404,
                 "document_not_found")
    assert_error(as_user("auditor").get(url, params={"version": seen[-1]["version"] + 1}),
                 404, "version_not_found")


def test_outgoing_replay_shows_each_recipient_as_the_sender_saw_it(
    as_user: Logins, life: Life
) -> None:
    # At delivery, acknowledgement and recall confirmation, the replay of the sender's
    # document names the recipients' states, arrival labels and reasons the API showed.
    for shown in life.sent:
        state = _ok(as_user("auditor").get(f"/documents/{shown['id']}/replay",
                                           params={"version": shown["version"]}))
        assert state["status"] == shown["status"]
        assert state["recipients"] == shown["recipients"]
        assert state["external_recipients"] == shown["external"]
        assert state["recall_reason"] == shown["recall_reason"]
    states = [[r["state"] for r in shown["recipients"]] for shown in life.sent]
    assert states == [["delivered"], ["registered"], ["recall_confirmed"]]
    assert life.sent[-1]["recall_reason"] == "Sai thẩm quyền ban hành"
    assert life.sent[1]["recipients"][0]["arrival_label"]
