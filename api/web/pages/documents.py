"""Văn bản đi in the pages: the agency's list and the document page (metadata, the PDF,
signatures with the server's verdicts, the timeline, each recipient's state)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, BinaryIO
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from api.deps import ContainerDep, OutgoingDep
from api.routes.outgoing import stream_file
from api.routing import ThreadedRoute
from api.web import pdfview
from api.web.forms import FormErrors, notice_for
from api.web.i18n import N_
from api.web.labels import (
    CAPACITY_LABELS,
    CONFIDENTIALITIES,
    DELIVERY_LABELS,
    DOCUMENT_TYPES,
    OUTGOING_STATUSES,
    URGENCIES,
)
from api.web.pages import signing as signing_pages
from api.web.render import render
from api.web.session import PageSession, Session
from docmgmt.bootstrap import Container
from docmgmt.domain.common import Role
from docmgmt.domain.errors import DocumentNotFoundError, InvalidInputError
from docmgmt.domain.outgoing import Status
from docmgmt.kernel.cursor import decode_cursor, encode_cursor
from docmgmt.kernel.store import HistoryEntry
from docmgmt.outgoing import drafting, sending, validation
from docmgmt.outgoing.context import DOCUMENT_READERS, DOCUMENT_WRITERS, load_document
from signing.port import ReportDict

router = APIRouter(prefix="/app", include_in_schema=False, route_class=ThreadedRoute)

PAGE_SIZE = 25
SIGNED = frozenset({Status.SIGNED, Status.NUMBERED, Status.SEALED, Status.DISPATCHED,
                    Status.RECALLED})
SENT = frozenset({Status.DISPATCHED, Status.RECALLED})

EVENT_LABELS = {
    "Drafted": N_("Drafting"), "RevisionUploaded": N_("New revision"),
    "Commented": N_("Commented"), "AppendixAttached": N_("Appendix attached"),
    "SubmittedForApproval": N_("Submission for approval"), "Approved": N_("Approval"),
    "ReturnedForRevision": N_("Return for revision"), "Signed": N_("Signing"),
    "SignatureRequested": N_("Signature requested"),
    "SignatureProvided": N_("Signature provided"),
    "SignatureRefused": N_("Signature refused"),
    "SignatureExpired": N_("Signature request expired"),
    "SignatureCancelled": N_("Signature request cancelled"),
    "Numbered": N_("Numbering"), "Sealed": N_("Sealing"),
    "Linked": N_("Linked to an issued document"), "Dispatched": N_("Dispatch"),
    "DeliveredTo": N_("Delivered to a recipient"),
    "ReceiptAcknowledged": N_("Registered by a recipient"),
    "DeliveryReturned": N_("Returned by a recipient"), "Recalled": N_("Recall"),
    "RecallConfirmed": N_("Recall confirmed by a recipient"),
    "Viewed": N_("Opened or downloaded"),
}
VERDICT_LABELS = {"valid": N_("Valid"), "invalid": N_("Not valid"),
                  "indeterminate": N_("Undetermined"), "unsigned": N_("Not signed")}
VERDICT_CLASSES = {"valid": "ok", "invalid": "alert", "indeterminate": "warn", "unsigned": ""}
REVOCATION_LABELS = {"good": N_("Not revoked"), "revoked": N_("Revoked"),
                     "not checked": N_("Not checked"), "unknown": N_("Unknown")}
SIGNATURE_FIELDS = {"lanh_dao": N_("Signature of the competent person"),
                    "con_dau": N_("Agency's digital signature (seal)")}
# Which payload keys name a file's digest, and which carry a person's words, per event.
DIGEST_KEYS = ("file", "sha256", "input_sha256")
TEXT_KEYS = ("text", "comment", "note", "reason", "title", "target_label")
VIEWS_SHOWN = 20  # views beyond these are counted, not listed


def _status_filter(status: str | None) -> str | None:
    if not status:
        return None
    if status not in OUTGOING_STATUSES:
        raise InvalidInputError(f"unknown status {status!r}", field="status")
    return status


@router.get("/documents")
async def list_documents(request: Request, session: Session, c: ContainerDep,
                         status: str | None = None, cursor: str | None = None,
                         notice: str | None = None) -> Response:
    """Văn bản đi / The agency's outgoing documents, newest change first, a page at a time."""
    who = session.principal
    who.require(*DOCUMENT_READERS)
    wanted = _status_filter(status)
    items, after = await c.queries.list_documents_after(
        who.agency_id, limit=PAGE_SIZE, cursor=decode_cursor(cursor) if cursor else None,
        status=wanted)
    batch = None
    if wanted == Status.APPROVED.value and Role.LEADER in who.roles and items:
        batch = await run_in_threadpool(signing_pages.batch_context, c.write.outgoing, who)
    next_url = None
    if after is not None:
        next_url = "/app/documents?" + (f"status={wanted}&" if wanted else "") + \
            f"cursor={encode_cursor(after)}"
    return render(request, "outgoing/list.html", {
        "items": items, "status": wanted or "", "next_url": next_url, "first": cursor is None,
        "can_draft": bool(who.roles & set(DOCUMENT_WRITERS)),
        "statuses": OUTGOING_STATUSES, "types": DOCUMENT_TYPES, "urgencies": URGENCIES,
        "confidentialities": CONFIDENTIALITIES, "notice": notice_for(notice), "batch": batch,
    } | signing_pages.panel_context(c, request, session), session=session)


