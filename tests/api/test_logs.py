"""What the server logs at INFO while documents are signed: requests, not library chatter."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from docmgmt.kernel.db import Database
from docmgmt.settings import Settings
from tests.api.conftest import Api, bootstrap_root, make_city
from tests.support.pdfs import make_pdf
from tests.support.server import serve

LIBRARIES = ("fontTools", "pyhanko", "pyhanko_certvalidator", "asyncio", "PIL", "pypdf")


@pytest.fixture
def info_api(api_settings: Settings, database: Database,
             caplog: pytest.LogCaptureFixture) -> Iterator[Api]:
    """The API served with uvicorn's production log level (INFO, one access line a request);
    its access logger does not propagate, so the capture is attached to it directly."""
    bootstrap_root(api_settings)
    with serve(api_settings, log_level="info") as base:
        access = logging.getLogger("uvicorn.access")
        access.addHandler(caplog.handler)
        try:
            yield Api(base, api_settings, database)
        finally:
            access.removeHandler(caplog.handler)


def _signed_twice(api: Api) -> list[str]:
    official, leader = api.client("official_a"), api.client("leader_a")
    docs = []
    for n in (1, 2):
        r = official.post("/documents", data={"summary": f"Quyết định {n}", "doc_type": "QĐ"},
                          files={"file": ("qd.pdf", make_pdf(1, text=f"qd{n}"),
                                          "application/pdf")})
        assert r.status_code == 201, r.text
        doc = r.json()["id"]
        assert official.post(f"/documents/{doc}/submit", json={}).status_code == 200
        assert leader.post(f"/documents/{doc}/approve", json={}).status_code == 200
        r = leader.post(f"/documents/{doc}/sign", json={"principal_title": "Giám đốc"})
        assert r.status_code == 200, r.text
        docs.append(doc)
    return docs


def test_signing_logs_requests_but_no_library_chatter(
    info_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    make_city(info_api)
    caplog.set_level(logging.INFO)
    caplog.clear()
    docs = _signed_twice(info_api)  # B-LT on the development PKI (no fetching)

    chatter = [(r.name, r.levelname, r.getMessage()[:80]) for r in caplog.records
               if r.name.split(".")[0] in LIBRARIES and r.levelno >= logging.INFO]
    assert chatter == []
    # One access line per request, the signatures among them.
    access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    for doc in docs:
        assert any(f"POST /documents/{doc}/sign" in line and "200" in line
                   for line in access), access


def test_the_signed_pdf_embeds_the_revocation_info_the_demoted_warning_is_about(
    api: Api, city: dict[str, Any]
) -> None:
    # pyHanko warns that fetching is off; the CRLs configured for the development PKI are
    # embedded all the same, so the warning is routine here.
    doc = _signed_twice(api)[0]
    report = api.client("official_a").get(f"/documents/{doc}/validation").json()
    assert report["dss_crls"] >= 1, report


def test_real_warnings_of_the_libraries_still_show(caplog: pytest.LogCaptureFixture) -> None:
    import signing  # noqa: F401  (its import quiets the libraries)

    caplog.set_level(logging.INFO)
    logging.getLogger("pyhanko.sign.signers.pdf_signer").warning("Something else is wrong")
    logging.getLogger("fontTools.subset").warning("a broken font")
    logging.getLogger("pyhanko.sign.signers.pdf_signer").warning(
        "Validation/revocation info will be embedded, but fetching is not allowed. x")
    logging.getLogger("fontTools.subset").info("glyf subsetted")
    assert [r.getMessage() for r in caplog.records] == ["Something else is wrong",
                                                         "a broken font"]
