"""Ten leaders' clicks on "sign" at once: one signature, nine 409s and no orphaned file."""

from __future__ import annotations

import argparse
import threading
import time
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


def test_a_ten_way_sign_race_leaves_one_signature_and_no_orphan(
    api: Api, city: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _approved(api)
    token = api.client("leader_a").headers["Authorization"]
    clients = [httpx.Client(base_url=api.base, timeout=120,
                            headers={"Authorization": token}) for _ in range(RACERS)]
    start = threading.Barrier(RACERS)
    results: list[tuple[float, float, httpx.Response]] = []
    lock = threading.Lock()

    def sign(client: httpx.Client) -> None:
        start.wait()
        began = time.monotonic()
        r = client.post(f"/documents/{doc}/sign",
                        json={"capacity": "KT", "principal_title": "Giám đốc"})
        with lock:
            results.append((began, time.monotonic(), r))

    # The leader's ten windows all press "sign" at the same moment.
    threads = [threading.Thread(target=sign, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for c in clients:
        c.close()
    answers = [r for _, _, r in results]
    # They overlapped: every request was sent before the first answer came back.
    assert max(b for b, _, _ in results) < min(e for _, e, _ in results)
    assert sorted(r.status_code for r in answers) == [200] + [409] * (RACERS - 1), \
        [r.text for r in answers]
    losers = [r.json()["error"] for r in answers if r.status_code == 409]
    # Every loser got past the status check while the document was still approved, so
    # each signed and stored a PDF of its own before losing at the save.
    assert set(losers) <= {"concurrent_write", "stale_version"}, losers
    history = api.client("leader_a").get(f"/documents/{doc}/history").json()
    assert [h["type"] for h in history].count("OutgoingDocument.Signed") == 1
    # The winner's file is served, and the collector finds nothing left over.
    r = api.client("leader_a").get(f"/documents/{doc}/file")
    assert r.status_code == 200
    capsys.readouterr()
    assert cmd_storage(argparse.Namespace(delete=False, min_age_hours=0.0),
                       api.settings) == 0
    out = capsys.readouterr().out
    assert "\n0 orphan(s), 0 bytes" in "\n" + out, out
