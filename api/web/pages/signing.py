"""The leader's signature in the pages: the signing panel of an approved document (the
agency's signing service, the token on the leader's PC through the local agent, or a signed
PDF uploaded), a pending request followed to its end, batches from the "to sign" list, and
the certificates registered to a user.

Every POST runs the same step as its API route (docmgmt/outgoing/signing.py and
certificates.py). The agent's part runs in the leader's browser (static/signing.js): it calls
these addresses with the form's CSRF token in a header and reads JSON back.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Protocol, TypeVar
from uuid import UUID

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response, StreamingResponse

from api.deps import ContainerDep, OutgoingDep
from api.errors import public_detail, status_for
from api.routes.outgoing import stream_file
from api.routing import ThreadedRoute
from api.web.errors import error_page
from api.web.forms import (
    FORM,
    FormErrors,
    FormVersion,
    Outcome,
    act,
    message_for,
    notice_for,
    refused_text,
    see_other,
    settled,
)
from api.web.i18n import N_, _
from api.web.labels import CAPACITY_LABELS
from api.web.render import render
from api.web.session import PageSession, Session
from docmgmt.bootstrap import Container
from docmgmt.domain.common import Role, SigningCapacity
from docmgmt.domain.errors import DomainError, InvalidInputError
from docmgmt.kernel.principal import Principal
from docmgmt.outgoing import certificates, signing
from docmgmt.outgoing.certificates import MAX_SIGNATURE_BYTES, decode_base64
from docmgmt.outgoing.context import OutgoingContext
from docmgmt.outgoing.signing import (
    BatchDocument,
    BatchItem,
    BatchResult,
    BatchSignature,
    Method,
    RequestStatus,
    SignatureRequestState,
)
from signing.port import AgencyIdentity
from storage import StorageError

router = APIRouter(prefix="/app", include_in_schema=False, route_class=ThreadedRoute)

T = TypeVar("T")
MAX_CERTIFICATE_FILE = 64 * 1024

METHOD_LABELS = {
    "provider": N_("Sign through the signing service"),
    "agent": N_("Sign with the USB token on my computer"),
    "upload": N_("Upload a file I signed"),
}
STATUS_LABELS = {
    "pending": N_("Waiting for the signature"), "signed": N_("Signed"),
    "refused": N_("Refused"), "expired": N_("Expired"), "cancelled": N_("Cancelled"),
}
REGISTRATION_LABELS = {
    "possession": N_("Registered by me (the key signed a challenge)"),
    "admin": N_("Registered by the administrator"),
    "development": N_("Development certificate (registered automatically)"),
}
# What signing.js tells the leader, by key (the page carries them translated).
SCRIPT_MESSAGES = {
    "agent_down": N_("The signing agent does not answer at %(url)s. Start it on this "
                     "computer with the token plugged in (docmgmt agent --origin %(origin)s), "
                     "then try again, or choose another way of signing."),
    "register_label": N_("Registration of your certificate with docmgmt"),
    "token_absent": N_("The token is not plugged in. Plug it in and try again."),
    "no_certificate": N_("None of the certificates on the token is registered to you. "
                         "Register one under “My certificates” first."),
    "choose_certificate": N_("Choose the certificate to sign with."),
    "loading": N_("Asking the signing agent for the token's certificates…"),
    "preparing": N_("Preparing the document for signing…"),
    "confirm": N_("Type your PIN in the agent's window. If it did not open, open it with the "
                  "link below."),
    "sending": N_("Sending the signature to the server…"),
    "refused": N_("You refused to sign in the agent's window. Nothing was signed."),
    "failed": N_("The token could not sign. Nothing was signed."),
    "expired": N_("The agent's request expired. Nothing was signed; start again."),
    "server": N_("The server refused the request:"),
    "nothing_chosen": N_("Choose at least one document."),
    "not_registered": N_("not registered to you"),
}


class _Stepped(Protocol):
    @property
    def position(self) -> int | None: ...


S = TypeVar("S", bound=_Stepped)


def _wants_json(request: Request) -> bool:
    """A call from signing.js (fetch, JSON back) rather than a form the browser sent."""
    return "application/json" in request.headers.get("accept", "")


def _json_error(exc: Exception) -> JSONResponse:
    code = str(getattr(exc, "code", "internal_error"))
    status = status_for(exc)
    detail = public_detail(exc, status) if isinstance(exc, DomainError | StorageError) else ""
    return JSONResponse({"error": code, "message": message_for(code), "detail": detail},
                        status_code=status)


async def _json_step(request: Request, c: Container, run: Callable[[], S],
                     answer: Callable[[S], Any]) -> JSONResponse:
    """Run a step for signing.js: its JSON once the views have it, or the refusal's code,
    the reader's message and the system's detail."""
    refused = refused_text(request)
    if refused is not None:
        return _json_error(refused)
    try:
        result = await run_in_threadpool(run)
    except (DomainError, StorageError) as exc:
        return _json_error(exc)
    await run_in_threadpool(c.wait_for_view, result.position)
    return JSONResponse(answer(result))


def _agency(ctx: OutgoingContext, agency_id: UUID) -> AgencyIdentity:
    agency = ctx.store.get_agency(agency_id)
    return AgencyIdentity(agency.id, agency.code, agency.name)


def methods(ctx: OutgoingContext, agency_id: UUID) -> dict[str, Any]:
    """The ways of signing open to the agency's leaders: the provider (its name, and whether
    it is the development one) when one is configured; the agent and upload always."""
    provider = ctx.providers(_agency(ctx, agency_id))
    return {"provider": provider is not None,
            "provider_name": provider.name if provider is not None else "",
            "development": bool(provider is not None and provider.development)}


def shown(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Registered certificates with their moments as datetimes, for the templates."""
    return [c | {"valid_from": _moment(c.get("not_before")),
                 "valid_to": _moment(c.get("not_after")),
                 "registered": _moment(c.get("registered_at"))} for c in listed]


