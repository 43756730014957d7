"""The leader's signature over HTTP as a recorded process: signature requests (one document
or a batch), the answers that come back (a signature value from the local agent, a whole
signed PDF, a provider's result), and the certificates registered to users."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, Response, UploadFile, status
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from api.auth import CurrentUser
from api.deps import ContainerDep, IfMatch, OutgoingDep, pick_version
from api.routes.outgoing import stream_file
from api.routing import ThreadedRoute
from docmgmt.domain.common import SigningCapacity
from docmgmt.outgoing import certificates, signing
from docmgmt.outgoing.certificates import MAX_SIGNATURE_BYTES, decode_base64
from docmgmt.outgoing.signing import BatchDocument, BatchSignature, Method

router = APIRouter(tags=["signing"], route_class=ThreadedRoute)
MAX_SIGNATURE_B64 = 4096


class SignatureRequestIn(BaseModel):
    """How the leader signs, and with which key (Decree 30, Art. 13)."""

    method: Method = Field(Method.PROVIDER, description=(
        "provider: the agency's signing service; agent: the token on the leader's PC "
        "through `docmgmt agent`; upload: the leader's software signs the prepared PDF"))
    capacity: SigningCapacity = SigningCapacity.OWN
    principal_title: str = Field("", max_length=200)
    certificate_fingerprint: str | None = Field(
        None, max_length=64, description="SHA-256 of the registered certificate to use")
    expected_version: int | None = None


class SignatureIn(BaseModel):
    """A signature value over the request's digest (base64, CSC signHash form)."""

    signature: str = Field(max_length=MAX_SIGNATURE_B64)


class BatchDocumentIn(BaseModel):
    """One document of a batch and the version the leader saw."""

    id: UUID
    version: int | None = None


class BatchIn(BaseModel):
    """Several approved documents signed with one confirmation."""

    documents: list[BatchDocumentIn] = Field(min_length=1, max_length=signing.MAX_BATCH)
    method: Method = Method.PROVIDER
    capacity: SigningCapacity = SigningCapacity.OWN
    principal_title: str = Field("", max_length=200)
    certificate_fingerprint: str | None = Field(None, max_length=64)


class BatchSignatureIn(BaseModel):
    """The agent's signature for one request of a batch."""

    document_id: UUID
    request_id: str = Field(max_length=64)
    signature: str = Field(max_length=MAX_SIGNATURE_B64)


class BatchSignaturesIn(BaseModel):
    """The agent's signatures for a batch."""

    items: list[BatchSignatureIn] = Field(min_length=1, max_length=signing.MAX_BATCH)


class CertificateIn(BaseModel):
    """A signing certificate (base64 DER or PEM) and its chain."""

    certificate: str = Field(max_length=32_000)
    chain: list[str] = Field(default_factory=list, max_length=8)


class PossessionIn(CertificateIn):
    """A certificate with the server's challenge signed by its key."""

    challenge: str = Field(max_length=4096)
    signature: str = Field(max_length=MAX_SIGNATURE_B64)


class RemovalIn(BaseModel):
    """Why a certificate may no longer sign."""

    reason: str = Field(max_length=500)


def _value(text: str) -> bytes:
    return decode_base64(text, "signature", MAX_SIGNATURE_BYTES)


def _answer(c: ContainerDep, state: signing.SignatureRequestState,
            code: int = status.HTTP_200_OK) -> JSONResponse:
    c.wait_for_view(state.position)
    return JSONResponse(state.as_json(), status_code=code)


@router.post("/documents/{document_id}/signature-requests",
             status_code=status.HTTP_201_CREATED)
def request_signature(document_id: UUID, body: SignatureRequestIn, who: CurrentUser,
                      c: ContainerDep, out: OutgoingDep, if_match: IfMatch) -> JSONResponse:
    """Yêu cầu ký số / Open a signature request over the approved revision (leader)."""
    state = signing.request_signature(
        out, who, document_id, method=body.method, capacity=body.capacity,
        principal_title=body.principal_title,
        certificate_fingerprint=body.certificate_fingerprint,
        expected_version=pick_version(if_match, body.expected_version))
    return _answer(c, state, status.HTTP_201_CREATED)


@router.get("/documents/{document_id}/signature-requests/{request_id}")
def signature_request(document_id: UUID, request_id: UUID, who: CurrentUser,
                      c: ContainerDep, out: OutgoingDep) -> JSONResponse:
    """Trạng thái yêu cầu ký / Where a signature request stands (a waiting service is asked)."""
    return _answer(c, signing.request_state(out, who, document_id, str(request_id)))


@router.post("/documents/{document_id}/signature-requests/{request_id}/signature")
def answer_signature(document_id: UUID, request_id: UUID, body: SignatureIn,
                     who: CurrentUser, c: ContainerDep, out: OutgoingDep) -> JSONResponse:
    """Gửi chữ ký / The signature value the leader's agent made over the request's digest."""
    return _answer(c, signing.answer_signature(
        out, who, document_id, str(request_id), _value(body.signature)))


