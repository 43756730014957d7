"""The outgoing steps on the document page (draft, revise, comment, submit, approve, return,
number, seal, dispatch, recall, link): their forms and the POSTs that run them (the leader's
signature has its own module, signing.py).

Each POST runs the same step function as its API route, with the same arguments; a refusal
re-renders the document page with the step's form open and the message next to its field.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, BinaryIO
from uuid import UUID

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.deps import ContainerDep
from api.routing import ThreadedRoute
from api.web.errors import error_page
from api.web.forms import (
    FORM,
    FormErrors,
    FormVersion,
    Outcome,
    act,
    errors_from,
    message_for,
    settled,
)
from api.web.labels import CONFIDENTIALITIES, DOCUMENT_TYPES, URGENCIES
from api.web.pages.documents import document_page
from api.web.render import render
from api.web.session import PageSession, Session
from docmgmt.bootstrap import Container
from docmgmt.domain.common import (
    Confidentiality,
    DocumentType,
    Urgency,
    require_text,
)
from docmgmt.domain.errors import DocumentNotFoundError, InvalidInputError
from docmgmt.domain.outgoing import MAX_SUMMARY, Relation, Status
from docmgmt.domain.textsearch import matches
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult
from docmgmt.outgoing import approval, drafting, numbering, sealing, sending
from docmgmt.outgoing.context import DOCUMENT_WRITERS, steps_allowed
from docmgmt.outgoing.drafting import DraftRequest

router = APIRouter(prefix="/app", include_in_schema=False, route_class=ThreadedRoute)

APPENDIX_SLOTS = 3  # appendices on the new-draft form; more from the document page
# Codes that refuse the uploaded file (shown next to the file field).
FILE_CODES = ("not_a_pdf", "malformed_pdf", "encrypted_pdf", "empty_pdf", "file_too_large",
              "active_content", "pdf_page_tree_invalid", "pdf_too_complex", "rejected_file",
              "blob_corrupted")


def actions_for(who: Principal, document: Mapping[str, Any]) -> list[str]:
    """The steps the reader may take on the document now (by role and status)."""
    return steps_allowed(who, Status(str(document["status"])))


def _fields(*names: str, file: str | None = None) -> dict[str, str]:
    """errors_from's map: the form's own field names, and the file codes to ``file``."""
    mapping = {name: name for name in names}
    if file:
        mapping |= dict.fromkeys(FILE_CODES, file)
    return mapping


def _upload(file: UploadFile | None) -> tuple[BinaryIO, str]:
    """The uploaded file as the step takes it; no file chosen is an empty one (the step
    refuses it as it refuses any file that is not a PDF)."""
    if file is None:
        return io.BytesIO(b""), ""
    return file.file, file.filename or ""


def _lines(text: str) -> list[str]:
    """One entry per non-empty line."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _labels() -> dict[str, Any]:
    return {"document_types": DOCUMENT_TYPES, "urgencies": URGENCIES,
            "confidentialities": CONFIDENTIALITIES}


# --- a new draft ---------------------------------------------------------------------


def _new_page(request: Request, session: PageSession, form: dict[str, Any],
              errors: FormErrors | None = None) -> Response:
    errors = errors or FormErrors()
    return render(request, "outgoing/new.html",
                  {"form": form, "errors": errors, "slots": range(1, APPENDIX_SLOTS + 1)}
                  | _labels(), session=session, status_code=errors.status if errors else 200)


@router.get("/documents/new")
async def new_draft_form(request: Request, session: Session) -> Response:
    """Soạn thảo văn bản / The form for a new draft (officials, leaders)."""
    session.principal.require(*DOCUMENT_WRITERS)
    return _new_page(request, session, {"doc_type": DocumentType.CONG_VAN.value,
                                        "urgency": Urgency.NORMAL.value,
                                        "confidentiality": Confidentiality.NORMAL.value})


