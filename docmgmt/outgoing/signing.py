"""The leader's signature (Decree 30, Art. 13) as a recorded process: a request names the
approved revision, the signer, the method and the exact digest; the PDF is prepared once and
the signature that comes back from the signer's own key is checked, then embedded.

Methods: ``provider`` (the agency's signing service: CSC, a service that waits for the
signer's confirmation, the server's key, or the development provider), ``agent`` (the token
at the leader's PC, through the local agent) and ``upload`` (the leader's software signs the
whole prepared PDF). Nothing is signed until a valid signature by a certificate registered to
the signer comes back; every refusal, expiry and cancellation is an event.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO
from uuid import UUID, uuid4

from cryptography import x509

from docmgmt.domain.common import Actor, FileRef, SigningCapacity
from docmgmt.domain.errors import (
    CertificateNotRegisteredError,
    DomainError,
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
    PermissionDeniedError,
    SignatureRequestExpiredError,
)
from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.domain.user import User
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult, open_recorded
from docmgmt.outgoing.context import STEP_ROLES, OutgoingContext, load_document
from docmgmt.outgoing.files import new_blobs, spooled, store_result, workspace
from signing.errors import SignatureMismatchError, SignedPdfRefusedError
from signing.port import (
    AgencyIdentity,
    SignatureOutcome,
    SignerIdentity,
    competent_signature_valid,
    summarise,
)
from signing.remote import (
    AnswerStatus,
    HashToSign,
    ProviderAnswer,
    ProviderCredential,
    SignerAccount,
    SigningProvider,
)


class Method(StrEnum):
    """How the leader's key is reached."""

    PROVIDER = "provider"
    AGENT = "agent"
    UPLOAD = "upload"


class RequestStatus(StrEnum):
    """Where a signature request stands."""

    PENDING = "pending"
    SIGNED = "signed"
    REFUSED = "refused"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class SignatureInvalidError(InvalidInputError):
    """The signature that came back does not validate (intact, trusted, at the level)."""

    code = "signature_invalid"


class SignatureRequestNotFoundError(NotFoundError):
    """No such signature request on this document."""

    code = "signature_request_not_found"


_ENDED = {
    "SignatureProvided": RequestStatus.SIGNED,
    "SignatureRefused": RequestStatus.REFUSED,
    "SignatureExpired": RequestStatus.EXPIRED,
    "SignatureCancelled": RequestStatus.CANCELLED,
}


@dataclass(frozen=True)
class SignatureRequestState:
    """A signature request as the caller sees it."""

    request_id: str
    document_id: UUID
    status: RequestStatus
    method: str
    provider: str
    digest: str
    mechanism: str
    certificate: dict[str, Any]
    expires_at: str
    batch_id: str | None
    version: int
    reason: str = ""
    detail: str = ""
    development: bool = False
    position: int | None = None  # of the last event this step recorded (read-your-writes)

    def as_json(self) -> dict[str, Any]:
        """JSON primitives (digest in base64, as the signer's software takes it)."""
        return {
            "request_id": self.request_id, "document_id": str(self.document_id),
            "status": self.status.value, "method": self.method, "provider": self.provider,
            "digest": self.digest, "mechanism": self.mechanism,
            "certificate": self.certificate, "expires_at": self.expires_at,
            "batch_id": self.batch_id, "version": self.version, "reason": self.reason,
            "detail": self.detail, "development": self.development,
        }


def _state(document: OutgoingDocument, request: dict[str, Any], status: RequestStatus,
           reason: str = "", detail: str = "", *,
           position: int | None = None) -> SignatureRequestState:
    return SignatureRequestState(
        request_id=request["request_id"], document_id=document.id, status=status,
        method=request["method"], provider=request["provider"],
        digest=_b64(bytes.fromhex(request["digest"])) if request.get("digest") else "",
        mechanism=request.get("mechanism", ""),
        certificate=dict(request.get("certificate") or {}),
        expires_at=request["expires_at"], batch_id=request.get("batch_id"),
        version=document.version, reason=reason, detail=detail,
        development=request["provider"] == "development", position=position)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _signer_account(user: User) -> SignerAccount:
    return SignerAccount(user.username, user.full_name)


