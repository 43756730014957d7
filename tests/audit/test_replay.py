"""Replay: the document rebuilt from its events matches what the API showed at each step."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from api.replay_cli import cmd_replay
from docmgmt.audit.replay import add_replay_commands
from tests.api.conftest import Api, Logins
from tests.api.support import assert_error
from tests.support.pdfs import make_pdf

pytestmark = pytest.mark.postgres


def _seen(client: httpx.Client, doc: str) -> dict[str, Any]:
    """What GET /documents/{id} shows now, and when it was read."""
    r = client.get(f"/documents/{doc}")
    assert r.status_code == 200, r.text
    d = r.json()
    return {"version": d["version"], "status": d["status"],
            "current_sha256": d["current_sha256"], "latest_sha256": d["latest_sha256"],
            "number_label": d["number_label"], "revision_count": d["revision_count"],
            "summary": d["summary"], "at": datetime.now(UTC)}


def _ok(r: httpx.Response, status: int = 200) -> None:
    assert r.status_code == status, r.text


@pytest.fixture(scope="module")
def life(as_user: Logins) -> tuple[str, list[dict[str, Any]]]:
    """A document driven from draft to seal over HTTP, and the API's view after each step."""
    official, leader, clerk = (as_user(u) for u in ("official_a", "leader_a", "clerk_a"))
    seen: list[dict[str, Any]] = []
    # The official drafts it.
    r = official.post("/documents", data={"summary": "Quyết định về việc ban hành quy chế",
                                          "doc_type": "QĐ"},
                      files={"file": ("v1.pdf", make_pdf(1, text="v1"), "application/pdf")})
    _ok(r, 201)
    doc = str(r.json()["id"])
    seen.append(_seen(official, doc))
    # A second revision replaces the first.
    _ok(official.post(f"/documents/{doc}/revisions",
                      files={"file": ("v2.pdf", make_pdf(1, text="v2"), "application/pdf")}),
        201)
    seen.append(_seen(official, doc))
    # Submitted, approved, signed KT., numbered and sealed.
    steps = [
        (official, "submit", {"text": "Kính trình"}),
        (leader, "approve", {"text": "Đồng ý"}),
        (leader, "sign", {"capacity": "KT", "principal_title": "Giám đốc"}),
        (clerk, "number", {}),
        (clerk, "seal", {}),
    ]
    for client, action, body in steps:
        _ok(client.post(f"/documents/{doc}/{action}", json=body))
        seen.append(_seen(official, doc))
    return doc, seen


def _matches(state: dict[str, Any], shown: dict[str, Any]) -> None:
    assert state["version"] == shown["version"]
    assert state["status"] == shown["status"]
    assert state["current_revision"]["sha256"] == shown["current_sha256"]
    assert state["current_revision"]["number"] == shown["revision_count"]
    assert state["latest_sha256"] == shown["latest_sha256"]
    assert state["summary"] == shown["summary"]
    label = state["registration"]["label"] if state["registration"] else None
    assert label == shown["number_label"]


def test_replay_at_each_version_matches_what_the_api_showed(
    as_user: Logins, life: tuple[str, list[dict[str, Any]]]
) -> None:
    doc, seen = life
    official = as_user("official_a")
    assert [s["status"] for s in seen] == ["draft", "draft", "submitted", "approved", "signed",
                                           "numbered", "sealed"]
    for shown in seen:
        r = official.get(f"/documents/{doc}/replay", params={"version": shown["version"]})
        assert r.status_code == 200, r.text
        _matches(r.json(), shown)
    # The sealed state names every file of the chain and the validation verdict.
    final = r.json()
    assert final["signed_file"]["sha256"] != final["numbered_file"]["sha256"]
    assert final["sealed_file"]["sha256"] == final["latest_sha256"]
    assert final["registration"]["number"] == 1
    assert final["latest_validation"]["bottom_line"] == "valid"
    assert final["current_revision"]["key"]


