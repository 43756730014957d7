"""Validation of every signature and document timestamp in a PDF, as a bilingual report.

A signature that fails validation is a result, not an exception; only a file pyHanko
cannot parse at all raises (MalformedPdfError / EncryptedPdfError).
"""

from __future__ import annotations

import asyncio
import hashlib
import html
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast

from asn1crypto import cms, core, crl, ocsp, x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.fields import SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    DocumentTimestampStatus,
    EmbeddedPdfSignature,
    PdfSignatureStatus,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.errors import NoDSSFoundError, SignatureValidationError
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    NotYetValidError,
    PathBuildingError,
    PathError,
    RevokedError,
    ValidationError,
)

from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.errors import EncryptedPdfError, MalformedPdfError, PdfTooComplexError
from signing.activecontent import find_active_content
from signing.keys import CertificateInfo
from signing.pades import SigningContext, ensure_no_running_loop
from signing.pathbudget import count_paths
from signing.port import ReportDict, Verdict

__all__ = [
    "DocumentTimestampReport",
    "SignatureReport",
    "ValidationReport",
    "report_html",
    "validate_pdf",
]

_SEVERITY = {Verdict.VALID: 0, Verdict.INDETERMINATE: 1, Verdict.INVALID: 2}
_KEY_USAGE = KeyUsageConstraints(
    key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
)
# (English, Vietnamese) explanations, keyed by outcome.
_WHY: dict[str, tuple[str, str]] = {
    "unreadable": ("The signature data cannot be read.", "Không đọc được dữ liệu chữ ký."),
    "not_intact": (
        "The document was changed after signing: the signed bytes no longer match.",
        "Tài liệu đã bị thay đổi sau khi ký: nội dung được ký không còn khớp.",
    ),
    "bad_crypto": (
        "The cryptographic signature does not verify.",
        "Chữ ký số không đúng về mặt mật mã.",
    ),
    "modified": (
        "Changes made after signing are not permitted by the document's modification policy.",
        "Tài liệu có thay đổi sau khi ký mà quy định sửa đổi của tài liệu không cho phép.",
    ),
    "revoked": (
        "The signer's certificate (or a CA above it) has been revoked.",
        "Chứng thư số của người ký (hoặc của tổ chức cấp) đã bị thu hồi.",
    ),
    "bad_timestamp": (
        "The signature timestamp does not match the signature.",
        "Dấu thời gian không khớp với chữ ký.",
    ),
    "untrusted": (
        "The signer's certificate does not chain to a trusted root certificate.",
        "Chứng thư số của người ký không được cấp bởi tổ chức chứng thực được tin cậy.",
    ),
    "expired": (
        "The signer's certificate chain was expired or not yet valid at the validation time.",
        "Chứng thư số của người ký đã hết hạn hoặc chưa có hiệu lực tại thời điểm kiểm tra.",
    ),
    "revinfo": (
        "The revocation status of the signer's certificate could not be determined.",
        "Không xác định được trạng thái thu hồi của chứng thư số người ký.",
    ),
    "ts_untrusted": (
        "The signature timestamp cannot be trusted.",
        "Dấu thời gian của chữ ký không được tin cậy.",
    ),
    "other": (
        "The signer's certificate could not be validated.",
        "Không kiểm tra được chứng thư số của người ký.",
    ),
    "valid_full": ("The signature is valid and covers the whole document.",
                   "Chữ ký hợp lệ và bao trùm toàn bộ tài liệu."),
    "valid_later": (
        "The signature is valid; later changes are permitted ones (further signatures, "
        "form filling, validation data).",
        "Chữ ký hợp lệ; các thay đổi sau đó đều được phép (chữ ký tiếp theo, điền biểu mẫu, "
        "dữ liệu kiểm tra).",
    ),
    "ts_valid": ("The document timestamp is valid.", "Dấu thời gian của tài liệu hợp lệ."),
}


