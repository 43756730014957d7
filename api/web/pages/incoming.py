"""Văn bản đến in the pages: the inbox's queues, the incoming document page (arrival check,
the PDF, assignment, handling, history) and every recipient's step as a form on it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Annotated, Any, BinaryIO
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from api.deps import ContainerDep
from api.routes.outgoing import stream_file
from api.routing import ThreadedRoute
from api.web import pdfview
from api.web.forms import FormErrors, FormVersion, Outcome, act, notice_for, settled
from api.web.i18n import N_, _
from api.web.labels import CONFIDENTIALITIES, DOCUMENT_TYPES, INCOMING_STATUSES, URGENCIES
from api.web.render import render
from api.web.session import PageSession, Session
from docmgmt.bootstrap import Container
from docmgmt.domain.calendar import DEFAULT_CLOSING_TIME, VIETNAM_TZ
from docmgmt.domain.common import FileRef, Role
from docmgmt.domain.errors import (
    DocumentWithdrawnError,
    PermissionDeniedError,
)
from docmgmt.domain.incoming import HANDLING, IncomingDocument, IncomingStatus
from docmgmt.incoming import handling
from docmgmt.incoming.queries import DUE_SOON, OPEN
from docmgmt.kernel.cursor import decode_optional_cursor, encode_cursor
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult

router = APIRouter(prefix="/app", include_in_schema=False, route_class=ThreadedRoute)
PAGE_SIZE = 50
REPLY_CHOICES = 50  # recent dispatched documents offered as the reply
NEVER = datetime.min.replace(tzinfo=VIETNAM_TZ)  # stands for a date the form refused first

DEADLINES = {"on_time": N_("On time"), "due_soon": N_("Due soon"), "overdue": N_("Overdue")}

# (key, tab label, roles that work the queue); the first a reader may open is the default.
QUEUES: tuple[tuple[str, str, frozenset[Role]], ...] = (
    ("received", N_("To register"), frozenset({Role.CLERK})),
    ("registered", N_("To assign"), frozenset({Role.LEADER, Role.CLERK})),
    ("withdrawn", N_("Withdrawals to confirm"), frozenset({Role.CLERK})),
    ("mine", N_("Assigned to me"), frozenset({Role.OFFICIAL, Role.LEADER, Role.CLERK})),
    ("unit", N_("My unit's"), frozenset({Role.OFFICIAL, Role.LEADER, Role.CLERK})),
    ("all", N_("All incoming"), frozenset({Role.LEADER, Role.CLERK, Role.AUDITOR})),
)

EVENTS = {
    "Arrived": N_("Arrived and checked"),
    "Registered": N_("Registered"),
    "ReturnedToSender": N_("Sent back to the sender"),
    "Assigned": N_("Assigned for handling"),
    "ProgressRecorded": N_("Progress recorded"),
    "ExtensionRequested": N_("Extension requested"),
    "ExtensionDecided": N_("Extension decided"),
    "Completed": N_("Handling done"),
    "Withdrawn": N_("Recalled by the sender"),
    "WithdrawalConfirmed": N_("Withdrawal confirmed"),
    "Viewed": N_("Opened or downloaded"),
}


# --- the inbox ---------------------------------------------------------------------------


def queues_for(who: Principal) -> list[tuple[str, str]]:
    """The queues (key, label) the reader may open, in tab order."""
    return [(key, label) for key, label, roles in QUEUES if who.roles & roles]


async def _queue_page(c: Container, who: Principal, queue: str, deadline: str | None,
                      cursor: str | None) -> Any:
    reads = c.exchange_reads
    common: dict[str, Any] = {"limit": PAGE_SIZE, "cursor": decode_optional_cursor(cursor),
                              "deadline": deadline}
    if queue == "mine":
        return await reads.inbox(who.agency_id, user_id=who.user_id, status=OPEN, **common)
    if queue == "unit":
        return await reads.inbox(who.agency_id, unit_id=who.unit_id, **common)
    if queue == "withdrawn":
        return await reads.inbox(who.agency_id, status="withdrawn",
                                 withdrawal_confirmed=False, **common)
    if queue in ("received", "registered"):
        return await reads.inbox(who.agency_id, status=queue, **common)
    return await reads.inbox(who.agency_id, **common)


@router.get("/incoming")
async def inbox(
    request: Request, session: Session, c: ContainerDep,
    queue: Annotated[str | None, Query(pattern="^(received|registered|withdrawn|mine|unit|all)$")]
    = None,
    deadline: Annotated[str | None, Query(pattern="^(due_soon|overdue)$")] = None,
    cursor: str | None = None, notice: str | None = None,
) -> Response:
    """Văn bản đến / The incoming queues, one page at a time."""
    who = session.principal
    tabs = queues_for(who)
    if not tabs:
        raise PermissionDeniedError("incoming documents are for officials, leaders, clerks "
                                    "and auditors")
    queue = queue or tabs[0][0]
    if queue not in dict(tabs):
        raise PermissionDeniedError(f"the {queue} queue is not for your role")
    no_unit = queue == "unit" and who.unit_id is None
    items: list[dict[str, Any]] = []
    next_url = ""
    if not no_unit:
        page = await _queue_page(c, who, queue, deadline, cursor)
        items = page.items
        after = encode_cursor(page.next_cursor)
        if after:
            query = {"queue": queue, "cursor": after} | ({"deadline": deadline}
                                                         if deadline else {})
            next_url = "/app/incoming?" + urlencode(query)
    return render(request, "incoming/inbox.html", {
        "tabs": tabs, "queue": queue, "deadline": deadline, "items": items,
        "next_url": next_url, "no_unit": no_unit, "STATUSES": INCOMING_STATUSES,
        "DEADLINES": DEADLINES, "notice": notice_for(notice)}, session=session)


# --- the document page -------------------------------------------------------------------


def _lead(who: Principal, doc: IncomingDocument) -> bool:
    return doc.lead_user_id == who.user_id or (
        who.unit_id is not None and doc.lead_unit_id == who.unit_id)


def _handler(who: Principal, doc: IncomingDocument) -> bool:
    return _lead(who, doc) or (who.unit_id is not None
                               and str(who.unit_id) in doc.supporting_unit_ids)


def actions_for(who: Principal, doc: IncomingDocument) -> list[str]:
    """The steps the reader may take on the copy now (by role and state); the steps
    themselves check again."""
    roles = who.roles
    actions: list[str] = []
    if doc.withdrawn:
        if Role.CLERK in roles and not doc.withdrawal_confirmed:
            actions.append("confirm_withdrawal")
        return actions
    if Role.CLERK in roles and doc.status is IncomingStatus.RECEIVED:
        actions += ["register", "return"] if doc.authentic else ["return"]
    leader = Role.LEADER in roles
    if leader and doc.status in (IncomingStatus.REGISTERED, *HANDLING):
        actions.append("assign")
    if doc.status in HANDLING:
        if leader and doc.pending_extension is not None:
            actions.append("decide")
        if leader or _handler(who, doc):
            actions.append("progress")
        if (leader or _lead(who, doc)) and doc.pending_extension is None:
            actions.append("extension")
        if leader or _lead(who, doc):
            actions.append("complete")
    return actions


def deadline_status(due: datetime | None, now: datetime) -> str:
    """on_time, due_soon or overdue as the inbox derives it (none without a deadline)."""
    if due is None:
        return "none"
    if due < now:
        return "overdue"
    return "due_soon" if due <= now + DUE_SOON else "on_time"


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _timeline(entries: list[Any]) -> list[dict[str, Any]]:
    return [{"kind": e.type.rsplit(".", 1)[-1], "time": e.time, "actor": e.actor,
             "payload": e.payload} for e in entries]


async def incoming_page(request: Request, session: PageSession, c: Container,
                        incoming_id: UUID, *, errors: FormErrors | None = None,
                        form: dict[str, Any] | None = None, open_action: str | None = None,
                        notice: str | None = None, status_code: int = 200) -> Response:
    """The incoming document page; a step's form refused is shown open, with its errors."""
    who = session.principal
    ctx = c.write.incoming
    doc = await run_in_threadpool(handling.get_incoming, ctx, who, incoming_id)
    history = await run_in_threadpool(handling.history, ctx, who, incoming_id)
    agencies = await c.queries.list_agencies()
    agency: dict[str, Any] = next((a for a in agencies if a["id"] == who.agency_id),
                                  {"units": []})
    units = {str(u["id"]): u for u in agency["units"]}
    users = {str(u["id"]): u for u in await c.queries.list_users(who.agency_id)}
    actions = actions_for(who, doc)
    replies: list[dict[str, Any]] = []
    if "complete" in actions:
        replies = (await c.exchange_reads.outbox(who.agency_id, status="dispatched",
                                                 limit=REPLY_CHOICES)).items
    timeline = _timeline(history)
    assigned = [t for t in timeline if t["kind"] == "Assigned"]
    # A reassignment starts from the current one.
    defaults = {"assign": {
        "lead_unit_id": str(doc.lead_unit_id or ""), "lead_user_id": str(doc.lead_user_id or ""),
        "supporting_unit_ids": list(doc.supporting_unit_ids),
        "instructions": assigned[-1]["payload"].get("instructions", "") if assigned else "",
    }}
    now = datetime.now(VIETNAM_TZ)
    due = _moment(doc.deadline) if doc.status in HANDLING else (
        _moment(doc.registration_due) if doc.status is IncomingStatus.RECEIVED else None)
    return render(request, "incoming/document.html", {
        "doc": doc, "timeline": timeline, "units": units, "users": users,
        "actions": actions, "replies": replies, "errors": errors or FormErrors(),
        "form": form or {}, "open_action": open_action, "STATUSES": INCOMING_STATUSES,
        "DEADLINES": DEADLINES, "EVENTS": EVENTS, "URGENCIES": URGENCIES, "TYPES": DOCUMENT_TYPES,
        "CONFIDENTIALITY": CONFIDENTIALITIES, "due": due, "day_of": _day,
        "due_status": deadline_status(due, now), "moment_of": _moment,
        "assigned": assigned, "defaults": defaults,
        "notes": [t for t in timeline if t["kind"] == "ProgressRecorded"],
        "extensions": [t for t in timeline
                       if t["kind"] in ("ExtensionRequested", "ExtensionDecided")],
        "completed": next((t for t in timeline if t["kind"] == "Completed"), None),
        "page_base": f"/app/incoming/{incoming_id}/pages",
        "notice": notice_for(notice)}, session=session, status_code=status_code)