def _agency(ctx: OutgoingContext, agency_id: UUID) -> AgencyIdentity:
    agency = ctx.store.get_agency(agency_id)
    return AgencyIdentity(agency.id, agency.code, agency.name)


def _fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _provider(ctx: OutgoingContext, agency: AgencyIdentity) -> SigningProvider:
    provider = ctx.providers(agency)
    if provider is None:
        raise InvalidInputError(
            "no signing service is configured for this agency: sign through the local "
            "agent (method agent) or upload a signed PDF (method upload)")
    return provider


def _subject(der: bytes) -> str:
    try:
        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError:
        return "an unreadable certificate"


def _pick_credential(ctx: OutgoingContext, user: User, provider: SigningProvider,
                     wanted: str | None) -> tuple[ProviderCredential, bool]:
    """The signer's credential at the provider whose certificate is registered to them;
    the development provider's certificate is registered on first use (second value)."""
    credentials = provider.credentials(_signer_account(user))
    for credential in credentials:
        fingerprint = _fingerprint(credential.certificate)
        if wanted and fingerprint != wanted:
            continue
        if fingerprint in user.certificates:
            return credential, False
    if provider.server_held and credentials and not wanted:
        # Keys the operator bound to the user (development PKI, keys file): registered
        # on first use, so the registration is on record like any other.
        return credentials[0], True
    subjects = "; ".join(_subject(c.certificate) for c in credentials[:5]) or "none"
    raise CertificateNotRegisteredError(
        f"none of the signer's certificates at {provider.name} is registered to "
        f"{user.username} (the service offers: {subjects}); register the certificate first",
        provider=provider.name)


@dataclass
class _Key:
    """The signer's key for a request (or a batch): how it is reached and its certificate.

    A development certificate registered on first use is saved with the first request."""

    method: Method
    user: User
    agency: AgencyIdentity  # the signer's, which is every document's they may sign
    provider: SigningProvider | None = None
    credential: ProviderCredential | None = None
    certificate: bytes = b""
    chain: tuple[bytes, ...] = ()
    unsaved_user: bool = False

    @property
    def provider_name(self) -> str:
        """What the request records as its provider."""
        if self.provider is None:
            return self.method.value
        return "development" if self.provider.development else self.provider.name


def _resolve_key(ctx: OutgoingContext, who: Principal, agency: AgencyIdentity,
                 method: Method, certificate_fingerprint: str | None) -> _Key:
    who.require(*STEP_ROLES["sign"])
    user = ctx.store.get_user(who.user_id)
    if method is Method.UPLOAD:
        if not user.certificates:
            raise CertificateNotRegisteredError(
                "you have no registered certificate: register yours first")
        return _Key(method, user, agency)
    if method is Method.AGENT:
        registered = user.certificates.get((certificate_fingerprint or "").lower())
        if registered is None:
            raise CertificateNotRegisteredError(
                "this certificate is not registered to you: register it first",
                fingerprint=certificate_fingerprint or "")
        return _Key(method, user, agency, certificate=base64.b64decode(registered["der"]),
                    chain=tuple(base64.b64decode(c) for c in registered["chain"]))
    provider = _provider(ctx, agency)
    credential, register = _pick_credential(ctx, user, provider, certificate_fingerprint)
    key = _Key(method, user, agency, provider, credential, credential.certificate,
               tuple(credential.chain))
    if register:
        described = ctx.signer.check_certificate(credential.certificate, credential.chain)
        user.register_certificate(
            certificate=described, der=_b64(credential.certificate),
            chain=[_b64(c) for c in credential.chain],
            method="development" if provider.development else "keys_file",
            registered_at=ctx.clock(), actor=who.actor)
        key.unsaved_user = True
    return key


@dataclass
class _Prepared:
    """A request made ready (PDF prepared and stored), recorded by ``record``."""

    document: OutgoingDocument
    request_id: UUID
    digest: bytes
    expires_at: datetime
    fields: dict[str, Any]

    @property
    def hash_to_sign(self) -> HashToSign:
        """What the provider is asked to sign, with the line the signer is shown."""
        return HashToSign(str(self.request_id), self.digest, self.document.summary[:200])

    def record(self, *, transaction_id: str | None) -> None:
        """SignatureRequested on the document (saved by the caller)."""
        self.document.request_signature(request_id=self.request_id,
                                        transaction_id=transaction_id, **self.fields)


