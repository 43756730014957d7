"""Audit mandates: an admin gives an auditor authority to read one agency for a term."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from docmgmt.domain.agency import Agency
from docmgmt.domain.audit_mandate import AuditMandate, NotAnAuditorError, audit_mandate_id
from docmgmt.domain.common import Role
from docmgmt.domain.errors import AgencyNotFoundError, NotFoundError, UserNotFoundError
from docmgmt.domain.user import User
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult, DocMgmt


def find_audit_mandate(store: DocMgmt, auditor_id: UUID, agency_id: UUID
                       ) -> AuditMandate | None:
    """The auditor's mandate for the agency, if one was ever granted."""
    try:
        return store.load(AuditMandate, audit_mandate_id(auditor_id, agency_id),
                          NotFoundError)
    except NotFoundError:
        return None


def in_scope(store: DocMgmt, who: Principal, agency_id: UUID) -> bool:
    """Whether the caller is an auditor with a mandate in force for the agency now."""
    if Role.AUDITOR not in who.roles:
        return False
    mandate = find_audit_mandate(store, who.user_id, agency_id)
    return mandate is not None and mandate.in_force(datetime.now(UTC))


def grant_audit_mandate(
    store: DocMgmt, who: Principal, auditor_id: UUID, agency_id: UUID, *,
    valid_from: datetime | None, valid_to: datetime | None, legal_basis: str,
) -> CommandResult:
    """An admin gives an active auditor authority to read one agency for a term (from now
    by default); re-grants a revoked or expired mandate with the new terms."""
    who.require(Role.ADMIN)
    now = datetime.now(UTC)
    auditor = store.load(User, auditor_id, UserNotFoundError)
    if not auditor.has_role(Role.AUDITOR) or not auditor.active:
        raise NotAnAuditorError(f"user {auditor.username} is not an active auditor",
                                user_id=str(auditor_id))
    store.load(Agency, agency_id, AgencyNotFoundError)
    mandate = find_audit_mandate(store, auditor_id, agency_id)
    if mandate is None:
        mandate = AuditMandate(auditor_id=auditor_id, agency_id=agency_id)
    mandate.grant(valid_from=valid_from or now, valid_to=valid_to, legal_basis=legal_basis,
                  actor=who.actor, now=now)
    return store.commit(mandate)


def revoke_audit_mandate(store: DocMgmt, who: Principal, auditor_id: UUID, agency_id: UUID,
                         reason: str) -> CommandResult:
    """An admin withdraws an auditor's authority to read an agency (at once)."""
    who.require(Role.ADMIN)
    mandate = find_audit_mandate(store, auditor_id, agency_id)
    if mandate is None:
        raise NotFoundError(f"user {auditor_id} holds no audit mandate for agency "
                            f"{agency_id}", agency_id=str(agency_id))
    mandate.revoke(reason, who.actor)
    return store.commit(mandate)
