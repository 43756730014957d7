"""A whole signed PDF uploaded by the leader's own software: accepted only as the prepared PDF
plus one signature, by the leader, in the leader's field, with nothing else changed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm, SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner

from docmgmt.domain.errors import PdfTooComplexError
from signing.appearance import sample_seal_png
from signing.errors import SignedPdfRefusedError
from signing.keys import KeyBackend
from signing.pades import PadesLevel, sign_pdf
from signing.port import AgencyIdentity
from signing.service import LEADER_FIELD, NUMBER_FIELD, SEAL_FIELD, PadesService
from signing.validate import validate_pdf
from tests.signing.conftest import PkiFixture, PkiKeys

AGENCY = AgencyIdentity(agency_id=uuid.UUID(int=15), code="UBQ1", name="UBND Quận 1")
Change = Callable[[IncrementalPdfFileWriter], None]


@pytest.fixture
def service(test_pki: PkiFixture) -> PadesService:
    return PadesService(PkiKeys(test_pki, seal_image=sample_seal_png("UBND")), PadesLevel.B_T)


@pytest.fixture
def prepared(service: PadesService, draft_pdf: Path) -> Path:
    dst = draft_pdf.with_name("prepared.pdf")
    service.prepare_upload(draft_pdf, dst)
    return dst


def _fingerprint(key: KeyBackend) -> str:
    return key.info().fingerprint_sha256


def _upload(src: Path, dst: Path, key: KeyBackend, *, field: str = LEADER_FIELD,
            certify: bool = False, docmdp: MDPPerm = MDPPerm.FILL_FORMS,
            new_box: tuple[int, int, int, int] | None = None,
            change: Change | None = None,
            subfilter: SigSeedSubFilter = SigSeedSubFilter.PADES) -> Path:
    """What a plug-in does: sign ``src`` whole (no timestamp), optionally changing it in the
    same revision first."""
    with src.open("rb") as fh:
        writer = IncrementalPdfFileWriter(fh, strict=True)
        if change is not None:
            change(writer)
        meta = PdfSignatureMetadata(field_name=field, md_algorithm="sha256",
                                    subfilter=subfilter, certify=certify,
                                    docmdp_permissions=docmdp)
        spec = None if new_box is None else SigFieldSpec(field, box=new_box, on_page=0)
        with dst.open("wb") as out:
            PdfSigner(meta, key.signer(), new_field_spec=spec).sign_pdf(writer, output=out)
    return dst


def _update(src: Path, dst: Path, change: Change) -> Path:
    """An incremental update with no signature."""
    with src.open("rb") as fh:
        writer = IncrementalPdfFileWriter(fh, strict=True)
        change(writer)
        with dst.open("wb") as out:
            writer.write(out)
    return dst


def _add_page(writer: IncrementalPdfFileWriter) -> None:
    page = generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): generic.ArrayObject(
            [generic.NumberObject(v) for v in (0, 0, 595, 842)]),
        generic.NameObject("/Resources"): generic.DictionaryObject(),
    })
    writer.insert_page(page)


def _field(writer: IncrementalPdfFileWriter, name: str) -> generic.DictionaryObject:
    for ref in writer.root["/AcroForm"]["/Fields"]:
        field = ref.get_object()
        if field.get("/T") == name:
            return field
    raise AssertionError(f"no field {name}")


def _fill_number(writer: IncrementalPdfFileWriter) -> None:
    field = _field(writer, NUMBER_FIELD)
    field[generic.NameObject("/V")] = generic.TextStringObject("99/UBND-VP")
    writer.update_container(field)


def _annotate(writer: IncrementalPdfFileWriter) -> None:
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    annot = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/Text"),
        generic.NameObject("/Rect"): generic.ArrayObject(
            [generic.NumberObject(v) for v in (50, 50, 70, 70)]),
        generic.NameObject("/Contents"): generic.TextStringObject("Đã xem"),
    }))
    page[generic.NameObject("/Annots")] = generic.ArrayObject([annot])
    writer.update_container(page)


def _grant_usage_rights(writer: IncrementalPdfFileWriter) -> None:
    writer.root[generic.NameObject("/Perms")] = generic.DictionaryObject({
        generic.NameObject("/UR3"): generic.DictionaryObject(),
    })
    writer.update_root()


def _lock_number(writer: IncrementalPdfFileWriter) -> None:
    field = _field(writer, LEADER_FIELD)
    field[generic.NameObject("/Lock")] = generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/SigFieldLock"),
        generic.NameObject("/Action"): generic.NameObject("/Include"),
        generic.NameObject("/Fields"): generic.ArrayObject(
            [generic.TextStringObject(NUMBER_FIELD)]),
    })
    writer.update_container(field)


def _doubled_graph(writer: IncrementalPdfFileWriter) -> None:
    # Inert, but 2^40 paths for pyHanko's analysis of any later revision, which maps every
    # path of this one; the form's default resources may change when a form is filled.
    node = writer.add_object(generic.DictionaryObject())
    for _ in range(40):
        node = writer.add_object(generic.ArrayObject([node, node]))
    form = writer.root["/AcroForm"]
    form[generic.NameObject("/DR")] = writer.add_object(
        generic.DictionaryObject({generic.NameObject("/X"): node}))
    writer.update_container(form)


def _rotate(writer: IncrementalPdfFileWriter) -> None:
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page[generic.NameObject("/Rotate")] = generic.NumberObject(90)
    writer.update_container(page)


def _numbered_and_sealed(service: PadesService, signed: Path, pki: PkiFixture) -> list[str]:
    """The clerk numbers the accepted PDF and seals it: the verdicts on its signatures."""
    numbered = signed.with_name("numbered.pdf")
    service.write_number(signed, numbered, number_label="15/UBND-VP",
                         date_label="Quận 1, ngày 16 tháng 6 năm 2025")
    sealed = signed.with_name("sealed.pdf")
    service.seal(numbered, sealed, agency=AGENCY)
    return [s.bottom_line for s in validate_pdf(sealed, pki.ctx).signatures]


def _refused(service: PadesService, prepared: Path, uploaded: Path, certificates: list[str],
             reason: str) -> SignedPdfRefusedError:
    with pytest.raises(SignedPdfRefusedError) as caught:
        service.accept_uploaded(prepared, uploaded, agency=AGENCY, certificates=certificates)
    assert caught.value.context["reason"] == reason, caught.value.detail
    return caught.value


# --- accepted -------------------------------------------------------------------------------

@pytest.mark.parametrize(("subfilter", "level"), [
    (SigSeedSubFilter.PADES, "B-B"),
    # What many plug-ins still write: plain CMS, not PAdES; the level says so.
    (SigSeedSubFilter.ADOBE_PKCS7_DETACHED, "adbe.pkcs7.detached"),
], ids=["PAdES", "adbe.pkcs7.detached"])
def test_an_approval_signature_by_the_leader_in_the_leader_field_is_accepted(
    service: PadesService, prepared: Path, test_pki: PkiFixture, subfilter: SigSeedSubFilter,
    level: str
) -> None:
    # The plug-in signs the downloaded PDF whole, an approval signature.
    uploaded = _upload(prepared, prepared.with_name("signed.pdf"), test_pki.leader,
                       subfilter=subfilter)
    outcome = service.accept_uploaded(prepared, uploaded, agency=AGENCY,
                                      certificates=[_fingerprint(test_pki.leader)])
    assert outcome.certificate["fingerprint_sha256"] == _fingerprint(test_pki.leader)
    assert outcome.level == level
    assert outcome.report["bottom_line"] == "valid"
    (signature,) = outcome.report["signatures"]
    assert signature["field_name"] == LEADER_FIELD
    assert signature["coverage"] == "ENTIRE_FILE"
    assert _numbered_and_sealed(service, uploaded, test_pki) == ["valid", "valid"]


@pytest.mark.parametrize("level", [PadesLevel.B_T, PadesLevel.B_LT, PadesLevel.B_LTA])
def test_a_certification_is_accepted_and_numbering_and_seal_keep_it_valid(
    service: PadesService, prepared: Path, test_pki: PkiFixture, level: PadesLevel
) -> None:
    # The leader's software certifies (form filling allowed). From B-LT on, the DSS and the
    # document timestamp come in revisions after the signature, which covers its revision.
    uploaded = prepared.with_name("signed.pdf")
    sign_pdf(prepared, uploaded, key=test_pki.leader, level=level, ctx=test_pki.ctx,
             field_name=LEADER_FIELD, certify_fill_forms=True)
    outcome = service.accept_uploaded(prepared, uploaded, agency=AGENCY,
                                      certificates=[_fingerprint(test_pki.leader).upper()])
    assert outcome.level == level.value
    assert outcome.report["signatures"][0]["docmdp"] == "FILL_FORMS"
    assert _numbered_and_sealed(service, uploaded, test_pki) == ["valid", "valid"]


# --- refused: what was signed is not the prepared PDF ---------------------------------------

def test_altered_bytes_of_the_prepared_part_are_refused(
    service: PadesService, prepared: Path, test_pki: PkiFixture
) -> None:
    # The prepared PDF is changed (one byte, inside the page content), then signed whole.
    data = bytearray(prepared.read_bytes())
    at = data.index(b"Cong van")
    data[at] = ord("K")
    altered = prepared.with_name("altered.pdf")
    altered.write_bytes(bytes(data))
    uploaded = _upload(altered, prepared.with_name("signed.pdf"), test_pki.leader)
    error = _refused(service, prepared, uploaded, [_fingerprint(test_pki.leader)],
                     "not_the_prepared_pdf")
    assert f"at byte {at}" in error.detail


def test_garbage_is_refused(service: PadesService, prepared: Path, test_pki: PkiFixture) -> None:
    garbage = prepared.with_name("garbage.pdf")
    garbage.write_bytes(b"\x00not a pdf at all" * 100)
    _refused(service, prepared, garbage, [_fingerprint(test_pki.leader)], "not_the_prepared_pdf")


def test_the_unsigned_prepared_pdf_is_refused(
    service: PadesService, prepared: Path, test_pki: PkiFixture
) -> None:
    _refused(service, prepared, prepared, [_fingerprint(test_pki.leader)], "no_signature")


def test_an_update_without_a_signature_is_refused(
    service: PadesService, prepared: Path, test_pki: PkiFixture
) -> None:
    uploaded = _update(prepared, prepared.with_name("filled.pdf"), _fill_number)
    _refused(service, prepared, uploaded, [_fingerprint(test_pki.leader)], "no_signature")


# --- refused: the signature ----------------------------------------------------------------

def test_a_second_signature_is_refused(
    service: PadesService, prepared: Path, test_pki: PkiFixture
) -> None:
    signed = _upload(prepared, prepared.with_name("signed.pdf"), test_pki.leader)
    twice = _upload(signed, prepared.with_name("twice.pdf"), test_pki.leader, field=SEAL_FIELD)
    error = _refused(service, prepared, twice, [_fingerprint(test_pki.leader)],
                     "extra_signature")
    assert SEAL_FIELD in error.detail










@pytest.mark.parametrize(("key", "how", "reason", "named"), [
    # The agency's seal key signs in the leader's field: not a certificate of the leader.
    ("seal", {}, "wrong_signer", "CN=UBND"),
    ("leader", {"field": SEAL_FIELD}, "wrong_field", SEAL_FIELD),
    ("leader", {"field": "Signature1", "new_box": (50, 50, 200, 120)}, "wrong_field",
     "Signature1"),
    # The number, the date and the seal come after the leader: they would break it.
    ("leader", {"certify": True, "docmdp": MDPPerm.NO_CHANGES}, "forbids_later_steps",
     "no changes"),
    ("leader", {"change": _lock_number}, "forbids_later_steps", NUMBER_FIELD),
], ids=["seal key", "seal field", "new field", "certified, no changes", "number locked"])
def test_a_signature_not_the_leader_s_as_prepared_is_refused(
    service: PadesService, prepared: Path, test_pki: PkiFixture, key: str,
    how: dict[str, Any], reason: str, named: str
) -> None:
    uploaded = _upload(prepared, prepared.with_name("signed.pdf"), getattr(test_pki, key),
                       **how)
    error = _refused(service, prepared, uploaded, [_fingerprint(test_pki.leader)], reason)
    assert named in error.detail


def test_a_registered_but_untrusted_certificate_is_refused(
    service: PadesService, prepared: Path, test_pki: PkiFixture
) -> None:
    uploaded = _upload(prepared, prepared.with_name("signed.pdf"), test_pki.untrusted)
    error = _refused(service, prepared, uploaded, [_fingerprint(test_pki.untrusted)],
                     "signature_invalid")
    assert "trusted root" in error.detail


def test_a_broken_signature_value_is_refused(
    service: PadesService, prepared: Path, test_pki: PkiFixture
) -> None:
    signed = _upload(prepared, prepared.with_name("signed.pdf"), test_pki.leader)
    data = bytearray(signed.read_bytes())
    # A hex digit inside /Contents, well into the signature value.
    contents = data.index(b"/Contents <", prepared.stat().st_size) + len(b"/Contents <")
    at = contents + 3000
    data[at] = ord("0") if data[at] != ord("0") else ord("1")
    broken = prepared.with_name("broken.pdf")
    broken.write_bytes(bytes(data))
    _refused(service, prepared, broken, [_fingerprint(test_pki.leader)], "signature_invalid")


# --- refused: something else changed --------------------------------------------------------

@pytest.mark.parametrize(("change", "named"), [
    (_add_page, "unexplained"),
    (_fill_number, NUMBER_FIELD),
    (_annotate, "unexplained"),
    (_rotate, "unexplained"),
    (_grant_usage_rights, "/Perms /UR3"),
], ids=["page added", "number field filled", "annotation added", "page rotated",
        "permissions changed"])
def test_a_change_made_in_the_signing_revision_is_refused(
    service: PadesService, prepared: Path, test_pki: PkiFixture, change: Change, named: str
) -> None:
    uploaded = _upload(prepared, prepared.with_name("signed.pdf"), test_pki.leader,
                       change=change)
    error = _refused(service, prepared, uploaded, [_fingerprint(test_pki.leader)],
                     "other_changes")
    assert named in error.detail


@pytest.mark.parametrize(("change", "named"), [
    (_add_page, "unexplained"),
    # Permitted after a signature in general, but not in the upload: the clerk numbers it.
    (_fill_number, "FORM_FILLING"),
], ids=["page added", "number field filled"])
def test_a_change_after_the_signature_is_refused(
    service: PadesService, prepared: Path, test_pki: PkiFixture, change: Change, named: str
) -> None:
    signed = _upload(prepared, prepared.with_name("signed.pdf"), test_pki.leader)
    later = _update(signed, prepared.with_name("later.pdf"), change)
    error = _refused(service, prepared, later, [_fingerprint(test_pki.leader)],
                     "not_whole_file")
    assert named in error.detail


def test_a_change_before_the_signature_is_refused(
    service: PadesService, prepared: Path, test_pki: PkiFixture
) -> None:
    rotated = _update(prepared, prepared.with_name("rotated.pdf"), _rotate)
    uploaded = _upload(rotated, prepared.with_name("signed.pdf"), test_pki.leader)
    _refused(service, prepared, uploaded, [_fingerprint(test_pki.leader)], "other_changes")




def test_an_update_not_chained_to_the_prepared_revision_is_refused(
    service: PadesService, prepared: Path, test_pki: PkiFixture
) -> None:
    # Same bytes up front, but the signing revision continues the draft's first revision,
    # skipping the one that added the fields; a later revision follows it.
    with prepared.open("rb") as fh:
        xrefs = PdfFileReader(fh).xrefs
        first, last = (xrefs.get_startxref_for_revision(r) for r in (0, 1))
    signed = _upload(prepared, prepared.with_name("signed.pdf"), test_pki.leader)
    later = _update(signed, prepared.with_name("later.pdf"), _rotate).read_bytes()
    size, end = prepared.stat().st_size, signed.stat().st_size
    ours = f"/Prev {last}".encode()
    theirs = f"/Prev {first}".encode().ljust(len(ours))
    assert ours in later[size:end]
    forked = prepared.with_name("forked.pdf")
    forked.write_bytes(later[:size] + later[size:end].replace(ours, theirs) + later[end:])
    _refused(service, prepared, forked, [_fingerprint(test_pki.leader)], "not_the_prepared_pdf")


@pytest.mark.parametrize("end", [
    lambda data, size: data[: size + (len(data) - size) // 2],
    lambda data, size: data + b"% not part of any revision\n",
], ids=["truncated", "bytes appended"])
def test_a_file_not_ending_with_its_last_revision_is_refused(
    service: PadesService, prepared: Path, test_pki: PkiFixture,
    end: Callable[[bytes, int], bytes]
) -> None:
    signed = _upload(prepared, prepared.with_name("signed.pdf"), test_pki.leader)
    cut = prepared.with_name("cut.pdf")
    cut.write_bytes(end(signed.read_bytes(), prepared.stat().st_size))
    error = _refused(service, prepared, cut, [_fingerprint(test_pki.leader)], "not_whole_file")
    assert "end-of-file marker" in error.detail


def test_a_signature_short_of_its_revision_is_refused(
    service: PadesService, prepared: Path, test_pki: PkiFixture
) -> None:
    # The byte range stops 20 bytes before the end of the signing revision.
    signed = _upload(prepared, prepared.with_name("signed.pdf"), test_pki.leader)
    data = signed.read_bytes()
    at = data.index(b"/ByteRange [", prepared.stat().st_size)
    close = data.index(b"]", at)
    numbers = [int(n) for n in data[at + len(b"/ByteRange ["):close].split()]
    numbers[3] -= 20
    patched = f"/ByteRange [{' '.join(map(str, numbers))}".encode().ljust(close - at)
    short = prepared.with_name("short.pdf")
    short.write_bytes(data[:at] + patched + data[close:])
    _refused(service, prepared, short, [_fingerprint(test_pki.leader)], "not_whole_file")


def test_too_many_revisions_are_refused_before_any_analysis(
    service: PadesService, prepared: Path, test_pki: PkiFixture
) -> None:
    path = _upload(prepared, prepared.with_name("signed.pdf"), test_pki.leader)
    for n in range(4):
        path = _update(path, prepared.with_name(f"later{n}.pdf"), _rotate)
    error = _refused(service, prepared, path, [_fingerprint(test_pki.leader)], "other_changes")
    assert "adds 5 revisions" in error.detail


def test_a_graph_that_would_stall_the_analysis_is_refused_at_once(
    service: PadesService, prepared: Path, test_pki: PkiFixture
) -> None:
    # Without the budget this never returns: the revision after the signature is diffed
    # against the signing revision, whose object graph pyHanko maps path by path.
    signed = _upload(prepared, prepared.with_name("signed.pdf"), test_pki.leader,
                     change=_doubled_graph)
    later = _update(signed, prepared.with_name("later.pdf"), _rotate)
    started = time.perf_counter()
    with pytest.raises(PdfTooComplexError):
        service.accept_uploaded(prepared, later, agency=AGENCY,
                                certificates=[_fingerprint(test_pki.leader)])
    assert time.perf_counter() - started < 2.0
