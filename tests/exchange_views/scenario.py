"""One sending-and-receiving story, written as events through DocMgmt, for the view tests.

Sở Tài chính (STC) issues three documents (05, 06, 07) and keeps a fourth as a draft. Its
copies arrive at the Đà Nẵng city committee (UBDN), which registers, assigns, handles and
withdraws them; Sở Xây dựng (SXD) returns its copy. More UBDN copies (from documents
outside the story) fill the clerks' queue and the dashboard. Deadlines are set relative to
T0, the moment the scenario starts; NOW_P = T0 + 3 days is the pinned "now" of the tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar
from uuid import UUID

from docmgmt.domain.agency import Agency
from docmgmt.domain.common import (
    Actor,
    Confidentiality,
    DocumentType,
    FileRef,
    Role,
    SigningCapacity,
    Urgency,
)
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.domain.outgoing import OutgoingDocument, Registration
from docmgmt.identity.agencies import add_unit, register_agency
from docmgmt.identity.users import register_user
from docmgmt.incoming.queries import ExchangeQueries
from docmgmt.incoming.views import start_exchange_views
from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt
from docmgmt.outgoing.views import start_read_model
from tests.support.identity import admin_acting_as
from tests.support.pg import on_pool

YEAR = 2026
T = TypeVar("T")


def file(name: str) -> FileRef:
    """A fake stored PDF (the domain never opens files)."""
    digest = uuid.uuid5(uuid.NAMESPACE_URL, name).hex * 2
    return FileRef(f"sha256/{digest[:2]}/{digest}", digest, 1000, 2, f"{name}.pdf")


@dataclass
class Story:
    """The ids and moments the tests assert on."""

    t0: datetime
    agencies: dict[str, UUID] = field(default_factory=dict)
    units: dict[str, UUID] = field(default_factory=dict)
    users: dict[str, UUID] = field(default_factory=dict)
    outgoing: dict[str, UUID] = field(default_factory=dict)
    incoming: dict[str, UUID] = field(default_factory=dict)

    @property
    def now_p(self) -> datetime:
        """The pinned "now" of the tests: three days after T0."""
        return self.t0 + timedelta(days=3)

    def actor(self, username: str) -> Actor:
        """The actor payload of one of the story's users."""
        return Actor(self.users[username], username)


def _agency(app: DocMgmt, story: Story, code: str, name: str, units: dict[str, str],
            users: dict[str, tuple[str, str | None, Role]]) -> None:
    admin = Actor(uuid.uuid4(), "admin")
    agency_id = register_agency(app, admin_acting_as(admin), code, name, None).id
    story.agencies[code] = agency_id
    for unit_code, unit_name in units.items():
        add_unit(app, admin_acting_as(admin), agency_id, unit_code, unit_name, None)
    agency: Agency = app.get_agency(agency_id)
    for unit in agency.units.values():
        story.units[f"{code}.{unit.code}"] = unit.id
    for username, (full_name, unit_code, role) in users.items():
        unit_id = story.units[f"{code}.{unit_code}"] if unit_code else None
        story.users[username] = register_user(
            app, admin_acting_as(admin), username=username, full_name=full_name, title="",
            agency_id=agency_id, unit_id=unit_id, roles=[role]).id


def _issue(app: DocMgmt, story: Story, key: str, summary: str, doc_type: DocumentType,
           number: int | None, recipients: list[str], external: list[str]) -> UUID:
    drafter, signer, clerk = (story.actor(u) for u in ("drafter", "director", "clerk.stc"))
    doc = OutgoingDocument.draft(
        agency_id=story.agencies["STC"], unit_id=story.units["STC.NS"], summary=summary,
        doc_type=doc_type, urgency=Urgency.URGENT if number == 5 else Urgency.NORMAL,
        confidentiality=Confidentiality.NORMAL, legal_normative=False,
        file=file(key), actor=drafter)
    story.outgoing[key] = doc.id
    if number is not None:
        doc.submit_for_approval("", drafter)
        doc.approve("Đồng ý", signer)
        signed, numbered, sealed = file(key + "-s"), file(key + "-n"), file(key + "-x")
        doc.sign(capacity=SigningCapacity.KT, signer_title="Phó Giám đốc",
                 input_sha256=doc.approved_file().sha256, output=signed, signature={},
                 actor=signer)
        code = f"{doc_type.value}-STC"
        doc.number(registration=Registration(number, code, f"{YEAR}-03-0{number - 4}", YEAR,
                                             "general"),
                   input_sha256=signed.sha256, output=numbered, validation={}, actor=clerk)
        doc.seal(input_sha256=numbered.sha256, output=sealed, signature={},
                 competent_signature_valid=True, actor=clerk)
        doc.dispatch([{"agency_id": story.agencies[c], "code": c, "name": NAMES[c]}
                      for c in recipients], external, "Gửi qua trục liên thông", clerk)
    app.save(doc)
    return doc.id