@dataclass(frozen=True)
class SignatureReport:
    """The verdict on one signature (approval or certification)."""

    field_name: str
    intact: bool
    valid: bool
    trusted: bool
    revocation: str
    timestamp: str | None
    timestamp_trusted: bool | None
    document_timestamp: bool
    signer_subject: str | None
    signer_fingerprint: str | None
    signing_time: str | None
    reason: str | None
    location: str | None
    docmdp: str | None
    modification_level: str | None
    coverage: str | None
    pades_level: str | None
    bottom_line: Verdict
    explanation_en: str
    explanation_vi: str


@dataclass(frozen=True)
class DocumentTimestampReport:
    """The verdict on one document timestamp (PAdES B-LTA archive timestamp)."""

    field_name: str
    intact: bool
    valid: bool
    trusted: bool
    time: str | None
    tsa_subject: str | None
    coverage: str | None
    modification_level: str | None
    bottom_line: Verdict
    explanation_en: str
    explanation_vi: str


@dataclass(frozen=True)
class ValidationReport:
    """Every signature and document timestamp of one PDF, with an overall verdict."""

    sha256: str
    validated_at: str
    signatures: tuple[SignatureReport, ...]
    document_timestamps: tuple[DocumentTimestampReport, ...]
    dss_ocsp_responses: int
    dss_crls: int
    bottom_line: Verdict
    explanation_en: str
    explanation_vi: str
    # What a viewer would run, send or open (JavaScript, actions, embedded files, XFA).
    active_content: tuple[str, ...] = ()

    @property
    def signature_count(self) -> int:
        """How many signatures (not counting document timestamps) the PDF carries."""
        return len(self.signatures)

    def to_dict(self) -> ReportDict:
        """JSON primitives only."""
        data = asdict(self)
        data["signatures"] = [asdict(s) for s in self.signatures]
        data["document_timestamps"] = [asdict(t) for t in self.document_timestamps]
        data["active_content"] = list(self.active_content)
        data["signature_count"] = self.signature_count
        # asdict is untyped; tests/unit/test_report_types.py holds the keys to ReportDict's.
        return cast("ReportDict", data)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(VIETNAM_TZ).isoformat()


@dataclass(frozen=True)
class _Dss:
    certs: list[x509.Certificate]
    ocsps: list[ocsp.OCSPResponse]
    crls: list[crl.CertificateList]


def _read_dss(reader: PdfFileReader) -> _Dss:
    try:
        dss = DocumentSecurityStore.read_dss(reader)
        return _Dss(
            certs=list(dss.load_certs()),
            ocsps=[ocsp.OCSPResponse.load(ref.get_object().data) for ref in dss.ocsps],
            crls=[crl.CertificateList.load(ref.get_object().data) for ref in dss.crls],
        )
    except NoDSSFoundError:
        return _Dss([], [], [])
    except (PdfError, ValueError, KeyError, TypeError):
        # An unreadable DSS just contributes nothing; the signatures are judged without it.
        return _Dss([], [], [])


def _open_reader(fh: IO[bytes]) -> PdfFileReader:
    try:
        reader = PdfFileReader(fh, strict=True)
        _ = reader.root
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise MalformedPdfError("the PDF cannot be parsed") from exc
    if reader.encrypted:
        raise EncryptedPdfError("encrypted PDFs cannot be validated")
    # pyHanko's diff analysis of later revisions maps every path of the object graph: a
    # file stored before intake counted them must not stall a worker (PdfTooComplexError).
    if reader.xrefs.total_revisions > 1:
        try:
            count_paths(reader)
        except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise MalformedPdfError(f"the PDF cannot be parsed: {exc}") from None
    return reader


def _collect(reader: PdfFileReader) -> list[tuple[str, EmbeddedPdfSignature | Exception]]:
    found: list[tuple[str, EmbeddedPdfSignature | Exception]] = []
    try:
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise MalformedPdfError("the PDF's form fields cannot be read") from exc
    for fq_name, _sig_obj, sig_field in fields:
        try:
            found.append((fq_name, EmbeddedPdfSignature(reader, sig_field, fq_name)))
        except (PdfError, ValueError, KeyError, TypeError) as exc:
            found.append((fq_name, exc))
    return found


