"""The OversightMandate aggregate on its own: terms, revocation and re-granting (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from docmgmt.domain.audit_mandate import MandateInForceError, MandateNotInForceError
from docmgmt.domain.common import Actor
from docmgmt.domain.errors import InvalidInputError
from docmgmt.domain.oversight_mandate import OversightMandate, oversight_mandate_id

ADMIN = Actor(uuid.uuid4(), "root", "127.0.0.1")
NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _mandate() -> OversightMandate:
    return OversightMandate(user_id=uuid.uuid4(), agency_id=uuid.uuid4())


def test_the_id_is_derived_from_the_user_and_the_agency() -> None:
    m = _mandate()
    assert m.id == oversight_mandate_id(m.user_id, m.agency_id)
    assert m.id != oversight_mandate_id(m.agency_id, m.user_id)


def test_a_mandate_is_in_force_within_its_term_until_revoked() -> None:
    # The city leader is granted oversight for one day.
    m = _mandate()
    assert not m.in_force(NOW)
    m.grant(valid_from=NOW, valid_to=NOW + DAY, legal_basis="QĐ 1", actor=ADMIN, now=NOW)
    assert m.in_force(NOW)
    assert not m.in_force(NOW - timedelta(seconds=1))
    assert not m.in_force(NOW + DAY)  # the end is exclusive
    # Revoked, it no longer counts, and cannot be revoked twice.
    m.revoke("hết nhiệm kỳ", ADMIN)
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
    e.grant(valid_from=NOW, valid_to=None, legal_basis="QĐ mới", actor=ADMIN, now=NOW)
    assert e.in_force(NOW)
    assert e.legal_basis == "QĐ mới"


def test_bad_terms_are_refused() -> None:
    m = _mandate()
    with pytest.raises(InvalidInputError):
        m.grant(valid_from=NOW.replace(tzinfo=None), valid_to=None, legal_basis="QĐ",
                actor=ADMIN, now=NOW)
    with pytest.raises(InvalidInputError):
        m.grant(valid_from=NOW, valid_to=NOW, legal_basis="QĐ", actor=ADMIN, now=NOW)
    with pytest.raises(InvalidInputError):
        m.grant(valid_from=NOW, valid_to=None, legal_basis="  ", actor=ADMIN, now=NOW)
    with pytest.raises(MandateNotInForceError):
        m.revoke("never granted", ADMIN)
    assert not m.collect_events()[1:]