@router.get("/incoming/{incoming_id}")
async def incoming_document(request: Request, incoming_id: UUID, session: Session,
                            c: ContainerDep, notice: str | None = None) -> Response:
    """Văn bản đến / One incoming document: check, PDF, assignment, handling, history."""
    return await incoming_page(request, session, c, incoming_id, notice=notice)


@router.get("/incoming/{incoming_id}/file")
def incoming_file(incoming_id: UUID, session: Session, c: ContainerDep) -> StreamingResponse:
    """Tải văn bản đến / The received PDF, verified; the download is recorded."""
    return stream_file(handling.download(c.write.incoming, session.principal, incoming_id))


@router.get("/incoming/{incoming_id}/pages/{n}.png")
def incoming_page_image(request: Request, incoming_id: UUID, n: int, session: Session,
                        c: ContainerDep,
                        w: Annotated[int, Query(ge=1, le=4000)] = 960) -> Response:
    """One page of the received PDF as an image, for reading in the page."""
    ctx, who = c.write.incoming, session.principal

    @contextlib.contextmanager
    def recorded() -> Iterator[tuple[str, BinaryIO]]:
        with handling.download(ctx, who, incoming_id) as (_, found, fh):
            yield found.sha256, fh

    def authorised() -> tuple[str, str]:
        doc = handling.get_incoming(ctx, who, incoming_id)
        if doc.withdrawn:
            raise DocumentWithdrawnError("the sender recalled this document",
                                         id=str(incoming_id))
        found = FileRef.from_payload(doc.file)
        return found.sha256, found.key

    return pdfview.page_answer(request, c.settings.data_dir / "cache", n, w, recorded,
                               authorised, ctx.blobs)