def _tst_time(embedded: EmbeddedPdfSignature) -> datetime | None:
    """The time in the signature's own timestamp token (its proof of existence), if any."""
    try:
        unsigned = embedded.signer_info["unsigned_attrs"]
        if isinstance(unsigned, core.Void):
            return None
        for attr in unsigned:
            if attr["type"].native == "signature_time_stamp_token":
                token: cms.ContentInfo = attr["values"][0]
                tst_info = token["content"]["encap_content_info"]["content"].parsed
                gen_time: datetime = tst_info["gen_time"].native
                return gen_time
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    return None


async def _probe_chain(cert: x509.Certificate, others: list[x509.Certificate],
                       vc: ValidationContext) -> str:
    """Why a chain failed, in our terms (pyHanko folds several causes into one code)."""
    validator = CertificateValidator(cert, intermediate_certs=others, validation_context=vc)
    try:
        await validator.async_validate_path()
    except RevokedError:
        return "revoked"
    except (ExpiredError, NotYetValidError):
        return "expired"
    except InsufficientRevinfoError:
        return "revinfo"
    except PathBuildingError:
        return "untrusted"
    except (PathError, ValidationError, ValueError):
        return "other"
    return "other"


_INDIC_CAUSE: dict[object, str] = {
    AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND: "untrusted",
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE: "expired",
    AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED: "expired",
    AdESIndeterminate.EXPIRED: "expired",
    AdESIndeterminate.NOT_YET_VALID: "expired",
    AdESIndeterminate.TRY_LATER: "revinfo",
    AdESIndeterminate.REVOCATION_OUT_OF_BOUNDS_NO_POE: "revinfo",
}


def _declares_revinfo(cert: x509.Certificate) -> bool:
    return bool(cert.ocsp_urls or cert.crl_distribution_points)


def _revocation(status: PdfSignatureStatus, cause: str | None) -> str:
    if status.revoked or cause == "revoked":
        return "revoked"
    if status.trusted:
        return "good" if _declares_revinfo(status.signing_cert) else "not checked"
    if cause in ("untrusted", "expired"):
        return "not checked"
    return "unknown"


def _verdict(status: PdfSignatureStatus, cause: str | None) -> tuple[Verdict, str]:
    """(bottom_line, explanation key) for a signature pyHanko managed to evaluate."""
    ts = status.timestamp_validity
    if not status.intact:
        return Verdict.INVALID, "not_intact"
    if not status.valid:
        return Verdict.INVALID, "bad_crypto"
    if status.docmdp_ok is False or not status.seed_value_ok:
        return Verdict.INVALID, "modified"
    if status.revoked:
        return Verdict.INVALID, "revoked"
    if ts is not None and not (ts.intact and ts.valid):
        return Verdict.INVALID, "bad_timestamp"
    if status.bottom_line:
        full = status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
        return Verdict.VALID, "valid_full" if full else "valid_later"
    if not status.trusted:
        return Verdict.INDETERMINATE, cause or "other"
    return Verdict.INDETERMINATE, "ts_untrusted"


def _pades_level(embedded: EmbeddedPdfSignature, has_tst: bool, later_doc_ts: bool,
                 long_term: bool) -> str | None:
    """The baseline level the signature demonstrably meets (a best guess, not a conformance
    check): B-LT when it validated from the DSS alone."""
    if embedded.sig_object.get("/SubFilter") != SigSeedSubFilter.PADES.value:
        return None
    if not (has_tst or later_doc_ts):
        return "B-B"
    if not long_term:
        return "B-T"
    return "B-LTA" if later_doc_ts else "B-LT"


def _text(embedded: EmbeddedPdfSignature, key: str) -> str | None:
    value = embedded.sig_object.get(key)
    return None if value is None else str(value)


def _unreadable(fq_name: str, exc: Exception) -> SignatureReport:
    en, vi = _WHY["unreadable"]
    return SignatureReport(
        field_name=str(fq_name), intact=False, valid=False, trusted=False, revocation="not checked",
        timestamp=None, timestamp_trusted=None, document_timestamp=False, signer_subject=None,
        signer_fingerprint=None, signing_time=None, reason=None, location=None, docmdp=None,
        modification_level=None, coverage=None, pades_level=None, bottom_line=Verdict.INVALID,
        explanation_en=f"{en} ({type(exc).__name__}: {exc})", explanation_vi=vi,
    )


