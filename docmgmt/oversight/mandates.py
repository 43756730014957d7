"""Oversight mandates: an admin gives a user oversight of one agency's subtree for a term."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from docmgmt.domain.agency import Agency
from docmgmt.domain.common import Role
from docmgmt.domain.errors import (
    AgencyNotFoundError,
    InvalidInputError,
    NotFoundError,
    UserNotFoundError,
)
from docmgmt.domain.oversight_mandate import OversightMandate, oversight_mandate_id
from docmgmt.domain.user import User
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult, DocMgmt


def find_oversight_mandate(store: DocMgmt, user_id: UUID, agency_id: UUID
                           ) -> OversightMandate | None:
    """The user's oversight mandate for the agency, if one was ever granted."""
    try:
        return store.load(OversightMandate, oversight_mandate_id(user_id, agency_id),
                          NotFoundError)
    except NotFoundError:
        return None


def grant_oversight_mandate(
    store: DocMgmt, who: Principal, user_id: UUID, agency_id: UUID, *,
    valid_from: datetime | None, valid_to: datetime | None, legal_basis: str,
) -> CommandResult:
    """An admin gives an active user oversight of an agency and those below it for a term
    (from now by default); re-grants a revoked or expired mandate with the new terms."""
    who.require(Role.ADMIN)
    now = datetime.now(UTC)
    user = store.load(User, user_id, UserNotFoundError)
    if not user.active:
        raise InvalidInputError(f"user {user.username} is not active", field="user_id")
    store.load(Agency, agency_id, AgencyNotFoundError)
    mandate = find_oversight_mandate(store, user_id, agency_id)
    if mandate is None:
        mandate = OversightMandate(user_id=user_id, agency_id=agency_id)
    mandate.grant(valid_from=valid_from or now, valid_to=valid_to, legal_basis=legal_basis,
                  actor=who.actor, now=now)
    return store.commit(mandate)


def revoke_oversight_mandate(store: DocMgmt, who: Principal, user_id: UUID, agency_id: UUID,
                             reason: str) -> CommandResult:
    """An admin withdraws a user's oversight of an agency (at once)."""
    who.require(Role.ADMIN)
    mandate = find_oversight_mandate(store, user_id, agency_id)
    if mandate is None:
        raise NotFoundError(f"user {user_id} holds no oversight mandate for agency "
                            f"{agency_id}", agency_id=str(agency_id))
    mandate.revoke(reason, who.actor)
    return store.commit(mandate)
