"""Ten clicks at once on a step that stores a file: one wins, nine 409s, no orphaned file."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from api.cli import cmd_storage
from tests.api.conftest import Api
from tests.support.pdfs import make_pdf

RACERS = 10


def _approved(api: Api) -> str:
    official, leader = api.client("official_a"), api.client("leader_a")
    r = official.post("/documents", data={"summary": "Quyết định về việc thi đua",
                                          "doc_type": "QĐ"},
                      files={"file": ("qd.pdf", make_pdf(1, text="race"), "application/pdf")})
    assert r.status_code == 201, r.text
    doc = str(r.json()["id"])
    assert official.post(f"/documents/{doc}/submit", json={}).status_code == 200
    assert leader.post(f"/documents/{doc}/approve", json={"text": "Đồng ý"}).status_code == 200
    return doc


def race(api: Api, token: str,
         send: Callable[[httpx.Client, int], httpx.Response]) -> list[httpx.Response]:
    """Send ten requests at the same moment; check they overlapped; their answers."""
    clients = [httpx.Client(base_url=api.base, timeout=120,
                            headers={"Authorization": token}) for _ in range(RACERS)]
    start = threading.Barrier(RACERS)
    results: list[tuple[float, float, httpx.Response]] = []
    lock = threading.Lock()

    def one(n: int, client: httpx.Client) -> None:
        start.wait()
        began = time.monotonic()
        r = send(client, n)
        with lock:
            results.append((began, time.monotonic(), r))

    threads = [threading.Thread(target=one, args=(n, c)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for c in clients:
        c.close()
    # They overlapped: every request was sent before the first answer came back.
    assert max(b for b, _, _ in results) < min(e for _, e, _ in results)
    return [r for _, _, r in results]


def orphans_found(api: Api, capsys: pytest.CaptureFixture[str]) -> str:
    """The last line of ``docmgmt storage gc`` (dry run, any age)."""
    capsys.readouterr()
    assert cmd_storage(argparse.Namespace(delete=False, min_age_hours=0.0),
                       api.settings) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


NONE = "0 orphan(s), 0 bytes (dry run: add --delete to remove)"


def test_a_ten_way_sign_race_leaves_one_signature_and_no_orphan(
    api: Api, city: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _approved(api)
    token = str(api.client("leader_a").headers["Authorization"])
    # The leader's ten windows all press "sign" at the same moment.
    answers = race(api, token, lambda client, n: client.post(
        f"/documents/{doc}/sign", json={"capacity": "KT", "principal_title": "Giám đốc"}))
    assert sorted(r.status_code for r in answers) == [200] + [409] * (RACERS - 1), \
        [r.text for r in answers]
    losers = [r.json()["error"] for r in answers if r.status_code == 409]
    # Every loser got past the status check while the document was still approved, so
    # each signed and stored a PDF of its own before losing at the save.
    assert set(losers) <= {"concurrent_write", "stale_version"}, losers
    history = api.client("leader_a").get(f"/documents/{doc}/history").json()
    assert [h["type"] for h in history].count("OutgoingDocument.Signed") == 1
    # The winner's file is served, and the collector finds nothing left over.
    assert api.client("leader_a").get(f"/documents/{doc}/file").status_code == 200
    assert orphans_found(api, capsys) == NONE


def test_a_ten_way_revision_upload_race_leaves_no_orphan(
    api: Api, city: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    official = api.client("official_a")
    r = official.post("/documents", data={"summary": "Công văn về việc họp", "doc_type": "CV"},
                      files={"file": ("cv.pdf", make_pdf(1, text="v1"), "application/pdf")})
    assert r.status_code == 201, r.text
    doc = r.json()["id"]
    pdfs = [make_pdf(1, text=f"revision {n}") for n in range(RACERS)]
    # Ten colleagues upload their own revision of version 1 at the same moment.
    answers = race(api, str(official.headers["Authorization"]), lambda client, n: client.post(
        f"/documents/{doc}/revisions", headers={"If-Match": '"1"'},
        files={"file": (f"v{n}.pdf", pdfs[n], "application/pdf")}))
    assert sorted(r.status_code for r in answers) == [201] + [409] * (RACERS - 1), \
        [r.text for r in answers]
    assert orphans_found(api, capsys) == NONE
