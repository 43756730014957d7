"""Oversight from end to end: a city, its department and two wards do their work through
the steps; the oversight projection follows; the figures at each level, the late documents
with their holders, the trends and the ranking are the ones counted by hand below.

The clock of the incoming steps is set by the story (T0 is when it starts); the queries
look at the state as of Q = T0 + 3 days. Flows land on the day the events happened (today).

  UBTP  the city (unit VP: Văn phòng)       — chair (leader, oversees the city), anvp (VP)
   ├─ SNV  the department (unit TC)         — director (leader, oversees SNV), binh (TC)
   ├─ PMT  ward Minh Tân (unit MC)           — cuong (MC)
   └─ PHA  ward Hòa An (no unit)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import pytest

from docmgmt.domain.calendar import local_date
from docmgmt.domain.common import (
    Actor,
    Confidentiality,
    DocumentType,
    Role,
    SigningCapacity,
    Urgency,
)
from docmgmt.domain.errors import AgencyNotFoundError
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.domain.outgoing import OutgoingDocument, Registration
from docmgmt.identity.agencies import add_unit, register_agency
from docmgmt.identity.users import register_user
from docmgmt.incoming import handling
from docmgmt.incoming.handling import IncomingContext
from docmgmt.kernel.db import Database
from docmgmt.kernel.holidays import VietnamHolidays
from docmgmt.kernel.pglocks import PostgresRegisterLock
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import DocMgmt
from docmgmt.oversight.mandates import grant_oversight_mandate
from docmgmt.oversight.model import NIL_UUID, Figures, HolderKind, Period, Step
from docmgmt.oversight.queries import all_documents, ranking, rollup, trends
from docmgmt.oversight.views import start_oversight_views
from storage.filesystem import FilesystemBlobStore
from tests.exchange_views.scenario import file
from tests.support.identity import admin_acting_as
from tests.support.pg import Cluster, on_pool

T = TypeVar("T")
D = timedelta(days=1)


@dataclass
class City:
    """The story's ids, its start T0, and the moment the incoming steps see."""

    db: Database
    app: DocMgmt
    t0: datetime
    moment: datetime
    ids: dict[str, UUID] = field(default_factory=dict)
    people: dict[str, Principal] = field(default_factory=dict)

    @property
    def q(self) -> datetime:
        """When the figures are looked at."""
        return self.t0 + 3 * D

    @property
    def period(self) -> Period:
        """Around today in Vietnam (the story may straddle midnight)."""
        today = local_date(self.t0)
        return Period(today - D, today + D)

    def query(self, call: Callable[[asyncpg.Pool], Any]) -> Any:
        """Run a query on a fresh pool."""
        return on_pool(self.db, call)


def _people(app: DocMgmt, city: City, code: str, name: str, parent: str | None,
            unit: tuple[str, str] | None, people: dict[str, tuple[str, Role, bool]]) -> None:
    admin = admin_acting_as(Actor(uuid.uuid4(), "admin"))
    agency = register_agency(app, admin, code, name, city.ids.get(parent or "")).id
    city.ids[code] = agency
    unit_id = None
    if unit is not None:
        add_unit(app, admin, agency, unit[0], unit[1], None)
        unit_id = next(iter(app.get_agency(agency).units))
        city.ids[f"{code}.{unit[0]}"] = unit_id
    for username, (full_name, role, in_unit) in people.items():
        where = unit_id if in_unit else None
        user = register_user(app, admin, username=username, full_name=full_name, title="",
                             agency_id=agency, unit_id=where, roles=[role]).id
        city.ids[username] = user
        city.people[username] = Principal(user, username, agency, where, frozenset({role}))


