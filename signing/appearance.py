"""Decree 30/2020 Annex I signature appearances, as pyHanko stamp styles.

Three blocks are drawn, all with the bundled font so that Vietnamese renders everywhere:

* the competent person's block: capacity line and title, the signature image, the name;
* the agency seal: the red seal image at true size, overlapping the left third of the
  person's block, with the agency name and the signing time (ISO 8601, +07:00);
* the agency signature on appendices: text only, top right of page 1.

A style plus its text parameters go to pyHanko's signer unchanged::

    style, params = leader_stamp(png, "Nguyễn Văn An", "KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC")
    PdfSigner(meta, signer, stamp_style=style, new_field_spec=field_spec("lanh_dao", 0, box))
        .sign_pdf(writer, appearance_text_params=params)

Boxes are ``(x1, y1, x2, y2)`` in PDF points, origin at the bottom left of the page.
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image, ImageDraw, ImageFont
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.content import ResourceType
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import BasePdfFileWriter, PdfFileWriter
from pyhanko.sign.fields import SigFieldSpec
from pyhanko.stamp import BaseStamp, BaseStampStyle

from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.errors import InvalidInputError

__all__ = [
    "APPEARANCES",
    "DEFAULT_FONT",
    "SEAL_DIAMETER_PT",
    "AppearanceCache",
    "AppendixStyle",
    "Box",
    "SealStyle",
    "SignatureBlockStyle",
    "StampSpec",
    "TextPainter",
    "UnsupportedCharacterError",
    "appendix_box",
    "appendix_stamp",
    "field_spec",
    "format_signing_time",
    "leader_stamp",
    "require_drawable",
    "sample_seal_png",
    "sample_signature_png",
    "seal_box_for",
    "seal_stamp",
    "unsupported_characters",
]

Box = tuple[int, int, int, int]
RGB = tuple[float, float, float]

DEFAULT_FONT = Path(__file__).resolve().parent / "fonts" / "NotoSerif-Regular.ttf"
"""Bundled Noto Serif: every Vietnamese letter, SIL OFL 1.1 (see fonts/LICENSE-OFL.txt)."""

SEAL_DIAMETER_PT = 102
"""A 36 mm round seal (the usual size for a department's seal) in points."""

BLACK: RGB = (0.0, 0.0, 0.0)
SEAL_RED: RGB = (0.8, 0.0, 0.0)
LINE_SPACING = 1.25
PAD = 2.0
APPENDIX_SIZE = (230, 44)
APPENDIX_RIGHT = 20
APPENDIX_TOP = 6


class UnsupportedCharacterError(InvalidInputError):
    """The text holds characters the bundled font cannot draw."""

    code = "unsupported_character"


class StampSpec(NamedTuple):
    """A stamp style and the text parameters to pass with it to pyHanko's signer."""

    style: BaseStampStyle
    text_params: dict[str, str]


LAYOUT_TABLES = ("GSUB", "GPOS", "GDEF")


@lru_cache(maxsize=8)
def _font_bytes(font_file: str) -> bytes:
    """The font without OpenType layout tables, parsed once per process.

    pyHanko drops these tables from the embedded subset anyway, but fontTools decodes
    them first on every subsetting (over half a second per signature for Noto Serif). Without
    them HarfBuzz maps characters one to one: Vietnamese letters are precomposed in the
    cmap, and only kerning pairs and ligatures are lost.
    """
    from fontTools.ttLib import TTFont

    with TTFont(font_file) as font:
        for tag in LAYOUT_TABLES:
            if tag in font:
                del font[tag]
        out = io.BytesIO()
        font.save(out)
    return out.getvalue()


@lru_cache(maxsize=8)
def _font_codepoints(font_file: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(io.BytesIO(_font_bytes(font_file))) as font:
        return frozenset(font.getBestCmap())


def unsupported_characters(text: str, font_path: Path | str = DEFAULT_FONT) -> set[str]:
    """Characters of ``text`` (other than line breaks) that the font has no glyph for."""
    known = _font_codepoints(str(font_path))
    return {ch for ch in text if ch not in "\r\n" and ord(ch) not in known}


def require_drawable(text: str, font_path: Path | str = DEFAULT_FONT) -> None:
    """Refuse text the font cannot draw (it would show as empty boxes)."""
    missing = unsupported_characters(text, font_path)
    if missing:
        shown = ", ".join(f"U+{ord(ch):04X}" for ch in sorted(missing))
        raise UnsupportedCharacterError(
            f"the font cannot draw these characters: {shown}", characters=sorted(missing)
        )


@dataclass(frozen=True)
class _InMemoryFontFactory(GlyphAccumulatorFactory):
    """pyHanko's OpenType factory, reading the font once instead of leaking a file handle."""

    def create_font_engine(
        self, writer: BasePdfFileWriter, obj_stream: Any = None
    ) -> GlyphAccumulator:
        return GlyphAccumulator(
            writer=writer,
            font_handle=io.BytesIO(_font_bytes(self.font_file)),
            font_size=self.font_size,
            bcp47_lang_code="vi",
            obj_stream=obj_stream,
        )


class TextPainter:
    """Measures and draws single lines of text with one embedded, subsetted font."""

    def __init__(
        self, writer: BasePdfFileWriter, font_path: Path | str = DEFAULT_FONT, name: str = "F1"
    ) -> None:
        self.font_path = str(font_path)
        self.engine = _InMemoryFontFactory(self.font_path).create_font_engine(writer)
        if self.engine.units_per_em != 1000:
            # pyHanko 0.38 writes /W widths and TJ kerning in font units, which PDF reads
            # as 1/1000 em: a 2048-unit font (DejaVu, Roboto) comes out twice too wide.
            raise ValueError(
                f"{font_path}: pyHanko needs a font with 1000 units per em, "
                f"this one has {self.engine.units_per_em}"
            )
        self.resource_name = generic.pdf_name("/" + name)

    def _set_size(self, size: float) -> None:
        # The engine offsets complex glyph positions by its font size; pyHanko types it
        # as int but only ever multiplies with it, and sizes like 6.5 pt are wanted.
        self.engine.font_size = size  # type: ignore[assignment]

    def width(self, text: str, size: float) -> float:
        """Advance width of ``text`` at ``size`` points."""
        if not text:
            return 0.0
        self._set_size(size)
        return float(self.engine.shape(text).x_advance) * size

    def fit(self, lines: list[str], max_width: float, preferred: float) -> float:
        """The largest size ≤ ``preferred`` at which every line fits ``max_width``."""
        widest = max((self.width(line, preferred) for line in lines), default=0.0)
        if widest <= max_width or widest == 0:
            return preferred
        return max(preferred * max_width / widest, 1.0)

    def line(self, text: str, x: float, y: float, size: float, color: RGB = BLACK) -> bytes:
        """Operators drawing ``text`` with its baseline starting at ``(x, y)``."""
        if not text:
            return b""
        self._set_size(size)
        ops = self.engine.shape(text).graphics_ops
        return b"BT %s %g Tf %g %g %g rg 1 0 0 1 %g %g Tm %s ET" % (
            str(self.resource_name).encode("ascii"), size, *color, x, y, ops,
        )

    def centred(
        self, text: str, centre_x: float, y: float, size: float, color: RGB = BLACK
    ) -> bytes:
        """Operators drawing ``text`` centred on ``centre_x``."""
        return self.line(text, centre_x - self.width(text, size) / 2, y, size, color)

    def resource(self) -> generic.PdfObject:
        """The font resource to register under :attr:`resource_name`."""
        return self.engine.as_resource()


def format_signing_time(signing_time: datetime) -> str:
    """ISO 8601 in Vietnam time, to the second: ``2026-11-22T14:05:09+07:00``."""
    if signing_time.tzinfo is None or signing_time.utcoffset() is None:
        raise InvalidInputError("the signing time must be timezone-aware")
    return signing_time.astimezone(VIETNAM_TZ).isoformat(timespec="seconds")


def _pil_image(png: bytes) -> Image.Image:
    try:
        with Image.open(io.BytesIO(png)) as img:
            img.load()
            return img.convert("RGBA")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidInputError("the image cannot be read as a PNG") from exc


@lru_cache(maxsize=64)
def _checked_image_size(png: bytes) -> tuple[int, int]:
    """Decode the image fully once (refusing a broken one); its size, remembered by content."""
    img = _pil_image(png)
    return img.width, img.height


@dataclass(frozen=True)
class _AnnexStyle(BaseStampStyle):
    """Common settings of the Annex I stamps; subclasses lay out their own content."""

    border_width: int = 0
    font_file: str = str(DEFAULT_FONT)
    font_size: float = 11.0

    def create_stamp(
        self, writer: BasePdfFileWriter, box: layout.BoxConstraints, text_params: dict[str, Any]
    ) -> BaseStamp:
        return _AnnexStamp(writer, self, box, text_params)

    def draw(self, stamp: _AnnexStamp, painter: TextPainter) -> list[bytes]:
        """Operators for the content inside a ``stamp.box``-sized form."""
        raise NotImplementedError


class _AnnexStamp(BaseStamp):
    def __init__(
        self,
        writer: BasePdfFileWriter,
        style: _AnnexStyle,
        box: layout.BoxConstraints,
        text_params: dict[str, Any],
    ) -> None:
        super().__init__(writer=writer, style=style, box=box)
        self.annex_style = style
        self.text_params = text_params

    def param(self, key: str) -> str:
        try:
            return str(self.text_params[key])
        except KeyError:
            raise layout.LayoutError(f"Stamp text parameter '{key}' is missing") from None

    def image(self, png: bytes, x: float, y: float, width: float, height: float) -> bytes:
        """Operators drawing a PNG scaled into the given rectangle."""
        img = PdfImage(
            _pil_image(png), writer=self.writer, box=layout.BoxConstraints(width, height)
        )
        ops = img.render()
        self.import_resources(img.resources)
        return b"q 1 0 0 1 %g %g cm %s Q" % (x, y, ops)

    def _render_inner_content(self) -> list[bytes]:
        painter = TextPainter(self._ensure_writer, self.annex_style.font_file)
        ops = self.annex_style.draw(self, painter)
        self.set_resource(ResourceType.FONT, painter.resource_name, painter.resource())
        return ops


_TEMPLATE_KEY = generic.pdf_name("/DocmgmtAppearance")


class _RenderedAppearance:
    """One appearance rendered into a small PDF of its own, copied into each signed PDF.

    Copying takes the finished objects (content stream, embedded font subset, image with
    its soft mask) as they are, already compressed: no font parsing, subsetting, image
    decoding or compression per signature.
    """

    def __init__(self, style: _AnnexStyle, width: float, height: float,
                 text_params: dict[str, Any]) -> None:
        writer = PdfFileWriter()  # type: ignore[no-untyped-call]
        stamp = _AnnexStamp(writer, style, layout.BoxConstraints(width, height), text_params)
        writer.root[_TEMPLATE_KEY] = stamp.register()
        out = io.BytesIO()
        writer.write(out)  # type: ignore[no-untyped-call]
        self._reader = PdfFileReader(io.BytesIO(out.getvalue()), strict=True)
        # The reader parses lazily from one stream; signing threads take turns.
        self._lock = threading.Lock()

    def copy_into(self, writer: BasePdfFileWriter) -> generic.IndirectObject:
        """The form XObject, added to ``writer`` with everything it references."""
        with self._lock:
            copied = writer.import_object(self._reader.root.raw_get(_TEMPLATE_KEY))
        if not isinstance(copied, generic.IndirectObject):  # pragma: no cover - by contract
            raise TypeError("the rendered appearance must be an indirect object")
        return copied


AppearanceKey = tuple[Any, ...]


class AppearanceCache:
    """Rendered appearances by everything they are drawn from, least recently used dropped.

    The key holds the whole style (the signature image's bytes, font file, sizes and
    colours), the box size and every text parameter, so a changed image, name or title is
    drawn afresh. The font file is read once per path per process (as for uncached
    appearances): replacing a font in place needs a restart.
    """

    def __init__(self, maxsize: int = 64) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[AppearanceKey, _RenderedAppearance] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, style: _AnnexStyle, width: float, height: float,
            text_params: dict[str, Any]) -> _RenderedAppearance:
        """The rendered appearance, drawn now if it is not held."""
        key = (style, float(width), float(height),
               tuple(sorted((str(k), str(v)) for k, v in text_params.items())))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
        # Drawn outside the lock; two threads may draw the same one, the last one is kept.
        entry = _RenderedAppearance(style, width, height, text_params)
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return entry

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        """Forget every rendered appearance."""
        with self._lock:
            self._entries.clear()


APPEARANCES = AppearanceCache()
"""The process's cache of competent persons' blocks (they repeat for each signer)."""


class _CachedAnnexStamp(_AnnexStamp):
    """An Annex I stamp copied from :data:`APPEARANCES` instead of drawn in place."""

    def register(self) -> generic.IndirectObject:
        if self._content_xobj_ref is None:
            rendered = APPEARANCES.get(self.annex_style, self.box.width, self.box.height,
                                       self.text_params)
            self._content_xobj_ref = rendered.copy_into(self._ensure_writer)
        return self._content_xobj_ref


def _fit_image(png: bytes, x: float, y: float, width: float, height: float) -> tuple[float, ...]:
    """The largest rectangle with the image's aspect ratio, centred in the given one."""
    img_width, img_height = _checked_image_size(png)
    ratio = img_width / img_height
    w, h = (width, width / ratio) if width / ratio <= height else (height * ratio, height)
    return x + (width - w) / 2, y + (height - h) / 2, w, h


@dataclass(frozen=True)
class SignatureBlockStyle(_AnnexStyle):
    """Competent person's block: capacity and title, signature image, name (all centred)."""

    signature_png: bytes | None = None
    text_color: RGB = BLACK

    def create_stamp(
        self, writer: BasePdfFileWriter, box: layout.BoxConstraints, text_params: dict[str, Any]
    ) -> BaseStamp:
        # Nothing in this block changes between signatures of one person: drawn once.
        return _CachedAnnexStamp(writer, self, box, text_params)

    def draw(self, stamp: _AnnexStamp, painter: TextPainter) -> list[bytes]:
        width, height = stamp.box.width, stamp.box.height
        header = [
            line.strip()
            for part in (stamp.param("capacity_line"), stamp.param("title"))
            for line in part.split("\n")
            if line.strip()
        ]
        name = stamp.param("signer_name").strip()
        require_drawable("".join(header) + name, painter.font_path)
        lines = [*header, name]
        # Text takes at most 60 % of the height; the rest is for the image.
        size = min(
            painter.fit(lines, width - 2 * PAD, self.font_size),
            0.6 * height / (LINE_SPACING * len(lines)),
        )
        step = size * LINE_SPACING
        ops: list[bytes] = []
        baseline = height - PAD - size
        for line in header:
            ops.append(painter.centred(line, width / 2, baseline, size, self.text_color))
            baseline -= step
        header_bottom = baseline + size - step + PAD
        ops.append(painter.centred(name, width / 2, PAD + 0.3 * size, size, self.text_color))
        name_top = PAD + step + PAD
        if self.signature_png is not None and header_bottom - name_top > 4:
            band = (PAD, name_top, width - 2 * PAD, header_bottom - name_top)
            ops.append(stamp.image(self.signature_png, *_fit_image(self.signature_png, *band)))
        return ops


@dataclass(frozen=True)
class SealStyle(_AnnexStyle):
    """Agency seal at true size (shrunk only to fit), agency name and signing time below."""

    seal_png: bytes = b""
    seal_diameter: float = SEAL_DIAMETER_PT
    font_size: float = 6.5
    text_color: RGB = SEAL_RED

    def draw(self, stamp: _AnnexStamp, painter: TextPainter) -> list[bytes]:
        width, height = stamp.box.width, stamp.box.height
        lines = [stamp.param("agency_name"), stamp.param("signing_time")]
        require_drawable("".join(lines), painter.font_path)
        size = painter.fit(lines, width - 2 * PAD, self.font_size)
        step = size * LINE_SPACING
        ops = [
            painter.centred(line, width / 2, PAD + 0.3 * size + (len(lines) - 1 - i) * step,
                            size, self.text_color)
            for i, line in enumerate(lines)
        ]
        text_top = PAD + len(lines) * step
        room = min(width - 2 * PAD, height - text_top - PAD)
        diameter = min(self.seal_diameter, room)
        if diameter > 4:
            band = (
                (width - diameter) / 2,
                text_top + (height - text_top - diameter) / 2,
                diameter,
                diameter,
            )
            ops.insert(0, stamp.image(self.seal_png, *_fit_image(self.seal_png, *band)))
        return ops


@dataclass(frozen=True)
class AppendixStyle(_AnnexStyle):
    """Agency signature on an appendix: right-aligned text only."""

    font_size: float = 8.0
    text_color: RGB = SEAL_RED

    def draw(self, stamp: _AnnexStamp, painter: TextPainter) -> list[bytes]:
        width, height = stamp.box.width, stamp.box.height
        lines = [
            stamp.param("agency_name"),
            f"Số, ký hiệu: {stamp.param('number_code')}",
            f"Thời gian ký: {stamp.param('signing_time')}",
        ]
        require_drawable("".join(lines), painter.font_path)
        size = min(
            painter.fit(lines, width - 2 * PAD, self.font_size),
            (height - 2 * PAD) / (LINE_SPACING * len(lines)),
        )
        ops = []
        baseline = height - PAD - size
        for line in lines:
            x = width - PAD - painter.width(line, size)
            ops.append(painter.line(line, x, baseline, size, self.text_color))
            baseline -= size * LINE_SPACING
        return ops


def leader_stamp(
    signature_png: bytes | None,
    signer_name: str,
    capacity_line: str,
    title: str,
    font_path: Path | str = DEFAULT_FONT,
) -> StampSpec:
    """The competent person's Annex I block; text only when no signature image is given.

    ``capacity_line`` is e.g. "KT. GIÁM ĐỐC" (empty when the head signs in their own
    right) and ``title`` e.g. "PHÓ GIÁM ĐỐC"; either may hold several lines.
    """
    if signature_png is not None:
        _checked_image_size(signature_png)
    style = SignatureBlockStyle(font_file=str(font_path), signature_png=signature_png)
    params = {"capacity_line": capacity_line, "title": title, "signer_name": signer_name}
    return StampSpec(style, params)


def seal_stamp(
    seal_png: bytes,
    agency_name: str,
    signing_time: datetime,
    font_path: Path | str = DEFAULT_FONT,
) -> StampSpec:
    """The agency seal block (place it with :func:`seal_box_for`)."""
    _checked_image_size(seal_png)
    style = SealStyle(font_file=str(font_path), seal_png=seal_png)
    params = {"agency_name": agency_name, "signing_time": format_signing_time(signing_time)}
    return StampSpec(style, params)


def appendix_stamp(
    number_code: str,
    signing_time: datetime,
    agency_name: str,
    font_path: Path | str = DEFAULT_FONT,
) -> StampSpec:
    """The agency signature on an appendix file (place it with :func:`appendix_box`)."""
    params = {
        "number_code": number_code,
        "agency_name": agency_name,
        "signing_time": format_signing_time(signing_time),
    }
    return StampSpec(AppendixStyle(font_file=str(font_path)), params)


def seal_box_for(leader_box: Box) -> Box:
    """A square box as tall as the leader's block, covering its left third.

    The seal is drawn at true size inside it, so the box is only as wide as it is tall.
    """
    x1, y1, x2, y2 = _normalised(leader_box)
    side = y2 - y1
    right = x1 + round((x2 - x1) / 3)
    return right - side, y1, right, y2


def appendix_box(page_width: float, page_height: float) -> Box:
    """Top right of the page, inside the 20 mm top margin so no text is covered."""
    w, h = APPENDIX_SIZE
    right = math.floor(page_width) - APPENDIX_RIGHT
    top = math.floor(page_height) - APPENDIX_TOP
    return right - w, top - h, right, top


def field_spec(name: str, page: int, box: Box) -> SigFieldSpec:
    """A new visible signature field on ``page`` (0-based) covering ``box``."""
    x1, y1, x2, y2 = _normalised(box)
    if x2 - x1 < 1 or y2 - y1 < 1:
        raise InvalidInputError("a visible signature field needs a non-empty box", box=box)
    return SigFieldSpec(sig_field_name=name, on_page=page, box=(x1, y1, x2, y2))


def _normalised(box: Box) -> Box:
    x1, y1, x2, y2 = box
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def sample_signature_png(width: int = 600, height: int = 240) -> bytes:
    """A development signature: a blue scribble on a transparent background."""
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    blue = (20, 50, 160, 255)
    points = []
    for i in range(400):
        t = i / 399
        x = width * (0.06 + 0.88 * t) + 22 * math.sin(t * 31)
        y = height * (0.55 - 0.18 * math.sin(t * 9.5) - 0.12 * math.cos(t * 23) + 0.1 * t)
        points.append((x, y))
    draw.line(points, fill=blue, width=7, joint="curve")
    draw.line([(width * 0.15, height * 0.8), (width * 0.85, height * 0.72)], fill=blue, width=5)
    return _png(img)


def sample_seal_png(agency_name: str = "CƠ QUAN PHÁT TRIỂN", size: int = 600) -> bytes:
    """A development seal: red rings, the agency name around them, "MẪU" in the middle."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    red = (205, 20, 20, 255)
    c = size / 2
    draw.ellipse((6, 6, size - 6, size - 6), outline=red, width=14)
    draw.ellipse((size * 0.2, size * 0.2, size * 0.8, size * 0.8), outline=red, width=6)
    text = agency_name.upper()
    font = ImageFont.truetype(str(DEFAULT_FONT), int(size * 0.075))
    radius = size * 0.39
    arc = min(300.0, 12.0 * len(text))  # degrees the name spans, centred on the top
    for i, ch in enumerate(text):
        angle = -arc / 2 + arc * (i + 0.5) / len(text)
        glyph = Image.new("RGBA", (int(size * 0.12), int(size * 0.12)), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text(
            (glyph.width / 2, glyph.height / 2), ch, font=font, fill=red, anchor="mm"
        )
        glyph = glyph.rotate(-angle, resample=Image.Resampling.BICUBIC)
        gx = c + radius * math.sin(math.radians(angle)) - glyph.width / 2
        gy = c - radius * math.cos(math.radians(angle)) - glyph.height / 2
        img.alpha_composite(glyph, (int(gx), int(gy)))
    big = ImageFont.truetype(str(DEFAULT_FONT), int(size * 0.13))
    draw.text((c, c), "MẪU", font=big, fill=red, anchor="mm")
    draw.text((c, c + size * 0.12), "DEV", font=font, fill=red, anchor="mm")
    return _png(img)