@router.get("/documents/{document_id}/signature-requests/{request_id}/pdf",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/pdf": {}}}})
def prepared_pdf(document_id: UUID, request_id: UUID, who: CurrentUser,
                 out: OutgoingDep) -> StreamingResponse:
    """Tải tệp để ký / The prepared PDF the leader's own software signs whole."""
    return stream_file(signing.prepared_pdf(out, who, document_id, str(request_id)))


@router.post("/documents/{document_id}/signature-requests/{request_id}/signed-pdf")
def upload_signed(document_id: UUID, request_id: UUID, who: CurrentUser, c: ContainerDep,
                  out: OutgoingDep,
                  file: Annotated[UploadFile, File(description="The signed PDF")]
                  ) -> JSONResponse:
    """Nộp tệp đã ký / The whole signed PDF: accepted only if it is the prepared PDF plus
    exactly one valid signature by the leader, in the leader's field."""
    return _answer(c, signing.upload_signed(out, who, document_id, str(request_id),
                                            file.file))


@router.post("/documents/{document_id}/signature-requests/{request_id}/cancel")
def cancel_request(document_id: UUID, request_id: UUID, who: CurrentUser, c: ContainerDep,
                   out: OutgoingDep) -> JSONResponse:
    """Hủy yêu cầu ký / The signer withdraws their pending request."""
    return _answer(c, signing.cancel_request(out, who, document_id, str(request_id)))


@router.post("/signature-batches", status_code=status.HTTP_201_CREATED)
def request_batch(body: BatchIn, who: CurrentUser, c: ContainerDep,
                  out: OutgoingDep) -> JSONResponse:
    """Ký số hàng loạt / Sign several approved documents with one confirmation (leader)."""
    result = signing.request_batch(
        out, who, [BatchDocument(d.id, d.version) for d in body.documents],
        method=body.method, capacity=body.capacity, principal_title=body.principal_title,
        certificate_fingerprint=body.certificate_fingerprint)
    c.wait_for_view(result.position)
    return JSONResponse(result.as_json(), status_code=status.HTTP_201_CREATED)


@router.post("/signature-batches/{batch_id}/signatures")
def answer_batch(batch_id: UUID, body: BatchSignaturesIn, who: CurrentUser, c: ContainerDep,
                 out: OutgoingDep) -> JSONResponse:
    """Gửi chữ ký hàng loạt / The agent's signatures for a batch, each checked on its own."""
    result = signing.answer_batch(out, who, str(batch_id), [
        BatchSignature(i.document_id, i.request_id, _value(i.signature))
        for i in body.items])
    c.wait_for_view(result.position)
    return JSONResponse(result.as_json())


@router.get("/me/certificates")
def my_certificates(who: CurrentUser, out: OutgoingDep) -> list[dict[str, Any]]:
    """Chứng thư số của tôi / The signing certificates registered to me."""
    return certificates.my_certificates(out, who)


@router.post("/me/certificates/challenge")
def challenge(who: CurrentUser, out: OutgoingDep) -> dict[str, str]:
    """Chuỗi thử thách / A challenge to sign with the key of a certificate I register."""
    return certificates.issue_challenge(out, who)


@router.post("/me/certificates", status_code=status.HTTP_201_CREATED)
def register_mine(body: PossessionIn, who: CurrentUser, c: ContainerDep,
                  out: OutgoingDep) -> Response:
    """Đăng ký chứng thư số / Register my certificate by proving I hold its key (leader)."""
    result = certificates.register_own(out, who, certificate=body.certificate,
                                       chain=body.chain, challenge=body.challenge,
                                       signature=body.signature)
    c.wait_for_view(result.position)
    return JSONResponse({"version": result.version}, status_code=status.HTTP_201_CREATED)


@router.get("/users/{user_id}/certificates", tags=["administration"])
def user_certificates(user_id: UUID, who: CurrentUser,
                      out: OutgoingDep) -> list[dict[str, Any]]:
    """Chứng thư số của người dùng / A user's registered certificates (admin)."""
    return certificates.user_certificates(out, who, user_id)


@router.post("/users/{user_id}/certificates", status_code=status.HTTP_201_CREATED,
             tags=["administration"])
def register_for(user_id: UUID, body: CertificateIn, who: CurrentUser, c: ContainerDep,
                 out: OutgoingDep) -> Response:
    """Đăng ký chứng thư số cho người dùng / Register a user's certificate (admin)."""
    result = certificates.register_for(out, who, user_id, certificate=body.certificate,
                                       chain=body.chain)
    c.wait_for_view(result.position)
    return JSONResponse({"version": result.version}, status_code=status.HTTP_201_CREATED)


@router.post("/users/{user_id}/certificates/{fingerprint}/remove")
def remove_certificate(user_id: UUID, fingerprint: str, body: RemovalIn, who: CurrentUser,
                       c: ContainerDep, out: OutgoingDep) -> Response:
    """Thu hồi đăng ký chứng thư / Stop a certificate from signing (admin, or its holder)."""
    result = certificates.remove(out, who, user_id, fingerprint, body.reason)
    c.wait_for_view(result.position)
    return JSONResponse({"version": result.version})
