"""The competent person's block is drawn once and copied into each PDF, never shown stale."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from docmgmt.domain.errors import InvalidInputError
from signing.appearance import (
    APPEARANCES,
    AppearanceCache,
    SignatureBlockStyle,
    field_spec,
    leader_stamp,
    sample_signature_png,
)
from signing.formfill import add_text_fields
from tests.signing_appearance.pdftools import (
    LEADER_BOX,
    ThrowawaySigner,
    sign,
    signature_statuses,
    widget,
)

TITLE_LINES = ["KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC"]


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    """Each test starts from, and leaves, an empty process-wide cache."""
    APPEARANCES.clear()
    yield
    APPEARANCES.clear()


def _signed(draft: Path, key: ThrowawaySigner, png: bytes | None, name: str,
            out: str) -> Path:
    prepared = draft.with_name(f"{out}-prepared.pdf")
    add_text_fields(draft, prepared, [], signature_fields=[field_spec("lanh_dao", 0, LEADER_BOX)])
    return sign(prepared, draft.with_name(f"{out}.pdf"), key.signer, "lanh_dao",
                leader_stamp(png, name, *TITLE_LINES))


def _embedded_font_file(path: Path) -> bytes:
    """The font program embedded for the leader's block (Type0 → CIDFont → descriptor)."""
    with path.open("rb") as fh:
        reader = PdfFileReader(fh)
        for ref in reader.root["/AcroForm"]["/Fields"]:
            field = ref.get_object()
            if str(field["/T"]) == "lanh_dao":
                break
        else:
            raise AssertionError("no leader field")
        stack: list[generic.StreamObject] = [field["/AP"]["/N"]]
        while stack:
            form = stack.pop()
            resources = form.get("/Resources", generic.DictionaryObject())
            for font in resources.get("/Font", generic.DictionaryObject()).values():
                descendant = font.get_object()["/DescendantFonts"][0].get_object()
                descriptor = descendant["/FontDescriptor"]
                for key in ("/FontFile2", "/FontFile3", "/FontFile"):
                    if key in descriptor:
                        return bytes(descriptor[key].data)
            for xobj in resources.get("/XObject", generic.DictionaryObject()).values():
                xobj = xobj.get_object()
                if xobj["/Subtype"] == "/Form":
                    stack.append(xobj)
    raise AssertionError("no embedded font in the leader's block")


def test_one_persons_block_is_drawn_once_and_every_pdf_carries_it_whole(
    draft: Path, leader_key: ThrowawaySigner
) -> None:
    png = sample_signature_png()
    # The leader signs two documents.
    first = _signed(draft, leader_key, png, "Nguyễn Văn An", "first")
    second = _signed(draft, leader_key, png, "Nguyễn Văn An", "second")

    assert len(APPEARANCES) == 1
    for path in (first, second):
        seen = widget(path, "lanh_dao")
        assert seen.actual_texts == [*TITLE_LINES, "Nguyễn Văn An"]
        assert 0 not in seen.glyph_ids
        [image] = seen.image_xobjects
        assert "/SMask" in image
        assert len(_embedded_font_file(path)) > 1000  # the subset travels with each PDF
        status = signature_statuses(path, trust_roots=[leader_key.cert])["lanh_dao"]
        assert status.intact
        assert status.valid
        assert status.trusted
    assert widget(first, "lanh_dao").appearance == widget(second, "lanh_dao").appearance


def test_a_new_signature_image_name_or_title_is_drawn_afresh(
    draft: Path, leader_key: ThrowawaySigner
) -> None:
    old_png, new_png = sample_signature_png(), sample_signature_png(width=480, height=200)
    before = _signed(draft, leader_key, old_png, "Nguyễn Văn An", "before")
    # The leader uploads a new signature image: the next PDF shows it, not the cached one.
    after = _signed(draft, leader_key, new_png, "Nguyễn Văn An", "after")
    [old_image] = widget(before, "lanh_dao").image_xobjects
    [new_image] = widget(after, "lanh_dao").image_xobjects
    assert (int(old_image["/Width"]), int(old_image["/Height"])) == (600, 240)
    assert (int(new_image["/Width"]), int(new_image["/Height"])) == (480, 200)

    # Another signer, or no image at all, is another block too.
    other = _signed(draft, leader_key, new_png, "Trần Thị Bình", "other")
    assert widget(other, "lanh_dao").actual_texts == [*TITLE_LINES, "Trần Thị Bình"]
    text_only = _signed(draft, leader_key, None, "Trần Thị Bình", "text-only")
    assert widget(text_only, "lanh_dao").image_xobjects == []
    assert len(APPEARANCES) == 4


def test_the_cache_is_bounded_and_forgets_the_least_recently_used() -> None:
    cache = AppearanceCache(maxsize=2)
    style = SignatureBlockStyle(signature_png=None)

    def params(name: str) -> dict[str, str]:
        return {"capacity_line": "GIÁM ĐỐC", "title": "", "signer_name": name}

    a = cache.get(style, 200, 100, params("A"))
    cache.get(style, 200, 100, params("B"))
    assert cache.get(style, 200, 100, params("A")) is a  # A is now the most recent
    cache.get(style, 200, 100, params("C"))  # B goes
    assert len(cache) == 2
    assert cache.get(style, 200, 100, params("A")) is a
    assert cache.get(style, 201, 100, params("A")) is not a  # another box size


def test_a_broken_image_is_refused_every_time() -> None:
    broken = b"\x89PNG\r\n\x1a\n" + hashlib.sha256(b"not an image").digest()
    for _ in range(2):  # the check is remembered only for images that decode
        with pytest.raises(InvalidInputError, match="cannot be read"):
            leader_stamp(broken, "Nguyễn Văn An", *TITLE_LINES)