def _issue(city: City, urgency: Urgency, until: str, recipients: list[str]) -> UUID:
    """The city's Văn phòng drafts a document (an) and takes it as far as ``until``."""
    an, chair, clerk = (city.people[u].actor for u in ("anvp", "chair", "vt.ubtp"))
    doc = OutgoingDocument.draft(
        agency_id=city.ids["UBTP"], unit_id=city.ids["UBTP.VP"], summary=f"Văn bản {until}",
        doc_type=DocumentType.CONG_VAN, urgency=urgency, confidentiality=Confidentiality.NORMAL,
        legal_normative=False, file=file(until), actor=an)
    doc.submit_for_approval("", an)
    if until != "approval":
        doc.approve("Đồng ý", chair)
        signed, numbered, sealed = file(until + "-s"), file(until + "-n"), file(until + "-x")
        doc.sign(capacity=SigningCapacity.TM, signer_title="Chủ tịch",
                 input_sha256=doc.approved_file().sha256, output=signed, signature={},
                 actor=chair)
    if until == "dispatch":
        year = city.t0.year
        doc.number(registration=Registration(1, "CV-UBND", f"{year}-01-02", year, "general"),
                   input_sha256=signed.sha256, output=numbered, validation={}, actor=clerk)
        doc.seal(input_sha256=numbered.sha256, output=sealed, signature={},
                 competent_signature_valid=True, actor=clerk)
        doc.dispatch([{"agency_id": city.ids[c], "code": c, "name": c} for c in recipients],
                     [], "Gửi qua trục liên thông", clerk)
    city.app.save(doc)
    return doc.id


def _arrive(city: City, recipient: str, source: UUID | None, summary: str) -> UUID:
    """A copy reaches ``recipient``, to be registered within a day of T0."""
    doc = IncomingDocument(
        outgoing_id=source or uuid.uuid4(), sender_agency_id=city.ids["UBTP"],
        sender_code="UBTP", sender_name="UBND Thành phố", recipient_agency_id=city.ids[recipient],
        number_label="1", code="CV-UBND", issued_date="2026-01-02", doc_type="CV",
        summary=summary, urgency="normal", confidentiality="normal",
        file=file(summary).as_payload(), appendices=[], links=[],
        authenticity={"ok": True, "checks": []}, registration_due=(city.t0 + D).isoformat())
    if source is not None:
        outgoing: OutgoingDocument = city.app.repository.get(source)
        outgoing.record_delivery(doc.agency_id, doc.id)
        city.app.save(outgoing)
    city.app.save(doc)
    return doc.id


