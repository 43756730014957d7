"""The bundled font draws every Vietnamese letter, and pyHanko embeds it correctly."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import pytest
from fontTools import subset
from fontTools.ttLib import TTFont
from fontTools.ttLib.scaleUpem import scale_upem
from pyhanko.pdf_utils.writer import PdfFileWriter

from signing.appearance import (
    DEFAULT_FONT,
    TextPainter,
    UnsupportedCharacterError,
    require_drawable,
    unsupported_characters,
)

BASE_VOWELS = "AĂÂEÊIOÔƠUƯY"
TONES = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]  # ngang huyền sắc hỏi ngã nặng


def vietnamese_letters() -> set[str]:
    """Every precomposed Vietnamese letter, both cases: 12 vowels x 6 tones, plus Đ."""
    letters = {"Đ", "đ"}
    for vowel in BASE_VOWELS:
        for tone in TONES:
            letter = unicodedata.normalize("NFC", vowel + tone)
            assert len(letter) == 1, letter
            letters |= {letter, letter.lower()}
    letters |= {chr(c) for c in range(0x1EA0, 0x1EFA)}
    letters |= set(BASE_VOWELS + BASE_VOWELS.lower())
    return letters


def test_every_vietnamese_letter_has_a_glyph() -> None:
    letters = vietnamese_letters()
    assert len(letters) == 12 * 6 * 2 + 2  # the Latin Extended Additional block included
    with TTFont(DEFAULT_FONT) as font:
        cmap = font.getBestCmap()
    assert sorted(ch for ch in letters if ord(ch) not in cmap) == []
    assert unsupported_characters("".join(letters) + "Số: 12/QĐ-STTTT") == set()


def test_font_is_small_and_licensed() -> None:
    assert DEFAULT_FONT.stat().st_size <= 1_000_000
    licence = (DEFAULT_FONT.parent / "LICENSE-OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE" in licence
    assert "Version 1.1" in licence


def test_characters_outside_the_font_are_refused() -> None:
    with pytest.raises(UnsupportedCharacterError) as err:
        require_drawable("Số 12 \u4e2d")  # a CJK ideograph Noto Serif does not have
    assert err.value.code == "unsupported_character"
    assert "U+4E2D" in err.value.detail


def test_fonts_pyhanko_would_draw_too_wide_are_refused(tmp_path: Path) -> None:
    # pyHanko 0.38 writes glyph widths in font units; PDF reads them as 1/1000 em.
    with TTFont(DEFAULT_FONT) as font:
        options = subset.Options()
        options.layout_features = []
        subsetter = subset.Subsetter(options)
        subsetter.populate(text="Văn An")
        subsetter.subset(font)  # a handful of glyphs keeps the rescaling quick
        scale_upem(font, 2048)
        buf = io.BytesIO()
        font.save(buf)
    wide = tmp_path / "upem2048.ttf"
    wide.write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="1000 units per em"):
        TextPainter(PdfFileWriter(), wide)


def test_measured_width_matches_the_font_metrics() -> None:
    painter = TextPainter(PdfFileWriter())
    with TTFont(DEFAULT_FONT) as font:
        cmap, hmtx = font.getBestCmap(), font["hmtx"]
        expected = sum(hmtx[cmap[ord(ch)]][0] for ch in "Nguyễn Văn An") / 1000 * 12
    assert painter.width("Nguyễn Văn An", 12) == pytest.approx(expected, rel=0.02)