# --- the steps ---------------------------------------------------------------------------


def named(*names: str, **by_code: str) -> dict[str, str]:
    """The form fields a refusal may name (the step's own field names), and fields for
    error codes that name none."""
    return {f"field:{n}": n for n in names} | by_code




def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value.strip()) if value.strip() else None
    except ValueError:
        return None


def _closing(day: str) -> datetime | None:
    """A date from a form as a deadline: 17:00 Vietnam time that day."""
    try:
        return datetime.combine(date.fromisoformat(day.strip()), DEFAULT_CLOSING_TIME,
                                tzinfo=VIETNAM_TZ) if day.strip() else None
    except ValueError:
        return None


async def _run(request: Request, session: PageSession, c: Container, incoming_id: UUID,
               action: str, step: Callable[[], CommandResult], form: dict[str, Any],
               notice: str, fields: dict[str, str] | None = None,
               errors: FormErrors | None = None) -> Response:
    """Run a step; on refusal the page again with the form open, else on to the page."""
    outcome: Outcome[CommandResult] = (Outcome(errors=errors) if errors else
                                       await run_in_threadpool(act, request, step, fields))
    if outcome.result is None:
        return await incoming_page(request, session, c, incoming_id, errors=outcome.errors,
                                   form=form, open_action=action,
                                   status_code=outcome.errors.status)
    return await settled(c, outcome.result.position, f"/app/incoming/{incoming_id}", notice)