async def _names(c: Container, user_ids: set[str]) -> dict[str, str]:
    """Full names of the users who acted, by id (the username stays if one is gone)."""
    names: dict[str, str] = {}
    for raw in user_ids:
        with contextlib.suppress(ValueError):
            user = await c.queries.get_user(UUID(raw))
            if user is not None:
                names[raw] = user.full_name or user.username
    return names


def _digest(payload: dict[str, Any]) -> str:
    for key in DIGEST_KEYS:
        value = payload.get(key)
        if isinstance(value, dict):
            value = value.get("sha256")
        if isinstance(value, str) and len(value) == 64:
            return value
    return ""


def _words(payload: dict[str, Any]) -> str:
    return next((str(payload[k]) for k in TEXT_KEYS if payload.get(k)), "")


def _timeline(entries: list[HistoryEntry], names: dict[str, str],
              agencies: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    """The history as the page shows it, and how many views were left out of the list."""
    rows: list[dict[str, Any]] = []
    views = [e for e in entries if e.stream == "access_log"]
    hidden = max(0, len(views) - VIEWS_SHOWN)
    shown_views = {id(e) for e in views[-VIEWS_SHOWN:]}
    for e in entries:
        if e.stream == "access_log" and id(e) not in shown_views:
            continue
        kind = e.type.rsplit(".", 1)[-1]
        actor = e.actor or e.payload.get("by") or {}
        user_id = str(actor.get("user_id", ""))
        purpose = str(e.payload.get("purpose", ""))
        rows.append({
            "kind": kind, "label": EVENT_LABELS.get(kind, kind), "time": e.time,
            "who": names.get(user_id) or actor.get("username", ""),
            "digest": _digest(e.payload), "words": _words(e.payload),
            "agency": agencies.get(str(e.payload.get("agency_id", "")), ""),
            "download": purpose.startswith("download"), "view": e.stream == "access_log",
            "revision": e.payload.get("revision"),
        })
    return rows, hidden


def _recipients(entries: list[HistoryEntry], document: Any) -> list[dict[str, Any]]:
    """Each recipient agency's state, with the moments it changed (from the history)."""
    times: dict[str, dict[str, Any]] = {}
    dispatched_at = recalled_at = None
    for e in entries:
        kind = e.type.rsplit(".", 1)[-1]
        if kind == "Dispatched":
            dispatched_at = e.time
        elif kind == "Recalled":
            recalled_at = e.time
        agency = str(e.payload.get("agency_id", ""))
        if agency and e.stream == "document":
            times.setdefault(agency, {})[kind] = e.time
    rows = []
    for agency_id, r in document.recipients.items():
        moments = times.get(agency_id, {})
        rows.append(dict(r) | {
            "dispatched_at": dispatched_at, "delivered_at": moments.get("DeliveredTo"),
            "registered_at": moments.get("ReceiptAcknowledged"),
            "returned_at": moments.get("DeliveryReturned"),
            "recalled_at": recalled_at, "confirmed_at": moments.get("RecallConfirmed"),
        })
    return rows


def _signatures(report: ReportDict, entries: list[HistoryEntry],
                names: dict[str, str]) -> list[dict[str, Any]]:
    """The report's signatures with who signed and the certificate's issuer (from the
    signing events, matched by the certificate's fingerprint)."""
    by_fingerprint: dict[str, dict[str, Any]] = {}
    for e in entries:
        signature = e.payload.get("signature")
        if e.stream != "document" or not isinstance(signature, dict):
            continue
        certificate = signature.get("certificate") or {}
        user_id = str((e.actor or {}).get("user_id", ""))
        by_fingerprint[str(certificate.get("fingerprint_sha256", ""))] = {
            "issuer": certificate.get("issuer", ""), "level": signature.get("level", ""),
            "who": names.get(user_id) or (e.actor or {}).get("username", ""),
            "capacity_line": signature.get("capacity_line", ""),
            "seal": e.type.endswith(".Sealed"),
        }
    rows = []
    for s in report["signatures"]:
        known = by_fingerprint.get(s.get("signer_fingerprint") or "", {})
        rows.append(dict(s) | {"signing_time": _moment(s.get("signing_time")),
                               "timestamp": _moment(s.get("timestamp")),
                               "issuer": known.get("issuer", ""),
                               "who": known.get("who", ""), "seal": known.get("seal", False),
                               "capacity_line": known.get("capacity_line", "")})
    return rows


def _history(out: Any, who: Any, document_id: UUID) -> tuple[list[HistoryEntry], Any]:
    entries = drafting.history(out, who, document_id)
    return entries, sending.sent_document(out.store, who, document_id)


async def _document_or_404(c: Container, session: PageSession,
                           document_id: UUID) -> dict[str, Any]:
    who = session.principal
    who.require(*DOCUMENT_READERS)
    document = await c.queries.get_document(who.agency_id, document_id)
    if document is None:
        raise DocumentNotFoundError(f"OutgoingDocument {document_id} not found")
    return document


async def document_page(request: Request, session: PageSession, c: Container,
                        document_id: UUID, *, errors: FormErrors | None = None,
                        form: dict[str, Any] | None = None, open_action: str | None = None,
                        status_code: int = 200) -> Response:
    """The document page; a step's form refused is shown open, with its errors."""
    from api.web.pages import outgoing_steps  # the steps' module renders back through here

    who = session.principal
    document = await _document_or_404(c, session, document_id)
    out = c.write.outgoing
    entries, aggregate = await run_in_threadpool(_history, out, who, document_id)
    user_ids = {str(e.actor.get("user_id", "")) for e in entries if e.actor}
    user_ids |= {str(e.payload.get("by", {}).get("user_id", "")) for e in entries
                 if isinstance(e.payload.get("by"), dict)}
    user_ids |= {str(document[k]) for k in ("drafted_by", "signed_by") if document.get(k)}
    user_ids |= {str(r["uploaded_by"]) for r in document["revisions"] if r.get("uploaded_by")}
    names = await _names(c, user_ids - {""})
    agencies = {agency_id: r["name"] for agency_id, r in aggregate.recipients.items()}
    timeline, hidden_views = _timeline(entries, names, agencies)
    unit = await _unit_name(c, document)
    signed = next((e.payload for e in reversed(entries) if e.type.endswith(".Signed")), {})
    signature = signed.get("signature") or {}
    actions = outgoing_steps.actions_for(who, document)
    signing_panel = await run_in_threadpool(
        signing_pages.panel, out, who, document_id, aggregate.signature_request,
        "sign" in actions, request.query_params.get("request"))
    return render(request, "outgoing/document.html", {
        "document": document, "actions": actions, "signing": signing_panel,
        "errors": errors or FormErrors(), "form": form or {}, "open_action": open_action,
        "names": names, "unit": unit, "signer_title": signed.get("signer_title", ""),
        "capacity_line": signature.get("capacity_line", ""),
        "timeline": timeline, "hidden_views": hidden_views,
        "recipients": _recipients(entries, aggregate) if aggregate.status in SENT else [],
        "external": list(aggregate.external_recipients) if aggregate.status in SENT else [],
        "recall_reason": aggregate.recall_reason,
        "signed": Status(document["status"]) in SIGNED,
        "statuses": OUTGOING_STATUSES, "types": DOCUMENT_TYPES, "urgencies": URGENCIES,
        "confidentialities": CONFIDENTIALITIES, "capacities": CAPACITY_LABELS,
        "deliveries": DELIVERY_LABELS, "notice": notice_for(request.query_params.get("notice")),
    } | signing_pages.panel_context(c, request, session), session=session,
        status_code=status_code)


async def _unit_name(c: Container, document: dict[str, Any]) -> str:
    unit_id = str(document.get("unit_id") or "")
    if not unit_id:
        return ""
    agency = await c.queries.get_agency(UUID(str(document["agency_id"])))
    units = agency["units"] if agency else []
    return next((str(u["name"]) for u in units if str(u["id"]) == unit_id), "")


def _moment(value: Any) -> datetime | None:
    """An ISO 8601 moment from a report, as a datetime (None when absent or unreadable)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@router.get("/documents/{document_id}")
async def show_document(request: Request, document_id: UUID, session: Session,
                        c: ContainerDep) -> Response:
    """Xem văn bản / The document: its PDF, metadata, signatures, timeline, recipients."""
    return await document_page(request, session, c, document_id)


def _validate(out: Any, who: Any, document_id: UUID) -> tuple[ReportDict, list[HistoryEntry]]:
    report = validation.validate_document(out, who, document_id, False)
    if isinstance(report, str):  # the JSON form was asked for
        raise TypeError("expected a report, not HTML")
    return report, drafting.history(out, who, document_id)


@router.get("/documents/{document_id}/signatures")
async def signatures_panel(request: Request, document_id: UUID, session: Session,
                           c: ContainerDep) -> Response:
    """Kiểm tra chữ ký / The server's check of each signature of the latest PDF.

    The document page loads it after the page itself (it takes the time of a validation);
    opened directly (no script), it is a page of its own.
    """
    document = await _document_or_404(c, session, document_id)
    report, entries = await run_in_threadpool(_validate, c.write.outgoing, session.principal,
                                              document_id)
    user_ids = {str(e.actor.get("user_id", "")) for e in entries if e.actor}
    names = await _names(c, user_ids - {""})
    fragment = request.headers.get("hx-request") == "true"
    response = render(request, "outgoing/signatures.html", {
        "document": document, "report": report, "fragment": fragment,
        "validated_at": _moment(report["validated_at"]),
        "signatures": _signatures(report, entries, names), "verdicts": VERDICT_LABELS,
        "verdict_classes": VERDICT_CLASSES, "revocations": REVOCATION_LABELS,
        "fields": SIGNATURE_FIELDS,
    }, session=session)
    response.headers["Vary"] = "HX-Request"  # the fragment and the page share an address
    return response


# --- files: the same steps as the API's downloads, so each is verified and recorded -------


@router.get("/documents/{document_id}/file")
def download_current(document_id: UUID, session: Session,
                     out: OutgoingDep) -> StreamingResponse:
    """Tải văn bản / The latest PDF (sealed once it is), recorded as the API records it."""
    return stream_file(drafting.download(out, session.principal, document_id, None))


@router.get("/documents/{document_id}/revisions/{revision}/file")
def download_revision(document_id: UUID, revision: int, session: Session,
                      out: OutgoingDep) -> StreamingResponse:
    """Tải bản dự thảo / One revision's PDF; recorded."""
    return stream_file(drafting.download(out, session.principal, document_id, revision))


@router.get("/documents/{document_id}/appendices/{number}/file")
def download_appendix(document_id: UUID, number: int, session: Session,
                      out: OutgoingDep) -> StreamingResponse:
    """Tải phụ lục / An appendix (sealed once the document is); recorded."""
    return stream_file(drafting.download_appendix(out, session.principal, document_id,
                                                  number))


@router.get("/documents/{document_id}/pages/{index}.png")
def page_image(request: Request, document_id: UUID, index: int, session: Session,
               c: ContainerDep, w: Annotated[int, Query(ge=1, le=4000)] = 960) -> Response:
    """Trang văn bản / One page of the latest PDF as an image, for reading in the page."""
    out, who = c.write.outgoing, session.principal

    @contextlib.contextmanager
    def recorded() -> Iterator[tuple[str, BinaryIO]]:
        with drafting.download(out, who, document_id, None) as (_, found, fh):
            yield found.sha256, fh

    def authorised() -> tuple[str, str]:
        found = load_document(out, who, document_id).latest_file
        return found.sha256, found.key

    return pdfview.page_answer(request, c.settings.data_dir / "cache", index, w, recorded,
                               authorised, out.blobs)

