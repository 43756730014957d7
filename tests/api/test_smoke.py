"""The served API answers health and a first draft round trip."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.support.pdfs import make_pdf


def test_health_reports_database_and_object_store(api: Api) -> None:
    r = api.client().get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "object_store": "ok",
                        "read_model": "ok", "read_model_restarts": 0, "ledger": "ok"}


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
