"""PAdES baseline signing (B-B, B-T, B-LT, B-LTA) over pyHanko, as incremental updates.

The signer's certificate is validated at the signing moment before anything is written;
what is kept between signatures, and why no outcome depends on it: docs/signing-notes.md.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from asn1crypto import crl, ocsp, x509
from asn1crypto import parser as asn1_parser
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign.fields import MDPPerm, SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.signers.pdf_signer import PdfSigningSession
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    NotYetValidError,
    PathBuildingError,
    PathError,
    PathValidationError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.path import ValidationPath

from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.errors import EncryptedPdfError, MalformedPdfError
from signing.errors import (
    RevocationInfoUnavailableError,
    SignerCertificateExpiredError,
    SignerCertificateRevokedError,
    SignerCertificateUntrustedError,
    SigningError,
    TimestampError,
)
from signing.keys import CertificateInfo, KeyBackend
from storage.spool import file_sha256

SIGNING_KEY_USAGES = frozenset({"digital_signature", "non_repudiation"})


class PadesLevel(StrEnum):
    """PAdES baseline levels (ETSI EN 319 142-1)."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @property
    def timestamped(self) -> bool:
        """B-T and above carry a signature timestamp."""
        return self is not PadesLevel.B_B

    @property
    def long_term(self) -> bool:
        """B-LT and B-LTA embed revocation information in the DSS."""
        return self in (PadesLevel.B_LT, PadesLevel.B_LTA)


@dataclass
class SigningContext:
    """Trust and time settings for one agency or the whole system; built once, reused."""

    trust_roots: list[x509.Certificate]
    timestamper: TimeStamper | None = None
    fetch_revocation: bool = True
    crls: list[crl.CertificateList] = field(default_factory=list)
    ocsps: list[ocsp.OCSPResponse] = field(default_factory=list)
    other_certs: list[x509.Certificate] = field(default_factory=list)
    clock: datetime | None = None
    time_tolerance: timedelta = timedelta(minutes=2)

    def __post_init__(self) -> None:
        if self.clock is not None and self.clock.utcoffset() is None:
            raise ValueError("SigningContext.clock must be timezone-aware")

    def now(self) -> datetime:
        """The pinned moment if one is set, else the current time (aware)."""
        return self.clock if self.clock is not None else datetime.now(UTC)

    def validation_context(
        self,
        *,
        moment: datetime | None,
        allow_fetching: bool,
        hard_fail: bool,
        other_certs: list[x509.Certificate] | None = None,
        crls: list[crl.CertificateList] | None = None,
        ocsps: list[ocsp.OCSPResponse] | None = None,
        retroactive_revinfo: bool = False,
    ) -> ValidationContext:
        """A fresh pyhanko-certvalidator context (one per operation: it owns HTTP sessions)."""
        return ValidationContext(
            trust_roots=list(self.trust_roots),
            other_certs=[*self.other_certs, *(other_certs or [])],
            moment=moment,
            allow_fetching=allow_fetching,
            revocation_mode="hard-fail" if hard_fail else "soft-fail",
            crls=[*self.crls, *(crls or [])],
            ocsps=[*self.ocsps, *(ocsps or [])],
            time_tolerance=self.time_tolerance,
            retroactive_revinfo=retroactive_revinfo,
        )


@dataclass(frozen=True)
class SignResult:
    """The signed file's digest and size, and what was signed with what, when."""

    sha256: str
    size: int
    level: PadesLevel
    field_name: str
    certificate: CertificateInfo
    signing_time: datetime

    def as_payload(self) -> dict[str, Any]:
        """JSON primitives for an event payload."""
        return {
            "sha256": self.sha256,
            "size": self.size,
            "level": self.level.value,
            "field_name": self.field_name,
            "certificate": self.certificate.as_payload(),
            "signing_time": self.signing_time.isoformat(),
        }