def _story(city: City, tmp: Path) -> None:
    app = city.app
    _people(app, city, "UBTP", "UBND Thành phố", None, ("VP", "Văn phòng"), {
        "chair": ("Lê Chủ Tịch", Role.LEADER, False),
        "vt.ubtp": ("Võ Văn Thư", Role.CLERK, True),
        "anvp": ("Nguyễn Văn An", Role.OFFICIAL, True)})
    _people(app, city, "SNV", "Sở Nội vụ", "UBTP", ("TC", "Phòng Tổ chức"), {
        "director": ("Trần Giám Đốc", Role.LEADER, False),
        "vt.snv": ("Phan Văn Sổ", Role.CLERK, False),
        "binh": ("Đỗ Thị Bình", Role.OFFICIAL, True)})
    _people(app, city, "PMT", "UBND phường Minh Tân", "UBTP", ("MC", "Bộ phận Một cửa"), {
        "pmt.chair": ("Hà Phường Trưởng", Role.LEADER, False),
        "pmt.vt": ("Mai Văn Thư", Role.CLERK, False),
        "cuong": ("Lý Văn Cường", Role.OFFICIAL, True)})
    _people(app, city, "PHA", "UBND phường Hòa An", "UBTP", None, {})
    admin = admin_acting_as(Actor(uuid.uuid4(), "admin"))
    for user, agency in (("chair", "UBTP"), ("director", "SNV")):
        grant_oversight_mandate(app, admin, city.ids[user], city.ids[agency], valid_from=None,
                                valid_to=None, legal_basis="Quyết định 01/QĐ-UBND")

    def at(days: float) -> IncomingContext:
        city.moment = city.t0 + days * D
        return ctx

    ctx = IncomingContext(store=app, blobs=FilesystemBlobStore(tmp),
                          locks=PostgresRegisterLock(city.db.app.conninfo()),
                          holidays=VietnamHolidays(), clock=lambda: city.moment)
    p = city.people

    def handle(who: str, doc: UUID, lead: str | None, unit: str, deadline_days: float) -> None:
        agency = p[who].agency_id
        clerk = next(c for c in p.values() if c.agency_id == agency and Role.CLERK in c.roles)
        handling.register(at(0), clerk, doc, None)
        handling.assign(at(0), p[who], doc, lead_unit_id=city.ids[unit],
                        lead_user_id=city.ids[lead] if lead else None, supporting_unit_ids=[],
                        instructions="Xử lý", deadline=city.t0 + deadline_days * D,
                        working_days=None, expected_version=None)

    # The city: o1 (urgent, so due for dispatch at signing) goes out late to the three
    # agencies below; o2 waits for approval; o3 (urgent) is signed, not numbered.
    o1 = _issue(city, Urgency.URGENT, "dispatch", ["SNV", "PMT", "PHA"])
    city.ids["o2"] = _issue(city, Urgency.NORMAL, "approval", [])
    city.ids["o3"] = _issue(city, Urgency.URGENT, "number", [])
    # An outside letter reaches the city; registered, nobody assigned yet.
    c1 = _arrive(city, "UBTP", None, "Thư ngoài hệ thống")
    handling.register(at(0), p["vt.ubtp"], c1, None)
    # SNV registers its copy of o1 (acknowledged to the city) and gives it to Bình, due
    # T0 + 1; d2 to Bình too, due T0 + 4; d3 due T0 + 1, done at T0 + 2 (late).
    city.ids["o1@SNV"] = _arrive(city, "SNV", o1, "Bản sao o1 tại SNV")
    handle("director", city.ids["o1@SNV"], "binh", "SNV.TC", 1)
    outgoing: OutgoingDocument = app.repository.get(o1)
    outgoing.record_acknowledgement(city.ids["SNV"], "01", p["vt.snv"].actor.as_payload())
    app.save(outgoing)
    city.ids["d2"] = _arrive(city, "SNV", None, "Công văn d2")
    handle("director", city.ids["d2"], "binh", "SNV.TC", 4)
    d3 = _arrive(city, "SNV", None, "Công văn d3")
    handle("director", d3, "binh", "SNV.TC", 1)
    handling.complete(at(2), p["binh"], d3, "Đã xong", None, None)
    # PMT has not registered its copy of o1 (due T0 + 1). w2 goes to Cường, due T0 + 2,
    # done at T0 + 1 (on time). w3 goes to the Một cửa unit, due T0 + 1; Cường asks for
    # T0 + 10 and the ward's chair grants it.
    city.ids["o1@PMT"] = _arrive(city, "PMT", o1, "Bản sao o1 tại PMT")
    w2 = _arrive(city, "PMT", None, "Đơn w2")
    handle("pmt.chair", w2, "cuong", "PMT.MC", 2)
    handling.complete(at(1), p["cuong"], w2, "Đã trả lời", None, None)
    city.ids["w3"] = _arrive(city, "PMT", None, "Đơn w3")
    handle("pmt.chair", city.ids["w3"], None, "PMT.MC", 1)
    handling.request_extension(at(0.5), p["cuong"], city.ids["w3"], city.t0 + 10 * D,
                               "Cần xác minh", None)
    handling.decide_extension(at(0.5), p["pmt.chair"], city.ids["w3"], True, "Đồng ý", None)
    # PHA never receives its copy: nothing says when it is due there.
    city.ids["o1"] = o1


