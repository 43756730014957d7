"""Oversight mandate steps on in-memory persistence: admin only, re-grant, revoke."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from docmgmt.domain.audit_mandate import MandateInForceError, MandateNotInForceError
from docmgmt.domain.common import Role
from docmgmt.domain.errors import NotFoundError, PermissionDeniedError
from docmgmt.identity import agencies, users
from docmgmt.identity.context import IdentityContext
from docmgmt.identity.users import SYSTEM, NewUser
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import DocMgmt
from docmgmt.oversight.mandates import (
    find_oversight_mandate,
    grant_oversight_mandate,
    revoke_oversight_mandate,
)
from tests.support.identity import in_memory_identity

PASSWORD = "mật-khẩu-đủ-dài"
BASIS = "Quyết định số 5/QĐ-UBND"


@pytest.fixture
def ctx() -> Iterator[IdentityContext]:
    store = DocMgmt(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        yield in_memory_identity(store)
    finally:
        store.close()


def test_an_admin_grants_and_revokes_oversight_and_others_cannot(ctx: IdentityContext) -> None:
    # A city and the leader who will oversee it.
    city = agencies.register_agency(ctx.store, SYSTEM, "UBND", "UBND Thành phố", None).id
    leader = users.create_user(ctx, SYSTEM, NewUser("chu.tich", "Chủ tịch", PASSWORD,
                                                    [Role.LEADER], city)).id
    # The leader cannot grant themself a mandate.
    self_service = Principal(leader, "chu.tich", city, None, frozenset({Role.LEADER}))
    with pytest.raises(PermissionDeniedError):
        grant_oversight_mandate(ctx.store, self_service, leader, city, valid_from=None,
                                valid_to=None, legal_basis=BASIS)
    assert find_oversight_mandate(ctx.store, leader, city) is None
    # The admin grants it from now, open-ended; it is in force.
    grant_oversight_mandate(ctx.store, SYSTEM, leader, city, valid_from=None, valid_to=None,
                            legal_basis=BASIS)
    mandate = find_oversight_mandate(ctx.store, leader, city)
    assert mandate is not None
    assert mandate.in_force(datetime.now(UTC) + timedelta(seconds=1))
    # A second grant while it is in force is refused.
    with pytest.raises(MandateInForceError):
        grant_oversight_mandate(ctx.store, SYSTEM, leader, city, valid_from=None,
                                valid_to=None, legal_basis=BASIS)
    # Revoked, it no longer counts; revoking twice is refused; it may be granted again.
    revoke_oversight_mandate(ctx.store, SYSTEM, leader, city, "Hết nhiệm kỳ")
    revoked = find_oversight_mandate(ctx.store, leader, city)
    assert revoked is not None
    assert not revoked.in_force(datetime.now(UTC))
    with pytest.raises(MandateNotInForceError):
        revoke_oversight_mandate(ctx.store, SYSTEM, leader, city, "lần nữa")
    grant_oversight_mandate(ctx.store, SYSTEM, leader, city, valid_from=None, valid_to=None,
                            legal_basis="Quyết định số 6/QĐ-UBND")
    regranted = find_oversight_mandate(ctx.store, leader, city)
    assert regranted is not None
    assert regranted.legal_basis == "Quyết định số 6/QĐ-UBND"


def test_a_mandate_never_granted_cannot_be_revoked(ctx: IdentityContext) -> None:
    city = agencies.register_agency(ctx.store, SYSTEM, "UBND", "UBND Thành phố", None).id
    leader = users.create_user(ctx, SYSTEM, NewUser("pho.chu.tich", "Phó chủ tịch", PASSWORD,
                                                    [Role.LEADER], city)).id
    with pytest.raises(NotFoundError):
        revoke_oversight_mandate(ctx.store, SYSTEM, leader, city, "không có")
