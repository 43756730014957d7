"""Agencies and their organisational units (the admin's steps)."""

from __future__ import annotations

from uuid import UUID

from docmgmt.domain.agency import Agency
from docmgmt.domain.common import Role
from docmgmt.domain.errors import AgencyNotFoundError, AlreadyExistsError
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult, DocMgmt


def register_agency(
    store: DocMgmt, who: Principal, code: str, name: str, parent_id: UUID | None
) -> CommandResult:
    """An admin registers an agency under a unique code."""
    who.require(Role.ADMIN)
    if parent_id is not None:
        store.get_agency(parent_id)
    agency = Agency.register(code, name, parent_id, who.actor)
    if store.exists(agency.id):
        raise AlreadyExistsError(f"agency {agency.code} already exists", code=agency.code)
    return store.commit(agency)


def add_unit(
    store: DocMgmt, who: Principal, agency_id: UUID, code: str, name: str,
    expected_version: int | None,
) -> CommandResult:
    """An admin adds an organisational unit to an agency."""
    who.require(Role.ADMIN)
    agency = store.load(Agency, agency_id, AgencyNotFoundError, expected_version)
    agency.add_unit(code, name, who.actor)
    return store.commit(agency)


def set_place_name(store: DocMgmt, who: Principal, agency_id: UUID, place_name: str,
                   expected_version: int | None) -> CommandResult:
    """An admin sets the place name printed before the date of numbered documents."""
    who.require(Role.ADMIN)
    agency = store.load(Agency, agency_id, AgencyNotFoundError, expected_version)
    agency.set_place_name(place_name, who.actor)
    return store.commit(agency)
