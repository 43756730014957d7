"""The served API answers health and a first draft round trip."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.support.pdfs import make_pdf


def test_health_reports_database_and_object_store(api: Api) -> None:
    r = api.client().get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "object_store": "ok",
                        "read_model": "ok", "read_model_restarts": 0, "ledger": "ok",
                        "dispatch": "ok", "webhooks": "ok",
                        "exchange": "ok", "oversight": "ok"}


def test_official_drafts_and_reads_back(api: Api, city: dict[str, Any]) -> None:
    # The official uploads a PDF as a draft.
    official = api.client("official_a")
    pdf = make_pdf(2, text="v1")
    r = official.post("/documents", data={"summary": "Về việc thử nghiệm", "doc_type": "CV"},
                      files={"file": ("to-trinh.pdf", pdf, "application/pdf")})
    assert r.status_code == 201, r.text
    doc_id = r.json()["id"]
    # It is immediately readable (read-your-writes) with its page count.
    r = official.get(f"/documents/{doc_id}")
    assert r.status_code == 200, r.text
    assert r.json()["current_page_count"] == 2
    assert r.headers["ETag"] == '"1"'


def test_cursor_paging_walks_every_document_once(api: Api, city: dict[str, Any]) -> None:
    official = api.client("official_a")
    made = []
    for n in range(5):
        r = official.post("/documents", data={"summary": f"Văn bản {n}", "doc_type": "CV"},
                          files={"file": (f"{n}.pdf", make_pdf(1, text=str(n)),
                                          "application/pdf")})
        made.append(r.json()["id"])
    # The first page (offset) gives the total and a cursor; cursors walk the rest.
    page = official.get("/documents", params={"limit": 2}).json()
    assert page["total"] == 5
    seen = [d["id"] for d in page["items"]]
    while page["next_cursor"]:
        page = official.get("/documents", params={"limit": 2,
                                                  "cursor": page["next_cursor"]}).json()
        assert page["total"] is None
        seen += [d["id"] for d in page["items"]]
    assert seen == list(reversed(made))
    # A cursor this API did not give out is refused.
    r = official.get("/documents", params={"cursor": "not-a-cursor"})
    assert (r.status_code, r.json()["error"]) == (422, "invalid_input")