class _Validator:
    """One validation run: builds a context per signature and closes them all at the end."""

    def __init__(self, ctx: SigningContext, dss: _Dss) -> None:
        self.ctx = ctx
        self.dss = dss
        self._contexts: list[ValidationContext] = []

    def context(self, *, moment: datetime | None, long_term: bool) -> ValidationContext:
        # Long-term (B-LT/LTA): judge at the time the signature timestamp proves, from the
        # validation data embedded in the DSS alone, as pyHanko's former LTV validator did.
        vc = self.ctx.validation_context(
            moment=moment,
            allow_fetching=self.ctx.fetch_revocation and not long_term,
            hard_fail=True,
            other_certs=self.dss.certs,
            crls=self.dss.crls,
            ocsps=self.dss.ocsps,
            retroactive_revinfo=long_term,
        )
        self._contexts.append(vc)
        return vc

    async def close(self) -> None:
        for vc in self._contexts:
            await vc.aclose()  # type: ignore[no-untyped-call]

    async def _evaluate(self, embedded: EmbeddedPdfSignature, moment: datetime | None,
                        long_term: bool) -> tuple[PdfSignatureStatus, str | None, Verdict, str]:
        vc = self.context(moment=moment, long_term=long_term)
        status = await async_validate_pdf_signature(
            embedded, signer_validation_context=vc, key_usage_settings=_KEY_USAGE
        )
        cause: str | None = None
        if not status.trusted and not status.revoked and status.valid and status.intact:
            indic = status.trust_problem_indic
            cause = _INDIC_CAUSE.get(indic) if indic is not None else None
            if cause is None:
                cause = await _probe_chain(status.signing_cert, embedded.other_embedded_certs, vc)
        bottom_line, why = _verdict(status, cause)
        return status, cause, bottom_line, why

    async def signature(self, embedded: EmbeddedPdfSignature,
                        doc_ts_revisions: list[int]) -> SignatureReport:
        tst_time = _tst_time(embedded)
        long_term = tst_time is not None and bool(self.dss.ocsps or self.dss.crls)
        try:
            if long_term:
                outcome = await self._evaluate(embedded, tst_time, long_term=True)
                # The DSS may hold validation data for other signatures only (say, a B-T
                # signature followed by a B-LT seal): then judge this one as of now.
                long_term = outcome[2] is not Verdict.INDETERMINATE
            if not long_term:
                outcome = await self._evaluate(embedded, self.ctx.clock, long_term=False)
        except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError) as exc:
            return _unreadable(embedded.field_name, exc)
        status, cause, bottom_line, why = outcome
        en, vi = _WHY[why]
        info = CertificateInfo.from_certificate(status.signing_cert)
        ts = status.timestamp_validity
        later_doc_ts = any(rev > embedded.signed_revision for rev in doc_ts_revisions)
        docmdp = embedded.docmdp_level
        return SignatureReport(
            field_name=str(embedded.field_name),
            intact=status.intact,
            valid=status.valid,
            trusted=status.trusted,
            revocation=_revocation(status, cause),
            timestamp=_iso(ts.timestamp) if ts is not None else None,
            timestamp_trusted=ts.trusted if ts is not None else None,
            document_timestamp=later_doc_ts,
            signer_subject=info.subject,
            signer_fingerprint=info.fingerprint_sha256,
            signing_time=_iso(status.signer_reported_dt),
            reason=_text(embedded, "/Reason"),
            location=_text(embedded, "/Location"),
            docmdp=docmdp.name if docmdp is not None else None,
            modification_level=(
                status.modification_level.name if status.modification_level else None
            ),
            coverage=status.coverage.name if status.coverage else None,
            pades_level=_pades_level(embedded, tst_time is not None, later_doc_ts, long_term),
            bottom_line=bottom_line,
            explanation_en=en,
            explanation_vi=vi,
        )

    async def timestamp(self, embedded: EmbeddedPdfSignature) -> DocumentTimestampReport:
        vc = self.context(moment=self.ctx.clock, long_term=False)
        try:
            status: DocumentTimestampStatus = await async_validate_pdf_timestamp(
                embedded, validation_context=vc
            )
        except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError) as exc:
            en, vi = _WHY["unreadable"]
            return DocumentTimestampReport(
                field_name=str(embedded.field_name), intact=False, valid=False, trusted=False,
                time=None, tsa_subject=None, coverage=None, modification_level=None,
                bottom_line=Verdict.INVALID, explanation_en=f"{en} ({exc})", explanation_vi=vi,
            )
        if not (status.intact and status.valid):
            why = "not_intact" if not status.intact else "bad_crypto"
            bottom_line = Verdict.INVALID
        elif status.docmdp_ok is False:
            bottom_line, why = Verdict.INVALID, "modified"
        elif status.trusted:
            bottom_line, why = Verdict.VALID, "ts_valid"
        else:
            bottom_line, why = Verdict.INDETERMINATE, "ts_untrusted"
        en, vi = _WHY[why]
        return DocumentTimestampReport(
            field_name=str(embedded.field_name),
            intact=status.intact,
            valid=status.valid,
            trusted=status.trusted,
            time=_iso(status.timestamp),
            tsa_subject=CertificateInfo.from_certificate(status.signing_cert).subject,
            coverage=status.coverage.name if status.coverage else None,
            modification_level=(
                status.modification_level.name if status.modification_level else None
            ),
            bottom_line=bottom_line,
            explanation_en=en,
            explanation_vi=vi,
        )


