"""Pages of a PDF rendered for reading in the page (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from api.web.pdfview import cached_page, page_png, pick_width, render_page
from tests.support.pdfs import make_pdf


def test_a_page_renders_at_the_width_asked(tmp_path: Path) -> None:
    png = render_page(make_pdf(2, text="Trich yeu"), 1, 480)
    out = tmp_path / "p.png"
    out.write_bytes(png)
    with Image.open(out) as image:
        assert image.width == 480
        assert image.height > 480  # a portrait page


def test_a_missing_page_is_an_index_error() -> None:
    with pytest.raises(IndexError):
        render_page(make_pdf(1), 3, 480)


def test_widths_round_up_to_the_rendered_sizes() -> None:
    assert [pick_width(w) for w in (1, 480, 481, 960, 5000)] == [480, 480, 960, 960, 1440]


def test_the_cache_is_named_by_digest_and_read_once(tmp_path: Path) -> None:
    calls: list[int] = []
    pdf = make_pdf(1)

    def read() -> bytes:
        calls.append(1)
        return pdf

    digest = "ab" * 32
    first = page_png(tmp_path, digest, read, 0, 700)
    second = page_png(tmp_path, digest, read, 0, 900)
    assert first == second == cached_page(tmp_path, digest, 0, 960)
    assert calls == [1]
    with pytest.raises(ValueError, match="SHA-256"):
        cached_page(tmp_path, "../../etc", 0, 960)