def _registered(ctx: OutgoingContext, who: Principal) -> list[dict[str, Any]]:
    return certificates.my_certificates(ctx, who) if Role.LEADER in who.roles else []


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def panel(ctx: OutgoingContext, who: Principal, document_id: UUID,
          pending: Mapping[str, Any] | None, signable: bool,
          ended_request: str | None) -> dict[str, Any]:
    """What the document page's signing panel shows (read in a worker thread): the ways of
    signing and the reader's certificates, the pending request, and the refusal of a
    request that has just ended (``?request=`` after a wait)."""
    out: dict[str, Any] = {"signable": signable, "pending": None, "ended": None,
                           "ended_errors": FormErrors()}
    if pending is not None:
        out["pending"] = dict(pending) | {
            "mine": pending.get("signer_id") == str(who.user_id),
            "expires": _moment(pending.get("expires_at"))}
    if signable:
        out |= methods(ctx, who.agency_id) | {
            "certificates": _registered(ctx, who),
            "capacities": list(CAPACITY_LABELS.items())}
    if ended_request and pending is None:
        try:
            state = signing.request_state(ctx, who, document_id, ended_request)
        except DomainError:
            state = None
        if state is not None and state.status in (RequestStatus.REFUSED,
                                                  RequestStatus.EXPIRED):
            reason = state.reason or ("signature_request_expired"
                                      if state.status is RequestStatus.EXPIRED else "")
            out["ended_errors"] = FormErrors({FORM: message_for(reason)}, state.detail)
    return out


def panel_context(c: Container, request: Request, session: PageSession) -> dict[str, Any]:
    """The page-wide values the signing templates need (the agent's address, messages)."""
    values = {"url": c.settings.agent_url,
              "origin": f"{request.url.scheme}://{request.url.netloc}"}
    return {"agent_url": c.settings.agent_url, "method_labels": METHOD_LABELS,
            "request_labels": STATUS_LABELS,
            "signing_messages": {key: _(text) % values
                                 for key, text in SCRIPT_MESSAGES.items()}}


# --- one document ----------------------------------------------------------------------------


def _document_path(document_id: UUID, **query: str) -> str:
    path = f"/app/documents/{document_id}"
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


async def _document_again(request: Request, session: PageSession, c: Container,
                          document_id: UUID, errors: FormErrors,
                          form: dict[str, Any]) -> Response:
    from api.web.pages.documents import document_page

    if errors.status in (403, 404):
        code = {403: "permission_denied", 404: "document_not_found"}[errors.status]
        return error_page(request, errors.status, code, errors.detail)
    return await document_page(request, session, c, document_id, errors=errors, form=form,
                               open_action="sign", status_code=errors.status)


def _ended_errors(state: SignatureRequestState) -> FormErrors:
    reason = state.reason or "signature_request_expired"
    return FormErrors({FORM: message_for(reason)}, state.detail, 422)


Text = Annotated[str, Form()]


