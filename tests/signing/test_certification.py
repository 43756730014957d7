"""The leader certifies with FILL_FORMS; the clerk's agency seal keeps it valid."""

from __future__ import annotations

from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigFieldSpec, append_signature_field

from signing.pades import PadesLevel, sign_pdf
from signing.validate import validate_pdf
from tests.signing.conftest import PkiFixture

SEAL_BOX = (80, 120, 280, 200)


def _with_empty_field(src: Path, dst: Path, name: str, box: tuple[int, int, int, int]) -> Path:
    with src.open("rb") as fh:
        writer = IncrementalPdfFileWriter(fh)
        append_signature_field(writer, SigFieldSpec(sig_field_name=name, box=box, on_page=0))
        with dst.open("wb") as out:
            writer.write(out)
    return dst


def _certified_then_sealed(pki: PkiFixture, draft: Path) -> Path:
    # The drafter's PDF already carries the (empty) field for the agency seal.
    prepared = _with_empty_field(draft, draft.with_name("prepared.pdf"), "VanThu", SEAL_BOX)
    # The leader signs first, certifying the document with form filling allowed.
    certified = draft.with_name("certified.pdf")
    sign_pdf(prepared, certified, key=pki.leader, level=PadesLevel.B_T, ctx=pki.ctx,
             field_name="LanhDao", reason="KT. GIÁM ĐỐC", certify_fill_forms=True,
             new_field_box=(300, 120, 520, 200), page=0)
    # The clerk applies the agency seal in its field.
    sealed = draft.with_name("sealed.pdf")
    sign_pdf(certified, sealed, key=pki.seal, level=PadesLevel.B_LT, ctx=pki.ctx,
             field_name="VanThu", reason="Văn thư cơ quan")
    return sealed


def test_certification_signature_survives_the_agency_seal(
    test_pki: PkiFixture, draft_pdf: Path
) -> None:
    sealed = _certified_then_sealed(test_pki, draft_pdf)
    report = validate_pdf(sealed, test_pki.ctx)
    assert report.bottom_line == "valid"
    leader, seal = report.signatures
    assert (leader.field_name, seal.field_name) == ("LanhDao", "VanThu")

    assert leader.docmdp == "FILL_FORMS"
    assert leader.modification_level == "FORM_FILLING"
    assert leader.coverage == "ENTIRE_REVISION"
    assert leader.bottom_line == "valid"

    assert seal.docmdp is None
    assert seal.bottom_line == "valid"
    assert seal.pades_level == "B-LT"
    assert seal.signer_subject is not None
    assert seal.signer_subject.startswith("CN=UBND")


def test_certification_signature_breaks_on_a_forbidden_change(
    test_pki: PkiFixture, draft_pdf: Path
) -> None:
    sealed = _certified_then_sealed(test_pki, draft_pdf)
    # Someone rotates a page in a later incremental update: not form filling.
    tampered = draft_pdf.with_name("tampered.pdf")
    with sealed.open("rb") as fh:
        writer = IncrementalPdfFileWriter(fh)
        page = writer.root["/Pages"]["/Kids"][0].get_object()
        page["/Rotate"] = generic.NumberObject(90)
        writer.update_container(page)
        with tampered.open("wb") as out:
            writer.write(out)

    report = validate_pdf(tampered, test_pki.ctx)
    leader, seal = report.signatures
    assert leader.intact is True  # its own bytes are untouched...
    assert leader.bottom_line == "invalid"  # ...but the change is not allowed
    assert leader.modification_level == "OTHER"
    assert seal.bottom_line == "invalid"
    assert report.bottom_line == "invalid"


def test_new_visible_field_after_certification_is_not_form_filling(
    test_pki: PkiFixture, draft_pdf: Path
) -> None:
    # pyHanko's default diff policy: after a certification signature, a signature may fill
    # an existing field, but a *new visible* field is a forbidden change. Seal fields must
    # therefore exist before the leader certifies.
    certified = draft_pdf.with_name("certified.pdf")
    sign_pdf(draft_pdf, certified, key=test_pki.leader, level=PadesLevel.B_B, ctx=test_pki.ctx,
             field_name="LanhDao", certify_fill_forms=True)
    sealed = draft_pdf.with_name("sealed.pdf")
    sign_pdf(certified, sealed, key=test_pki.seal, level=PadesLevel.B_B, ctx=test_pki.ctx,
             field_name="VanThu", new_field_box=SEAL_BOX)
    leader, seal = validate_pdf(sealed, test_pki.ctx).signatures
    assert leader.modification_level == "OTHER"
    assert leader.bottom_line == "invalid"
    assert seal.bottom_line == "valid"