async def _run(found: list[tuple[str, EmbeddedPdfSignature | Exception]], ctx: SigningContext,
               dss: _Dss) -> tuple[list[SignatureReport], list[DocumentTimestampReport]]:
    validator = _Validator(ctx, dss)
    embedded = sorted((e for _, e in found if isinstance(e, EmbeddedPdfSignature)),
                      key=lambda e: e.signed_revision)
    doc_ts = [e for e in embedded if e.sig_object_type == "/DocTimeStamp"]
    revisions = [e.signed_revision for e in doc_ts]
    try:
        signatures = [await validator.signature(e, revisions)
                      for e in embedded if e.sig_object_type != "/DocTimeStamp"]
        timestamps = [await validator.timestamp(e) for e in doc_ts]
    finally:
        await validator.close()
    signatures += [_unreadable(name, e) for name, e in found if isinstance(e, Exception)]
    return signatures, timestamps


def _overall(signatures: list[SignatureReport],
             timestamps: list[DocumentTimestampReport]) -> tuple[Verdict, str, str]:
    if not signatures:
        return (Verdict.UNSIGNED, "The document carries no signature.",
                "Tài liệu không có chữ ký số.")
    verdicts = [s.bottom_line for s in signatures] + [t.bottom_line for t in timestamps]
    worst = max(verdicts, key=_SEVERITY.__getitem__)
    n = len(signatures)
    if worst is Verdict.VALID:
        return Verdict.VALID, f"All {n} signature(s) are valid.", f"Cả {n} chữ ký đều hợp lệ."
    if worst is Verdict.INVALID:
        return (Verdict.INVALID, "At least one signature or timestamp is invalid.",
                "Có chữ ký hoặc dấu thời gian không hợp lệ.")
    return (Verdict.INDETERMINATE,
            "At least one signature or timestamp could not be fully validated.",
            "Có chữ ký hoặc dấu thời gian chưa xác định được tính hợp lệ.")


_ACTIVE_WARNING = (
    " Warning: the document carries active content (JavaScript, actions, embedded files or "
    "forms a viewer may run); it must not be accepted as an official document.",
    " Cảnh báo: tài liệu chứa nội dung chủ động (JavaScript, hành động, tệp đính kèm hoặc "
    "biểu mẫu mà trình đọc có thể thực thi); không được tiếp nhận làm văn bản chính thức.",
)


