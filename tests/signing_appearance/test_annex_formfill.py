"""The clerk's number and date go into form fields without breaking the leader's signature."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.stamp import TextStampStyle, text_stamp_file

from docmgmt.domain.calendar import VIETNAM_TZ
from signing.appearance import (
    field_spec,
    leader_stamp,
    sample_seal_png,
    sample_signature_png,
    seal_box_for,
    seal_stamp,
)
from signing.formfill import (
    DraftAlreadySignedError,
    FormFieldMissingError,
    TextFieldSpec,
    add_text_fields,
    fill_text_fields,
    read_text_fields,
)
from tests.signing_appearance.pdftools import (
    AGENCY_NAME,
    DATE,
    DATE_BOX,
    LEADER_BOX,
    NUMBER,
    NUMBER_BOX,
    ThrowawaySigner,
    sign,
    signature_statuses,
    throwaway_signer,
    widget,
)

FIELDS = [
    TextFieldSpec("so_van_ban", 0, NUMBER_BOX, 13, align="center"),
    TextFieldSpec("ngay_ban_hanh", 0, DATE_BOX, 13, align="center"),
]
SIG_FIELDS = [
    field_spec("lanh_dao", 0, LEADER_BOX),
    field_spec("con_dau", 0, seal_box_for(LEADER_BOX)),  # after the leader: drawn on top
]
VALUES = {"so_van_ban": NUMBER, "ngay_ban_hanh": DATE}


def certified(draft: Path, leader: ThrowawaySigner) -> Path:
    """The drafter's fields are added, then the leader certifies (form filling allowed)."""
    prepared = draft.with_name("prepared.pdf")
    add_text_fields(draft, prepared, FIELDS, signature_fields=SIG_FIELDS)
    stamp = leader_stamp(sample_signature_png(), "Nguyễn Văn An", "KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC")
    return sign(prepared, draft.with_name("certified.pdf"), leader.signer, "lanh_dao", stamp,
                certify=True)


def test_filling_number_and_date_keeps_the_certification_valid(
    draft: Path, leader_key: ThrowawaySigner
) -> None:
    signed = certified(draft, leader_key)
    assert read_text_fields(signed) == {"so_van_ban": "", "ngay_ban_hanh": ""}

    # The clerk writes the number and date.
    filled = draft.with_name("filled.pdf")
    fill_text_fields(signed, filled, VALUES)

    assert filled.read_bytes().startswith(signed.read_bytes())  # an incremental update
    assert read_text_fields(filled) == VALUES
    status = signature_statuses(filled, trust_roots=[leader_key.cert])["lanh_dao"]
    assert status.intact
    assert status.valid
    assert status.trusted
    assert status.modification_level == ModificationLevel.FORM_FILLING
    assert status.docmdp_ok


def test_filled_values_are_drawn_in_the_embedded_font(
    draft: Path, leader_key: ThrowawaySigner
) -> None:
    filled = draft.with_name("filled.pdf")
    fill_text_fields(certified(draft, leader_key), filled, VALUES)
    for name, value in VALUES.items():
        seen = widget(filled, name)
        assert seen.actual_texts == [value]
        assert seen.glyph_ids
        assert 0 not in seen.glyph_ids
        assert seen.flags & 4  # printed
        assert seen.page_index == 0
    with filled.open("rb") as fh:
        assert b"/FontFile2" in fh.read()


def test_seal_after_filling_keeps_both_signatures_valid(
    draft: Path, leader_key: ThrowawaySigner
) -> None:
    filled = draft.with_name("filled.pdf")
    fill_text_fields(certified(draft, leader_key), filled, VALUES)

    # The clerk applies the agency's signature with the seal image.
    agency = throwaway_signer(AGENCY_NAME)
    stamp = seal_stamp(sample_seal_png(AGENCY_NAME), AGENCY_NAME, datetime.now(VIETNAM_TZ))
    sealed = sign(filled, draft.with_name("sealed.pdf"), agency.signer, "con_dau", stamp)

    statuses = signature_statuses(sealed, trust_roots=[leader_key.cert, agency.cert])
    leader, seal = statuses["lanh_dao"], statuses["con_dau"]
    assert leader.intact
    assert leader.valid
    assert leader.trusted
    assert leader.docmdp_ok
    assert leader.modification_level == ModificationLevel.FORM_FILLING
    assert seal.intact
    assert seal.valid
    assert seal.trusted
    assert seal.modification_level == ModificationLevel.NONE
    assert read_text_fields(sealed) == VALUES


def test_changing_the_page_after_certification_is_detected(
    draft: Path, leader_key: ThrowawaySigner
) -> None:
    signed = certified(draft, leader_key)
    tampered = draft.with_name("tampered.pdf")
    text_stamp_file(str(signed), str(tampered), TextStampStyle(stamp_text="Số: 99"), 0, 60, 700)

    status = signature_statuses(tampered, trust_roots=[leader_key.cert])["lanh_dao"]
    assert status.intact
    assert status.valid
    assert not status.docmdp_ok
    assert status.modification_level == ModificationLevel.OTHER


def test_a_missing_field_is_a_clear_error(draft: Path, leader_key: ThrowawaySigner) -> None:
    signed = certified(draft, leader_key)
    out = draft.with_name("never.pdf")
    with pytest.raises(FormFieldMissingError) as err:
        fill_text_fields(signed, out, {"so_van_ban": NUMBER, "so_ky_hieu": "x"})
    assert err.value.code == "form_field_missing"
    assert err.value.context["missing"] == ["so_ky_hieu"]
    assert "so_ky_hieu" in err.value.detail
    assert not out.exists()


def test_fields_are_added_once_and_only_before_signing(
    draft: Path, leader_key: ThrowawaySigner
) -> None:
    once, twice = draft.with_name("once.pdf"), draft.with_name("twice.pdf")
    add_text_fields(draft, once, FIELDS)
    add_text_fields(once, twice, FIELDS)
    assert read_text_fields(twice) == {"so_van_ban": "", "ngay_ban_hanh": ""}

    with pytest.raises(DraftAlreadySignedError):
        add_text_fields(certified(draft, leader_key), draft.with_name("late.pdf"), FIELDS)


def test_multiline_field_wraps_long_text(draft: Path) -> None:
    spec = TextFieldSpec("noi_nhan", 0, (40, 100, 240, 160), 11, multiline=True)
    with_field, filled = draft.with_name("f.pdf"), draft.with_name("g.pdf")
    add_text_fields(draft, with_field, [spec])
    text = "Như Điều 3; Ủy ban nhân dân Thành phố; Lưu: VT, VP."
    fill_text_fields(with_field, filled, {"noi_nhan": text})

    lines = widget(filled, "noi_nhan").actual_texts
    assert len(lines) >= 2
    assert " ".join(lines) == text
    assert read_text_fields(filled) == {"noi_nhan": text}