def _close_stale(ctx: OutgoingContext, who: Principal, document: OutgoingDocument) -> None:
    """A pending request of the same signer is superseded; an expired one is recorded as
    expired; another leader's live request stops this one."""
    pending = document.signature_request
    if pending is None:
        return
    if datetime.fromisoformat(pending["expires_at"]) <= ctx.clock():
        document.expire_signature(pending["request_id"], _system_actor(pending))
    elif pending["signer_id"] == str(who.user_id):
        document.cancel_signature(pending["request_id"], "superseded by a new request",
                                  who.actor)
    else:
        raise InvalidStateError(
            "another leader's signature request is pending for this document",
            request_id=pending["request_id"], expires_at=pending["expires_at"])


def _system_actor(pending: dict[str, Any]) -> Actor:
    """The request's signer, as the actor of what happens to it without a caller."""
    return Actor(UUID(pending["signer_id"]), pending["signer_username"], "", "docmgmt", "")


def _prepare(ctx: OutgoingContext, who: Principal, document: OutgoingDocument, key: _Key, *,
             capacity: SigningCapacity, principal_title: str, batch_id: UUID | None,
             new: Any) -> _Prepared:
    """Check the document, prepare its PDF and store it (nothing recorded yet)."""
    approved = document.approved_file()
    _close_stale(ctx, who, document)
    user, agency = key.user, key.agency
    capacity = SigningCapacity(capacity)
    capacity_line = capacity.line(principal_title or user.title)
    with workspace(ctx, approved) as (src, dst):
        if key.method is Method.UPLOAD:
            ctx.signer.prepare_upload(src, dst)
            digest, state, described, mechanism = b"", "", {}, ""
        else:
            prepared = ctx.signer.prepare_leader(
                src, dst, signer=SignerIdentity(user.id, user.username, user.full_name,
                                                user.title),
                agency=agency, capacity_line=capacity_line, certificate=key.certificate,
                chain=key.chain)
            digest, state = prepared.digest, prepared.state
            described, mechanism = dict(prepared.certificate), prepared.mechanism
        stored = store_result(new, dst, approved, "prepared")
    expires_at = ctx.clock() + timedelta(minutes=ctx.request_minutes)
    fields = {
        "method": key.method.value, "provider": key.provider_name, "certificate": described,
        "digest": digest.hex(), "mechanism": mechanism, "prepared": stored, "state": state,
        "capacity": capacity,
        "signer_title": user.title, "capacity_line": capacity_line,
        "expires_at": expires_at, "batch_id": batch_id, "actor": who.actor}
    return _Prepared(document, uuid4(), digest, expires_at, fields)


def _save(ctx: OutgoingContext, prepared: _Prepared, key: _Key) -> CommandResult:
    if key.unsaved_user:
        key.unsaved_user = False
        return ctx.store.commit(prepared.document, key.user)
    return ctx.store.commit(prepared.document)


def _embed(ctx: OutgoingContext, document: OutgoingDocument, agency: AgencyIdentity,
           pending: dict[str, Any], actor: Actor, new: Any, *, signature: bytes | None = None,
           uploaded: Path | None = None) -> DomainError | None:
    """Embed (or accept) what came back and record SignatureProvided and Signed; or record
    the refusal and return it. Nothing is saved here."""
    prepared = FileRef.from_payload(pending["prepared"])
    approved = document.approved_file()
    with workspace(ctx, prepared) as (src, dst):
        try:
            if uploaded is not None:
                user = ctx.store.get_user(UUID(pending["signer_id"]))
                outcome = ctx.signer.accept_uploaded(
                    src, uploaded, agency=agency, certificates=set(user.certificates))
                dst = uploaded
            else:
                outcome = ctx.signer.finish_leader(src, dst, agency=agency,
                                                   state=pending["state"],
                                                   signature=signature or b"")
        except (SignatureMismatchError, SignedPdfRefusedError) as exc:
            _record_refusal(document, pending, exc, actor)
            return exc
        if not competent_signature_valid(outcome.report):
            refusal = SignatureInvalidError("the signature that came back does not validate",
                                            report=summarise(outcome.report))
            _record_refusal(document, pending, refusal, actor)
            return refusal
        output = store_result(new, dst, approved, "signed")
        document.provide_signature(pending["request_id"], output=output,
                                   signature=_payload(outcome, pending), actor=actor)
    return None