@pytest.fixture(scope="module")
def city(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    """The story written once, and the oversight projection caught up with it."""
    db = pg_cluster.new_database()
    app = DocMgmt(env=db.app.eventsourcing_env("docmgmt", 2))
    try:
        t0 = datetime.now(UTC)
        c = City(db, app, t0, t0)
        _story(c, tmp_path_factory.mktemp("blobs"))
        with start_oversight_views(db.app.eventsourcing_env("docmgmt", 2)) as runner:
            runner.wait(app.recorder.max_notification_id(), timeout=60)
        yield c
    finally:
        app.close()
        pg_cluster.drop_database(db)


def _hours_free(f: Figures) -> Figures:
    # Handling times are the seconds between real events of the story: about zero.
    assert f.handling_hours_total < 0.01
    return replace(f, handling_hours_total=0.0)


def test_the_city_leader_sees_every_level(city: City) -> None:
    chair = city.people["chair"]
    r = city.query(lambda p: rollup(p, chair, city.ids["UBTP"], period=city.period, now=city.q))
    lines = {ln.code: _hours_free(ln.figures) for ln in r.lines}
    assert list(lines) == ["PHA", "PMT", "SNV", "VP", ""]
    # PHA: nothing arrived (its copy never did), nothing open.
    assert lines["PHA"] == Figures()
    # PMT: 3 arrived (o1's copy, w2, w3); w2 on time; w3's extension asked and granted;
    # o1's copy unregistered past T0 + 1; w3 open until T0 + 10 (neither late nor soon).
    assert lines["PMT"] == Figures(arrived=3, completed_on_time=1, extensions_requested=1,
                                   extensions_granted=1, registration_overdue=1,
                                   handling_open=1, open_total=2)
    # SNV: 3 arrived (o1's copy, d2, d3); d3 late; o1's copy overdue since T0 + 1; d2 due
    # at T0 + 4, within two days of Q.
    assert lines["SNV"] == Figures(arrived=3, completed_late=1, handling_open=2,
                                   handling_due_soon=1, handling_overdue=1, open_total=2)
    # VP: o1 dispatched after its (urgent) deadline; o2 awaits approval; o3 awaits its
    # number past the deadline; PMT and PHA have not registered o1 (SNV did).
    assert lines["VP"] == Figures(dispatched=1, dispatched_late=1, awaiting_approval=1,
                                  awaiting_number=1, dispatch_overdue=1, unacknowledged=2,
                                  open_total=2)
    # No unit: the outside letter arrived and waits for a leader's assignment.
    assert lines[""] == Figures(arrived=1, open_total=1)
    # The whole city: arrived 3 + 3 + 1 = 7; open 2 + 2 + 2 + 1 = 7.
    assert _hours_free(r.total) == Figures(
        arrived=7, completed_on_time=1, completed_late=1, extensions_requested=1,
        extensions_granted=1, registration_overdue=1, handling_open=3, handling_due_soon=1,
        handling_overdue=1, dispatched=1, dispatched_late=1, awaiting_approval=1,
        awaiting_number=1, dispatch_overdue=1, unacknowledged=2, open_total=7)
    # Late: d3 + o1@SNV + o1@PMT's registration + o3 + o1 = 5, of 2 completed + 1 + 1
    # + 1 dispatched + 1 = 6.
    assert r.total.late_rate == pytest.approx(5 / 6)

    # Down to SNV's Phòng Tổ chức: Bình holds all of it.
    snv = city.query(lambda p: rollup(p, chair, city.ids["SNV"], unit_id=city.ids["SNV.TC"],
                                      period=city.period, now=city.q))
    assert [(ln.name, _hours_free(ln.figures)) for ln in snv.lines] == [
        ("Đỗ Thị Bình", Figures(completed_late=1, handling_open=2, handling_due_soon=1,
                                handling_overdue=1, open_total=2))]
    assert [name for _, _, name in snv.breadcrumbs] == [
        "UBND Thành phố", "Sở Nội vụ", "Phòng Tổ chức"]
    # PMT's Một cửa: Cường answered w2 on time; w3, led by the unit alone, had its
    # extension there and is still open.
    pmt = city.query(lambda p: rollup(p, chair, city.ids["PMT"], unit_id=city.ids["PMT.MC"],
                                      period=city.period, now=city.q))
    assert [(ln.name, _hours_free(ln.figures)) for ln in pmt.lines] == [
        ("Lý Văn Cường", Figures(completed_on_time=1)),
        ("", Figures(extensions_requested=1, extensions_granted=1, handling_open=1,
                     open_total=1))]
    # SNV's "no unit": the director and the clerk hold nothing; the 3 arrivals.
    loose = city.query(lambda p: rollup(p, chair, city.ids["SNV"], unit_id=NIL_UUID,
                                        period=city.period, now=city.q))
    assert [(ln.name, ln.figures.arrived, ln.drill) for ln in loose.lines] == [
        ("Phan Văn Sổ", 0, False), ("Trần Giám Đốc", 0, False), ("", 3, False)]


def test_the_late_documents_and_who_holds_them(city: City) -> None:
    chair = city.people["chair"]
    late = city.query(lambda p: all_documents(p, chair, city.ids["UBTP"], now=city.q,
                                              late_only=True))
    # o3 was due at its signing, before the three due at T0 + 1 (in id order).
    assert (late[0].id, late[0].step, late[0].holder_kind) == (
        city.ids["o3"], Step.NUMBER, HolderKind.CLERKS)
    rest = {(d.id, d.agency_name, d.step, d.holder_kind, d.holder_name) for d in late[1:]}
    assert rest == {
        (city.ids["o1@SNV"], "Sở Nội vụ", Step.HANDLING, HolderKind.PERSON, "Đỗ Thị Bình"),
        (city.ids["o1@PMT"], "UBND phường Minh Tân", Step.REGISTRATION, HolderKind.CLERKS, ""),
        (city.ids["o1"], "UBND Thành phố", Step.ACKNOWLEDGEMENT, HolderKind.AGENCY,
         "UBND phường Minh Tân")}
    assert all(d.due is not None and d.due < city.q for d in late)
    # SNV's copy carries its arrival number once registered; o1 waiting for PMT its own
    # number and summary.
    assert next(d.label for d in late if d.id == city.ids["o1@SNV"]) == "01"
    assert next((d.label, d.summary) for d in late if d.id == city.ids["o1"]) == (
        "01/CV-UBND", "Văn bản dispatch")
    # Every open one: 7 documents and the 2 recipients of o1 that have not registered it.
    every = city.query(lambda p: all_documents(p, chair, city.ids["UBTP"], now=city.q))
    assert len(every) == 9


def test_trends_and_ranking(city: City) -> None:
    chair = city.people["chair"]
    points = city.query(lambda p: trends(p, chair, city.ids["UBTP"], period=city.period,
                                         by="month", now=city.q))
    # Everything happened today: 7 arrived, 2 completed, 1 dispatched.
    assert sum(pt.figures.arrived for pt in points) == 7
    assert sum(pt.figures.completed for pt in points) == 2
    assert sum(pt.figures.dispatched for pt in points) == 1
    ranked = city.query(lambda p: ranking(p, chair, city.ids["UBTP"], period=city.period,
                                          now=city.q))
    # SNV: 2 late (d3, o1's copy) of 2; the city: 2 (o1 sent late, o3 overdue) of 2; tie
    # broken by code. PMT: 1 (registration) of 2. PHA: nothing to rate.
    assert [(a.code, a.figures.late_rate) for a in ranked] == [
        ("SNV", 1.0), ("UBTP", 1.0), ("PMT", 0.5), ("PHA", None)]


def test_the_department_leader_sees_only_the_department(city: City) -> None:
    director = city.people["director"]
    r = city.query(lambda p: rollup(p, director, city.ids["SNV"], period=city.period,
                                    now=city.q))
    assert (r.total.arrived, r.total.open_total) == (3, 2)
    assert [name for _, _, name in r.breadcrumbs] == ["Sở Nội vụ"]
    for agency in ("PMT", "PHA", "UBTP"):
        with pytest.raises(AgencyNotFoundError):
            city.query(lambda p, a=agency: rollup(p, director, city.ids[a], period=city.period,
                                                  now=city.q))
    # Nor a ward's documents, nor the people of a ward's unit.
    with pytest.raises(AgencyNotFoundError):
        city.query(lambda p: all_documents(p, director, city.ids["PMT"], now=city.q))
    # Someone without a mandate sees nothing at all.
    with pytest.raises(AgencyNotFoundError):
        city.query(lambda p: rollup(p, city.people["binh"], city.ids["SNV"],
                                    period=city.period, now=city.q))
