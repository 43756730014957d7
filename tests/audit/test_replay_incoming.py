"""Replay of an incoming copy: at every version it matches what the API showed then."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, Logins, new_user
from tests.api.support import assert_error, drafted
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres

# What both GET /incoming/{id} and the replay name, compared at each version.
_SHARED = ("version", "status", "deadline", "pending_extension", "return_reason", "withdrawn",
           "arrival_number", "summary")


def _ok(r: httpx.Response) -> Any:
    assert r.is_success, r.text
    return r.json()


@pytest.fixture(scope="module")
def copy_life(audit_api: Api, audit_city: dict[str, Any],
              as_user: Logins) -> tuple[str, list[dict[str, Any]]]:
    """A copy sent from A to B, handled to completion, and the API's view after each step."""
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
    return copy_id, seen


def test_incoming_replay_at_every_version_matches_what_the_api_showed(
    as_user: Logins, copy_life: tuple[str, list[dict[str, Any]]]
) -> None:
    copy_id, seen = copy_life
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
    as_user: Logins, copy_life: tuple[str, list[dict[str, Any]]]
) -> None:
    copy_id, seen = copy_life
    state = _ok(as_user("auditor").get(f"/documents/{copy_id}/replay",
                                       params={"version": seen[-1]["version"]}))
    said = [s.get("reason") or s.get("note") or s.get("comment") or s.get("result")
            or s.get("instructions") for s in state["steps"]]
    for words in ("Chủ trì tham mưu", "Bắt đầu", "Chờ ý kiến", "Đồng ý gia hạn",
                  "Đã xử lý xong"):
        assert words in said
    completed = state["steps"][-1]
    assert completed["actor"]["username"] == "official_b"
    assert completed["actor"]["client_ip"]


def test_incoming_replay_is_hidden_outside_the_mandate(
    as_user: Logins, copy_life: tuple[str, list[dict[str, Any]]]
) -> None:
    copy_id, seen = copy_life
    url = f"/documents/{copy_id}/replay"
    # Agency A's official never sees B's copy; beyond the last version is the precise 404.
    assert_error(as_user("official_a").get(url, params={"version": 1}), 404,
                 "document_not_found")
    assert_error(as_user("auditor").get(url, params={"version": seen[-1]["version"] + 1}),
                 404, "version_not_found")