def _answer(ctx: OutgoingContext, document: OutgoingDocument, pending: dict[str, Any],
            actor: Actor, *, signature: bytes | None = None,
            uploaded: Path | None = None) -> CommandResult:
    """Embed what came back and save once; a refusal is saved, then raised."""
    with new_blobs(ctx) as new:
        refusal = _embed(ctx, document, _agency(ctx, document.agency_id), pending, actor, new,
                         signature=signature, uploaded=uploaded)
        result = ctx.store.commit(document)
    if refusal is not None:
        refusal.context["position"] = result.position
        raise refusal
    return result


def _payload(outcome: SignatureOutcome, pending: dict[str, Any]) -> dict[str, Any]:
    return dict(outcome.payload()) | {
        "capacity_line": pending["capacity_line"], "method": pending["method"],
        "provider": pending["provider"], "request_id": pending["request_id"]}


def _record_refusal(document: OutgoingDocument, pending: dict[str, Any], exc: DomainError,
                    actor: Actor) -> None:
    document.refuse_signature(pending["request_id"], _reason(exc), exc.detail, actor)


def _reason(exc: DomainError) -> str:
    return str(exc.context.get("reason") or exc.code)


def _answer_actor(who: Principal, pending: dict[str, Any]) -> Actor:
    """Only the signer answers their own request (another leader gets a 403)."""
    if pending["signer_id"] != str(who.user_id):
        raise PermissionDeniedError("only the signer named in the request may answer it")
    return who.actor


def _live(ctx: OutgoingContext, document: OutgoingDocument, request_id: str) -> dict[str, Any]:
    """The pending request, recording its expiry if its time has passed (then raising)."""
    pending = document.pending_signature(request_id)
    if datetime.fromisoformat(pending["expires_at"]) <= ctx.clock():
        document.expire_signature(request_id, _system_actor(pending))
        position = ctx.store.commit(document).position
        raise SignatureRequestExpiredError(
            "the signature request expired before the signature came back; ask again",
            request_id=request_id, expires_at=pending["expires_at"], position=position)
    return pending


def _apply(ctx: OutgoingContext, document: OutgoingDocument, agency: AgencyIdentity,
           pending: dict[str, Any], answer: ProviderAnswer,
           new: Any) -> tuple[RequestStatus, str, str]:
    """Record what a provider said about one request (a signature is checked first), not
    saved yet; where the request stands then, with the reason and detail of a refusal."""
    actor = _system_actor(pending)
    if answer.status is AnswerStatus.SIGNED and answer.signature is not None:
        refusal = _embed(ctx, document, agency, pending, actor, new,
                         signature=answer.signature)
        if refusal is None:
            return RequestStatus.SIGNED, "", ""
        return RequestStatus.REFUSED, _reason(refusal), refusal.detail
    if answer.status is AnswerStatus.REFUSED:
        detail = answer.detail or "the signer declined at the service"
        document.refuse_signature(pending["request_id"], "refused_by_signer", detail, actor)
        return RequestStatus.REFUSED, "refused_by_signer", detail
    if answer.status is AnswerStatus.EXPIRED:
        document.expire_signature(pending["request_id"], actor)
        return RequestStatus.EXPIRED, "", ""
    return RequestStatus.PENDING, "", ""


