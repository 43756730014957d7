"""Acceptance of a whole signed PDF made by a leader's own signing software (a browser plug-in).

The server prepared the file; the leader's software signed it and sent all of it back. It is
accepted only as the prepared bytes plus one signature in the leader's field and nothing else:
each refusal names its reason (``SignedPdfRefusedError.context["reason"]``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import (
    DEFAULT_DIFF_POLICY,
    DiffPolicy,
    DiffResult,
    FormUpdatingRule,
    GenericFieldModificationRule,
    ModificationLevel,
    SigFieldCreationRule,
    SigFieldModificationRule,
    StandardDiffPolicy,
    SuspiciousModification,
)
from pyhanko.sign.diff_analysis.constants import (
    ACROFORM_EXEMPT_STRICT_COMPARISON,
    ROOT_EXEMPT_STRICT_COMPARISON,
)
from pyhanko.sign.diff_analysis.rules.file_structure_rules import CatalogModificationRule
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel

from docmgmt.domain.errors import EncryptedPdfError, MalformedPdfError
from signing.errors import SignedPdfRefusedError
from signing.keys import CertificateInfo
from signing.pades import SigningContext, ensure_no_running_loop
from signing.pathbudget import count_paths
from signing.port import SignatureOutcome, Verdict, summarise
from signing.validate import validate_pdf

# The signature's own revision, then at most a DSS, a document timestamp and its DSS (what a
# B-LT or B-LTA signer appends). Each added revision costs one diff analysis.
MAX_ADDED_REVISIONS = 4

# pyHanko's default policy, except that the signing revision may set /SigFlags (signatures
# exist, append only) and, for a certification, /Perms /DocMDP (checked in _check_perms):
# signing does that, and pyHanko never diffs a signature's own revision.
_SIGNING_REVISION_POLICY = StandardDiffPolicy(
    global_rules=[CatalogModificationRule(  # type: ignore[no-untyped-call]
                      ROOT_EXEMPT_STRICT_COMPARISON | {"/Perms"}),
                  *(rule for rule in DEFAULT_DIFF_POLICY.global_rules
                    if not isinstance(rule, CatalogModificationRule))],
    form_rule=FormUpdatingRule(
        field_rules=[SigFieldCreationRule(),  # type: ignore[no-untyped-call]
                     SigFieldModificationRule(),
                     GenericFieldModificationRule()],
        ignored_acroform_keys=ACROFORM_EXEMPT_STRICT_COMPARISON | {"/SigFlags"},
    ),
)

_END = re.compile(rb"startxref\s+\d+\s+%%EOF\s*\Z")

_PARSE_ERRORS = (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError,
                 RecursionError)


@dataclass(frozen=True)
class _Base:
    """What is known of the prepared PDF: its size, its revisions and its signatures."""

    size: int
    startxrefs: tuple[int, ...]
    signatures: int


def _refuse(reason: str, detail: str) -> SignedPdfRefusedError:
    return SignedPdfRefusedError(detail, reason=reason)


def _first_difference(prepared: IO[bytes], uploaded: IO[bytes]) -> int | None:
    """The offset of the first byte where the upload departs from the prepared PDF."""
    offset = 0
    while chunk := prepared.read(1 << 20):
        theirs = uploaded.read(len(chunk))
        if theirs != chunk:
            same = next((i for i, (a, b) in enumerate(zip(chunk, theirs, strict=False))
                         if a != b), min(len(chunk), len(theirs)))
            return offset + same
        offset += len(chunk)
    return None


def _open(fh: IO[bytes]) -> PdfFileReader:
    try:
        reader = PdfFileReader(fh, strict=True)
        _ = reader.root
    except _PARSE_ERRORS as exc:
        raise MalformedPdfError("the uploaded PDF cannot be parsed") from exc
    if reader.encrypted:
        raise EncryptedPdfError("the uploaded PDF is encrypted")
    return reader


def _regular(reader: PdfFileReader) -> list[EmbeddedPdfSignature]:
    try:
        return list(reader.embedded_regular_signatures)
    except _PARSE_ERRORS as exc:
        raise MalformedPdfError("the signatures of the uploaded PDF cannot be read") from exc


def _base(prepared: Path) -> _Base:
    with prepared.open("rb") as fh:
        reader = _open(fh)
        revisions = reader.xrefs.total_revisions
        starts = tuple(reader.xrefs.get_startxref_for_revision(r) for r in range(revisions))
        return _Base(prepared.stat().st_size, starts, len(_regular(reader)))


def _check_prefix(prepared: Path, uploaded: Path, base: _Base) -> None:
    """The upload is the prepared PDF byte for byte, with bytes appended."""
    with prepared.open("rb") as ours, uploaded.open("rb") as theirs:
        offset = _first_difference(ours, theirs)
    if offset is not None:
        raise _refuse("not_the_prepared_pdf",
                      f"the uploaded file differs from the prepared PDF at byte {offset}: "
                      "sign the PDF downloaded for this request, without saving it again")
    if uploaded.stat().st_size == base.size:
        raise _refuse("no_signature", "the uploaded file is the prepared PDF, unsigned")


def _check_revisions(reader: PdfFileReader, base: _Base) -> int:
    """The appended bytes are incremental updates chained to the prepared revisions."""
    xrefs = reader.xrefs
    total = xrefs.total_revisions
    kept = len(base.startxrefs)
    ours = tuple(xrefs.get_startxref_for_revision(r) for r in range(min(total, kept)))
    added = [xrefs.get_startxref_for_revision(r) for r in range(kept, total)]
    if ours != base.startxrefs or not added or min(added) < base.size:
        raise _refuse("not_the_prepared_pdf",
                      "the uploaded file does not add incremental updates to the prepared "
                      "PDF: its cross-reference chain does not continue the prepared one")
    if len(added) > MAX_ADDED_REVISIONS:
        raise _refuse("other_changes",
                      f"the uploaded file adds {len(added)} revisions to the prepared PDF; "
                      f"a signature and its validation data take at most "
                      f"{MAX_ADDED_REVISIONS}")
    return kept - 1


def _check_end(uploaded: Path) -> None:
    """Nothing follows the last revision's end-of-file marker."""
    with uploaded.open("rb") as fh:
        fh.seek(max(0, uploaded.stat().st_size - 1024))
        tail = fh.read()
    if _END.search(tail) is None:
        raise _refuse("not_whole_file",
                      "the uploaded file does not end with the end-of-file marker of its last "
                      "revision: it is truncated, or has bytes appended after it")


