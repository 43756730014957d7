"""Three agencies on the real stack: a city department sends, two wards receive.

The write side is built by the composition root on real PostgreSQL with the development
PKI; documents go through the real signing chain before they are dispatched.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from docmgmt.bootstrap import WriteSide, build_write_side
from docmgmt.domain.common import Actor, DocumentType, Role, SigningCapacity
from docmgmt.domain.incoming import IncomingDocument, incoming_id_for
from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.identity.agencies import add_unit, register_agency
from docmgmt.identity.users import register_user
from docmgmt.incoming.delivery import start_dispatcher
from docmgmt.kernel.db import Database
from docmgmt.kernel.principal import Principal
from docmgmt.outgoing import approval, numbering, sealing
from docmgmt.outgoing.drafting import DraftRequest, create_draft
from docmgmt.outgoing.signing import sign
from tests.support.identity import admin_acting_as
from tests.support.pdfs import make_pdf
from tests.support.server import settings_for

SETUP = Actor(UUID(int=1), "test-setup")


@dataclass
class Office:
    """One agency: its id, units and people, signed in."""

    agency_id: UUID
    code: str
    units: dict[str, UUID] = field(default_factory=dict)
    people: dict[str, Principal] = field(default_factory=dict)

    def __getitem__(self, username: str) -> Principal:
        return self.people[username]


@dataclass
class City:
    """The department and the two wards in front of one write side."""

    write: WriteSide
    offices: dict[str, Office] = field(default_factory=dict)

    def __getitem__(self, code: str) -> Office:
        return self.offices[code]

    def open_office(self, code: str, name: str, units: list[tuple[str, str]]) -> Office:
        """Register an agency with units, an official per unit, a leader and a clerk."""
        app = self.write.app
        agency_id = register_agency(app, admin_acting_as(SETUP), code, name, None).id
        office = Office(agency_id, code)
        for unit_code, unit_name in units:
            add_unit(app, admin_acting_as(SETUP), agency_id, unit_code, unit_name, None)
            office.units[unit_code] = next(
                u.id for u in app.get_agency(agency_id).units.values() if u.code == unit_code)
        prefix = code.lower()
        self._person(office, f"{prefix}.leader", "Nguyễn Văn Lãnh", "Chủ tịch", None,
                     Role.LEADER)
        self._person(office, f"{prefix}.clerk", "Trần Thị Văn Thư", "Văn thư", None,
                     Role.CLERK)
        for unit_code, unit_id in office.units.items():
            self._person(office, f"{prefix}.{unit_code.lower()}", f"Chuyên viên {unit_code}",
                         "Chuyên viên", unit_id, Role.OFFICIAL)
        self.offices[code] = office
        return office

    def _person(self, office: Office, username: str, full_name: str, title: str,
                unit_id: UUID | None, *roles: Role) -> None:
        user_id = register_user(
            self.write.app, admin_acting_as(SETUP), username=username, full_name=full_name,
            title=title, agency_id=office.agency_id, unit_id=unit_id, roles=list(roles)).id
        office.people[username.split(".", 1)[1]] = Principal(
            user_id=user_id, username=username, agency_id=office.agency_id, unit_id=unit_id,
            roles=frozenset(roles))

    def sealed(self, code: str, summary: str,
               doc_type: DocumentType = DocumentType.CONG_VAN) -> UUID:
        """A document drafted, approved, signed, numbered and sealed at ``code``."""
        office = self[code]
        drafter = next(p for name, p in office.people.items() if Role.OFFICIAL in p.roles)
        out = self.write.outgoing
        meta = DraftRequest(summary=summary, doc_type=doc_type)
        doc = create_draft(
            out, drafter, meta, io.BytesIO(make_pdf(1, text=summary)), "du-thao.pdf").id
        approval.submit(out, drafter, doc, "Kính trình", None)
        approval.approve(out, office["leader"], doc, "Đồng ý", None)
        sign(out, office["leader"], doc, SigningCapacity.OWN, "Giám đốc", None)
        numbering.number(out, office["clerk"], doc, None)
        sealing.seal(out, office["clerk"], doc, None)
        return doc

    def document(self, doc: UUID) -> OutgoingDocument:
        """The outgoing document as the application holds it now."""
        return self.write.app.get_document(doc)

    def incoming(self, doc: UUID, code: str) -> IncomingDocument:
        """The copy of ``doc`` received by agency ``code``."""
        return self.write.app.get_incoming(incoming_id_for(doc, self[code].agency_id))

    def event_types(self, aggregate_id: UUID) -> list[str]:
        """The aggregate's events, oldest first, by class name."""
        return [type(e).__name__ for e in self.write.app.events.get(aggregate_id)]


@pytest.fixture
def city_write(database: Database, tmp_path: Path) -> Iterator[WriteSide]:
    """The write side on a fresh database with the development PKI."""
    write = build_write_side(settings_for(database, tmp_path / "data"))
    try:
        yield write
    finally:
        write.close()


@pytest.fixture
def city(city_write: WriteSide) -> City:
    """A city department (two units) and two wards (one unit each)."""
    city = City(city_write)
    city.open_office("STTTT", "Sở Thông tin và Truyền thông", [("VP", "Văn phòng"),
                                                               ("CNTT", "Phòng CNTT")])
    city.open_office("PBN", "Ủy ban nhân dân phường Bến Nghé", [("VHXH", "Văn hóa - Xã hội"),
                                                                ("KT", "Kinh tế")])
    city.open_office("PDK", "Ủy ban nhân dân phường Đa Kao", [("VHXH", "Văn hóa - Xã hội")])
    return city


@pytest.fixture
def dispatcher(city_write: WriteSide) -> Iterator[Any]:
    """The dispatch process running in this process."""
    with start_dispatcher(city_write.es_env, city_write.dispatcher()) as runner:
        yield runner
