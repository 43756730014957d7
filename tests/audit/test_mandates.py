"""Audit scope: an auditor reads an agency only while an admin's mandate for it is in force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import PASSWORD, Logins
from tests.api.support import assert_error
from tests.support.pdfs import make_pdf

pytestmark = pytest.mark.postgres

BASIS = "Quyết định thanh tra số 12/QĐ-TTr"


@pytest.fixture(scope="module")
def docs(as_user: Logins) -> dict[str, str]:
    """One draft in each agency."""
    ids = {}
    for key, owner in (("a", "official_a"), ("b", "official_b")):
        r = as_user(owner).post(
            "/documents", data={"summary": f"Văn bản {key}", "doc_type": "CV"},
            files={"file": ("du-thao.pdf", make_pdf(1, text=key), "application/pdf")})
        assert r.status_code == 201, r.text
        ids[key] = str(r.json()["id"])
    return ids


def _new_auditor(as_user: Logins, city: dict[str, Any], username: str) -> str:
    """A fresh auditor in SOB, holding no mandate."""
    r = as_user("root").post("/users", json={
        "username": username, "full_name": "Thanh tra viên", "password": PASSWORD,
        "roles": ["auditor"], "agency_id": city["SOB"]})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _grant(admin: httpx.Client, auditor: str, agency: str, **term: str) -> httpx.Response:
    return admin.post(f"/users/{auditor}/audit-mandates",
                      json={"agency_id": agency, "legal_basis": BASIS, **term})


def _revoke(admin: httpx.Client, auditor: str, agency: str) -> httpx.Response:
    return admin.request("DELETE", f"/users/{auditor}/audit-mandates/{agency}",
                         json={"reason": "Kết thúc đợt thanh tra"})


def _sees(client: httpx.Client, doc: str, agency: str) -> bool:
    """Whether the auditor reads the document's trail and the agency's events; asserts
    that the answers agree (both allowed, or 404 and 403)."""
    trail = client.get(f"/audit/documents/{doc}/trail")
    events = client.get("/audit/events", params={"agency_id": agency, "limit": 1000})
    if trail.status_code == 200:
        assert events.status_code == 200, events.text
        assert doc in {i["document_id"] for i in events.json()["items"]}
        return True
    assert_error(trail, 404, "document_not_found")
    assert_error(events, 403, "permission_denied")
    return False


def test_without_a_mandate_an_auditor_sees_nothing(
    as_user: Logins, audit_city: dict[str, Any], docs: dict[str, str]
) -> None:
    auditor_id = _new_auditor(as_user, audit_city, "auditor_none")
    auditor = as_user("auditor_none")
    # Neither another agency's document nor one of the auditor's own agency.
    assert not _sees(auditor, docs["a"], audit_city["SOA"])
    assert not _sees(auditor, docs["b"], audit_city["SOB"])
    # Replaying another agency's document is not found either.
    assert_error(auditor.get(f"/documents/{docs['a']}/replay", params={"version": 1}), 404,
                 "document_not_found")
    # Unfiltered, the store shows no agency's events: only the auditor's own queries.
    r = auditor.get("/audit/events", params={"limit": 1000})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert {i["agency_id"] for i in items} <= {None}
    assert {i["type"] for i in items} <= {"AuditLog.AuditQueryRecorded"}
    # The auditor sees their own (empty) mandate list, not another auditor's.
    assert auditor.get(f"/users/{auditor_id}/audit-mandates").json() == []
    r = auditor.get(f"/users/{audit_city['auditor']}/audit-mandates")
    assert_error(r, 403, "permission_denied")


def test_granted_is_visible_and_revoked_is_hidden_again(
    as_user: Logins, audit_city: dict[str, Any], docs: dict[str, str]
) -> None:
    admin, soa = as_user("root"), audit_city["SOA"]
    auditor_id = _new_auditor(as_user, audit_city, "auditor_grant")
    auditor = as_user("auditor_grant")
    assert not _sees(auditor, docs["a"], soa)
    # The admin grants a mandate for SOA: its trail, events and replays are visible.
    r = _grant(admin, auditor_id, soa)
    assert r.status_code == 201, r.text
    assert _sees(auditor, docs["a"], soa)
    assert auditor.get(f"/documents/{docs['a']}/replay", params={"version": 1}).status_code \
        == 200
    # SOB stays out of reach, and granting the same mandate again is refused while current.
    assert not _sees(auditor, docs["b"], audit_city["SOB"])
    assert_error(_grant(admin, auditor_id, soa), 409, "mandate_in_force")
    (mandate,) = auditor.get(f"/users/{auditor_id}/audit-mandates").json()
    assert (mandate["agency_id"], mandate["revoked"], mandate["in_force"]) == (soa, False, True)
    # Revoked, it is hidden again at once; revoking twice is refused.
    r = _revoke(admin, auditor_id, soa)
    assert r.status_code == 200, r.text
    assert not _sees(auditor, docs["a"], soa)
    assert_error(auditor.get(f"/documents/{docs['a']}/replay", params={"version": 1}), 404,
                 "document_not_found")
    assert_error(_revoke(admin, auditor_id, soa), 409, "mandate_not_in_force")
    (mandate,) = admin.get(f"/users/{auditor_id}/audit-mandates").json()
    assert (mandate["revoked"], mandate["in_force"]) == (True, False)
    # Granted again, the mandate is active again.
    assert _grant(admin, auditor_id, soa).status_code == 201
    assert _sees(auditor, docs["a"], soa)


def test_an_expired_or_future_mandate_shows_nothing(
    as_user: Logins, audit_city: dict[str, Any], docs: dict[str, str]
) -> None:
    admin, soa = as_user("root"), audit_city["SOA"]
    auditor_id = _new_auditor(as_user, audit_city, "auditor_term")
    auditor = as_user("auditor_term")
    now = datetime.now(UTC)
    # A term wholly in the past is on record but allows no read.
    past = {"valid_from": (now - timedelta(days=30)).isoformat(),
            "valid_to": (now - timedelta(days=1)).isoformat()}
    assert _grant(admin, auditor_id, soa, **past).status_code == 201
    assert not _sees(auditor, docs["a"], soa)
    (mandate,) = admin.get(f"/users/{auditor_id}/audit-mandates").json()
    assert (mandate["revoked"], mandate["in_force"]) == (False, False)
    # An expired mandate may be granted again; one starting tomorrow allows nothing yet.
    future = {"valid_from": (now + timedelta(days=1)).isoformat()}
    assert _grant(admin, auditor_id, soa, **future).status_code == 201
    assert not _sees(auditor, docs["a"], soa)
    # A pending mandate counts as current: revoke it before changing the term.
    assert_error(_grant(admin, auditor_id, soa), 409, "mandate_in_force")
    assert _revoke(admin, auditor_id, soa).status_code == 200
    assert _grant(admin, auditor_id, soa, valid_to=(now + timedelta(days=1)).isoformat()
                  ).status_code == 201
    assert _sees(auditor, docs["a"], soa)


def test_only_admins_manage_mandates_and_only_for_auditors(
    as_user: Logins, audit_city: dict[str, Any]
) -> None:
    admin, soa, auditor_id = as_user("root"), audit_city["SOA"], audit_city["auditor"]
    for username in ("official_a", "leader_a", "auditor"):
        client = as_user(username)
        assert_error(_grant(client, auditor_id, audit_city["SOB"]), 403, "permission_denied")
        assert_error(_revoke(client, auditor_id, soa), 403, "permission_denied")
    assert_error(as_user("official_a").get(f"/users/{auditor_id}/audit-mandates"), 403,
                 "permission_denied")
    # The auditor's mandates are untouched by the refused attempts.
    mandates = as_user("auditor").get(f"/users/{auditor_id}/audit-mandates").json()
    assert {(m["agency_id"], m["in_force"]) for m in mandates} == {
        (soa, True), (audit_city["SOB"], True)}
    # Only an auditor can hold a mandate.
    assert_error(_grant(admin, audit_city["official_a"], soa), 422, "not_an_auditor")
    # Unknown users and agencies, and malformed terms, are refused.
    missing = "00000000-0000-4000-8000-000000000000"
    assert_error(_grant(admin, missing, soa), 404, "user_not_found")
    assert_error(_grant(admin, audit_city["auditor"], missing), 404, "agency_not_found")
    assert_error(_revoke(admin, audit_city["auditor"], missing), 404, "not_found")
    auditor_id = _new_auditor(as_user, audit_city, "auditor_bad_terms")
    assert_error(_grant(admin, auditor_id, soa, valid_from="2026-01-01T00:00:00"), 422,
                 "invalid_input")
    assert_error(_grant(admin, auditor_id, soa, valid_from="2026-02-01T00:00:00+07:00",
                        valid_to="2026-01-01T00:00:00+07:00"), 422, "invalid_input")
    r = admin.post(f"/users/{auditor_id}/audit-mandates",
                   json={"agency_id": soa, "legal_basis": "  "})
    assert_error(r, 422, "invalid_input")


def test_grant_and_revoke_are_events_in_the_store(
    as_user: Logins, audit_city: dict[str, Any]
) -> None:
    admin, sob = as_user("root"), audit_city["SOB"]
    auditor_id = _new_auditor(as_user, audit_city, "auditor_events")
    assert _grant(admin, auditor_id, sob, valid_to="2099-01-01T00:00:00+07:00"
                  ).status_code == 201
    assert _revoke(admin, auditor_id, sob).status_code == 200
    # Another auditor with a mandate for SOB finds both, with who did it and why.
    auditor = as_user("auditor")
    found = {}
    for kind in ("AuditMandate.Granted", "AuditMandate.Revoked"):
        r = auditor.get("/audit/events", params={"agency_id": sob, "type": kind,
                                                 "limit": 1000})
        assert r.status_code == 200, r.text
        (found[kind],) = [i for i in r.json()["items"]
                          if i["payload"]["auditor_id"] == auditor_id]
    granted, revoked = found["AuditMandate.Granted"], found["AuditMandate.Revoked"]
    assert granted["aggregate_id"] == revoked["aggregate_id"]
    assert revoked["version"] == granted["version"] + 1
    assert granted["payload"]["legal_basis"] == BASIS
    assert datetime.fromisoformat(granted["payload"]["valid_to"]) == datetime(
        2098, 12, 31, 17, tzinfo=UTC)
    assert revoked["payload"]["reason"] == "Kết thúc đợt thanh tra"
    assert {granted["actor"]["username"], revoked["actor"]["username"]} == {"root"}