def ensure_no_running_loop(what: str) -> None:
    """Refuse to run pyHanko's blocking entry points inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{what} blocks (pyHanko runs its own event loop) and cannot be called while an "
        "event loop is running in this thread; call it from a worker thread instead "
        "(a plain `def` FastAPI route, or asyncio.to_thread)"
    )


class _PinnedTimePdfSigner(PdfSigner):
    """A PdfSigner whose signing time is the one we validated the certificate at."""

    def __init__(self, *args: Any, signing_time: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signing_time = signing_time

    def init_signing_session(
        self, pdf_out: BasePdfFileWriter, existing_fields_only: bool = False
    ) -> PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        session.system_time = self._signing_time
        return session


def _certificate_error_context(key: KeyBackend) -> dict[str, str]:
    info = key.info()
    return {"subject": info.subject, "fingerprint_sha256": info.fingerprint_sha256}


async def _check_signer(
    key: KeyBackend, vc: ValidationContext, moment: datetime
) -> ValidationPath:
    """Validate the signer's certificate at ``moment``; raise the precise refusal."""
    cert = key.certificate
    context = _certificate_error_context(key)
    who = context["subject"]
    at = moment.astimezone(VIETNAM_TZ).isoformat()
    validator = CertificateValidator(cert, intermediate_certs=key.chain, validation_context=vc)
    try:
        path: ValidationPath = await validator.async_validate_usage(set())  # type: ignore[no-untyped-call]
    except RevokedError as exc:
        whose = "the signer's certificate" if exc.is_ee_cert else "a CA certificate above it"
        raise SignerCertificateRevokedError(
            f"{whose} for {who} was revoked on {exc.revocation_dt.isoformat()}", **context
        ) from exc
    except ExpiredError as exc:
        raise SignerCertificateExpiredError(
            f"the certificate chain of {who} expired on {exc.expired_dt.isoformat()} "
            f"(signing moment {at})", **context
        ) from exc
    except NotYetValidError as exc:
        raise SignerCertificateExpiredError(
            f"the certificate chain of {who} is valid only from {exc.valid_from.isoformat()} "
            f"(signing moment {at})", **context
        ) from exc
    except InsufficientRevinfoError as exc:
        raise RevocationInfoUnavailableError(
            f"the revocation status of {who}'s certificate chain could not be established: "
            f"{exc.failure_msg}", **context
        ) from exc
    except PathBuildingError as exc:
        raise SignerCertificateUntrustedError(
            f"the certificate of {who} does not chain to a configured trust root", **context
        ) from exc
    except (PathValidationError, ValidationError) as exc:
        raise SignerCertificateUntrustedError(
            f"the certificate chain of {who} is not valid", **context,
            reason=exc.failure_msg,
        ) from exc
    ku = cert.key_usage_value
    if ku is not None and not set(ku.native) & SIGNING_KEY_USAGES:
        raise SignerCertificateUntrustedError(
            f"the certificate of {who} is not meant for signatures (key usage {sorted(ku.native)})",
            **context,
        )
    return path


def require_revocation_info(level: PadesLevel, vc: ValidationContext, key: KeyBackend) -> None:
    """At B-LT and above, refuse when no OCSP response or CRL was obtained for the chain."""
    if level.long_term and not (vc.ocsps or vc.crls):
        raise RevocationInfoUnavailableError(
            f"PAdES {level} embeds OCSP responses or CRLs, but none were obtained for "
            "the signer's chain (fetching is off and none were configured, or the "
            "certificates name no OCSP/CRL service)",
            **_certificate_error_context(key),
        )


def require_timestamper(level: PadesLevel, ctx: SigningContext) -> None:
    """At B-T and above, refuse when no time-stamping authority is configured."""
    if level.timestamped and ctx.timestamper is None:
        raise TimestampError(f"PAdES {level} needs a time-stamping authority; none is configured")


def _open_writer(fh: IO[bytes]) -> IncrementalPdfFileWriter:
    try:
        writer = IncrementalPdfFileWriter(fh, strict=True)
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise MalformedPdfError("the PDF cannot be parsed") from exc
    if writer.prev.encrypted:
        raise EncryptedPdfError("encrypted PDFs cannot be signed")
    return writer


