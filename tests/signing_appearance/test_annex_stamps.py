"""Annex I placement and content: leader block, seal over its left third, appendix stamp."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader

from docmgmt.domain.errors import InvalidInputError
from signing.appearance import (
    Box,
    appendix_box,
    appendix_stamp,
    field_spec,
    format_signing_time,
    leader_stamp,
    sample_seal_png,
    sample_signature_png,
    seal_box_for,
    seal_stamp,
)
from signing.formfill import add_text_fields
from tests.signing_appearance.pdftools import (
    A4,
    AGENCY_NAME,
    LEADER_BOX,
    ThrowawaySigner,
    sign,
    signature_statuses,
    widget,
)

SIGNING_TIME = datetime(2026, 11, 22, 7, 5, 9, tzinfo=UTC)
TITLE_LINES = ["KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC"]


def area(box: Box) -> float:
    return max(box[2] - box[0], 0) * max(box[3] - box[1], 0)


def intersection(a: Box, b: Box) -> Box:
    return max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])


@pytest.mark.parametrize("leader", [LEADER_BOX, (300, 120, 560, 260), (100, 500, 260, 600)])
def test_seal_box_covers_about_a_third_of_the_leader_block_on_its_left(leader: Box) -> None:
    seal = seal_box_for(leader)
    ratio = area(intersection(seal, leader)) / area(leader)
    assert 0.25 <= ratio <= 0.42
    assert seal[0] < leader[0] < seal[2] < leader[2]  # sticks out to the left only
    assert (seal[1], seal[3]) == (leader[1], leader[3])


def test_appendix_box_is_in_the_top_right_quadrant_within_the_top_margin() -> None:
    x1, y1, x2, y2 = appendix_box(*A4)
    assert A4[0] / 2 <= x1 < x2 <= A4[0]
    assert A4[1] / 2 <= y1 < y2 <= A4[1]
    assert y1 >= A4[1] - 20 / 25.4 * 72  # above the first line of text (20 mm margin)


def test_appendix_is_signed_top_right_of_page_one_with_text_only(
    draft: Path, leader_key: ThrowawaySigner
) -> None:
    # The appendix file gets its own agency-signature field, top right of page 1.
    prepared = draft.with_name("appendix.pdf")
    add_text_fields(draft, prepared, [], signature_fields=[
        field_spec("co_quan", 0, appendix_box(*A4))
    ])
    stamp = appendix_stamp("12/QĐ-STTTT", SIGNING_TIME, AGENCY_NAME)
    signed = sign(prepared, draft.with_name("appendix-signed.pdf"), leader_key.signer,
                  "co_quan", stamp)

    seen = widget(signed, "co_quan")
    x1, y1, x2, y2 = seen.rect
    assert seen.page_index == 0
    assert x1 >= A4[0] / 2
    assert y1 >= A4[1] / 2
    assert x2 <= A4[0]
    assert y2 <= A4[1]
    assert seen.image_xobjects == []
    assert seen.actual_texts == [
        AGENCY_NAME, "Số, ký hiệu: 12/QĐ-STTTT", "Thời gian ký: 2026-11-22T14:05:09+07:00"
    ]
    status = signature_statuses(signed, trust_roots=[leader_key.cert])["co_quan"]
    assert status.intact
    assert status.valid
    assert status.trusted


def _sign_leader(draft: Path, key: ThrowawaySigner, png: bytes | None) -> Path:
    prepared = draft.with_name("prepared.pdf")
    add_text_fields(draft, prepared, [], signature_fields=[field_spec("lanh_dao", 0, LEADER_BOX)])
    stamp = leader_stamp(png, "Nguyễn Văn An", *TITLE_LINES)
    return sign(prepared, draft.with_name("signed.pdf"), key.signer, "lanh_dao", stamp)


def test_leader_block_puts_the_signature_image_between_title_and_name(
    draft: Path, leader_key: ThrowawaySigner
) -> None:
    seen = widget(_sign_leader(draft, leader_key, sample_signature_png()), "lanh_dao")

    assert seen.actual_texts == [*TITLE_LINES, "Nguyễn Văn An"]
    assert 0 not in seen.glyph_ids
    [image] = seen.image_xobjects
    assert "/SMask" in image  # the PNG's transparency survives
    baselines = [float(y) for y in re.findall(rb"1 0 0 1 [-\d.]+ ([-\d.]+) Tm", seen.appearance)]
    title_bottom, name_baseline = baselines[len(TITLE_LINES) - 1], baselines[-1]
    placed = re.search(rb"q 1 0 0 1 [-\d.]+ ([-\d.]+) cm q\s+([-\d.]+) 0 0 ([-\d.]+) 0 0 cm",
                       seen.appearance)
    assert placed is not None
    image_bottom, image_top = float(placed[1]), float(placed[1]) + float(placed[3])
    assert name_baseline < image_bottom < image_top < title_bottom


def test_leader_block_without_an_image_is_text_only(
    draft: Path, leader_key: ThrowawaySigner
) -> None:
    seen = widget(_sign_leader(draft, leader_key, None), "lanh_dao")
    assert seen.image_xobjects == []
    assert seen.actual_texts == [*TITLE_LINES, "Nguyễn Văn An"]


def test_seal_is_drawn_over_the_leader_block_with_agency_and_time(
    draft: Path, leader_key: ThrowawaySigner
) -> None:
    prepared = draft.with_name("prepared.pdf")
    add_text_fields(draft, prepared, [], signature_fields=[
        field_spec("lanh_dao", 0, LEADER_BOX), field_spec("con_dau", 0, seal_box_for(LEADER_BOX))
    ])
    leader = leader_stamp(sample_signature_png(), "Nguyễn Văn An", *TITLE_LINES)
    signed = sign(prepared, draft.with_name("a.pdf"), leader_key.signer, "lanh_dao", leader)
    seal = seal_stamp(sample_seal_png(AGENCY_NAME), AGENCY_NAME, SIGNING_TIME)
    sealed = sign(signed, draft.with_name("b.pdf"), leader_key.signer, "con_dau", seal)

    seen = widget(sealed, "con_dau")
    assert seen.actual_texts == [AGENCY_NAME, "2026-11-22T14:05:09+07:00"]
    [image] = seen.image_xobjects
    assert "/SMask" in image
    with sealed.open("rb") as fh:
        page = PdfFileReader(fh).root["/Pages"]["/Kids"][0]
        names = [str(a.get_object().get("/T")) for a in page["/Annots"]]
    # Later annotations are painted on top: the seal covers the signature image.
    assert names.index("con_dau") > names.index("lanh_dao")


def test_signing_time_is_iso_8601_in_vietnam_time() -> None:
    assert format_signing_time(SIGNING_TIME) == "2026-11-22T14:05:09+07:00"
    with pytest.raises(InvalidInputError):
        format_signing_time(datetime(2026, 11, 22, 14, 5, 9))  # noqa: DTZ001


def test_broken_images_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        leader_stamp(b"not a png", "Nguyễn Văn An", *TITLE_LINES)
    with pytest.raises(InvalidInputError):
        seal_stamp(b"", AGENCY_NAME, SIGNING_TIME)


def _opaque_pixels(png: bytes) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    img = Image.open(io.BytesIO(png))
    assert img.mode == "RGBA"
    return img, [p for p in img.get_flattened_data() if p[3] > 200]


def test_sample_signature_is_blue_on_transparent() -> None:
    img, ink = _opaque_pixels(sample_signature_png())
    assert img.getpixel((0, 0))[3] == 0  # type: ignore[index]
    assert 0 < len(ink) < img.width * img.height / 4
    assert all(b > r + 50 and b > g + 50 for r, g, b, _ in ink)


def test_sample_seal_is_a_red_round_stamp() -> None:
    img, ink = _opaque_pixels(sample_seal_png(AGENCY_NAME))
    for corner in [(0, 0), (img.width - 1, 0), (0, img.height - 1)]:
        assert img.getpixel(corner)[3] == 0  # type: ignore[index]
    assert all(r > g + 100 and r > b + 100 for r, g, b, _ in ink)
    left, top, right, bottom = img.getchannel("A").getbbox() or (0, 0, 0, 0)
    assert right - left == pytest.approx(bottom - top, rel=0.05)