@router.post("/documents/{document_id}/signature-requests")
async def request_signature(
    document_id: UUID, request: Request, session: Session, c: ContainerDep,
    method: Annotated[Method, Form()] = Method.PROVIDER,
    capacity: Annotated[SigningCapacity, Form()] = SigningCapacity.OWN,
    principal_title: Text = "", certificate_fingerprint: Text = "",
    expected_version: FormVersion = None,
) -> Response:
    """Ký số / Open a signature request: the service signs (or waits for the signer's
    confirmation), the agent gets the digest (JSON), or the upload waits for the file."""
    who = session.principal

    def run() -> SignatureRequestState:
        return signing.request_signature(
            c.write.outgoing, who, document_id, method=method, capacity=capacity,
            principal_title=principal_title,
            certificate_fingerprint=certificate_fingerprint.strip() or None,
            expected_version=expected_version)

    if _wants_json(request):
        return await _json_step(request, c, run, lambda s: s.as_json())
    form = {"capacity": capacity.value, "principal_title": principal_title,
            "method": method.value}
    outcome: Outcome[SignatureRequestState] = await run_in_threadpool(
        act, request, run, {"principal_title": "principal_title"})
    state = outcome.result
    if state is None:
        return await _document_again(request, session, c, document_id, outcome.errors, form)
    if state.status is RequestStatus.SIGNED:
        return await settled(c, state.position, _document_path(document_id), "signed")
    if state.status is RequestStatus.PENDING:
        return await settled(c, state.position, _document_path(document_id),
                             "signature_requested")
    await run_in_threadpool(c.wait_for_view, state.position)
    return await _document_again(request, session, c, document_id, _ended_errors(state), form)


@router.get("/documents/{document_id}/signature-requests/{request_id}")
async def request_state(document_id: UUID, request_id: UUID, request: Request,
                        session: Session, c: ContainerDep) -> Response:
    """Trạng thái yêu cầu ký / Where a request stands (a waiting service is asked again).

    htmx polls it while the signer confirms at the service: the fragment while it waits,
    then the document page (HX-Redirect). Opened without script, it goes back to the page.
    """
    who = session.principal

    def run() -> SignatureRequestState:
        return signing.request_state(c.write.outgoing, who, document_id, str(request_id))

    if _wants_json(request):
        return await _json_step(request, c, run, lambda s: s.as_json())
    state = await run_in_threadpool(run)
    await run_in_threadpool(c.wait_for_view, state.position)
    if state.status is RequestStatus.SIGNED:
        target = _document_path(document_id, notice="signed")
    elif state.status is RequestStatus.PENDING:
        target = _document_path(document_id)
    else:
        target = _document_path(document_id, request=str(request_id))
    if request.headers.get("hx-request") == "true":
        response: Response
        if state.status is RequestStatus.PENDING:
            response = render(request, "signing/_waiting.html", {
                "wait_url": request.url.path}, session=session)
        else:
            # htmx follows HX-Redirect: the document page, with the outcome.
            response = Response(headers={"HX-Redirect": target})
        response.headers["Vary"] = "HX-Request"
        return response
    return see_other(target)


@router.post("/documents/{document_id}/signature-requests/{request_id}/signature")
async def answer_signature(document_id: UUID, request_id: UUID, request: Request,
                           session: Session, c: ContainerDep,
                           signature: Text = "") -> Response:
    """Gửi chữ ký / The signature value the agent made (signing.js; JSON back)."""
    who = session.principal

    def run() -> SignatureRequestState:
        return signing.answer_signature(c.write.outgoing, who, document_id, str(request_id),
                                        decode_base64(signature, "signature", MAX_SIGNATURE_BYTES))

    return await _json_step(request, c, run, lambda s: s.as_json())


@router.get("/documents/{document_id}/signature-requests/{request_id}/pdf")
def prepared_pdf(document_id: UUID, request_id: UUID, session: Session,
                 out: OutgoingDep) -> StreamingResponse:
    """Tải tệp để ký / The prepared PDF for the leader's own software; recorded."""
    return stream_file(signing.prepared_pdf(out, session.principal, document_id,
                                            str(request_id)))