def _active_content(reader: PdfFileReader) -> tuple[str, ...]:
    try:
        return tuple(find_active_content(reader))
    except PdfTooComplexError:
        return ("too many objects to check the whole document for active content",)
    except (PdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError):
        return ("some objects could not be read to check for active content",)


def _sha256(fh: IO[bytes]) -> str:
    fh.seek(0)
    digest = hashlib.sha256()
    while chunk := fh.read(1 << 20):
        digest.update(chunk)
    fh.seek(0)
    return digest.hexdigest()


def validate_pdf(path: Path, ctx: SigningContext) -> ValidationReport:
    """Validate every signature and document timestamp of the PDF at ``path``.

    Blocking: call it from a worker thread, never inside a running event loop.
    """
    ensure_no_running_loop("validate_pdf")
    with Path(path).open("rb") as fh:
        sha256 = _sha256(fh)
        reader = _open_reader(fh)
        active = _active_content(reader)
        found = _collect(reader)
        dss = _read_dss(reader)
        signatures, timestamps = asyncio.run(_run(found, ctx, dss))
    bottom_line, en, vi = _overall(signatures, timestamps)
    if active:
        en, vi = en + _ACTIVE_WARNING[0], vi + _ACTIVE_WARNING[1]
    return ValidationReport(
        sha256=sha256,
        validated_at=_iso(ctx.now()) or "",
        signatures=tuple(signatures),
        document_timestamps=tuple(timestamps),
        dss_ocsp_responses=len(dss.ocsps),
        dss_crls=len(dss.crls),
        bottom_line=bottom_line,
        explanation_en=en,
        explanation_vi=vi,
        active_content=active,
    )


_LABELS = {
    Verdict.VALID: ("Hợp lệ", "Valid"),
    Verdict.INVALID: ("Không hợp lệ", "Invalid"),
    Verdict.INDETERMINATE: ("Chưa xác định", "Indeterminate"),
    Verdict.UNSIGNED: ("Chưa ký", "Unsigned"),
    "good": ("Chưa bị thu hồi", "Not revoked"),
    "revoked": ("Đã bị thu hồi", "Revoked"),
    "unknown": ("Không xác định", "Unknown"),
    "not checked": ("Không kiểm tra", "Not checked"),
    True: ("Có", "Yes"),
    False: ("Không", "No"),
}
_SIGNATURE_ROWS = [
    ("bottom_line", "Kết luận", "Verdict"),
    ("signer_subject", "Người ký", "Signer"),
    ("signer_fingerprint", "Dấu vân tay chứng thư (SHA-256)", "Certificate fingerprint (SHA-256)"),
    ("reason", "Thẩm quyền / lý do ký", "Capacity / reason"),
    ("location", "Nơi ký", "Location"),
    ("signing_time", "Thời gian ký (người ký khai)", "Signing time (claimed)"),
    ("timestamp", "Dấu thời gian", "Signature timestamp"),
    ("document_timestamp", "Có dấu thời gian tài liệu", "Document timestamp present"),
    ("intact", "Nội dung nguyên vẹn", "Content intact"),
    ("valid", "Chữ ký đúng về mật mã", "Cryptographically valid"),
    ("trusted", "Chứng thư được tin cậy", "Certificate trusted"),
    ("revocation", "Trạng thái thu hồi", "Revocation status"),
    ("docmdp", "Chữ ký chứng nhận (DocMDP)", "Certification (DocMDP)"),
    ("modification_level", "Thay đổi sau khi ký", "Changes after signing"),
    ("coverage", "Phạm vi ký", "Coverage"),
    ("pades_level", "Mức PAdES", "PAdES level"),
]
_TIMESTAMP_ROWS = [
    ("bottom_line", "Kết luận", "Verdict"),
    ("time", "Thời gian", "Time"),
    ("tsa_subject", "Đơn vị cấp dấu thời gian", "Time-stamping authority"),
    ("intact", "Nội dung nguyên vẹn", "Content intact"),
    ("trusted", "Được tin cậy", "Trusted"),
    ("coverage", "Phạm vi", "Coverage"),
]
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}"
    "table{border-collapse:collapse;width:100%;margin-bottom:1.5rem}"
    "th,td{border:1px solid #ccc;padding:.35rem .6rem;text-align:left;vertical-align:top}"
    "th{width:35%;background:#f5f5f5;font-weight:normal}"
    ".valid{color:#17642a}.invalid{color:#a11}.indeterminate,.unsigned{color:#8a5a00}"
    ".en{color:#666;font-size:.9em}"
)


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value in _LABELS:
        vi, en = _LABELS[value]
        return f"{html.escape(vi)} <span class=en>/ {html.escape(en)}</span>"
    return "—" if value is None else html.escape(str(value))