NAMES = {"STC": "Sở Tài chính", "UBDN": "Ủy ban nhân dân thành phố Đà Nẵng",
         "SXD": "Sở Xây dựng"}


def _arrive(app: DocMgmt, story: Story, key: str, recipient: str, *, outgoing: str | None,
            summary: str = "", ok: bool = True, label: str = "") -> IncomingDocument:
    source: OutgoingDocument | None = (
        app.repository.get(story.outgoing[outgoing]) if outgoing else None)
    reg = source.registration if source else None
    doc = IncomingDocument(
        outgoing_id=source.id if source else uuid.uuid4(),
        sender_agency_id=story.agencies["STC"], sender_code="STC", sender_name=NAMES["STC"],
        recipient_agency_id=story.agencies[recipient],
        number_label=reg.label if reg else label, code=reg.code if reg else "CV-STC",
        issued_date=reg.date if reg else f"{YEAR}-03-10",
        doc_type=source.doc_type.value if source else "CV",
        summary=source.summary if source else summary,
        urgency=source.urgency.value if source else "normal", confidentiality="normal",
        file=file(key).as_payload(), appendices=[],
        links=[], authenticity={"ok": ok, "checks": [{"name": "seal", "ok": ok}]},
        registration_due=(story.t0 + timedelta(days=1)).isoformat())
    if source is not None:
        source.record_delivery(doc.agency_id, doc.id)
        app.save(source)
    story.incoming[key] = doc.id
    return doc