@router.post("/documents/{document_id}/signature-requests/{request_id}/signed-pdf")
async def upload_signed(document_id: UUID, request_id: UUID, request: Request,
                        session: Session, c: ContainerDep,
                        file: Annotated[UploadFile | None, File()] = None) -> Response:
    """Nộp tệp đã ký / The whole signed PDF: accepted only as the prepared file plus exactly
    one valid signature by the leader."""
    who = session.principal
    stream = file.file if file is not None else None

    def run() -> SignatureRequestState:
        if stream is None:
            raise InvalidInputError("choose the signed PDF", field="signed_file")
        return signing.upload_signed(c.write.outgoing, who, document_id, str(request_id),
                                     stream)

    outcome: Outcome[SignatureRequestState] = await run_in_threadpool(
        act, request, run, {"signed_pdf_refused": "signed_file", "not_a_pdf": "signed_file",
                            "malformed_pdf": "signed_file", "file_too_large": "signed_file",
                            "signed_file": "signed_file"}, "signed_file")
    if outcome.result is None:
        return await _document_again(request, session, c, document_id, outcome.errors, {})
    return await settled(c, outcome.result.position, _document_path(document_id), "signed")


@router.post("/documents/{document_id}/signature-requests/{request_id}/cancel")
async def cancel_request(document_id: UUID, request_id: UUID, request: Request,
                         session: Session, c: ContainerDep) -> Response:
    """Hủy yêu cầu ký / The signer withdraws their pending request."""
    who = session.principal

    def run() -> SignatureRequestState:
        return signing.cancel_request(c.write.outgoing, who, document_id, str(request_id))

    if _wants_json(request):
        return await _json_step(request, c, run, lambda s: s.as_json())
    outcome: Outcome[SignatureRequestState] = await run_in_threadpool(act, request, run)
    if outcome.result is None:
        return await _document_again(request, session, c, document_id, outcome.errors, {})
    return await settled(c, outcome.result.position, _document_path(document_id),
                         "signature_cancelled")


# --- batches ---------------------------------------------------------------------------------


def _batch_documents(chosen: list[str]) -> list[BatchDocument]:
    """The list's checkboxes (``id:version``) as the step takes them."""
    documents = []
    for value in chosen:
        raw_id, _sep, raw_version = value.partition(":")
        try:
            documents.append(BatchDocument(UUID(raw_id),
                                           int(raw_version) if raw_version else None))
        except ValueError:
            raise InvalidInputError("a chosen document is not valid", field="documents") \
                from None
    return documents


async def _batch_page(request: Request, session: PageSession, c: Container,
                      result: BatchResult | None, skipped: list[BatchItem],
                      errors: FormErrors | None = None) -> Response:
    who = session.principal
    items = list(result.items if result else ()) + skipped
    rows = []
    for item in items:
        document = await c.queries.get_document(who.agency_id, item.document_id)
        state = item.state
        if item.error_code:
            outcome, why = "error", message_for(item.error_code)
        elif state is not None and state.status is RequestStatus.REFUSED:
            outcome, why = "refused", message_for(state.reason)
        elif state is not None and state.status is RequestStatus.EXPIRED:
            outcome, why = "refused", message_for("signature_request_expired")
        elif state is not None:
            outcome, why = state.status.value, ""
        else:
            outcome, why = "error", message_for("domain_error")
        rows.append({"id": item.document_id, "outcome": outcome, "why": why,
                     "detail": item.error_detail or (state.detail if state else ""),
                     "summary": document["summary"] if document else str(item.document_id)})
    errors = errors or FormErrors()
    return render(request, "signing/batch.html", {
        "rows": rows, "errors": errors, "batch_id": result.batch_id if result else "",
        "signed": sum(r["outcome"] == "signed" for r in rows),
    }, session=session, status_code=errors.status if errors else 200)


@router.post("/signature-batches")
async def request_batch(
    request: Request, session: Session, c: ContainerDep,
    documents: Annotated[list[str] | None, Form()] = None,
    method: Annotated[Method, Form()] = Method.PROVIDER,
    capacity: Annotated[SigningCapacity, Form()] = SigningCapacity.OWN,
    principal_title: Text = "", certificate_fingerprint: Text = "",
) -> Response:
    """Ký số hàng loạt / Sign the chosen approved documents with one confirmation: the
    result of each (the service), or the digests for the agent (JSON)."""
    who = session.principal

    def run() -> BatchResult:
        return signing.request_batch(
            c.write.outgoing, who, _batch_documents(list(documents or [])), method=method,
            capacity=capacity, principal_title=principal_title,
            certificate_fingerprint=certificate_fingerprint.strip() or None)

    if _wants_json(request):
        return await _json_step(request, c, run, lambda r: r.as_json())
    outcome: Outcome[BatchResult] = await run_in_threadpool(act, request, run)
    if outcome.result is None:
        if outcome.errors.status in (403, 404):
            return error_page(request, outcome.errors.status, "permission_denied"
                              if outcome.errors.status == 403 else "document_not_found",
                              outcome.errors.detail)
        return await _batch_page(request, session, c, None, [], outcome.errors)
    await run_in_threadpool(c.wait_for_view, outcome.result.position)
    return await _batch_page(request, session, c, outcome.result, [])


