"""Incoming documents: registration, assignment, handling; registers, dashboard, search."""

from __future__ import annotations

import asyncio
import io
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.auth import CurrentUser
from api.deps import ContainerDep, ExchangeReadsDep, IfMatch, IncomingDep, pick_version
from api.routes.outgoing import VersionIn, done, history_rows, stream_file
from api.routing import ThreadedRoute
from api.schemas import Created
from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.common import Role
from docmgmt.domain.errors import InvalidInputError, PermissionDeniedError
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.incoming import handling
from docmgmt.incoming.queries import Page
from docmgmt.incoming.registers import (
    INCOMING_CSV,
    OUTGOING_CSV,
    register_cells,
    registers_csv,
    render_register_pdf,
)
from docmgmt.kernel.cursor import decode_optional_cursor, encode_cursor

router = APIRouter(tags=["exchange"], route_class=ThreadedRoute)
# Another module has request bodies of the same names, so the OpenAPI components of these
# are named after their module: kept as published (clients are generated from them).
SCHEMA_MODULE = "api.routes.exchange"


class ReasonIn(BaseModel):
    """A reason (recall, return) with the version the caller last saw."""

    __module__ = SCHEMA_MODULE
    reason: str
    expected_version: int | None = None


class AssignIn(BaseModel):
    """Giao xử lý / Who handles the document, how and by when."""

    lead_unit_id: UUID | None = None
    lead_user_id: UUID | None = None
    supporting_unit_ids: list[UUID] = Field(default_factory=list)
    instructions: str = ""
    deadline: datetime | None = Field(None, description="ISO 8601 with a zone, e.g. "
                                      "2026-12-01T17:00:00+07:00")
    working_days: int | None = Field(None, description="Or: due at 17:00 after this many "
                                     "working days (holidays and agency days off skipped)")
    expected_version: int | None = None


class NoteIn(BaseModel):
    """A progress note."""

    __module__ = SCHEMA_MODULE
    note: str
    expected_version: int | None = None


class ExtensionIn(BaseModel):
    """Xin gia hạn / A request for a later deadline."""

    proposed_deadline: datetime
    reason: str
    expected_version: int | None = None


class DecisionIn(BaseModel):
    """A leader's decision on an extension request."""

    granted: bool
    comment: str = ""
    expected_version: int | None = None


class CompleteIn(BaseModel):
    """Hoàn thành / The result of the handling."""

    result: str
    reply_document_id: UUID | None = None
    expected_version: int | None = None


class CalendarIn(BaseModel):
    """An agency's own days off and make-up working days (ngày làm bù)."""

    extra_days_off: list[date] = Field(default_factory=list)
    make_up_working_days: list[date] = Field(default_factory=list)
    expected_version: int | None = None


# --- the recipient ---------------------------------------------------------------------


def _incoming(d: IncomingDocument) -> dict[str, Any]:
    return {
        "id": str(d.id), "version": d.version, "status": d.status.value,
        "sender": {"agency_id": str(d.sender_agency_id), "code": d.sender_code,
                   "name": d.sender_name},
        "outgoing_id": str(d.outgoing_id), "number_label": d.number_label, "code": d.code,
        "issued_date": d.issued_date, "doc_type": d.doc_type, "summary": d.summary,
        "urgency": d.urgency, "confidentiality": d.confidentiality,
        "arrived_at": d.created_on.astimezone(VIETNAM_TZ).isoformat(),
        "registration_due": d.registration_due,
        "authentic": d.authentic, "authenticity": d.authenticity,
        "arrival_number": d.arrival_number, "arrival_year": d.arrival_year,
        "return_reason": d.return_reason,
        "lead_unit_id": None if d.lead_unit_id is None else str(d.lead_unit_id),
        "lead_user_id": None if d.lead_user_id is None else str(d.lead_user_id),
        "supporting_unit_ids": list(d.supporting_unit_ids), "deadline": d.deadline,
        "pending_extension": d.pending_extension, "links": list(d.links),
        "appendices": [{"number": a["number"], "title": a["title"]} for a in d.appendices],
        "withdrawn": d.withdrawn, "withdrawal_confirmed": d.withdrawal_confirmed,
    }


@router.get("/incoming/{incoming_id}")
def get_incoming(incoming_id: UUID, who: CurrentUser, ctx: IncomingDep,
                 response: Response) -> dict[str, Any]:
    """Văn bản đến / A received document as it stands now; ETag carries its version."""
    document = handling.get_incoming(ctx, who, incoming_id)
    response.headers["ETag"] = f'"{document.version}"'
    return _incoming(document)


@router.get("/incoming/{incoming_id}/file", response_class=StreamingResponse,
            responses={200: {"content": {"application/pdf": {}}}})
def download_incoming(
    incoming_id: UUID, who: CurrentUser, ctx: IncomingDep,
    appendix: Annotated[int | None, Query(ge=1)] = None,
) -> StreamingResponse:
    """Tải văn bản đến / The received PDF (or an appendix); 410 once recalled; recorded."""
    return stream_file(handling.download(ctx, who, incoming_id, appendix))


