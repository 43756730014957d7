"""The demo city's builder: its agencies, people and each step of its documents, done by
the role that does it, through the same steps the API routes call."""

from __future__ import annotations

import io
import secrets
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from uuid import UUID

from api.demo.data import (
    CITY,
    CITY_AUDITOR,
    DEPARTMENT,
    KINDS,
    MANDATE_BASIS,
    OFFICES,
    OVERSIGHT_BASIS,
    TEXTS,
    Office,
)
from api.demo.pdf import SampleDocument, sample_pdf
from docmgmt.audit.mandates import grant_audit_mandate
from docmgmt.bootstrap import WriteSide
from docmgmt.domain.calendar import VIETNAM_TZ, DeadlineStatus, deadline_status
from docmgmt.domain.common import DocumentType, Role, Urgency
from docmgmt.domain.incoming import IncomingDocument, IncomingStatus, incoming_id_for
from docmgmt.identity import agencies, users
from docmgmt.identity.users import NewUser
from docmgmt.incoming import handling
from docmgmt.incoming.delivery import Dispatcher
from docmgmt.incoming.queries import DUE_SOON
from docmgmt.incoming.views import ExchangeViews
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult
from docmgmt.kernel.supervisor import View
from docmgmt.outgoing import approval, drafting, numbering, sealing, sending, signing
from docmgmt.outgoing.drafting import DraftRequest
from docmgmt.outgoing.views import ReadModel
from docmgmt.oversight.mandates import grant_oversight_mandate
from docmgmt.oversight.views import OversightViews

USER_AGENT = "docmgmt-demo"
# Letters and digits a reader cannot confuse (no 0/O, 1/l/I), easy to type: 16 of 57
# symbols are about 93 bits.
PASSWORD_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105
PASSWORD_LENGTH = 16
# Deadlines given this far ahead pass while the demo is built: honestly overdue documents
# without a stored moment that did not happen.
LAPSE = timedelta(seconds=20)
WAIT = 60.0  # seconds a projection may take to catch up with one step


@dataclass(frozen=True)
class Account:
    """A demo account and its generated password (shown once, kept in the password file)."""

    username: str
    full_name: str
    role: Role
    agency: str
    title: str
    password: str


@dataclass
class DemoResult:
    """What the demo made: the accounts, where their passwords are, and the documents."""

    accounts: list[Account]
    password_file: Path
    outgoing: dict[str, int]
    incoming: dict[str, int]
    deadlines: dict[str, int]
    seconds: float = 0.0


