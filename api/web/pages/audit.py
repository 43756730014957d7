"""The auditor's pages: the agencies of my mandates, a document's full trail, the document as
it was at a version or moment, its evidence bundle, and the store's events by filter (CSV).

Each page runs the same checks and records the same reads as the API's audit routes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.deps import ContainerDep
from api.routes.evidence import evidence_bundle
from api.routing import ThreadedRoute
from api.web.forms import FormErrors, errors_from
from api.web.i18n import N_
from api.web.labels import DELIVERY_LABELS, INCOMING_STATUSES, OUTGOING_STATUSES
from api.web.render import render
from api.web.session import Session
from docmgmt.audit.export import to_csv
from docmgmt.audit.mandates import find_audit_mandate
from docmgmt.audit.replay import replay
from docmgmt.audit.trails import (
    MAX_LIMIT,
    AuditQueries,
    EventFilter,
    record_query,
    record_trail_read,
)
from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.common import Role
from docmgmt.domain.errors import (
    DomainError,
    InvalidInputError,
    PermissionDeniedError,
)
from docmgmt.kernel.cursor import decode_optional_cursor, encode_cursor
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import DocMgmt

router = APIRouter(prefix="/app", include_in_schema=False, route_class=ThreadedRoute)

PAGE_SIZE = 50
TRAIL_PAGE = 200

# Event types as a reader names them (the trail's "what"), by stored type.
EVENT_TYPES: dict[str, str] = {
    "OutgoingDocument.Drafted": N_("Draft created"),
    "OutgoingDocument.RevisionUploaded": N_("Revision uploaded"),
    "OutgoingDocument.Commented": N_("Comment added"),
    "OutgoingDocument.AppendixAttached": N_("Appendix attached"),
    "OutgoingDocument.SubmittedForApproval": N_("Submitted for approval"),
    "OutgoingDocument.Approved": N_("Approved"),
    "OutgoingDocument.ReturnedForRevision": N_("Returned for revision"),
    "OutgoingDocument.SignatureRequested": N_("Signature requested"),
    "OutgoingDocument.SignatureProvided": N_("Signature provided"),
    "OutgoingDocument.SignatureRefused": N_("Signature refused"),
    "OutgoingDocument.SignatureExpired": N_("Signature request expired"),
    "OutgoingDocument.SignatureCancelled": N_("Signature request cancelled"),
    "OutgoingDocument.Signed": N_("Signed"),
    "OutgoingDocument.Numbered": N_("Numbered"),
    "OutgoingDocument.Sealed": N_("Sealed"),
    "OutgoingDocument.Linked": N_("Linked to another document"),
    "OutgoingDocument.Dispatched": N_("Dispatched"),
    "OutgoingDocument.DeliveredTo": N_("Delivered to a recipient"),
    "OutgoingDocument.ReceiptAcknowledged": N_("Receipt acknowledged"),
    "OutgoingDocument.DeliveryReturned": N_("Returned by a recipient"),
    "OutgoingDocument.Recalled": N_("Recalled"),
    "OutgoingDocument.RecallConfirmed": N_("Recall confirmed"),
    "IncomingDocument.Arrived": N_("Arrived"),
    "IncomingDocument.Registered": N_("Registered (incoming)"),
    "IncomingDocument.ReturnedToSender": N_("Returned to the sender"),
    "IncomingDocument.Assigned": N_("Assigned for handling"),
    "IncomingDocument.ProgressRecorded": N_("Progress recorded"),
    "IncomingDocument.ExtensionRequested": N_("Extension requested"),
    "IncomingDocument.ExtensionDecided": N_("Extension decided"),
    "IncomingDocument.Completed": N_("Handling completed"),
    "IncomingDocument.Withdrawn": N_("Withdrawn by the sender"),
    "IncomingDocument.WithdrawalConfirmed": N_("Withdrawal confirmed"),
    "AccessLog.Viewed": N_("Viewed or downloaded"),
    "AuditLog.AuditQueryRecorded": N_("Audit query"),
    "User.Registered": N_("Account created"),
    "User.RolesChanged": N_("Roles changed"),
    "User.PasswordChanged": N_("Password changed"),
    "User.Deactivated": N_("Account disabled"),
    "User.Reactivated": N_("Account enabled again"),
    "User.CertificateRegistered": N_("Signing certificate registered"),
    "User.CertificateRemoved": N_("Signing certificate removed"),
    "Agency.Registered": N_("Agency created"),
    "Agency.UnitAdded": N_("Unit added"),
    "Agency.CalendarSet": N_("Calendar changed"),
    "AuditMandate.Granted": N_("Audit mandate granted"),
    "AuditMandate.Revoked": N_("Audit mandate revoked"),
    "WebhookSubscription.Subscribed": N_("Webhook created"),
    "WebhookSubscription.Changed": N_("Webhook changed"),
    "WebhookSubscription.Cancelled": N_("Webhook cancelled"),
}


def _auditor(session: Session) -> Principal:
    who = session.principal
    who.require(Role.AUDITOR)
    return who


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _digest(payload: Any) -> str:
    """The first file digest a payload names (a file's sha256, at any depth)."""
    if isinstance(payload, dict):
        if isinstance(payload.get("sha256"), str):
            return str(payload["sha256"])
        for value in payload.values():
            if found := _digest(value):
                return found
    if isinstance(payload, list):
        for value in payload:
            if found := _digest(value):
                return found
    return ""


async def _names(c: ContainerDep, items: list[dict[str, Any]]) -> dict[str, str]:
    """Full names of the acting users of ``items`` (by user id)."""
    names: dict[str, str] = {}
    for uid in {str(i["actor"].get("user_id", "")) for i in items} - {""}:
        user = await c.queries.get_user(UUID(uid))
        if user is not None:
            names[uid] = user.full_name
    return names


def _rows(items: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    return [i | {"at": _moment(i["time"]), "label": EVENT_TYPES.get(i["type"], ""),
                 "digest": _digest(i["payload"]),
                 "full_name": names.get(str(i["actor"].get("user_id", "")), ""),
                 "purpose": str(i["payload"].get("purpose", ""))}
            for i in items]


async def _agency_names(c: ContainerDep) -> dict[str, str]:
    return {str(a["id"]): _agency_name(a) for a in await c.queries.list_agencies()}


def _agency_name(agency: dict[str, Any] | None) -> str:
    return "" if agency is None else f"{agency['code']} · {agency['name']}"


@router.get("/audit")
async def audit_home(request: Request, session: Session, c: ContainerDep) -> Response:
    """Kiểm tra / The agencies of my audit mandates, their legal basis and term."""
    who = _auditor(session)
    mandates = await AuditQueries(c.pool).list_mandates(who.user_id)
    store: DocMgmt = c.write.app
    for m in mandates:
        found = await run_in_threadpool(find_audit_mandate, store, who.user_id,
                                        UUID(m["agency_id"]))
        m["legal_basis"] = found.legal_basis if found else ""
        m["valid_from"] = _moment(m["valid_from"])
        m["valid_to"] = _moment(m["valid_to"]) if m["valid_to"] else None
    return render(request, "audit/home.html", {
        "mandates": mandates, "agencies": await _agency_names(c)}, session=session)


@router.get("/audit/agencies/{agency_id}")
async def agency_documents(request: Request, session: Session, c: ContainerDep,
                           agency_id: UUID, cursor: str | None = None) -> Response:
    """Văn bản của cơ quan / One page of a mandate agency's documents (recorded)."""
    who = _auditor(session)
    if agency_id not in await AuditQueries(c.pool).agencies_in_scope(who.user_id,
                                                                     datetime.now(UTC)):
        # The same refusal as the API's event query for an agency outside the mandates.
        raise PermissionDeniedError("you hold no audit mandate in force for this agency",
                                    agency_id=str(agency_id))
    items, after = await c.queries.list_documents_after(
        agency_id, limit=PAGE_SIZE, cursor=decode_optional_cursor(cursor))
    await run_in_threadpool(record_query, c.write.app, who, "documents",
                            {"agency_id": str(agency_id), "cursor": cursor or ""}, len(items))
    token = encode_cursor(after)
    return render(request, "audit/agency.html", {
        "agency_id": agency_id, "agency": _agency_name(await c.queries.get_agency(agency_id)),
        "items": items, "statuses": OUTGOING_STATUSES,
        "next_url": f"{request.url.path}?cursor={token}" if token else ""}, session=session)


@router.get("/audit/documents/{document_id}")
async def trail(request: Request, session: Session, c: ContainerDep, document_id: UUID,
                offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    """Nhật ký văn bản / A document's whole history, views and downloads included; the
    read is recorded first, as the API's trail."""
    who = _auditor(session)
    await run_in_threadpool(record_trail_read, c.write.app, who, document_id, "audit:trail")
    items = await AuditQueries(c.pool).document_trail(
        document_id, EventFilter(limit=TRAIL_PAGE, offset=offset))
    more = offset + len(items) if len(items) == TRAIL_PAGE else None
    return render(request, "audit/trail.html", {
        "document_id": document_id, "rows": _rows(items, await _names(c, items)),
        "outgoing": any(i["type"].startswith("OutgoingDocument.") for i in items),
        "incoming": any(i["type"].startswith("IncomingDocument.") for i in items),
        "next_url": f"{request.url.path}?offset={more}" if more is not None else ""},
        session=session)


def _replay_args(version: str, at: str) -> tuple[int | None, datetime | None]:
    """The version, or the Vietnam-time moment typed, as the replay step takes them."""
    if version.strip():
        if not version.strip().isdigit() or int(version) < 1:
            raise InvalidInputError("the version is a whole number from 1", field="version")
        return int(version), None
    if at.strip():
        try:
            local = datetime.fromisoformat(at.strip())
        except ValueError:
            raise InvalidInputError("not a date and time", field="at") from None
        if local.tzinfo is None:
            local = local.replace(tzinfo=VIETNAM_TZ)
        return None, local.astimezone(UTC)
    raise InvalidInputError("give a version or a moment", field="version")


def _producing_event(store: DocMgmt, document_id: UUID, version: int) -> dict[str, Any]:
    """The stored event that brought the document to ``version``."""
    for e in store.events.get(document_id, gt=version - 1, lte=version):
        actor = getattr(e, "actor", None) or {}
        return {"type": type(e).__qualname__,
                "at": e.timestamp,  # type: ignore[attr-defined]
                "username": actor.get("username", "") if isinstance(actor, dict) else ""}
    return {}


@router.get("/audit/documents/{document_id}/replay")
def as_it_was(request: Request, session: Session, c: ContainerDep, document_id: UUID,
              version: str = "", at: str = "") -> Response:
    """Tái hiện / The document as it was at a version or a moment (Vietnam time)."""
    who = _auditor(session)
    state: dict[str, Any] | None = None
    produced: dict[str, Any] = {}
    errors = FormErrors()
    if version or at:
        try:
            wanted, moment = _replay_args(version, at)
            state = replay(c.write.app, who, document_id, version=wanted, at=moment)
            produced = _producing_event(c.write.app, document_id, int(state["version"]))
            if state.get("deadline"):
                state["deadline_moment"] = _moment(state["deadline"])
            for step in state["steps"]:
                step["moment"] = _moment(step["at"])  # shown in Vietnam time
        except InvalidInputError as exc:
            errors = errors_from(exc, {"version_not_found": "version"}, default="at")
        except DomainError as exc:
            if exc.code != "version_not_found":
                raise  # not found, not allowed: the API's answer, as an error page
            errors = errors_from(exc, default="at" if at and not version else "version")
    return render(request, "audit/replay.html", {
        "document_id": document_id, "state": state, "produced": produced,
        "version": version, "at": at, "errors": errors,
        "statuses": INCOMING_STATUSES if state and state["kind"] == "incoming"
        else OUTGOING_STATUSES, "deliveries": DELIVERY_LABELS, "event_types": EVENT_TYPES,
        "as_of": _moment(state["as_of"]) if state else None},
        session=session, status_code=errors.status if errors else 200)


@router.get("/audit/documents/{document_id}/evidence")
def evidence(session: Session, c: ContainerDep, document_id: UUID) -> StreamingResponse:
    """Hồ sơ chứng cứ / The evidence bundle, served (and recorded) as the API serves it."""
    return evidence_bundle(document_id, _auditor(session), c.write.outgoing)


def _period(start: str, end: str) -> tuple[datetime | None, datetime | None]:
    """[from, to] as Vietnam days: from the start of ``start`` to the end of ``end``."""
    def day(text: str, name: str) -> date | None:
        try:
            return date.fromisoformat(text) if text else None
        except ValueError:
            raise InvalidInputError("not a date", field=name) from None
    first, last = day(start, "from"), day(end, "to")
    begin = None if first is None else datetime.combine(first, time(), VIETNAM_TZ)
    stop = None if last is None else datetime.combine(last + timedelta(days=1), time(),
                                                     VIETNAM_TZ)
    return begin, stop


def _filter(agency_id: str, user_id: str, start: str, end: str, types: list[str],
            offset: int, limit: int) -> EventFilter:
    def uuid_of(text: str, name: str) -> UUID | None:
        try:
            return UUID(text) if text else None
        except ValueError:
            raise InvalidInputError("not an id", field=name) from None
    begin, stop = _period(start, end)
    return EventFilter(agency_id=uuid_of(agency_id, "agency_id"),
                       user_id=uuid_of(user_id, "user_id"), start=begin, end=stop,
                       types=tuple(t for t in types if t in EVENT_TYPES), limit=limit,
                       offset=offset)


TypesQuery = Annotated[list[str], Query(alias="type")]


@router.get("/audit/events")
async def events(request: Request, session: Session, c: ContainerDep,
                 agency_id: str = "", user_id: str = "",
                 start: Annotated[str, Query(alias="from")] = "",
                 end: Annotated[str, Query(alias="to")] = "",
                 types: TypesQuery = [],  # noqa: B006 - FastAPI copies defaults
                 offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    """Tra cứu sự kiện / Events of my mandate agencies by agency, user, period and type,
    a page at a time; each query is recorded as the API records it."""
    who = _auditor(session)
    queries = AuditQueries(c.pool)
    scope = await queries.agencies_in_scope(who.user_id, datetime.now(UTC))
    names = await _agency_names(c)
    users: list[tuple[str, str]] = []
    for agency in scope:
        users += [(str(u["id"]), f"{u['full_name']} ({u['username']})")
                  for u in await c.queries.list_users(agency)]
    rows: list[dict[str, Any]] = []
    errors = FormErrors()
    next_url = csv_url = ""
    searched = bool(request.url.query)
    if searched:
        try:
            f = _filter(agency_id, user_id, start, end, types, offset, PAGE_SIZE)
            items = await queries.find_events(who.user_id, f)
        except (InvalidInputError, PermissionDeniedError) as exc:
            errors = errors_from(exc, {"permission_denied": "agency_id"}, default="agency_id")
        else:
            await run_in_threadpool(record_query, c.write.app, who, "events",
                                    f.as_query() | {"format": "page"}, len(items))
            rows = _rows(items, await _names(c, items))
            query = [("agency_id", agency_id), ("user_id", user_id), ("from", start),
                     ("to", end), *[("type", t) for t in types]]
            if len(items) == PAGE_SIZE:
                next_url = "/app/audit/events?" + urlencode(
                    [*query, ("offset", str(offset + PAGE_SIZE))])
            csv_url = "/app/audit/events.csv?" + urlencode([*query, ("offset", str(offset))])
    return render(request, "audit/events.html", {
        "rows": rows, "errors": errors, "searched": searched and not errors,
        "agencies": [("", "")] + [(str(a), names.get(str(a), str(a))) for a in scope],
        "users": [("", ""), *users], "event_types": EVENT_TYPES,
        "form": {"agency_id": agency_id, "user_id": user_id, "from": start, "to": end,
                 "types": types},
        "next_url": next_url, "csv_url": csv_url},
        session=session, status_code=errors.status if errors else 200)


@router.get("/audit/events.csv")
async def events_csv(session: Session, c: ContainerDep, agency_id: str = "",
                     user_id: str = "", start: Annotated[str, Query(alias="from")] = "",
                     end: Annotated[str, Query(alias="to")] = "",
                     types: TypesQuery = [],  # noqa: B006 - FastAPI copies defaults
                     offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    """Xuất CSV / The same events as the page, from its first row on (up to the API's
    page limit), as the API's CSV export; recorded as the API records it."""
    who = _auditor(session)
    f = _filter(agency_id, user_id, start, end, types, offset, MAX_LIMIT)
    items = await AuditQueries(c.pool).find_events(who.user_id, f)
    record = await run_in_threadpool(record_query, c.write.app, who, "events",
                                     f.as_query() | {"format": "csv"}, len(items))
    return Response(content=to_csv(items).encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audit-events.csv"',
                             "X-Audit-Record": str(record)})