def _the_new_signature(reader: PdfFileReader, base: _Base) -> EmbeddedPdfSignature:
    """Exactly one signature more than the prepared PDF has."""
    signatures = _regular(reader)
    new = [s for s in signatures if s.signed_revision >= len(base.startxrefs)]
    if len(signatures) <= base.signatures or not new:
        raise _refuse("no_signature", "the uploaded PDF carries no new signature")
    if len(signatures) > base.signatures + 1 or len(new) > 1:
        names = ", ".join(sorted(str(s.field_name) for s in new))
        raise _refuse("extra_signature",
                      f"the uploaded PDF carries {len(new)} new signatures ({names}); "
                      "exactly one, the leader's, is expected")
    return new[0]


def _check_field(signature: EmbeddedPdfSignature, field_name: str) -> None:
    """The signature sits in the leader's field."""
    if signature.field_name != field_name:
        raise _refuse("wrong_field",
                      f"the signature is in the field {signature.field_name!r}, not in the "
                      f"leader's field {field_name!r}")


def _check_signer(signature: EmbeddedPdfSignature, certificates: Collection[str]) -> None:
    """The signer's certificate is one registered to the leader."""
    try:
        cert = signature.signer_cert
    except _PARSE_ERRORS as exc:
        raise MalformedPdfError("the uploaded signature's certificate cannot be read") from exc
    info = CertificateInfo.from_certificate(cert)
    allowed = {c.replace(":", "").lower() for c in certificates}
    if info.fingerprint_sha256 not in allowed:
        raise _refuse("wrong_signer",
                      f"the signature was made with the certificate of {info.subject} "
                      f"(SHA-256 {info.fingerprint_sha256}), which is not registered to the "
                      "signer of this request")