@router.post("/incoming/{incoming_id}/register")
async def register(request: Request, incoming_id: UUID, session: Session, c: ContainerDep,
                   expected_version: FormVersion = None) -> Response:
    """Vào sổ / Register the copy with the next arrival number (clerk)."""
    ctx, who = c.write.incoming, session.principal
    return await _run(request, session, c, incoming_id, "register", lambda: handling.register(
        ctx, who, incoming_id, expected_version), {}, "registered")


@router.post("/incoming/{incoming_id}/return")
async def return_to_sender(request: Request, incoming_id: UUID, session: Session,
                           c: ContainerDep, expected_version: FormVersion = None,
                           reason: Annotated[str, Form()] = "") -> Response:
    """Trả lại / Return the copy to its sender with a reason (clerk)."""
    ctx, who = c.write.incoming, session.principal
    return await _run(request, session, c, incoming_id, "return",
                      lambda: handling.return_to_sender(ctx, who, incoming_id, reason,
                                                        expected_version),
                      {"reason": reason}, "returned_to_sender", named("reason"))


@router.post("/incoming/{incoming_id}/confirm-withdrawal")
async def confirm_withdrawal(request: Request, incoming_id: UUID, session: Session,
                             c: ContainerDep, expected_version: FormVersion = None) -> Response:
    """Xác nhận thu hồi / Confirm the withdrawal to the sender (clerk)."""
    ctx, who = c.write.incoming, session.principal
    return await _run(request, session, c, incoming_id, "confirm_withdrawal",
                      lambda: handling.confirm_withdrawal(ctx, who, incoming_id,
                                                          expected_version),
                      {}, "withdrawal_confirmed")


@router.post("/incoming/{incoming_id}/assign")
async def assign(
    request: Request, incoming_id: UUID, session: Session, c: ContainerDep,
    expected_version: FormVersion = None, lead_unit_id: Annotated[str, Form()] = "",
    lead_user_id: Annotated[str, Form()] = "",
    supporting_unit_ids: Annotated[list[str] | None, Form()] = None,
    instructions: Annotated[str, Form()] = "", working_days: Annotated[str, Form()] = "",
    deadline: Annotated[str, Form()] = "",
) -> Response:
    """Giao xử lý / Assign a lead, supporting units, instructions and a deadline (leader)."""
    ctx, who = c.write.incoming, session.principal
    supporting = [s for s in (supporting_unit_ids or []) if s]
    form = {"lead_unit_id": lead_unit_id, "lead_user_id": lead_user_id,
            "supporting_unit_ids": supporting, "instructions": instructions,
            "working_days": working_days, "deadline": deadline}
    bad: dict[str, str] = {}
    days = working_days.strip()
    if days and not days.isdigit():
        bad["working_days"] = _("Enter a whole number of working days.")
    due = _closing(deadline)
    if deadline.strip() and due is None:
        bad["deadline"] = _("Enter a date.")
    supporting_ids = [_uuid(s) for s in supporting]
    errors = FormErrors(bad) if bad else None
    fields = named("working_days", "deadline", "lead_user_id", "unit")
    return await _run(request, session, c, incoming_id, "assign", lambda: handling.assign(
        ctx, who, incoming_id, lead_unit_id=_uuid(lead_unit_id),
        lead_user_id=_uuid(lead_user_id),
        supporting_unit_ids=[s for s in supporting_ids if s is not None],
        instructions=instructions, deadline=due, working_days=int(days) if days else None,
        expected_version=expected_version), form, "assigned", fields, errors)