def request_signature(
    ctx: OutgoingContext, who: Principal, document_id: UUID, *, method: Method,
    capacity: SigningCapacity, principal_title: str, certificate_fingerprint: str | None,
    expected_version: int | None,
) -> SignatureRequestState:
    """Open a signature request; a provider that signs at once is answered in the same step."""
    document = load_document(ctx, who, document_id, expected_version)
    # Loaded once for the whole step (the document is of the signer's agency).
    key = _resolve_key(ctx, who, _agency(ctx, document.agency_id), Method(method),
                       certificate_fingerprint)
    with new_blobs(ctx) as new:
        prepared = _prepare(ctx, who, document, key, capacity=capacity,
                            principal_title=principal_title, batch_id=None, new=new)
        answers: Sequence[ProviderAnswer] = ()
        transaction_id = None
        if key.provider is not None and key.credential is not None:
            # Asked before anything is recorded: a service that is down records nothing.
            submission = key.provider.submit(
                _signer_account(key.user), key.credential, [prepared.hash_to_sign],
                expires_at=prepared.expires_at)
            transaction_id = submission.transaction_id
            answers = submission.answers or ()
        prepared.record(transaction_id=transaction_id)
        request = dict(document.signature_request or {})
        outcome = (RequestStatus.PENDING, "", "")
        for answer in answers:
            if answer.request_id == request["request_id"]:
                # Answered at once: requested, provided and signed (or refused) in one save.
                outcome = _apply(ctx, document, key.agency, request, answer, new)
        result = _save(ctx, prepared, key)
    return _state(document, request, *outcome, position=result.position)


def request_state(ctx: OutgoingContext, who: Principal, document_id: UUID,
                  request_id: str) -> SignatureRequestState:
    """Where a request stands; a waiting provider is asked again, and an expired request is
    recorded as expired (each in one save)."""
    document = load_document(ctx, who, document_id)
    pending = document.signature_request
    if pending is None or pending["request_id"] != request_id:
        return _ended_state(ctx, document, request_id)
    request = dict(pending)
    if datetime.fromisoformat(pending["expires_at"]) <= ctx.clock():
        document.expire_signature(request_id, _system_actor(pending))
        result = ctx.store.commit(document)
        return _state(document, request, RequestStatus.EXPIRED, position=result.position)
    if pending["method"] == Method.PROVIDER and pending.get("transaction_id"):
        agency = _agency(ctx, document.agency_id)
        provider = _provider(ctx, agency)
        for answer in provider.poll(pending["transaction_id"], [request_id]):
            if answer.request_id == request_id and answer.status is not AnswerStatus.PENDING:
                with new_blobs(ctx) as new:
                    outcome = _apply(ctx, document, agency, request, answer, new)
                    result = ctx.store.commit(document)
                return _state(document, request, *outcome, position=result.position)
    return _state(document, request, RequestStatus.PENDING)


def _ended_state(ctx: OutgoingContext, document: OutgoingDocument,
                 request_id: str) -> SignatureRequestState:
    requested: dict[str, Any] | None = None
    for recorded in ctx.store.events.get(document.id):
        if getattr(recorded, "request_id", None) != request_id:
            continue
        kind = type(recorded).__name__
        if isinstance(recorded, OutgoingDocument.SignatureRequested):
            requested = {name: getattr(recorded, name) for name in (
                "request_id", "method", "provider", "certificate", "digest", "mechanism",
                "expires_at", "batch_id")}
        elif kind in _ENDED and requested is not None:
            return _state(document, requested, _ENDED[kind],
                          str(getattr(recorded, "reason", "")),
                          str(getattr(recorded, "detail", "")))
    raise SignatureRequestNotFoundError(f"no signature request {request_id} on this document")


def answer_signature(ctx: OutgoingContext, who: Principal, document_id: UUID,
                     request_id: str, signature: bytes,
                     batch_id: str | None = None) -> SignatureRequestState:
    """The signature value the leader's agent made; checked, then embedded or refused."""
    document = load_document(ctx, who, document_id)
    pending = document.pending_signature(request_id)
    actor = _answer_actor(who, pending)
    if batch_id is not None and pending.get("batch_id") != batch_id:
        raise SignatureRequestNotFoundError(
            f"the request {request_id} is not part of batch {batch_id}")
    if pending["method"] != Method.AGENT:
        raise InvalidInputError(f"this request is answered by its {pending['method']}, "
                                "not with a signature value")
    pending = _live(ctx, document, request_id)
    request = dict(pending)
    result = _answer(ctx, document, request, actor, signature=signature)
    return _state(document, request, RequestStatus.SIGNED, position=result.position)