def _signatures(items: str) -> list[BatchSignature]:
    try:
        raw = json.loads(items or "[]")
        return [BatchSignature(UUID(str(i["document_id"])), str(i["request_id"]),
                               decode_base64(str(i["signature"]), "signature",
                                             MAX_SIGNATURE_BYTES)) for i in raw]
    except (ValueError, KeyError, TypeError):
        raise InvalidInputError("the signatures are not readable", field="items") from None


def _skipped(text: str) -> list[BatchItem]:
    """Documents the batch could not open, as signing.js passes them on (codes only: the
    page words them itself)."""
    try:
        raw = json.loads(text or "[]")
        return [BatchItem(UUID(str(i["document_id"])), error_code=str(i["code"])[:64])
                for i in raw[:signing.MAX_BATCH]]
    except (ValueError, KeyError, TypeError):
        return []


@router.post("/signature-batches/{batch_id}/signatures")
async def answer_batch(batch_id: UUID, request: Request, session: Session, c: ContainerDep,
                       items: Text = "", skipped: Text = "") -> Response:
    """Gửi chữ ký hàng loạt / The agent's signatures for a batch, each checked on its own;
    the result page lists each document's outcome."""
    who = session.principal
    outcome: Outcome[BatchResult] = await run_in_threadpool(
        act, request, lambda: signing.answer_batch(c.write.outgoing, who, str(batch_id),
                                                   _signatures(items)))
    if outcome.result is None:
        return await _batch_page(request, session, c, None, _skipped(skipped), outcome.errors)
    await run_in_threadpool(c.wait_for_view, outcome.result.position)
    return await _batch_page(request, session, c, outcome.result, _skipped(skipped))


def batch_context(ctx: OutgoingContext, who: Principal) -> dict[str, Any]:
    """What the "to sign" list needs for its batch form (read in a worker thread)."""
    return methods(ctx, who.agency_id) | {"certificates": _registered(ctx, who),
                                          "capacities": list(CAPACITY_LABELS.items())}


# --- certificates ---------------------------------------------------------------------------


@router.get("/certificates")
async def my_certificates(request: Request, session: Session, c: ContainerDep,
                          notice: str | None = None) -> Response:
    """Chứng thư số của tôi / The certificates registered to me, and registering mine."""
    who = session.principal
    listed = await run_in_threadpool(certificates.my_certificates, c.write.outgoing, who)
    return _certificates_page(request, session, c, listed, notice_for(notice))


def _certificates_page(request: Request, session: PageSession, c: Container,
                       listed: list[dict[str, Any]], notice: str = "",
                       errors: FormErrors | None = None, removing: str = "") -> Response:
    errors = errors or FormErrors()
    return render(request, "signing/certificates.html", {
        "certificates": shown(listed), "registrations": REGISTRATION_LABELS, "notice": notice,
        "errors": errors, "removing": removing,
        "can_register": Role.LEADER in session.principal.roles,
    } | panel_context(c, request, session), session=session,
        status_code=errors.status if errors else 200)


@router.post("/certificates/challenge")
async def challenge(request: Request, session: Session, c: ContainerDep) -> Response:
    """Chuỗi thử thách / A challenge for the key to sign (signing.js; JSON back)."""
    try:
        issued = await run_in_threadpool(certificates.issue_challenge, c.write.outgoing,
                                         session.principal)
    except DomainError as exc:
        return _json_error(exc)
    return JSONResponse(issued)


@router.post("/certificates")
async def register_mine(request: Request, session: Session, c: ContainerDep,
                        certificate: Text = "", chain: Text = "[]", challenge: Text = "",
                        signature: Text = "") -> Response:
    """Đăng ký chứng thư số / Register my certificate: its key signed the challenge
    (signing.js, through the agent; JSON back)."""
    who = session.principal
    try:
        chain_list = [str(c) for c in json.loads(chain or "[]")][:8]
    except (ValueError, TypeError):
        chain_list = []
    return await _json_step(
        request, c, lambda: certificates.register_own(
            c.write.outgoing, who, certificate=certificate, chain=chain_list,
            challenge=challenge, signature=signature),
        lambda r: {"version": r.version, "redirect": "/app/certificates?notice="
                   "certificate_registered"})