@router.post("/incoming/{incoming_id}/extension/decision")
async def decide_extension(request: Request, incoming_id: UUID, session: Session,
                           c: ContainerDep, expected_version: FormVersion = None,
                           granted: Annotated[str, Form()] = "",
                           comment: Annotated[str, Form()] = "") -> Response:
    """Quyết định gia hạn / Grant or refuse the extension request (leader)."""
    ctx, who = c.write.incoming, session.principal
    return await _run(request, session, c, incoming_id, "decide",
                      lambda: handling.decide_extension(ctx, who, incoming_id,
                                                        granted == "yes", comment,
                                                        expected_version),
                      {"comment": comment}, "extension_decided", named("comment"))


@router.post("/incoming/{incoming_id}/progress")
async def record_progress(request: Request, incoming_id: UUID, session: Session,
                          c: ContainerDep, expected_version: FormVersion = None,
                          note: Annotated[str, Form()] = "") -> Response:
    """Cập nhật tiến độ / Record progress (handlers, leaders)."""
    ctx, who = c.write.incoming, session.principal
    return await _run(request, session, c, incoming_id, "progress",
                      lambda: handling.record_progress(ctx, who, incoming_id, note,
                                                       expected_version),
                      {"note": note}, "progress_recorded", named("note"))


@router.post("/incoming/{incoming_id}/extension")
async def request_extension(request: Request, incoming_id: UUID, session: Session,
                            c: ContainerDep, expected_version: FormVersion = None,
                            proposed_deadline: Annotated[str, Form()] = "",
                            reason: Annotated[str, Form()] = "") -> Response:
    """Xin gia hạn / Ask for a later deadline (the lead handler)."""
    ctx, who = c.write.incoming, session.principal
    form = {"proposed_deadline": proposed_deadline, "reason": reason}
    proposed = _closing(proposed_deadline)
    errors = FormErrors({"proposed_deadline": _("Enter a date.")}) if proposed is None else None

    return await _run(request, session, c, incoming_id, "extension",
                      lambda: handling.request_extension(
                          ctx, who, incoming_id, proposed or NEVER, reason,
                          expected_version), form,
                      "extension_requested",
                      named("reason", "proposed_deadline", invalid_input="proposed_deadline"),
                      errors)


@router.post("/incoming/{incoming_id}/complete")
async def complete(request: Request, incoming_id: UUID, session: Session, c: ContainerDep,
                   expected_version: FormVersion = None, result: Annotated[str, Form()] = "",
                   reply_document_id: Annotated[str, Form()] = "",
                   reply_other: Annotated[str, Form()] = "") -> Response:
    """Hoàn thành / Complete the handling with a result, maybe the reply (lead handler)."""
    ctx, who = c.write.incoming, session.principal
    form = {"result": result, "reply_document_id": reply_document_id,
            "reply_other": reply_other}
    chosen = reply_other.strip() or reply_document_id.strip()
    reply = _uuid(chosen)
    errors = (FormErrors({"reply_other": _("Enter a document id (a UUID).")})
              if chosen and reply is None else None)
    return await _run(request, session, c, incoming_id, "complete",
                      lambda: handling.complete(ctx, who, incoming_id, result, reply,
                                                expected_version),
                      form, "completed",
                      named("result", document_not_found="reply_other"),
                      errors)
