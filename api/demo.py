"""The demo city (``docmgmt demo``, ``docmgmt serve --demo``): a People's Committee, one
department and two wards, a person per role in each, and documents in every state, made
by the same steps the API calls, as each role would, on an empty data folder."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from uuid import UUID

from eventsourcing.utils import get_topic

from api.demo_data import (
    CITY,
    CITY_AUDITOR,
    KINDS,
    MANDATE_BASIS,
    OFFICES,
    TEXTS,
    Office,
)
from api.demo_pdf import SampleDocument, sample_pdf
from docmgmt.audit.mandates import grant_audit_mandate
from docmgmt.bootstrap import WriteSide, build_write_side, start_workers, worker_env
from docmgmt.domain.agency import Agency
from docmgmt.domain.calendar import (
    DEFAULT_CLOSING_TIME,
    VIETNAM_TZ,
    DeadlineStatus,
    deadline_status,
)
from docmgmt.domain.common import DocumentType, Role, Urgency
from docmgmt.domain.incoming import IncomingDocument, IncomingStatus, incoming_id_for
from docmgmt.domain.outgoing import Relation
from docmgmt.identity import agencies, users
from docmgmt.identity.users import NewUser
from docmgmt.incoming import handling
from docmgmt.incoming.delivery import Dispatcher
from docmgmt.incoming.queries import DUE_SOON
from docmgmt.incoming.views import ExchangeViews
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.projections import tracking_view
from docmgmt.kernel.store import CommandResult, DocMgmt
from docmgmt.kernel.supervisor import View
from docmgmt.outgoing import approval, drafting, numbering, sealing, sending, signing
from docmgmt.outgoing.drafting import DraftRequest
from docmgmt.outgoing.views import ReadModel
from docmgmt.settings import Settings

PASSWORD_FILE = "demo-passwords.txt"  # noqa: S105 - a file name, not a password
USER_AGENT = "docmgmt-demo"
# Letters and digits a reader cannot confuse (no 0/O, 1/l/I), easy to type: 16 of 57
# symbols are about 93 bits.
PASSWORD_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105
PASSWORD_LENGTH = 16
# Deadlines given this far ahead pass while the demo is built: honestly overdue documents
# without a stored moment that did not happen.
LAPSE = timedelta(seconds=20)
WAIT = 60.0  # seconds a projection may take to catch up with one step
ROLE_NAMES = {Role.OFFICIAL: "chuyên viên", Role.LEADER: "lãnh đạo", Role.CLERK: "văn thư",
              Role.ADMIN: "quản trị", Role.AUDITOR: "kiểm tra"}


class DemoRefusedError(Exception):
    """The data folder already holds a system: the demo adds nothing to it."""


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


def has_agencies(store: DocMgmt) -> bool:
    """Whether any agency was ever registered in this store."""
    found = store.recorder.select_notifications(None, 1, topics=[get_topic(Agency.Registered)])
    return bool(found)


def build_demo(settings: Settings, starting: Callable[[], None] = lambda: None) -> DemoResult:
    """Make the demo city in a migrated, empty system; DemoRefusedError if it has agencies.
    ``starting`` is called once the system is known to be empty."""
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        write = build_write_side(settings)
        stack.callback(write.close)
        if has_agencies(write.app):
            raise DemoRefusedError(
                f"the data folder {settings.data_dir} already has agencies: the demo runs "
                "only on an empty one (nothing was changed)")
        starting()
        env = worker_env(write.es_env)
        start_workers(settings, write, env, stack)
        city = DemoCity(write, {name: View.polled(tracking_view(name, env)) for name in (
            ReadModel.name, ExchangeViews.name, Dispatcher.name)})
        accounts = city.people()
        path = write_password_file(settings.data_dir, accounts)
        city.documents()
        result = city.summary(accounts, path)
    result.seconds = time.monotonic() - started
    return result


def write_password_file(data_dir: Path, accounts: Iterable[Account]) -> Path:
    """The accounts and passwords in a file only its owner may read (0600)."""
    path = data_dir.resolve() / PASSWORD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file keeps its mode through O_CREAT
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# docmgmt demo accounts (development data; change them before any real use)\n")
        fh.write(account_table(accounts))
    return path


def account_table(accounts: Iterable[Account]) -> str:
    """The accounts as a plain-text table: username, role, agency, password."""
    rows = [("username", "role", "agency", "password")]
    rows += [(a.username, f"{a.role.value} ({ROLE_NAMES[a.role]})", a.agency, a.password)
             for a in accounts]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


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

    def _wait(self, result: CommandResult, *views: str) -> CommandResult:
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

    def _who(self, code: str, role: Role) -> Principal:
        return self.staff[(code, role)]

    @staticmethod
    def _office(code: str) -> Office:
        return next(o for o in OFFICES if o.code == code)

    @staticmethod
    def _now() -> datetime:
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
            off, make_up = _city_calendar(self._now().date())
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
            auditor = self._who(office.code, Role.AUDITOR)
            grant_audit_mandate(store, admin, auditor.user_id, agency_id, valid_from=None,
                                valid_to=None, legal_basis=MANDATE_BASIS)
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
        doc = drafting.create_draft(self.write.outgoing, self._who(code, Role.OFFICIAL), meta,
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
        drafting.upload_revision(self.write.outgoing, self._who(code, Role.OFFICIAL), doc,
                                 io.BytesIO(pdf), "ban-sua-2.pdf", note, None)

    def comment(self, code: str, role: Role, doc: UUID, text: str) -> None:
        """Someone of the agency comments on the current revision."""
        drafting.comment(self.write.outgoing, self._who(code, role), doc, text, None)

    def submit(self, code: str, doc: UUID) -> None:
        """The official submits the draft to the leader."""
        approval.submit(self.write.outgoing, self._who(code, Role.OFFICIAL), doc,
                        "Kính trình lãnh đạo xem xét, phê duyệt.", None)

    def approve(self, code: str, doc: UUID) -> None:
        """Submitted, then approved by the leader."""
        self.submit(code, doc)
        approval.approve(self.write.outgoing, self._who(code, Role.LEADER), doc,
                         "Đồng ý ban hành.", None)

    def sign(self, code: str, doc: UUID) -> None:
        """Approved, then signed by the leader in the office's capacity."""
        self.approve(code, doc)
        office = self._office(code)
        signing.sign(self.write.outgoing, self._who(code, Role.LEADER), doc, office.capacity,
                     office.principal_title, None)

    def number(self, code: str, doc: UUID) -> None:
        """Signed, then numbered by the clerk."""
        self.sign(code, doc)
        numbering.number(self.write.outgoing, self._who(code, Role.CLERK), doc, None)

    def seal(self, code: str, doc: UUID) -> None:
        """Numbered, then sealed by the clerk."""
        self.number(code, doc)
        sealing.seal(self.write.outgoing, self._who(code, Role.CLERK), doc, None)

    def dispatch(self, code: str, doc: UUID, to: list[str],
                 external: list[str] | None = None) -> dict[str, UUID]:
        """Sealed, then sent by the clerk; the copies the dispatch process delivered."""
        self.seal(code, doc)
        self._wait(sending.dispatch(self.write.app, self._who(code, Role.CLERK), doc, to,
                                    external or [], "Gửi qua hệ thống.", None),
                   Dispatcher.name)
        copies = {c: incoming_id_for(doc, self.agency_ids[c]) for c in to}
        self.incoming_ids.extend(copies.values())
        return copies

    # --- incoming: register to complete --------------------------------------------------

    def register(self, code: str, copy: UUID) -> None:
        """The clerk registers the copy (the sender learns it by the dispatch process)."""
        self._wait(handling.register(self.write.incoming, self._who(code, Role.CLERK), copy,
                                     None), Dispatcher.name)

    def assign(self, code: str, copy: UUID, *, deadline: datetime | None = None,
               working_days: int | None = None, instructions: str) -> None:
        """Registered, then assigned by the leader to the handling unit and its official."""
        self.register(code, copy)
        office, official = self._office(code), self._who(code, Role.OFFICIAL)
        handling.assign(
            self.write.incoming, self._who(code, Role.LEADER), copy,
            lead_unit_id=self.units[code][office.handling_unit], lead_user_id=official.user_id,
            supporting_unit_ids=[self.units[code][office.supporting_unit]],
            instructions=instructions, deadline=deadline, working_days=working_days,
            expected_version=None)

    def lapsing_deadline(self) -> datetime:
        """A deadline that passes while the demo is built (see LAPSE)."""
        moment = (self._now() + LAPSE).replace(microsecond=0)
        self.lapsing.append(moment)
        return moment

    def progress(self, code: str, copy: UUID, note: str) -> None:
        """The handling official records progress."""
        handling.record_progress(self.write.incoming, self._who(code, Role.OFFICIAL), copy,
                                 note, None)

    def complete(self, code: str, copy: UUID, result: str) -> None:
        """The handling official completes the copy with a result."""
        handling.complete(self.write.incoming, self._who(code, Role.OFFICIAL), copy, result,
                          None, None)

    def _handling_deadline(self, copy: UUID) -> datetime:
        deadline = self.write.app.get_incoming(copy).deadline
        if deadline is None:  # pragma: no cover - asked only of assigned copies
            raise RuntimeError("the copy has no deadline")
        return datetime.fromisoformat(deadline)

    # --- the story ----------------------------------------------------------------------

    def documents(self) -> None:
        """Documents in every state, incoming and outgoing, some overdue."""
        city, dept, hc, tt = (o.code for o in OFFICES)
        official, leader, clerk = Role.OFFICIAL, Role.LEADER, Role.CLERK

        # The city issues its plan to the department and both wards; the ward Hải Châu is
        # given a deadline that passes before the demo ends (overdue, in progress).
        plan = self.draft(city, "plan", DocumentType.KE_HOACH, to=[dept, hc, tt])
        self.comment(city, leader, plan, "Bổ sung chỉ tiêu về dịch vụ công trực tuyến.")
        copies = self.dispatch(city, plan, [dept, hc, tt], ["Bộ Thông tin và Truyền thông"])
        self.assign(hc, copies[hc], deadline=self.lapsing_deadline(),
                    instructions="Phòng Văn hóa - Xã hội chủ trì, báo cáo kết quả ngay.")
        self.progress(hc, copies[hc], "Đã họp triển khai với các tổ dân phố.")
        # The department handles it and asks for more time.
        self.assign(dept, copies[dept], working_days=10,
                    instructions="Phòng CNTT chủ trì tham mưu kế hoạch thực hiện.")
        self.progress(dept, copies[dept], "Đã dự thảo kế hoạch thực hiện của Sở.")
        self.progress(dept, copies[dept], "Đang lấy ý kiến các phòng chuyên môn.")
        deadline = self._handling_deadline(copies[dept])
        handling.request_extension(
            self.write.incoming, self._who(dept, official), copies[dept],
            deadline + timedelta(days=7), "Chờ ý kiến góp ý của các phường.", None)
        # Thạch Thang must handle it by the end of the day (due soon).
        self.assign(tt, copies[tt], deadline=_due_soon(self._now()),
                    instructions="Phòng Kinh tế chủ trì, hoàn thành trong ngày.")
        with drafting.download(self.write.outgoing, self._who(city, leader), plan,
                               None) as (_, _, fh):
            fh.read()

        # The department's guidance: returned by Hải Châu (misdirected), done late by
        # Thạch Thang (completed at the end, after its deadline), done in time by the city.
        guide = self.draft(dept, "signature", DocumentType.CONG_VAN, to=[hc, tt, city])
        copies = self.dispatch(dept, guide, [hc, tt, city])
        self._wait(handling.return_to_sender(
            self.write.incoming, self._who(hc, clerk), copies[hc],
            "Văn bản gửi nhầm nơi nhận: nội dung thuộc thẩm quyền của phường khác.", None),
            Dispatcher.name)
        self.assign(tt, copies[tt], deadline=self.lapsing_deadline(),
                    instructions="Triển khai ngay cho cán bộ được cấp chứng thư số.")
        late = copies[tt]
        self.assign(city, copies[city], working_days=5,
                    instructions="Văn phòng theo dõi việc thực hiện.")
        self.progress(city, copies[city], "Đã phổ biến đến các phòng.")
        self.complete(city, copies[city], "Đã triển khai hướng dẫn trong toàn cơ quan.")

        # An urgent request from the city: unregistered at Hải Châu (urgent documents are
        # due at once, so it is overdue), registered at Thạch Thang awaiting assignment.
        flood = self.draft(city, "flood", DocumentType.CONG_VAN, Urgency.URGENT, to=[hc, tt])
        copies = self.dispatch(city, flood, [hc, tt])
        self.register(tt, copies[tt])

        # The department recalls a notice: Hải Châu confirms, Thạch Thang has not yet; a
        # replacement is being drafted.
        notice = self.draft(dept, "maintenance", DocumentType.THONG_BAO, to=[hc, tt])
        copies = self.dispatch(dept, notice, [hc, tt])
        self.register(hc, copies[hc])
        self._wait(sending.recall(self.write.app, self._who(dept, clerk), notice,
                                  "Sai thời gian bảo trì; sẽ có thông báo thay thế.", None),
                   Dispatcher.name)
        self._wait(handling.confirm_withdrawal(self.write.incoming, self._who(hc, clerk),
                                               copies[hc], None), Dispatcher.name)
        replacement = self.draft(dept, "maintenance2", DocumentType.THONG_BAO, to=[hc, tt])
        sending.link(self.write.app, self._who(dept, official), replacement,
                     Relation.REPLACES, notice, None)

        # Hải Châu reports to the city and the department; the city grants it more time.
        report = self.draft(hc, "ward_report", DocumentType.BAO_CAO, to=[city, dept])
        copies = self.dispatch(hc, report, [city, dept])
        self.assign(city, copies[city], working_days=3,
                    instructions="Tổng hợp vào báo cáo chung của thành phố.")
        handling.request_extension(
            self.write.incoming, self._who(city, official), copies[city],
            self._handling_deadline(copies[city]) + timedelta(days=7),
            "Chờ số liệu của phường Thạch Thang.", None)
        handling.decide_extension(self.write.incoming, self._who(city, leader), copies[city],
                                  True, "Đồng ý gia hạn.", None)
        self.register(dept, copies[dept])

        # The department's documents at every step of its own chain.
        incident = self.draft(dept, "incident", DocumentType.CONG_VAN, Urgency.URGENT)
        self.seal(dept, incident)  # urgent: due for dispatch at once, so overdue
        self.number(dept, self.draft(dept, "decision", DocumentType.QUYET_DINH))
        self.sign(dept, self.draft(dept, "training", DocumentType.CONG_VAN, to=[hc, tt]))
        self.approve(dept, self.draft(dept, "budget", DocumentType.KE_HOACH))
        returned = self.draft(dept, "report", DocumentType.BAO_CAO, to=[city])
        self.submit(dept, returned)
        approval.return_for_revision(self.write.outgoing, self._who(dept, leader), returned,
                                     "Bổ sung số liệu quý IV và so sánh cùng kỳ.", None)
        drafted = self.draft(dept, "network", DocumentType.CONG_VAN)
        self.comment(dept, leader, drafted, "Nêu rõ địa điểm cần nâng cấp.")
        self.revise(dept, drafted, "network", DocumentType.CONG_VAN,
                    "Đã bổ sung danh sách địa điểm.")
        self.comment(dept, clerk, drafted, "Kiểm tra lại thể thức phần nơi nhận.")

        # The city and the wards: drafts and a draft awaiting approval.
        event = self.draft(city, "event", DocumentType.KE_HOACH)
        self.comment(city, leader, event, "Bổ sung phần kinh phí.")
        self.revise(city, event, "event", DocumentType.KE_HOACH,
                    "Đã bổ sung dự toán kinh phí.")
        self.submit(city, self.draft(city, "reception", DocumentType.THONG_BAO))
        self.submit(hc, self.draft(hc, "funding", DocumentType.TO_TRINH, to=[city]))
        self.draft(tt, "market", DocumentType.CONG_VAN)

        # Once its deadline has passed, Thạch Thang completes the guidance: late.
        self._await_lapse()
        self.progress(tt, late, "Đã tập huấn cho cán bộ.")
        self.complete(tt, late, "Đã triển khai, chậm so với hạn do chờ cấp chứng thư số.")
        self.settle()

    def _await_lapse(self) -> None:
        if self.lapsing:
            remaining = (max(self.lapsing) - self._now()).total_seconds()
            if remaining > -1:
                time.sleep(remaining + 1)

    def settle(self) -> None:
        """Wait until the read models show every event written so far."""
        head = self.write.app.recorder.max_notification_id()
        for name in (ReadModel.name, ExchangeViews.name):
            if not self.views[name].wait_for(head, WAIT):
                raise RuntimeError(f"the {name} projection did not catch up in {WAIT:.0f} s")

    # --- what was made ------------------------------------------------------------------

    def summary(self, accounts: list[Account], path: Path) -> DemoResult:
        """Counts per state of what the demo made, as the aggregates stand now."""
        store, now = self.write.app, self._now()
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


def _due_soon(now: datetime) -> datetime:
    """Today's close of business if an hour away, else tomorrow's: within the due-soon
    window either way."""
    today = datetime.combine(now.date(), DEFAULT_CLOSING_TIME, tzinfo=VIETNAM_TZ)
    return today if today - now >= timedelta(hours=1) else today + timedelta(days=1)


def _city_calendar(today: date) -> tuple[date, date]:
    """The city's own arrangement for next year: its liberation day (29 March, or the
    Monday after) off, made up the Saturday before."""
    off = date(today.year + 1, 3, 29)
    while off.weekday() >= 5:
        off += timedelta(days=1)
    make_up = off - timedelta(days=(off.weekday() + 2) % 7)
    return off, make_up


def status_lines(result: DemoResult) -> Iterator[str]:
    """What the demo made, one line per kind, for the terminal."""
    def joined(counts: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in counts.items())

    yield f"outgoing documents ({sum(result.outgoing.values())}): {joined(result.outgoing)}"
    yield f"incoming copies ({sum(result.incoming.values())}): {joined(result.incoming)}"
    yield f"incoming deadlines now: {joined(result.deadlines)}"