@router.get("/incoming/{incoming_id}/history")
def incoming_history(incoming_id: UUID, who: CurrentUser,
                     ctx: IncomingDep) -> list[dict[str, Any]]:
    """Lịch sử xử lý / Every event of the received document, oldest first."""
    return history_rows(handling.history(ctx, who, incoming_id))


@router.post("/incoming/{incoming_id}/register")
def register(incoming_id: UUID, body: VersionIn, who: CurrentUser, c: ContainerDep,
             ctx: IncomingDep, if_match: IfMatch) -> Created:
    """Vào sổ văn bản đến / Register with the next arrival number (clerk)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, handling.register(ctx, who, incoming_id, version))


@router.post("/incoming/{incoming_id}/return")
def return_to_sender(incoming_id: UUID, body: ReasonIn, who: CurrentUser, c: ContainerDep,
                     ctx: IncomingDep, if_match: IfMatch) -> Created:
    """Trả lại nơi gửi / Return an invalid or misdirected document with a reason (clerk)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, handling.return_to_sender(ctx, who, incoming_id, body.reason, version))


@router.post("/incoming/{incoming_id}/assign")
def assign(incoming_id: UUID, body: AssignIn, who: CurrentUser, c: ContainerDep,
           ctx: IncomingDep, if_match: IfMatch) -> Created:
    """Giao xử lý / Assign or reassign the handling with a deadline (leader)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, handling.assign(
        ctx, who, incoming_id, lead_unit_id=body.lead_unit_id, lead_user_id=body.lead_user_id,
        supporting_unit_ids=body.supporting_unit_ids, instructions=body.instructions,
        deadline=body.deadline, working_days=body.working_days, expected_version=version))


@router.post("/incoming/{incoming_id}/progress")
def progress(incoming_id: UUID, body: NoteIn, who: CurrentUser, c: ContainerDep,
             ctx: IncomingDep, if_match: IfMatch) -> Created:
    """Cập nhật tiến độ / Report progress (handlers)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, handling.record_progress(ctx, who, incoming_id, body.note, version))


@router.post("/incoming/{incoming_id}/extension")
def request_extension(incoming_id: UUID, body: ExtensionIn, who: CurrentUser,
                      c: ContainerDep, ctx: IncomingDep, if_match: IfMatch) -> Created:
    """Xin gia hạn / Ask for a later deadline (the lead handler)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, handling.request_extension(ctx, who, incoming_id, body.proposed_deadline,
                                              body.reason, version))


@router.post("/incoming/{incoming_id}/extension/decision")
def decide_extension(incoming_id: UUID, body: DecisionIn, who: CurrentUser,
                     c: ContainerDep, ctx: IncomingDep, if_match: IfMatch) -> Created:
    """Quyết định gia hạn / Grant or refuse the extension request (leader)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, handling.decide_extension(ctx, who, incoming_id, body.granted,
                                             body.comment, version))


@router.post("/incoming/{incoming_id}/complete")
def complete(incoming_id: UUID, body: CompleteIn, who: CurrentUser, c: ContainerDep,
             ctx: IncomingDep, if_match: IfMatch) -> Created:
    """Hoàn thành xử lý / Complete the handling with a result (the lead handler)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, handling.complete(ctx, who, incoming_id, body.result,
                                     body.reply_document_id, version))


@router.post("/incoming/{incoming_id}/confirm-withdrawal")
def confirm_withdrawal(incoming_id: UUID, body: VersionIn, who: CurrentUser,
                       c: ContainerDep, ctx: IncomingDep, if_match: IfMatch) -> Created:
    """Xác nhận thu hồi / Confirm to the sender that the recalled copy is withdrawn (clerk)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, handling.confirm_withdrawal(ctx, who, incoming_id, version))


@router.put("/agencies/{agency_id}/calendar")
def set_calendar(agency_id: UUID, body: CalendarIn, who: CurrentUser, c: ContainerDep,
                 ctx: IncomingDep, if_match: IfMatch) -> Created:
    """Lịch làm việc / The agency's own days off and make-up working days (admin)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, handling.set_calendar(ctx, who, agency_id, body.extra_days_off,
                                         body.make_up_working_days, version))


# --- inbox, registers, dashboard, search (read models, asyncpg) -------------------------

READERS = (Role.LEADER, Role.CLERK, Role.AUDITOR)
MAX_PAGE = 200


def vn_json(value: Any) -> Any:
    """JSON with every moment shown in Vietnam time, ISO 8601 with +07:00."""
    return jsonable_encoder(value, custom_encoder={
        datetime: lambda d: d.astimezone(VIETNAM_TZ).isoformat()})


def page_body(page: Page) -> dict[str, Any]:
    """A keyset page as the API shows it: items in Vietnam time and the next cursor."""
    return {"items": vn_json(page.items),
            "next_cursor": encode_cursor(page.next_cursor)}


def unit_scope(who: CurrentUser, unit_id: UUID | None) -> UUID | None:
    """Leaders, clerks and auditors may look at any unit of the agency; others at theirs."""
    if unit_id is None or who.roles & set(READERS) or unit_id == who.unit_id:
        return unit_id
    raise PermissionDeniedError("you may only see your own unit's documents")


@router.get("/inbox")
async def inbox(
    who: CurrentUser, reads: ExchangeReadsDep,
    scope: Annotated[str, Query(pattern="^(me|unit)$",
                                description="me: led by me (and, for clerks, the agency's "
                                            "queue); unit: led or supported by a unit")] = "me",
    unit_id: UUID | None = None,
    status: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Văn bản đến của tôi / Incoming documents to handle, newest first, with deadline status
    (on_time, due_soon, overdue) derived now."""
    if scope == "unit":
        unit = unit_scope(who, unit_id or who.unit_id)
        if unit is None:
            raise InvalidInputError("name a unit: you belong to none", field="unit_id")
        page = await reads.inbox(who.agency_id, unit_id=unit, status=status, limit=limit,
                                 cursor=decode_optional_cursor(cursor))
    else:
        page = await reads.inbox(
            who.agency_id, user_id=who.user_id, clerk_queue=Role.CLERK in who.roles,
            status=status, limit=limit, cursor=decode_optional_cursor(cursor))
    return page_body(page)