def _table(item: Any, rows: list[tuple[str, str, str]]) -> str:
    lines = []
    for attr, vi, en in rows:
        value = getattr(item, attr)
        css = f" class={value}" if attr == "bottom_line" else ""
        lines.append(f"<tr><th>{html.escape(vi)} <span class=en>/ {html.escape(en)}</span></th>"
                     f"<td{css}>{_cell(value)}</td></tr>")
    lines.append(f"<tr><th>Giải thích <span class=en>/ Explanation</span></th>"
                 f"<td>{html.escape(item.explanation_vi)}<br>"
                 f"<span class=en>{html.escape(item.explanation_en)}</span></td></tr>")
    return "<table>" + "".join(lines) + "</table>"


def _active_cell(report: ValidationReport) -> str:
    if not report.active_content:
        return "Không có <span class=en>/ None</span>"
    items = "".join(f"<li><code>{html.escape(item)}</code></li>"
                    for item in report.active_content)
    return ("Có — trình đọc PDF có thể thực thi các nội dung sau "
            "<span class=en>/ Present — a PDF viewer may run the following</span>"
            f"<ul>{items}</ul>")


def report_html(report: ValidationReport) -> str:
    """A self-contained bilingual (Vietnamese/English) HTML page; every value is escaped."""
    parts = [
        "<!DOCTYPE html><html lang=vi><head><meta charset=utf-8>",
        "<title>Báo cáo kiểm tra chữ ký số / Signature validation report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Báo cáo kiểm tra chữ ký số <span class=en>/ Signature validation report</span></h1>",
        f"<p class={report.bottom_line}><strong>{_cell(report.bottom_line)}</strong> — "
        f"{html.escape(report.explanation_vi)} "
        f"<span class=en>{html.escape(report.explanation_en)}</span></p>",
        "<table>",
        f"<tr><th>SHA-256 tệp <span class=en>/ File SHA-256</span></th>"
        f"<td><code>{html.escape(report.sha256)}</code></td></tr>",
        f"<tr><th>Thời điểm kiểm tra <span class=en>/ Validated at</span></th>"
        f"<td>{html.escape(report.validated_at)}</td></tr>",
        f"<tr><th>Số chữ ký <span class=en>/ Signatures</span></th>"
        f"<td>{report.signature_count}</td></tr>",
        f"<tr><th>Dữ liệu kiểm tra nhúng (DSS) <span class=en>/ Embedded validation data</span>"
        f"</th><td>OCSP: {report.dss_ocsp_responses}, CRL: {report.dss_crls}</td></tr>",
        f"<tr><th>Nội dung chủ động <span class=en>/ Active content</span></th>"
        f"<td{' class=invalid' if report.active_content else ''}>{_active_cell(report)}</td>"
        "</tr>",
        "</table>",
    ]
    for number, sig in enumerate(report.signatures, start=1):
        parts.append(f"<h2>Chữ ký {number} <span class=en>/ Signature {number}</span>: "
                     f"<code>{html.escape(sig.field_name)}</code></h2>")
        parts.append(_table(sig, _SIGNATURE_ROWS))
    for number, ts in enumerate(report.document_timestamps, start=1):
        parts.append(f"<h2>Dấu thời gian tài liệu {number} <span class=en>/ Document timestamp "
                     f"{number}</span>: <code>{html.escape(ts.field_name)}</code></h2>")
        parts.append(_table(ts, _TIMESTAMP_ROWS))
    parts.append("</body></html>")
    return "\n".join(parts)