@router.post("/certificates/{fingerprint}/remove")
async def remove_mine(fingerprint: str, request: Request, session: Session, c: ContainerDep,
                      reason: Text = "") -> Response:
    """Thu hồi đăng ký / Stop one of my certificates from signing."""
    who = session.principal
    outcome = await run_in_threadpool(
        act, request, lambda: certificates.remove(c.write.outgoing, who, who.user_id,
                                                  fingerprint, reason),
        {"reason": "reason"}, "reason")
    if outcome.result is None:
        listed = await run_in_threadpool(certificates.my_certificates, c.write.outgoing, who)
        return _certificates_page(request, session, c, listed, errors=outcome.errors,
                                  removing=fingerprint)
    return await settled(c, outcome.result.position, "/app/certificates",
                         "certificate_removed")


# --- an administrator registers a user's certificate ----------------------------------------


async def _admin_page(request: Request, session: PageSession, c: Container, user_id: UUID,
                      notice: str = "", errors: FormErrors | None = None, which: str = "",
                      removing: str = "") -> Response:
    who = session.principal
    listed = await run_in_threadpool(certificates.user_certificates, c.write.outgoing, who,
                                     user_id)
    user = await c.queries.get_user(user_id)
    errors = errors or FormErrors()
    return render(request, "signing/admin_certificates.html", {
        "u": user, "certificates": shown(listed), "registrations": REGISTRATION_LABELS,
        "notice": notice, "errors": errors, "which": which, "removing": removing,
    }, session=session, status_code=errors.status if errors else 200)


@router.get("/admin/users/{user_id}/certificates")
async def user_certificates(user_id: UUID, request: Request, session: Session,
                            c: ContainerDep, notice: str | None = None) -> Response:
    """Chứng thư số của người dùng / A user's certificates (admin)."""
    session.principal.require(Role.ADMIN)
    return await _admin_page(request, session, c, user_id, notice_for(notice))


async def _certificate_text(file: UploadFile | None, pasted: str) -> str:
    """The uploaded file (PEM or DER) or the pasted text, as the step takes it (base64/PEM)."""
    if file is not None and file.filename:
        raw = await file.read(MAX_CERTIFICATE_FILE + 1)
        if raw.lstrip().startswith(b"-----BEGIN"):
            return raw.decode("ascii", "replace")
        return base64.b64encode(raw).decode("ascii")
    return pasted


@router.post("/admin/users/{user_id}/certificates")
async def register_for(user_id: UUID, request: Request, session: Session, c: ContainerDep,
                       certificate_file: Annotated[UploadFile | None, File()] = None,
                       certificate: Text = "") -> Response:
    """Đăng ký chứng thư số cho người dùng / Register a user's certificate (admin)."""
    who = session.principal
    who.require(Role.ADMIN)
    text = await _certificate_text(certificate_file, certificate)
    outcome = await run_in_threadpool(
        act, request, lambda: certificates.register_for(c.write.outgoing, who, user_id,
                                                        certificate=text, chain=[]),
        {"certificate": "certificate"}, "certificate")
    if outcome.result is None:
        return await _admin_page(request, session, c, user_id, errors=outcome.errors,
                                 which="register")
    return await settled(c, outcome.result.position,
                         f"/app/admin/users/{user_id}/certificates", "certificate_registered")


@router.post("/admin/users/{user_id}/certificates/{fingerprint}/remove")
async def remove_for(user_id: UUID, fingerprint: str, request: Request, session: Session,
                     c: ContainerDep, reason: Text = "") -> Response:
    """Thu hồi đăng ký chứng thư / Stop a user's certificate from signing (admin)."""
    who = session.principal
    who.require(Role.ADMIN)
    outcome = await run_in_threadpool(
        act, request, lambda: certificates.remove(c.write.outgoing, who, user_id, fingerprint,
                                                  reason), {"reason": "reason"}, "reason")
    if outcome.result is None:
        return await _admin_page(request, session, c, user_id, errors=outcome.errors,
                                 which="remove", removing=fingerprint)
    return await settled(c, outcome.result.position,
                         f"/app/admin/users/{user_id}/certificates", "certificate_removed")