def _year(year: int | None) -> int:
    return year if year is not None else datetime.now(VIETNAM_TZ).year


@router.get("/registers/{kind}", responses={200: {"content": {
    "application/json": {}, "text/csv": {}, "application/pdf": {}}}})
async def register_book(
    kind: Annotated[str, Path(pattern="^(incoming|outgoing)$")], who: CurrentUser,
    reads: ExchangeReadsDep, year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    series: Annotated[str | None, Query(pattern="^(general|legal)$")] = None,
    format: Annotated[str, Query(pattern="^(json|csv|pdf)$")] = "json",
) -> Any:
    """Sổ đăng ký văn bản đến / đi — the incoming or outgoing register of a year, every
    register field, as JSON, CSV (Excel) or PDF for printing and binding (leader, clerk,
    auditor of the agency)."""
    who.require(*READERS)
    y = _year(year)
    if kind == "incoming":
        rows = await reads.incoming_register(who.agency_id, y)
        columns, title = INCOMING_CSV, "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN / INCOMING REGISTER"
    else:
        rows = await reads.outgoing_register(who.agency_id, y, series)
        columns, title = OUTGOING_CSV, "SỔ ĐĂNG KÝ VĂN BẢN ĐI / OUTGOING REGISTER"
    name = f"so-van-ban-{'den' if kind == 'incoming' else 'di'}-{y}"
    if format == "json":
        return vn_json({"year": y, "kind": kind, "rows": rows})
    if format == "csv":
        return Response(registers_csv(columns, rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    agency = await reads.agency_calendar(who.agency_id)
    subtitle = f"{agency['name'] if agency else ''} — Năm / Year {y}"
    widths = [(header, 3.0 if "Summary" in header else 1.0) for header, _ in columns]
    out = io.BytesIO()
    await asyncio.to_thread(render_register_pdf, title, subtitle, widths,
                            register_cells(columns, rows), out)
    return Response(out.getvalue(), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})


@router.get("/dashboard")
async def dashboard(
    who: CurrentUser, reads: ExchangeReadsDep,
    start: Annotated[date, Query(alias="from", description="First day of the period")],
    end: Annotated[date, Query(alias="to", description="Last day of the period")],
    due_soon_days: Annotated[int, Query(ge=0, le=30)] = 2,
) -> dict[str, Any]:
    """Theo dõi hạn xử lý / Per unit: on time, late, overdue, due soon and average handling
    time for the period, derived now (leader, clerk, auditor)."""
    who.require(*READERS)
    if end < start:
        raise InvalidInputError("the period ends before it starts")
    begin = datetime.combine(start, datetime.min.time(), tzinfo=VIETNAM_TZ)
    finish = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=VIETNAM_TZ)
    units = await reads.dashboard(who.agency_id, begin, finish,
                                  due_soon=timedelta(days=due_soon_days))
    return {"from": start.isoformat(), "to": end.isoformat(),
            "units": [vn_json(asdict(u)) for u in units]}


@router.get("/search", responses={200: {"headers": {"Link": {
    "description": 'The next page, if any: <...&cursor=...>; rel="next" (RFC 8288)',
    "schema": {"type": "string"}}}}})
async def search(
    who: CurrentUser, reads: ExchangeReadsDep, request: Request, response: Response,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(description="From the Link header's next page")]
    = None,
) -> list[dict[str, Any]]:
    """Tìm kiếm / Find incoming and outgoing documents by number, code, summary or parties,
    with or without diacritics ("quyet dinh" finds "Quyết định"), newest first. Leaders,
    clerks and auditors search all of the agency's; an official the agency's outgoing
    documents and the incoming ones they, or their unit, lead or support. The next page's
    address is in the Link header."""
    page = await reads.search(who.agency_id, q, limit, cursor=decode_optional_cursor(cursor),
                              handler=handling.reading_scope(who))
    token = encode_cursor(page.next_cursor)
    if token is not None:
        following = request.url.include_query_params(cursor=token)
        response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return list(vn_json(page.items))
