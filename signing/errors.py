"""Signing errors: each has a stable ``code``; none ever carries key material or a PIN."""

from __future__ import annotations

from docmgmt.domain.errors import DomainError, InvalidInputError


class SigningError(DomainError):
    """A PDF could not be signed (the input file is never modified)."""

    code = "signing_failed"


class SignerCertificateError(SigningError, InvalidInputError):
    """The signer's certificate cannot be used to sign at the signing moment."""

    code = "signer_certificate_invalid"


class SignerCertificateRevokedError(SignerCertificateError):
    """The signer's certificate (or a CA above it) has been revoked."""

    code = "signer_certificate_revoked"


class SignerCertificateExpiredError(SignerCertificateError):
    """The signer's certificate (or a CA above it) is expired or not yet valid."""

    code = "signer_certificate_expired"


class SignerCertificateUntrustedError(SignerCertificateError):
    """No valid path leads from the signer's certificate to a configured trust root."""

    code = "signer_certificate_untrusted"


class KeyBackendError(SigningError):
    """The key is unavailable: token absent, PIN rejected, file unreadable, service down."""

    code = "key_unavailable"


class TimestampError(SigningError):
    """No timestamp could be obtained from the time-stamping authority."""

    code = "timestamp_unavailable"


class RevocationInfoUnavailableError(SigningError):
    """Revocation information (OCSP/CRL) for the signer's chain could not be obtained."""

    code = "revocation_unavailable"


class SignatureMismatchError(SigningError, InvalidInputError):
    """A returned signature was not made by the expected key over the expected digest."""

    code = "signature_mismatch"


class SignedPdfRefusedError(SigningError, InvalidInputError):
    """An uploaded signed PDF is not the prepared PDF plus exactly one valid signature."""

    code = "signed_pdf_refused"


class SigningProviderError(KeyBackendError):
    """The signing service could not be reached or answered something unusable."""

    code = "signing_provider_unavailable"