def upload_signed(ctx: OutgoingContext, who: Principal, document_id: UUID, request_id: str,
                  stream: BinaryIO) -> SignatureRequestState:
    """The whole signed PDF from the leader's own software: accepted only if it is the
    prepared PDF plus exactly one valid signature by them."""
    document = load_document(ctx, who, document_id)
    pending = document.pending_signature(request_id)
    actor = _answer_actor(who, pending)
    if pending["method"] != Method.UPLOAD:
        raise InvalidInputError(f"this request is answered by its {pending['method']}, "
                                "not by an uploaded PDF")
    request = dict(_live(ctx, document, request_id))
    with spooled(ctx, stream) as up:
        result = _answer(ctx, document, request, actor, uploaded=up.path)
    return _state(document, request, RequestStatus.SIGNED, position=result.position)


def cancel_request(ctx: OutgoingContext, who: Principal, document_id: UUID,
                   request_id: str) -> SignatureRequestState:
    """The signer withdraws their pending request."""
    document = load_document(ctx, who, document_id)
    request = dict(document.pending_signature(request_id))
    document.cancel_signature(request_id, "cancelled by the signer",
                              _answer_actor(who, request))
    result = ctx.store.commit(document)
    return _state(document, request, RequestStatus.CANCELLED, "cancelled by the signer",
                  position=result.position)


@contextlib.contextmanager
def prepared_pdf(ctx: OutgoingContext, who: Principal, document_id: UUID,
                 request_id: str) -> Iterator[tuple[int, FileRef, BinaryIO]]:
    """Open the prepared PDF of a pending request for the signer's own software; the
    download is recorded."""
    document = load_document(ctx, who, document_id)
    pending = document.pending_signature(request_id)
    _answer_actor(who, pending)
    prepared = FileRef.from_payload(pending["prepared"])
    with open_recorded(ctx.store, ctx.blobs, document_id, pending["revision"], prepared,
                       "download:prepared", who.actor) as fh:
        yield pending["revision"], prepared, fh


def sign(ctx: OutgoingContext, who: Principal, document_id: UUID, capacity: SigningCapacity,
         principal_title: str, expected_version: int | None) -> CommandResult:
    """Sign through the agency's signing service and wait for its answer (a service that
    waits for the signer's confirmation is asked through signature requests instead)."""
    state = request_signature(ctx, who, document_id, method=Method.PROVIDER,
                              capacity=capacity, principal_title=principal_title,
                              certificate_fingerprint=None, expected_version=expected_version)
    if state.status is RequestStatus.SIGNED:
        return CommandResult(document_id, state.version, state.position)
    if state.status is RequestStatus.PENDING:
        raise InvalidStateError(
            "the signing service waits for the signer's confirmation: follow the request "
            f"at /documents/{document_id}/signature-requests/{state.request_id}",
            request_id=state.request_id)
    raise SignatureInvalidError(
        f"the signature was refused ({state.reason}): {state.detail}",
        request_id=state.request_id, reason=state.reason)


# --- batches: several approved documents, one confirmation ---------------------------------

MAX_BATCH = 50


@dataclass(frozen=True)
class BatchDocument:
    """One document of a batch, with the version the leader saw."""

    document_id: UUID
    expected_version: int | None = None


@dataclass(frozen=True)
class BatchItem:
    """What became of one document of a batch: its request, or the error that stopped it."""

    document_id: UUID
    state: SignatureRequestState | None = None
    error_code: str = ""
    error_detail: str = ""

    def as_json(self) -> dict[str, Any]:
        """JSON primitives."""
        out: dict[str, Any] = {"document_id": str(self.document_id)}
        if self.state is not None:
            out |= self.state.as_json()
        if self.error_code:
            out["error"] = {"code": self.error_code, "detail": self.error_detail}
        return out


@dataclass(frozen=True)
class BatchResult:
    """A batch: its id, each document's outcome, and the last position recorded."""

    batch_id: str
    items: tuple[BatchItem, ...]

    @property
    def position(self) -> int | None:
        """The greatest position any item recorded (read-your-writes)."""
        positions = [i.state.position for i in self.items
                     if i.state is not None and i.state.position is not None]
        return max(positions, default=None)

    def as_json(self) -> dict[str, Any]:
        """JSON primitives."""
        return {"batch_id": self.batch_id, "items": [i.as_json() for i in self.items]}