def build(app: DocMgmt) -> Story:
    """Write the whole story as events; returns its ids."""
    story = Story(t0=datetime.now(UTC))
    t0 = story.t0
    _agency(app, story, "STC", NAMES["STC"], {"NS": "Phòng Ngân sách"}, {
        "drafter": ("Trần Thị Soạn", "NS", Role.OFFICIAL),
        "director": ("Nguyễn Văn An", None, Role.LEADER),
        "clerk.stc": ("Lê Văn Thư", None, Role.CLERK)})
    _agency(app, story, "UBDN", NAMES["UBDN"],
            {"VP": "Văn phòng", "KT": "Phòng Kinh tế", "TH": "Phòng Tổng hợp"}, {
                "clerk": ("Phạm Văn Thư", "VP", Role.CLERK),
                "chair": ("Hồ Chủ Tịch", None, Role.LEADER),
                "alice": ("Đặng Thị Lan", "KT", Role.OFFICIAL),
                "bob": ("Võ Văn Bình", "TH", Role.OFFICIAL)})
    _agency(app, story, "SXD", NAMES["SXD"], {"VP": "Văn phòng"},
            {"clerk.sxd": ("Ngô Văn Sổ", "VP", Role.CLERK)})
    admin = Actor(uuid.uuid4(), "admin")
    ubdn = app.get_agency(story.agencies["UBDN"])
    ubdn.set_calendar([date(YEAR, 9, 1)], [date(YEAR, 4, 26)], admin)
    app.save(ubdn)

    # STC issues three documents and keeps one draft.
    _issue(app, story, "qd", "Quyết định về việc phân bổ ngân sách năm 2026",
           DocumentType.QUYET_DINH, 5, ["UBDN", "SXD"], ["Bộ Tài chính"])
    _issue(app, story, "cv", "Công văn về kế hoạch kiểm tra quyết toán",
           DocumentType.CONG_VAN, 6, ["UBDN"], [])
    _issue(app, story, "tb", "Thông báo lịch họp giao ban quý II",
           DocumentType.THONG_BAO, 7, ["UBDN"], [])
    _issue(app, story, "draft", "Dự thảo quy định nội bộ về công tác văn thư",
           DocumentType.QUY_DINH, None, [], [])

    clerk, chair = story.actor("clerk"), story.actor("chair")
    alice, bob = story.actor("alice"), story.actor("bob")
    kt, th = story.units["UBDN.KT"], story.units["UBDN.TH"]

    def assign(doc: IncomingDocument, unit: UUID | None, user: str | None, days: float,
               supporting: tuple[UUID, ...] = ()) -> None:
        doc.assign(lead_unit_id=unit, lead_user_id=story.users[user] if user else None,
                   supporting_unit_ids=list(supporting), instructions="Tham mưu xử lý",
                   deadline=t0 + timedelta(days=days), now=datetime.now(UTC), actor=chair)

    def ack(outgoing: str, arrival: int) -> None:
        source: OutgoingDocument = app.repository.get(story.outgoing[outgoing])
        source.record_acknowledgement(story.agencies["UBDN"], f"{arrival:02d}",
                                      clerk.as_payload())
        app.save(source)

    # in1: the decision, led by Phòng Kinh tế (Lan), supported by Phòng Tổng hợp.
    in1 = _arrive(app, story, "in1", "UBDN", outgoing="qd")
    in1.register(1, YEAR, f"{YEAR}-03-05", clerk)
    assign(in1, kt, "alice", 1, (th,))
    in1.record_progress("Đang tổng hợp số liệu", alice)
    app.save(in1)
    ack("qd", 1)
    # in2: the letter, led by Phòng Tổng hợp (Bình), who asks for more time.
    in2 = _arrive(app, story, "in2", "UBDN", outgoing="cv")
    in2.register(2, YEAR, f"{YEAR}-03-06", clerk)
    assign(in2, th, "bob", 4)
    in2.request_extension(t0 + timedelta(days=12), "Chờ số liệu quyết toán", bob)
    app.save(in2)
    # in3: the notice, assigned, then recalled by STC and the withdrawal confirmed.
    in3 = _arrive(app, story, "in3", "UBDN", outgoing="tb")
    in3.register(3, YEAR, f"{YEAR}-03-07", clerk)
    assign(in3, kt, "alice", 10)
    app.save(in3)
    tb: OutgoingDocument = app.repository.get(story.outgoing["tb"])
    tb.recall("Sai thời gian họp", story.actor("clerk.stc"))
    app.save(tb)
    in3.withdraw("Sai thời gian họp", story.actor("clerk.stc").as_payload())
    in3.confirm_withdrawal(clerk)
    app.save(in3)
    tb = app.repository.get(story.outgoing["tb"])
    tb.record_recall_confirmation(story.agencies["UBDN"], clerk.as_payload())
    app.save(tb)
    # SXD returns its copy of the decision.
    sxd = _arrive(app, story, "sxd", "SXD", outgoing="qd")
    sxd.return_to_sender("Gửi nhầm cơ quan", story.actor("clerk.sxd"))
    app.save(sxd)
    qd: OutgoingDocument = app.repository.get(story.outgoing["qd"])
    qd.record_return(story.agencies["SXD"], "Gửi nhầm cơ quan",
                     story.actor("clerk.sxd").as_payload())
    app.save(qd)

    # More UBDN copies: completed on time, completed late, waiting for the clerk, not
    # authentic, and one with a far deadline that was extended.
    in4 = _arrive(app, story, "in4", "UBDN", outgoing=None, label="11/CV-STC",
                  summary="Báo cáo tình hình giải ngân vốn đầu tư công")
    in4.register(4, YEAR, f"{YEAR}-03-08", clerk)
    assign(in4, kt, None, 2)
    in4.complete("Đã báo cáo", None, datetime.now(UTC), alice)
    app.save(in4)
    in5 = _arrive(app, story, "in5", "UBDN", outgoing=None, label="12/CV-STC",
                  summary="Đề nghị cung cấp thông tin dự toán")
    in5.register(5, YEAR, f"{YEAR}-03-09", clerk)
    assign(in5, None, "bob", 1)
    in5.complete("Đã cung cấp", None, t0 + timedelta(days=1, hours=1), bob)
    app.save(in5)
    app.save(_arrive(app, story, "in6", "UBDN", outgoing=None, label="13/CV-STC",
                     summary="Giấy mời dự hội nghị tổng kết"))
    in7 = _arrive(app, story, "in7", "UBDN", outgoing=None, label="14/CV-STC",
                  summary="=1+2 Báo cáo tổng hợp")
    in7.register(6, YEAR, f"{YEAR}-03-10", clerk)
    app.save(in7)
    in8 = _arrive(app, story, "in8", "UBDN", outgoing=None, ok=False, label="15/CV-STC",
                  summary="Văn bản chữ ký không hợp lệ")
    in8.return_to_sender("Chữ ký số không hợp lệ", clerk)
    app.save(in8)
    in9 = _arrive(app, story, "in9", "UBDN", outgoing=None, label="16/CV-STC",
                  summary="Kế hoạch triển khai chuyển đổi số")
    in9.register(7, YEAR, f"{YEAR}-03-11", clerk)
    assign(in9, kt, "alice", 25)
    in9.request_extension(t0 + timedelta(days=28), "Cần thêm thời gian", alice)
    in9.decide_extension(True, "Đồng ý gia hạn", chair)
    app.save(in9)
    return story


def catch_up(db: Database, app: DocMgmt) -> None:
    """Run the main read model and the exchange views until both hold every event."""
    head = app.recorder.max_notification_id()
    env = db.app.eventsourcing_env("docmgmt", 2)
    with start_read_model(env) as main, start_exchange_views(env) as exchange:
        main.wait(head, timeout=60)
        exchange.wait(head, timeout=60)


def query(db: Database, call: Callable[[ExchangeQueries], Awaitable[T]]) -> T:
    """Run one ExchangeQueries call on a fresh read pool (as the application login)."""
    return on_pool(db, lambda pool: call(ExchangeQueries(pool)))