@router.post("/documents/new")
async def create_draft(
    request: Request, session: Session, c: ContainerDep,
    summary: Annotated[str, Form()] = "",
    doc_type: Annotated[DocumentType, Form()] = DocumentType.CONG_VAN,
    urgency: Annotated[Urgency, Form()] = Urgency.NORMAL,
    confidentiality: Annotated[Confidentiality, Form()] = Confidentiality.NORMAL,
    legal_normative: Annotated[bool, Form()] = False,
    file: Annotated[UploadFile | None, File()] = None,
    appendix_1_title: Annotated[str, Form()] = "",
    appendix_1_file: Annotated[UploadFile | None, File()] = None,
    appendix_2_title: Annotated[str, Form()] = "",
    appendix_2_file: Annotated[UploadFile | None, File()] = None,
    appendix_3_title: Annotated[str, Form()] = "",
    appendix_3_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Create a draft from a PDF, then attach its appendices (each as the API does)."""
    who = session.principal
    appendices = [(f"appendix_{i}", title, upload) for i, (title, upload) in enumerate(
        [(appendix_1_title, appendix_1_file), (appendix_2_title, appendix_2_file),
         (appendix_3_title, appendix_3_file)], start=1)
        if title.strip() or (upload is not None and upload.filename)]
    form = {"summary": summary, "doc_type": doc_type.value, "urgency": urgency.value,
            "confidentiality": confidentiality.value, "legal_normative": legal_normative}
    form |= {f"{slot}_title": title for slot, title, _ in appendices}
    meta = DraftRequest(summary=summary, doc_type=doc_type, urgency=urgency,
                        confidentiality=confidentiality, legal_normative=legal_normative)
    for slot, title, upload in appendices:
        # An appendix needs its title (the rule attach_appendix applies) and a file, checked
        # before the draft exists so that a refused form records nothing.
        try:
            require_text("title", title, max_len=MAX_SUMMARY)
        except InvalidInputError as exc:
            return _new_page(request, session, form, errors_from(exc, default=f"{slot}_title"))
        if upload is None or not upload.filename:
            return _new_page(request, session, form, FormErrors(
                {f"{slot}_file": message_for("form_field_missing")}, status=422))
    stream, name = _upload(file)
    names = ["summary", *(f"{slot}_title" for slot, _, _ in appendices)]
    drafted: Outcome[CommandResult] = await run_in_threadpool(
        act, request, lambda: drafting.create_draft(c.write.outgoing, who, meta, stream, name),
        _fields(*names, file="file"))
    if drafted.result is None:
        return _new_page(request, session, form, drafted.errors)
    document_id, version = drafted.result.id, drafted.result.version
    position = drafted.result.position
    for _slot, title, upload in appendices:
        # The draft exists now: a refused appendix is shown on its page, with the
        # appendix form open, and the ones before it stay attached.
        stream, name = _upload(upload)
        attached: Outcome[CommandResult] = await run_in_threadpool(
            act, request, _attach(c, who, document_id, stream, name, title, version),
            _fields("title", file="appendix_file"))
        if attached.result is None:
            await run_in_threadpool(c.wait_for_view, position)
            return await document_page(
                request, session, c, document_id, errors=attached.errors,
                form={"title": title}, open_action="appendix",
                status_code=attached.errors.status)
        version, position = attached.result.version, attached.result.position
    return await settled(c, position, f"/app/documents/{document_id}", "created")


def _attach(c: Container, who: Principal, document_id: UUID, stream: BinaryIO, name: str,
            title: str, version: int) -> Callable[[], CommandResult]:
    return lambda: drafting.attach_appendix(c.write.outgoing, who, document_id, stream, name,
                                            title, version)


# --- the steps on a document ----------------------------------------------------------

# A role or agency a step refuses outright answers the refusal page (404 as the API answers
# for another agency's document), never the form again.
REFUSED_OUTRIGHT = {403: "permission_denied", 404: "document_not_found"}


def _refusal_page(request: Request, errors: FormErrors) -> Response:
    return error_page(request, errors.status, REFUSED_OUTRIGHT[errors.status], errors.detail)


async def _step(request: Request, session: PageSession, c: Container, document_id: UUID,
                action: str, run: Callable[[], CommandResult], form: dict[str, Any],
                notice: str, fields: Mapping[str, str] | None = None,
                default: str = FORM) -> Response:
    """Run a step; on success wait for the views and go back to the document, on refusal
    show the document again with this step's form open and its errors."""
    outcome: Outcome[CommandResult] = await run_in_threadpool(act, request, run, fields,
                                                              default)
    if outcome.result is None:
        errors = outcome.errors
        if errors.status in REFUSED_OUTRIGHT:
            return _refusal_page(request, errors)
        return await document_page(request, session, c, document_id, errors=errors,
                                   form=form, open_action=action, status_code=errors.status)
    return await settled(c, outcome.result.position, f"/app/documents/{document_id}", notice)


Text = Annotated[str, Form()]


@router.post("/documents/{document_id}/revise")
async def revise(document_id: UUID, request: Request, session: Session, c: ContainerDep,
                 file: Annotated[UploadFile | None, File()] = None, note: Text = "",
                 expected_version: FormVersion = None) -> Response:
    """Tải lên bản sửa / Upload a new PDF revision of a draft."""
    who = session.principal
    stream, name = _upload(file)
    return await _step(request, session, c, document_id, "revise",
                       lambda: drafting.upload_revision(c.write.outgoing, who, document_id,
                                                        stream, name, note, expected_version),
                       {"note": note}, "revised", _fields("note", file="file"))


@router.post("/documents/{document_id}/appendix")
async def appendix(document_id: UUID, request: Request, session: Session, c: ContainerDep,
                   appendix_file: Annotated[UploadFile | None, File()] = None,
                   title: Text = "", expected_version: FormVersion = None) -> Response:
    """Đính kèm phụ lục / Attach an appendix PDF to a draft."""
    who = session.principal
    stream, name = _upload(appendix_file)
    return await _step(request, session, c, document_id, "appendix",
                       lambda: drafting.attach_appendix(c.write.outgoing, who, document_id,
                                                        stream, name, title, expected_version),
                       {"title": title}, "appendix_attached",
                       _fields("title", file="appendix_file"))


async def _issued_id(c: Container, who: Principal, target: str) -> UUID | None:
    """The document a link names: its id, or its number label (số và ký hiệu)."""
    text = target.strip()
    try:
        return UUID(text)
    except ValueError:
        pass
    found = await c.pool.fetchval(
        "SELECT id FROM docmgmt.documents_view WHERE agency_id = $1 AND number_label = $2"
        " ORDER BY issued_date DESC LIMIT 1", who.agency_id, text) if text else None
    return None if found is None else UUID(str(found))


@router.post("/documents/{document_id}/link")
async def link(document_id: UUID, request: Request, session: Session, c: ContainerDep,
               relation: Annotated[Relation, Form()] = Relation.REPLACES, target: Text = "",
               expected_version: FormVersion = None) -> Response:
    """Thay thế / đính chính: the draft replaces or corrects an issued document."""
    who = session.principal
    form = {"relation": relation.value, "target": target}
    target_id = await _issued_id(c, who, target)
    if target_id is None:
        errors = FormErrors({"target": message_for("document_not_found")}, status=422)
        return await document_page(request, session, c, document_id, errors=errors,
                                   form=form, open_action="link", status_code=422)
    return await _step(request, session, c, document_id, "link",
                       lambda: sending.link(c.write.app, who, document_id, relation,
                                            target_id, expected_version),
                       form, "linked", default="target")


# --- dispatch: the recipient picker ----------------------------------------------------

PICKER_LIMIT = 100  # agencies listed at once; the filter narrows a longer list


async def _agencies(c: Container, who: Principal, query: str,
                    chosen: list[str]) -> tuple[list[dict[str, Any]], bool]:
    """The agencies of the system the filter matches (by name or code, with or without
    diacritics), the chosen ones first; and whether more matched than are listed."""
    every = [a for a in await c.queries.list_agencies() if a["id"] != who.agency_id]
    picked = [a for a in every if a["code"] in chosen]
    rest = [a for a in every if a["code"] not in chosen
            and (not query.strip() or matches(query, f"{a['code']} {a['name']}"))]
    return picked + rest[:PICKER_LIMIT], len(rest) > PICKER_LIMIT


async def _dispatch_page(request: Request, session: PageSession, c: Container,
                         document_id: UUID, form: dict[str, Any],
                         errors: FormErrors | None = None) -> Response:
    who = session.principal
    document = await c.queries.get_document(who.agency_id, document_id)
    if document is None:
        raise DocumentNotFoundError(f"OutgoingDocument {document_id} not found")
    agencies, more = await _agencies(c, who, form.get("q", ""), form.get("recipients", []))
    errors = errors or FormErrors()
    context = {"document": document, "agencies": agencies, "more": more, "form": form,
               "errors": errors, "allowed": "dispatch" in actions_for(who, document)}
    if request.headers.get("hx-request") and not errors:
        return render(request, "outgoing/_recipients.html", context, session=session)
    return render(request, "outgoing/dispatch.html", context, session=session,
                  status_code=errors.status if errors else 200)


@router.get("/documents/{document_id}/dispatch")
async def dispatch_form(document_id: UUID, request: Request, session: Session,
                        c: ContainerDep, q: str = "") -> Response:
    """Phát hành / The recipient picker (filtered by ?q=, without script; htmx updates
    only the list)."""
    chosen = list(request.query_params.getlist("recipients"))
    return await _dispatch_page(request, session, c, document_id,
                                {"q": q, "recipients": chosen, "external": "", "note": ""})


@router.post("/documents/{document_id}/dispatch")
async def dispatch(document_id: UUID, request: Request, session: Session, c: ContainerDep,
                   recipients: Annotated[list[str] | None, Form()] = None,
                   external: Text = "", note: Text = "",
                   expected_version: FormVersion = None) -> Response:
    """Phát hành / The clerk issues the sealed document to its recipients."""
    who = session.principal
    codes = list(recipients or [])
    form = {"q": "", "recipients": codes, "external": external, "note": note}
    outcome: Outcome[CommandResult] = await run_in_threadpool(
        act, request, lambda: sending.dispatch(c.write.app, who, document_id, codes,
                                               _lines(external), note, expected_version),
        _fields("recipients", "external", "note"), "recipients")
    if outcome.result is None:
        if outcome.errors.status in REFUSED_OUTRIGHT:
            return _refusal_page(request, outcome.errors)
        return await _dispatch_page(request, session, c, document_id, form, outcome.errors)
    return await settled(c, outcome.result.position, f"/app/documents/{document_id}",
                         "dispatched")


@dataclass(frozen=True)
class PlainStep:
    """A step that takes at most one text field besides the version."""

    run: Callable[..., CommandResult]
    notice: str
    field: str | None = None  # the form's text field (None: the version only)
    required: bool = False  # a refusal of a required text belongs next to it
    on_store: bool = False  # the sender's steps take the event store, not the stage


PLAIN_STEPS: dict[str, PlainStep] = {
    "comment": PlainStep(drafting.comment, "commented", "text", required=True),
    "submit": PlainStep(approval.submit, "submitted", "submit_note"),
    "approve": PlainStep(approval.approve, "approved", "approve_comment"),
    "return": PlainStep(approval.return_for_revision, "returned", "comment", required=True),
    "number": PlainStep(numbering.number, "numbered"),
    "seal": PlainStep(sealing.seal, "sealed"),
    "recall": PlainStep(sending.recall, "recalled", "reason", required=True, on_store=True),
}


def _plain_route(step: str, plain: PlainStep) -> Callable[..., Awaitable[Response]]:
    async def run_plain_step(document_id: UUID, request: Request, session: Session,
                             c: ContainerDep, expected_version: FormVersion = None) -> Response:
        who = session.principal
        context = c.write.app if plain.on_store else c.write.outgoing
        typed = (await request.form()).get(plain.field) if plain.field else None
        text = typed if isinstance(typed, str) else ""
        args = (text, expected_version) if plain.field else (expected_version,)
        return await _step(request, session, c, document_id, step,
                           lambda: plain.run(context, who, document_id, *args),
                           {plain.field: text} if plain.field else {}, plain.notice,
                           _fields(plain.field) if plain.field else None,
                           default=plain.field if plain.field and plain.required else FORM)

    return run_plain_step


# Góp ý, trình duyệt, phê duyệt, trả lại, cấp số, đóng dấu, thu hồi: each at its own
# address, run as its API route runs it.
for _name, _plain in PLAIN_STEPS.items():
    router.add_api_route(f"/documents/{{document_id}}/{_name}", _plain_route(_name, _plain),
                         methods=["POST"], name=f"outgoing_{_name}")
