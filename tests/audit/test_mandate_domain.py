"""The AuditMandate aggregate on its own: terms, revocation and re-granting (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from docmgmt.domain.audit_mandate import (
    AuditMandate,
    MandateInForceError,
    MandateNotInForceError,
    audit_mandate_id,
)
from docmgmt.domain.common import Actor
from docmgmt.domain.errors import InvalidInputError

ADMIN = Actor(uuid.uuid4(), "root", "127.0.0.1")
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _mandate() -> AuditMandate:
    return AuditMandate(auditor_id=uuid.uuid4(), agency_id=uuid.uuid4())


def test_the_id_is_derived_from_the_auditor_and_the_agency() -> None:
    m = _mandate()
    assert m.id == audit_mandate_id(m.auditor_id, m.agency_id)
    assert m.id != audit_mandate_id(m.agency_id, m.auditor_id)


def test_a_mandate_is_in_force_within_its_term_until_revoked() -> None:
    m = _mandate()
    assert not m.in_force(NOW)
    m.grant(valid_from=NOW, valid_to=NOW + DAY, legal_basis="QĐ 1", actor=ADMIN, now=NOW)
    assert m.in_force(NOW)
    assert not m.in_force(NOW - timedelta(seconds=1))
    assert not m.in_force(NOW + DAY)  # the end is exclusive
    m.revoke("xong", ADMIN)
    assert not m.in_force(NOW)
    with pytest.raises(MandateNotInForceError):
        m.revoke("again", ADMIN)
    # Re-granted, it is in force again, with the new terms as a new event.
    m.grant(valid_from=NOW, valid_to=None, legal_basis="QĐ 2", actor=ADMIN, now=NOW)
    assert m.in_force(NOW + 1000 * DAY)
    names = [type(e).__name__ for e in m.collect_events()]
    assert names == ["Created", "Granted", "Revoked", "Granted"]


def test_a_current_or_pending_mandate_is_not_granted_twice() -> None:
    m = _mandate()
    m.grant(valid_from=NOW + DAY, valid_to=None, legal_basis="QĐ 1", actor=ADMIN, now=NOW)
    with pytest.raises(MandateInForceError):
        m.grant(valid_from=NOW, valid_to=None, legal_basis="QĐ 1", actor=ADMIN, now=NOW)
    # Once expired it may be granted again.
    e = _mandate()
    e.grant(valid_from=NOW - 2 * DAY, valid_to=NOW - DAY, legal_basis="QĐ", actor=ADMIN,
            now=NOW)
    e.grant(valid_from=NOW, valid_to=None, legal_basis="QĐ", actor=ADMIN, now=NOW)
    assert e.in_force(NOW)


@pytest.mark.parametrize(("start", "end", "basis"), [
    (datetime(2026, 1, 1), None, "QĐ"),  # noqa: DTZ001 - a naive moment is the point
    (NOW, NOW, "QĐ"),
    (NOW, NOW - DAY, "QĐ"),
    (NOW, None, "   "),
])
def test_malformed_terms_are_refused(start: datetime, end: datetime | None,
                                     basis: str) -> None:
    with pytest.raises(InvalidInputError):
        _mandate().grant(valid_from=start, valid_to=end, legal_basis=basis, actor=ADMIN,
                         now=NOW)