def test_replay_at_each_captured_moment_matches_too(
    as_user: Logins, life: tuple[str, list[dict[str, Any]]]
) -> None:
    doc, seen = life
    official = as_user("official_a")
    for shown in seen:
        # Any time zone names the same moment.
        at = shown["at"].astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
        r = official.get(f"/documents/{doc}/replay", params={"at": at.isoformat()})
        assert r.status_code == 200, r.text
        state = r.json()
        _matches(state, shown)
        assert datetime.fromisoformat(state["as_of"]) <= shown["at"]


def test_replay_refuses_bad_requests(
    as_user: Logins, life: tuple[str, list[dict[str, Any]]]
) -> None:
    doc, seen = life
    official = as_user("official_a")
    last = seen[-1]["version"]
    url = f"/documents/{doc}/replay"
    # Beyond the last version, or before the document existed: not found.
    assert_error(official.get(url, params={"version": last + 1}), 404, "version_not_found")
    before = (seen[0]["at"] - timedelta(days=1)).isoformat()
    assert_error(official.get(url, params={"at": before}), 404, "version_not_found")
    # Both or neither parameter, or a moment without a time zone: invalid.
    assert_error(official.get(url), 422, "invalid_input")
    both = {"version": 1, "at": seen[0]["at"].isoformat()}
    assert_error(official.get(url, params=both), 422, "invalid_input")
    assert_error(official.get(url, params={"at": "2026-01-01T09:00:00"}), 422, "invalid_input")
    # Another agency's official does not see it at all.
    r = as_user("official_b").get(url, params={"version": 1})
    assert_error(r, 404, "document_not_found")


def test_replay_command_prints_the_state_as_json(
    audit_api: Api, life: tuple[str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    doc, seen = life
    parser = argparse.ArgumentParser(prog="docmgmt")
    add_replay_commands(parser.add_subparsers(dest="cmd", required=True), cmd_replay)
    args = parser.parse_args(["replay", doc, "--as-of", seen[3]["at"].isoformat()])
    assert args.func(args, audit_api.settings) == 0
    state = json.loads(capsys.readouterr().out)
    _matches(state, seen[3])
    assert state["summary"] == "Quyết định về việc ban hành quy chế"
    # --version and --as-of exclude each other; a moment needs its time zone.
    with pytest.raises(SystemExit):
        parser.parse_args(["replay", doc, "--version", "1", "--as-of", "2026-01-01T00:00Z"])
    with pytest.raises(SystemExit):
        parser.parse_args(["replay", doc, "--as-of", "2026-01-01T00:00"])


def test_replay_names_the_upload_time_and_the_requested_moment(
    as_user: Logins, life: tuple[str, list[dict[str, Any]]]
) -> None:
    doc, seen = life
    official = as_user("official_a")
    r = official.get(f"/documents/{doc}/replay", params={"version": seen[1]["version"]})
    assert r.status_code == 200, r.text
    state = r.json()
    # Revision 2 was uploaded after the draft was read and before the next read, not at
    # the draft's own time.
    uploaded = datetime.fromisoformat(state["current_revision"]["uploaded_at"])
    assert seen[0]["at"] < uploaded <= seen[1]["at"]
    # A replay by version says which moment it stands for.
    assert state["requested_at"] == state["as_of"]
    assert datetime.fromisoformat(state["requested_at"]) <= seen[1]["at"]


def test_replay_names_who_did_each_step_and_what_they_said(
    as_user: Logins, life: tuple[str, list[dict[str, Any]]]
) -> None:
    doc, seen = life
    r = as_user("official_a").get(f"/documents/{doc}/replay",
                                  params={"version": seen[3]["version"]})
    assert r.status_code == 200, r.text
    steps = r.json()["steps"]
    assert [s["version"] for s in steps] == list(range(1, seen[3]["version"] + 1))
    approved = steps[-1]
    assert approved["actor"]["username"] == "leader_a"
    assert approved["actor"]["client_ip"]
    assert approved["comment"] == "Đồng ý"
    assert steps[-2]["actor"]["username"] == "official_a"
    assert steps[-2]["note"] == "Kính trình"