def _check_permissions(signature: EmbeddedPdfSignature, later_fields: Iterable[str]) -> None:
    """The signature leaves the numbering and the seal possible: an approval signature, or a
    certification that permits form filling, and no lock on the fields filled later."""
    try:
        docmdp, fieldmdp = signature.docmdp_level, signature.fieldmdp
    except _PARSE_ERRORS as exc:
        raise MalformedPdfError("the uploaded signature's permissions cannot be read") from exc
    if docmdp is MDPPerm.NO_CHANGES:
        raise _refuse("forbids_later_steps",
                      "the signature certifies the document with no changes permitted; the "
                      "number, the date and the agency seal still have to be added (sign as an "
                      "approval signature, or certify with form filling permitted)")
    locked = sorted(f for f in later_fields if fieldmdp is not None and fieldmdp.is_locked(f))
    if locked:
        raise _refuse("forbids_later_steps",
                      f"the signature locks the field(s) {', '.join(locked)}, which are filled "
                      "after the leader signs")


def _diff(reader: PdfFileReader, base_revision: int, revision: int, *, policy: DiffPolicy,
          reason: str, what: str) -> DiffResult:
    """pyHanko's difference analysis between two revisions; a suspicious one is refused."""
    try:
        return policy.apply(reader.get_historical_resolver(base_revision),
                            reader.get_historical_resolver(revision))
    except SuspiciousModification as exc:
        said = str(exc).splitlines()[0][:300]
        raise _refuse(reason, f"revision {revision} of the uploaded PDF {what}: {said}") from exc


def _check_signing_revision(reader: PdfFileReader, signature: EmbeddedPdfSignature,
                            prepared_revision: int, field_name: str) -> None:
    """The signature's revision changes nothing but the leader's field."""
    signed = signature.signed_revision
    if signed != prepared_revision + 1:
        raise _refuse("other_changes",
                      f"the uploaded PDF adds {signed - prepared_revision - 1} revision(s) "
                      "between the prepared PDF and the signature")
    _check_perms(reader, signature, prepared_revision)
    result = _diff(reader, prepared_revision, signed, policy=_SIGNING_REVISION_POLICY,
                   reason="other_changes",
                   what="changes more than the leader's signature field")
    others = sorted(result.changed_form_fields - {field_name})
    if others:
        raise _refuse("other_changes",
                      f"the signing revision also changes the form field(s) {', '.join(others)}")


def _perms(reader: PdfFileReader, revision: int) -> dict[str, object]:
    """The catalog's /Perms entries in a revision (references as object numbers)."""
    perms = reader.get_historical_resolver(revision).root.get("/Perms")
    if not isinstance(perms, generic.DictionaryObject):
        return {} if perms is None else {"": perms}
    return {key: _raw(perms.raw_get(key)) for key in perms}


def _raw(value: object) -> object:
    if isinstance(value, generic.IndirectObject):
        return (value.idnum, value.generation)
    return value


def _check_perms(reader: PdfFileReader, signature: EmbeddedPdfSignature,
                 prepared_revision: int) -> None:
    """The catalog's permissions change only by naming this signature the certifying one."""
    old = _perms(reader, prepared_revision)
    new = _perms(reader, signature.signed_revision)
    if new == old:
        return
    added = {key: value for key, value in new.items() if old.get(key) != value}
    certifies = added.get("/DocMDP") == _raw(signature.sig_field.raw_get("/V"))
    if set(added) == {"/DocMDP"} and set(old) <= set(new) and certifies:
        return
    raise _refuse("other_changes",
                  f"the signing revision changes the document's permissions (/Perms "
                  f"{', '.join(sorted(set(added) | (set(old) - set(new))))})")