@dataclass
class DemoCity:
    """Builds the city step by step, each step done by the role that does it."""

    write: WriteSide
    views: dict[str, View]
    agency_ids: dict[str, UUID] = field(default_factory=dict)
    units: dict[str, dict[str, UUID]] = field(default_factory=dict)
    staff: dict[tuple[str, Role], Principal] = field(default_factory=dict)
    outgoing_ids: list[UUID] = field(default_factory=list)
    incoming_ids: list[UUID] = field(default_factory=list)
    lapsing: list[datetime] = field(default_factory=list)

    # --- helpers ------------------------------------------------------------------------

    def wait(self, result: CommandResult, *views: str) -> CommandResult:
        """The step's result, once the named projections have its events."""
        for name in views:
            position = result.position
            if name == Dispatcher.name and position is not None:
                # The dispatch process tracks only the events it reacts to; a step may
                # save another aggregate after one (a register's number book, say).
                reacted = self.write.app.recorder.select_notifications(
                    max(1, position - 50), 100, stop=position, topics=Dispatcher.topics)
                position = reacted[-1].id if reacted else None
            if not self.views[name].wait_for(position, WAIT):
                raise RuntimeError(f"the {name} projection did not catch up in {WAIT:.0f} s")
        return result

    def who(self, code: str, role: Role) -> Principal:
        """The agency's person with the role, signed in."""
        return self.staff[(code, role)]

    @staticmethod
    def _office(code: str) -> Office:
        return next(o for o in OFFICES if o.code == code)

    @staticmethod
    def now() -> datetime:
        """The time in Vietnam."""
        return datetime.now(VIETNAM_TZ)

    # --- the agencies and their people --------------------------------------------------

    def people(self) -> list[Account]:
        """Agencies, units, calendars, accounts and audit mandates; the accounts made."""
        store, identity = self.write.app, self.write.identity
        accounts: list[Account] = []
        admin_person = next(p for p in CITY.people if p.role is Role.ADMIN)
        admin_name = CITY.username(Role.ADMIN)
        password = _password()
        admin_id = users.bootstrap_admin(identity, admin_name, password,
                                         admin_person.full_name, CITY.code, CITY.name)
        accounts.append(Account(admin_name, admin_person.full_name, Role.ADMIN, CITY.code,
                                "Quản trị hệ thống", password))
        admin = Principal(admin_id, admin_name, store.find_agency(CITY.code).id, None,
                          frozenset({Role.ADMIN}), user_agent=USER_AGENT)
        self.staff[(CITY.code, Role.ADMIN)] = admin
        for office in OFFICES:
            if office is CITY:
                self.agency_ids[office.code] = admin.agency_id
            else:
                parent = self.agency_ids[office.parent or CITY.code]
                self.agency_ids[office.code] = agencies.register_agency(
                    store, admin, office.code, office.name, parent).id
            agency_id = self.agency_ids[office.code]
            for unit_code, unit_name in office.units:
                agencies.add_unit(store, admin, agency_id, unit_code, unit_name, None)
            self.units[office.code] = {u.code: u.id
                                       for u in store.get_agency(agency_id).units.values()}
            off, make_up = _city_calendar(self.now().date())
            handling.set_calendar(self.write.incoming, admin, agency_id, [off], [make_up], None)
        for office in OFFICES:
            for person in office.people:
                if (office.code, person.role) in self.staff:
                    continue
                accounts.append(self._account(admin, office, person.suffix,
                                              person.full_name, person.role, person.title,
                                              person.unit))
        # The city's inspector reads every agency; each agency's own auditor reads it.
        inspector = self._account(admin, CITY, "thanhtra", "Lương Thế Vinh", Role.AUDITOR,
                                  CITY_AUDITOR, None)
        accounts.append(inspector)
        inspector_id = store.find_user(inspector.username).id
        for office in OFFICES:
            agency_id = self.agency_ids[office.code]
            grant_audit_mandate(store, admin, inspector_id, agency_id, valid_from=None,
                                valid_to=None, legal_basis=MANDATE_BASIS)
            auditor = self.who(office.code, Role.AUDITOR)
            grant_audit_mandate(store, admin, auditor.user_id, agency_id, valid_from=None,
                                valid_to=None, legal_basis=MANDATE_BASIS)
        # The city's chairman oversees the city and everything below it; the department's
        # director oversees the department (Giám sát).
        for office in (CITY, DEPARTMENT):
            grant_oversight_mandate(store, admin, self.who(office.code, Role.LEADER).user_id,
                                    self.agency_ids[office.code], valid_from=None,
                                    valid_to=None, legal_basis=OVERSIGHT_BASIS)
        return accounts

    def _account(self, admin: Principal, office: Office, suffix: str, full_name: str,
                 role: Role, title: str, unit: str | None) -> Account:
        username = f"{office.code.lower()}.{suffix}"
        password = _password()
        unit_id = self.units[office.code][unit] if unit else None
        agency_id = self.agency_ids[office.code]
        user_id = users.create_user(self.write.identity, admin, NewUser(
            username=username, full_name=full_name, password=password, roles=[role],
            agency_id=agency_id, unit_id=unit_id, title=title)).id
        self.staff.setdefault((office.code, role), Principal(
            user_id, username, agency_id, unit_id, frozenset({role}), user_agent=USER_AGENT))
        return Account(username, full_name, role, office.code, title, password)

    # --- outgoing: draft to dispatch ----------------------------------------------------

    def draft(self, code: str, key: str, doc_type: DocumentType,
              urgency: Urgency = Urgency.NORMAL, to: Iterable[str] = ()) -> UUID:
        """The official drafts a document from its first PDF revision."""
        office, text = self._office(code), TEXTS[key]
        parent = self._office(office.parent).name if office.parent else ""
        recipients = [self._office(c).name for c in to] or ["Các cơ quan, đơn vị có liên quan"]
        pdf = sample_pdf(SampleDocument(parent, office.name, KINDS.get(doc_type.value, ""),
                                        text.summary, text.paragraphs, recipients))
        meta = DraftRequest(summary=text.summary, doc_type=doc_type, urgency=urgency)
        doc = drafting.create_draft(self.write.outgoing, self.who(code, Role.OFFICIAL), meta,
                                    io.BytesIO(pdf), f"{key}.pdf").id
        self.outgoing_ids.append(doc)
        return doc

    def revise(self, code: str, doc: UUID, key: str, doc_type: DocumentType, note: str) -> None:
        """The official uploads a second revision of the draft."""
        office, text = self._office(code), TEXTS[key]
        parent = self._office(office.parent).name if office.parent else ""
        pdf = sample_pdf(SampleDocument(parent, office.name, KINDS.get(doc_type.value, ""),
                                        text.summary,
                                        [*text.paragraphs, note], revision_note="Bản sửa 2"))
        drafting.upload_revision(self.write.outgoing, self.who(code, Role.OFFICIAL), doc,
                                 io.BytesIO(pdf), "ban-sua-2.pdf", note, None)

    def comment(self, code: str, role: Role, doc: UUID, text: str) -> None:
        """Someone of the agency comments on the current revision."""
        drafting.comment(self.write.outgoing, self.who(code, role), doc, text, None)

    def submit(self, code: str, doc: UUID) -> None:
        """The official submits the draft to the leader."""
        approval.submit(self.write.outgoing, self.who(code, Role.OFFICIAL), doc,
                        "Kính trình lãnh đạo xem xét, phê duyệt.", None)

    def approve(self, code: str, doc: UUID) -> None:
        """Submitted, then approved by the leader."""
        self.submit(code, doc)
        approval.approve(self.write.outgoing, self.who(code, Role.LEADER), doc,
                         "Đồng ý ban hành.", None)

    def sign(self, code: str, doc: UUID) -> None:
        """Approved, then signed by the leader in the office's capacity."""
        self.approve(code, doc)
        office = self._office(code)
        signing.sign(self.write.outgoing, self.who(code, Role.LEADER), doc, office.capacity,
                     office.principal_title, None)

    def number(self, code: str, doc: UUID) -> None:
        """Signed, then numbered by the clerk."""
        self.sign(code, doc)
        numbering.number(self.write.outgoing, self.who(code, Role.CLERK), doc, None)

    def seal(self, code: str, doc: UUID) -> None:
        """Numbered, then sealed by the clerk."""
        self.number(code, doc)
        sealing.seal(self.write.outgoing, self.who(code, Role.CLERK), doc, None)

    def dispatch(self, code: str, doc: UUID, to: list[str],
                 external: list[str] | None = None) -> dict[str, UUID]:
        """Sealed, then sent by the clerk; the copies the dispatch process delivered."""
        self.seal(code, doc)
        self.wait(sending.dispatch(self.write.app, self.who(code, Role.CLERK), doc, to,
                                    external or [], "Gửi qua hệ thống.", None),
                   Dispatcher.name)
        copies = {c: incoming_id_for(doc, self.agency_ids[c]) for c in to}
        self.incoming_ids.extend(copies.values())
        return copies

    # --- incoming: register to complete --------------------------------------------------

    def register(self, code: str, copy: UUID) -> None:
        """The clerk registers the copy (the sender learns it by the dispatch process)."""
        self.wait(handling.register(self.write.incoming, self.who(code, Role.CLERK), copy,
                                     None), Dispatcher.name)

    def assign(self, code: str, copy: UUID, *, deadline: datetime | None = None,
               working_days: int | None = None, instructions: str) -> None:
        """Registered, then assigned by the leader to the handling unit and its official."""
        self.register(code, copy)
        office, official = self._office(code), self.who(code, Role.OFFICIAL)
        handling.assign(
            self.write.incoming, self.who(code, Role.LEADER), copy,
            lead_unit_id=self.units[code][office.handling_unit], lead_user_id=official.user_id,
            supporting_unit_ids=[self.units[code][office.supporting_unit]],
            instructions=instructions, deadline=deadline, working_days=working_days,
            expected_version=None)

    def lapsing_deadline(self) -> datetime:
        """A deadline that passes while the demo is built (see LAPSE)."""
        moment = (self.now() + LAPSE).replace(microsecond=0)
        self.lapsing.append(moment)
        return moment

    def progress(self, code: str, copy: UUID, note: str) -> None:
        """The handling official records progress."""
        handling.record_progress(self.write.incoming, self.who(code, Role.OFFICIAL), copy,
                                 note, None)

    def complete(self, code: str, copy: UUID, result: str) -> None:
        """The handling official completes the copy with a result."""
        handling.complete(self.write.incoming, self.who(code, Role.OFFICIAL), copy, result,
                          None, None)

    def handling_deadline(self, copy: UUID) -> datetime:
        """The copy's handling deadline as assigned."""
        deadline = self.write.app.get_incoming(copy).deadline
        if deadline is None:  # pragma: no cover - asked only of assigned copies
            raise RuntimeError("the copy has no deadline")
        return datetime.fromisoformat(deadline)

    def await_lapse(self) -> None:
        """Sleep until every lapsing deadline has passed."""
        if self.lapsing:
            remaining = (max(self.lapsing) - self.now()).total_seconds()
            if remaining > -1:
                time.sleep(remaining + 1)

    def settle(self) -> None:
        """Wait until the read models show every event written so far."""
        head = self.write.app.recorder.max_notification_id()
        for name in (ReadModel.name, ExchangeViews.name, OversightViews.name):
            if not self.views[name].wait_for(head, WAIT):
                raise RuntimeError(f"the {name} projection did not catch up in {WAIT:.0f} s")

    # --- what was made ------------------------------------------------------------------

    def summary(self, accounts: list[Account], path: Path) -> DemoResult:
        """Counts per state of what the demo made, as the aggregates stand now."""
        store, now = self.write.app, self.now()
        outgoing = _count(store.get_document(d).status.value for d in self.outgoing_ids)
        copies = [store.get_incoming(i) for i in self.incoming_ids]
        incoming = _count(c.status.value for c in copies)
        deadlines = _count(_deadline_state(c, now) for c in copies)
        return DemoResult(accounts, path, outgoing, incoming, deadlines)


def _deadline_state(copy: IncomingDocument, now: datetime) -> str:
    if copy.status is IncomingStatus.RECEIVED:
        due: str | None = copy.registration_due
    elif copy.status in (IncomingStatus.ASSIGNED, IncomingStatus.IN_PROGRESS):
        due = copy.deadline
    else:
        return "none"
    if due is None:
        return "none"
    state: DeadlineStatus = deadline_status(datetime.fromisoformat(due), now, DUE_SOON)
    return state.value


def _count(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def _password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def _city_calendar(today: date) -> tuple[date, date]:
    """The city's own arrangement for next year: its liberation day (29 March, or the
    Monday after) off, made up the Saturday before."""
    off = date(today.year + 1, 3, 29)
    while off.weekday() >= 5:
        off += timedelta(days=1)
    make_up = off - timedelta(days=(off.weekday() + 2) % 7)
    return off, make_up