@dataclass(frozen=True)
class _Request:
    input_path: Path
    partial_path: Path
    key: KeyBackend
    level: PadesLevel
    ctx: SigningContext
    meta: dict[str, Any]
    field_spec: SigFieldSpec | None
    stamp: Any
    text_params: dict[str, Any] | None
    signing_time: datetime


async def _sign(req: _Request) -> None:
    ctx = req.ctx
    vc = ctx.validation_context(
        moment=req.signing_time,
        allow_fetching=ctx.fetch_revocation,
        hard_fail=ctx.fetch_revocation,
        other_certs=req.key.chain,
    )
    try:
        await _check_signer(req.key, vc, req.signing_time)
        require_revocation_info(req.level, vc, req.key)
        meta = PdfSignatureMetadata(
            **req.meta,
            md_algorithm="sha256",
            subfilter=SigSeedSubFilter.PADES,
            embed_validation_info=req.level.long_term,
            use_pades_lta=req.level is PadesLevel.B_LTA,
            validation_context=vc if req.level.long_term else None,
            # Key usage is checked above (either usage suffices for a signing certificate).
            signer_key_usage=set(),
        )
        pdf_signer = _PinnedTimePdfSigner(
            meta,
            req.key.signer(),
            timestamper=ctx.timestamper if req.level.timestamped else None,
            stamp_style=req.stamp,
            new_field_spec=req.field_spec,
            signing_time=req.signing_time,
        )
        # pyHanko sizes the signature by making a dummy one first (a dry-run CMS, and a TSA
        # round trip at B-T and above). Once a key and level have signed, reserve what that
        # took plus a margin instead; if it ever falls short, sign again with the estimate.
        sizing = (req.key.info().fingerprint_sha256, req.level.value)
        reserved = _RESERVED.get(sizing)
        for attempt in (reserved, None) if reserved else (None,):
            try:
                with req.input_path.open("rb") as infile, \
                        req.partial_path.open("w+b") as outfile:
                    writer = _open_writer(infile)
                    await pdf_signer.async_sign_pdf(
                        writer, output=outfile, appearance_text_params=req.text_params,
                        bytes_reserved=attempt,
                    )
                break
            except PyHankoSigningError as exc:
                if attempt is None or "larger than expected" not in str(exc):
                    raise
        if attempt is None:
            # Only when pyHanko sized it: a reservation that fitted teaches nothing new.
            _remember_size(sizing, req.partial_path, str(req.meta["field_name"]))
    finally:
        await vc.aclose()  # type: ignore[no-untyped-call]


# Signature container sizes learned per (certificate, level): hex characters to reserve.
_RESERVED: dict[tuple[str, str], int] = {}

# pyHanko refusals a client can act on, told in our words (its own text stays in the log).
_KNOWN_REFUSALS = (
    ("certification signatures must be the first",
     "a certification signature must be the document's first signature"),
    ("forbids all changes", "an earlier signature forbids any change to the document"),
)


def _refusal(exc: PyHankoSigningError) -> str:
    """What the client is told when pyHanko refuses to sign."""
    said = str(exc).lower()
    for words, ours in _KNOWN_REFUSALS:
        if words in said:
            return ours
    return "the PDF cannot be signed as it is"


@contextmanager
def pyhanko_refusals() -> Iterator[None]:
    """Tell what pyHanko raised while signing (after the signer was checked) in our terms."""
    try:
        yield
    except TimestampRequestError as exc:
        raise TimestampError(f"the time-stamping authority did not answer: {exc}") from exc
    except InsufficientRevinfoError as exc:
        raise RevocationInfoUnavailableError(
            f"revocation information for a timestamp certificate is unavailable: "
            f"{exc.failure_msg}"
        ) from exc
    except (PathError, ValidationError) as exc:
        # The signer was validated before, so this is the TSA's certificate.
        raise TimestampError(
            f"the time-stamping authority's certificate cannot be validated: {exc}"
        ) from exc
    except PyHankoSigningError as exc:
        raise SigningError(_refusal(exc)) from exc
    except PdfError as exc:
        raise MalformedPdfError("the PDF cannot be processed") from exc


