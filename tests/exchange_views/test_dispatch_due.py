"""Dispatch deadlines in the outbox: next working day on the agency's calendar, urgent at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from docmgmt.domain.agency import Agency
from docmgmt.domain.calendar import (
    DEFAULT_CLOSING_TIME,
    VIETNAM_TZ,
    AgencyCalendar,
    local_date,
)
from docmgmt.domain.common import (
    Actor,
    Confidentiality,
    DocumentType,
    SigningCapacity,
    Urgency,
)
from docmgmt.domain.outgoing import OutgoingDocument, Registration
from docmgmt.incoming.queries import ExchangeQueries
from docmgmt.kernel.db import Database
from docmgmt.kernel.holidays import VietnamHolidays
from docmgmt.kernel.store import DocMgmt
from tests.exchange_views.scenario import catch_up, file, query
from tests.support.pg import Cluster

pytestmark = pytest.mark.postgres
ACTOR = Actor(uuid4(), "clerk")


def sealed(app: DocMgmt, agency_id: UUID, urgency: Urgency, number: int) -> UUID:
    """A document taken to SEALED (fake file references), not yet dispatched."""
    doc = OutgoingDocument.draft(
        agency_id=agency_id, unit_id=None, summary=f"Công văn {number}",
        doc_type=DocumentType.CONG_VAN, urgency=urgency,
        confidentiality=Confidentiality.NORMAL, legal_normative=False,
        file=file(f"d{number}"), actor=ACTOR)
    doc.submit_for_approval("", ACTOR)
    doc.approve("", ACTOR)
    doc.sign(capacity=SigningCapacity.OWN, signer_title="Giám đốc",
             input_sha256=doc.approved_file().sha256, output=file(f"s{number}"), signature={},
             actor=ACTOR)
    doc.number(registration=Registration(number, "STC-VP", "2026-11-23", 2026, "general"),
               input_sha256=file(f"s{number}").sha256, output=file(f"n{number}"),
               validation={}, actor=ACTOR)
    doc.seal(input_sha256=file(f"n{number}").sha256, output=file(f"x{number}"), signature={},
             competent_signature_valid=True, actor=ACTOR)
    app.save(doc)
    return doc.id


@pytest.fixture
def db(pg_cluster: Cluster) -> Iterator[Database]:
    """A fresh database for this test."""
    database = pg_cluster.new_database()
    yield database
    pg_cluster.drop_database(database)


def test_sealed_documents_are_due_for_dispatch_by_the_next_working_day(db: Database) -> None:
    app = DocMgmt(env=db.app.eventsourcing_env("docmgmt", 2))
    try:
        agency = Agency.register("STC", "Sở Tài chính", None, ACTOR)
        # The agency takes the next working day off: dispatch moves to the one after.
        today = local_date(datetime.now(VIETNAM_TZ))
        national = AgencyCalendar(VietnamHolidays())
        day_off = national.next_working_day(today)
        agency.set_calendar([day_off], [], ACTOR)
        app.save(agency)
        normal = sealed(app, agency.id, Urgency.NORMAL, 1)
        urgent = sealed(app, agency.id, Urgency.FLASH, 2)
        catch_up(db, app)
    finally:
        app.close()

    async def outbox(q: ExchangeQueries) -> Any:
        return await q.outbox(agency.id, due_soon=timedelta(0))

    rows = {r["id"]: r for r in query(db, outbox).items}
    expected_day = national.next_working_day(day_off)
    assert rows[normal]["dispatch_due"] == datetime.combine(
        expected_day, DEFAULT_CLOSING_TIME, tzinfo=VIETNAM_TZ)
    assert rows[normal]["dispatch_status"] == "on_time"
    # Hỏa tốc: due the moment it was sealed, so overdue by the time anyone looks.
    assert rows[urgent]["dispatch_due"] == rows[urgent]["sealed_at"]
    assert rows[urgent]["dispatch_status"] == "overdue"