def _check_coverage(reader: PdfFileReader, signature: EmbeddedPdfSignature) -> None:
    """The signature covers the whole file, or is followed by validation data only."""
    coverage = signature.evaluate_signature_coverage()
    if coverage is SignatureCoverageLevel.ENTIRE_FILE:
        return
    if coverage is not SignatureCoverageLevel.ENTIRE_REVISION:
        raise _refuse("not_whole_file",
                      f"the signature does not cover its whole revision ({coverage.name})")
    # A PAdES B-LT/B-LTA signer appends a DSS and document timestamps after signing: those
    # are the only later changes pyHanko rates LTA_UPDATES.
    total = reader.xrefs.total_revisions
    for revision in range(signature.signed_revision + 1, total):
        level = _diff(reader, revision - 1, revision, policy=DEFAULT_DIFF_POLICY,
                      reason="not_whole_file",
                      what="changes the document after the signature").modification_level
        if level > ModificationLevel.LTA_UPDATES:
            raise _refuse("not_whole_file",
                          f"revision {revision} of the uploaded PDF, after the signature, "
                          f"changes the document ({level.name}); only validation data and "
                          "document timestamps may follow the signature")


def accept_uploaded(prepared: Path, uploaded: Path, *, field_name: str,
                    later_fields: Iterable[str], certificates: Collection[str],
                    ctx: SigningContext) -> SignatureOutcome:
    """The outcome of the one signature ``uploaded`` adds to ``prepared``, if acceptable;
    otherwise SignedPdfRefusedError with a reason (or MalformedPdfError for a broken file).

    Blocking: call it from a worker thread, never inside a running event loop.
    """
    ensure_no_running_loop("accept_uploaded")
    base = _base(prepared)
    _check_prefix(prepared, uploaded, base)
    _check_end(uploaded)
    with uploaded.open("rb") as fh:
        reader = _open(fh)
        prepared_revision = _check_revisions(reader, base)
        try:
            # The diff analysis maps every path of the object graph: bounded first.
            count_paths(reader)
            signature = _the_new_signature(reader, base)
            _check_field(signature, field_name)
            _check_signer(signature, certificates)
            _check_permissions(signature, later_fields)
            _check_signing_revision(reader, signature, prepared_revision, field_name)
            _check_coverage(reader, signature)
            cert = CertificateInfo.from_certificate(signature.signer_cert)
            subfilter = str(signature.sig_object.get("/SubFilter", "/unknown")).lstrip("/")
        except _PARSE_ERRORS as exc:
            raise MalformedPdfError("the uploaded PDF cannot be analysed") from exc
    # Intact, valid and trusted under the agency's trust settings, timestamps included.
    report = validate_pdf(uploaded, ctx).to_dict()
    entry = next((s for s in report["signatures"] if s["field_name"] == field_name), None)
    if entry is None or entry["bottom_line"] != Verdict.VALID:
        why = entry["explanation_en"] if entry is not None else "it could not be validated"
        raise SignedPdfRefusedError(f"the leader's signature does not validate: {why}",
                                    reason="signature_invalid", validation=summarise(report))
    if report["bottom_line"] != Verdict.VALID:
        raise SignedPdfRefusedError(f"the uploaded PDF does not validate: "
                                    f"{report['explanation_en']}",
                                    reason="signature_invalid", validation=summarise(report))
    # Not PAdES (adbe.pkcs7.detached, common in plug-ins): the sub-filter says what it is.
    return SignatureOutcome(cert.as_payload(), entry["pades_level"] or subfilter, report)
