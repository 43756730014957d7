"""Domain errors: each has a stable machine-readable ``code``."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error the domain and application raise on purpose."""

    code: ClassVar[str] = "domain_error"

    def __init__(self, detail: str, **context: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context = context


class NotFoundError(DomainError):
    """Something named by the caller does not exist (or is not visible to them)."""

    code = "not_found"


class DocumentNotFoundError(NotFoundError):
    """No such document in the caller's reach."""

    code = "document_not_found"


class RevisionNotFoundError(NotFoundError):
    """The document has no revision with that number."""

    code = "revision_not_found"


class AgencyNotFoundError(NotFoundError):
    """No such agency."""

    code = "agency_not_found"


class UnitNotFoundError(NotFoundError):
    """No such organisational unit in the agency."""

    code = "unit_not_found"


class UserNotFoundError(NotFoundError):
    """No such user."""

    code = "user_not_found"


class CertificateNotFoundError(NotFoundError):
    """No such certificate is registered to the user."""

    code = "certificate_not_found"


class ConflictError(DomainError):
    """The request clashes with the current state."""

    code = "conflict"


class StaleVersionError(ConflictError):
    """The caller acted on an older version than the one stored."""

    code = "stale_version"


class AlreadyExistsError(ConflictError):
    """An agency code or username is taken."""

    code = "already_exists"


class InvalidStateError(ConflictError):
    """The command is not allowed in the aggregate's current status."""

    code = "invalid_state"


class SignatureRequestClosedError(InvalidStateError):
    """An answer came for a signature request that is no longer pending (a replay)."""

    code = "signature_request_closed"


class InvalidInputError(DomainError):
    """A value is missing, malformed or out of range."""

    code = "invalid_input"


class PermissionDeniedError(DomainError):
    """The caller's role or agency does not allow this."""

    code = "permission_denied"


class RejectedFileError(InvalidInputError):
    """An uploaded file cannot become a revision of an official document."""

    code = "rejected_file"


class FileTooLargeError(RejectedFileError):
    """The upload exceeds the configured size limit."""

    code = "file_too_large"


class NotAPdfError(RejectedFileError):
    """The upload is not a PDF file."""

    code = "not_a_pdf"


class MalformedPdfError(RejectedFileError):
    """The PDF cannot be parsed."""

    code = "malformed_pdf"


class EncryptedPdfError(RejectedFileError):
    """The PDF is encrypted or password-protected."""

    code = "encrypted_pdf"


class EmptyPdfError(RejectedFileError):
    """The PDF has no pages."""

    code = "empty_pdf"


class PdfPageTreeInvalidError(MalformedPdfError):
    """The page tree shares a node, or its page counts do not match its pages."""

    code = "pdf_page_tree_invalid"


class PdfTooComplexError(MalformedPdfError):
    """The PDF needs more work to read than intake allows (pages, tree nodes, objects)."""

    code = "pdf_too_complex"


class ActiveContentError(RejectedFileError):
    """The PDF carries active content (JavaScript, launch actions, embedded files, XFA)."""

    code = "active_content"


class DocumentWithdrawnError(DomainError):
    """The sender recalled the document: its content is no longer served here."""

    code = "document_withdrawn"


class SignatureRequestExpiredError(InvalidInputError):
    """A signature came back after its request expired."""

    code = "signature_request_expired"


class CertificateNotRegisteredError(InvalidInputError):
    """The signer's certificate is not one registered to that user."""

    code = "certificate_not_registered"