def _failed(document_id: UUID, exc: DomainError) -> BatchItem:
    return BatchItem(document_id, error_code=exc.code, error_detail=exc.detail)


def request_batch(ctx: OutgoingContext, who: Principal, documents: Sequence[BatchDocument], *,
                  method: Method, capacity: SigningCapacity, principal_title: str,
                  certificate_fingerprint: str | None) -> BatchResult:
    """Open one request per document under one batch id; a provider is asked once for all
    the hashes (one authorisation). A document that cannot be signed is reported and the
    others go on; each document's events stay its own."""
    if not documents or len(documents) > MAX_BATCH:
        raise InvalidInputError(f"a batch holds 1 to {MAX_BATCH} documents")
    if len({d.document_id for d in documents}) != len(documents):
        raise InvalidInputError("a document appears twice in the batch")
    who.require(*STEP_ROLES["sign"])
    key = _resolve_key(ctx, who, _agency(ctx, who.agency_id), Method(method),
                       certificate_fingerprint)
    batch_id = uuid4()
    items: dict[UUID, BatchItem] = {}
    ready: list[_Prepared] = []
    with contextlib.ExitStack() as files:
        for wanted in documents:
            try:
                # A document that fails takes its own prepared file with it.
                with contextlib.ExitStack() as attempt:
                    new = attempt.enter_context(new_blobs(ctx))
                    document = load_document(ctx, who, wanted.document_id,
                                             wanted.expected_version)
                    ready.append(_prepare(ctx, who, document, key, capacity=capacity,
                                          principal_title=principal_title,
                                          batch_id=batch_id, new=new))
                    files.enter_context(attempt.pop_all())
            except DomainError as exc:
                items[wanted.document_id] = _failed(wanted.document_id, exc)
        answers: dict[str, ProviderAnswer] = {}
        transaction_id = None
        if ready and key.provider is not None and key.credential is not None:
            submission = key.provider.submit(
                _signer_account(key.user), key.credential, [p.hash_to_sign for p in ready],
                expires_at=min(p.expires_at for p in ready))
            transaction_id = submission.transaction_id
            answers = {a.request_id: a for a in submission.answers or ()}
        for prepared in ready:
            document = prepared.document
            try:
                # Each document in one save: requested, and provided and signed (or
                # refused) when the service answered at once.
                prepared.record(transaction_id=transaction_id)
                request = dict(document.signature_request or {})
                outcome = (RequestStatus.PENDING, "", "")
                with new_blobs(ctx) as new:
                    answer = answers.get(request["request_id"])
                    if answer is not None:
                        outcome = _apply(ctx, document, key.agency, request, answer, new)
                    result = _save(ctx, prepared, key)
                items[document.id] = BatchItem(document.id, _state(
                    document, request, *outcome, position=result.position))
            except DomainError as exc:
                items[document.id] = _failed(document.id, exc)
    return BatchResult(str(batch_id), tuple(items[d.document_id] for d in documents))


@dataclass(frozen=True)
class BatchSignature:
    """A signature value for one request of a batch (from the agent)."""

    document_id: UUID
    request_id: str
    signature: bytes


def answer_batch(ctx: OutgoingContext, who: Principal, batch_id: str,
                 signatures: Sequence[BatchSignature]) -> BatchResult:
    """The agent's signatures for a batch, each checked and embedded on its own: one that
    is refused leaves the others signed."""
    if not signatures or len(signatures) > MAX_BATCH:
        raise InvalidInputError(f"a batch holds 1 to {MAX_BATCH} signatures")
    items: list[BatchItem] = []
    for answer in signatures:
        try:
            items.append(BatchItem(answer.document_id, answer_signature(
                ctx, who, answer.document_id, answer.request_id, answer.signature,
                batch_id=batch_id)))
        except DomainError as exc:
            items.append(_failed(answer.document_id, exc))
    return BatchResult(batch_id, tuple(items))