def learned_reservation(fingerprint_sha256: str, level: PadesLevel) -> int | None:
    """Hex characters a signature by this certificate at this level needed, if known."""
    return _RESERVED.get((fingerprint_sha256, level.value))


def learn_reservation(fingerprint_sha256: str, level: PadesLevel, der_length: int) -> None:
    """Remember what a signature container by this certificate at this level took."""
    _RESERVED[(fingerprint_sha256, level.value)] = reservation_for(der_length)


def reservation_for(der_length: int) -> int:
    """Hex characters to reserve for a signature container whose DER took ``der_length``.

    Containers of one key and level differ by a few bytes (ECDSA signature lengths, the
    timestamp token's serial, nonce and fractional seconds). Every reserved zero costs
    time later: pyHanko reads /Contents one hex digit at a time, in each validation.
    So: 1/32 more plus 128 bytes, in hex, always even. Falling short is caught (pyHanko
    refuses) and the signature is made again with pyHanko's own estimate.
    """
    return 2 * (der_length + der_length // 32 + 128)


def _remember_size(sizing: tuple[str, str], signed: Path, field_name: str) -> None:
    with signed.open("rb") as fh:
        reader = PdfFileReader(fh, strict=False)
        for embedded in reader.embedded_signatures:
            if embedded.field_name == field_name:
                # /Contents is the reserved space, zero-padded: measure the DER itself.
                _, _, _, header, contents, _ = asn1_parser.parse(embedded.pkcs7_content)
                _RESERVED[sizing] = reservation_for(len(header) + len(contents))
                return


def sign_pdf(
    input_path: Path,
    output_path: Path,
    *,
    key: KeyBackend,
    level: PadesLevel,
    ctx: SigningContext,
    field_name: str,
    reason: str = "",
    location: str = "",
    name: str | None = None,
    certify_fill_forms: bool = False,
    new_field_box: tuple[int, int, int, int] | None = None,
    page: int = 0,
    stamp: Any = None,
    appearance_text_params: dict[str, Any] | None = None,
) -> SignResult:
    """Sign ``input_path`` into ``output_path`` as an incremental update at PAdES ``level``.

    ``reason`` carries the signing capacity (e.g. "KT. GIÁM ĐỐC"). ``certify_fill_forms``
    makes it a certification signature that still allows form filling and further
    signatures. Blocking: call it from a worker thread, never inside an event loop.
    """
    ensure_no_running_loop("sign_pdf")
    level = PadesLevel(level)
    require_timestamper(level, ctx)
    input_path, output_path = Path(input_path), Path(output_path)
    signing_time = ctx.now().astimezone(VIETNAM_TZ)
    field_spec = None
    if new_field_box is not None:
        field_spec = SigFieldSpec(sig_field_name=field_name, box=new_field_box, on_page=page)
    meta: dict[str, Any] = {
        "field_name": field_name,
        "reason": reason or None,
        "location": location or None,
        "name": name,
        "certify": certify_fill_forms,
        "docmdp_permissions": MDPPerm.FILL_FORMS,
    }
    partial = output_path.with_name(f".{output_path.name}.{uuid.uuid4().hex}.partial")
    request = _Request(
        input_path, partial, key, level, ctx, meta, field_spec, stamp, appearance_text_params,
        signing_time,
    )
    try:
        with pyhanko_refusals():
            asyncio.run(_sign(request))
        sha256, size = file_sha256(partial)
        os.replace(partial, output_path)
    finally:
        partial.unlink(missing_ok=True)
    return SignResult(
        sha256=sha256,
        size=size,
        level=level,
        field_name=field_name,
        certificate=key.info(),
        signing_time=signing_time,
    )
