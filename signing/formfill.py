"""Form fields for the document number and date, filled after the leader has signed.

Decree 30 orders "sign, then number and date, then the agency signature". The leader's
certification signature allows form filling (DocMDP level 2), so the clerk's number and
date go into AcroForm text fields by an incremental update that keeps it valid. Each
filled field gets its own appearance stream in the bundled font, so the text is visible
and its Vietnamese diacritics are right in every viewer, with no /NeedAppearances.
"""

# pyHanko's PDF object model (generic.*, writer helpers) has unannotated constructors.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import init_xobject_dictionary
from pyhanko.sign.fields import SigFieldSpec, append_signature_field

from docmgmt.domain.errors import InvalidInputError, InvalidStateError
from signing.appearance import DEFAULT_FONT, TextPainter, require_drawable

__all__ = [
    "DraftAlreadySignedError",
    "FormFieldMissingError",
    "TextFieldSpec",
    "add_text_fields",
    "fill_text_fields",
    "read_text_fields",
]

Align = Literal["left", "center", "right"]
QUADDING: dict[str, int] = {"left": 0, "center": 1, "right": 2}
FF_READ_ONLY = 1
FF_MULTILINE = 1 << 12
ANNOT_PRINT = 4
INSET = 2.0
LEADING = 1.2
MIN_SIZE = 4.0
DA_FONT = re.compile(rb"/([^\s/]+)\s+([0-9.]+)\s+Tf")


class FormFieldMissingError(InvalidInputError):
    """The PDF has no text field of that name to fill."""

    code = "form_field_missing"


class DraftAlreadySignedError(InvalidStateError):
    """Fields can only be added before anyone signs (a signed PDF would be invalidated)."""

    code = "draft_already_signed"


@dataclass(frozen=True)
class TextFieldSpec:
    """An empty text field to add: name, 0-based page, box (x1, y1, x2, y2), font size."""

    name: str
    page: int
    box: tuple[float, float, float, float]
    font_size: float
    multiline: bool = False
    align: Align = "left"


@dataclass
class _Field:
    name: str
    ref: generic.IndirectObject
    obj: generic.DictionaryObject
    field_type: str | None

    def widgets(self) -> list[generic.DictionaryObject]:
        if self.obj.get("/Subtype") == "/Widget":
            return [self.obj]
        kids = self.obj.get("/Kids", generic.ArrayObject())
        return [kid.get_object() for kid in kids if "/T" not in kid.get_object()]


def _walk(
    refs: generic.ArrayObject, prefix: str = "", inherited_type: str | None = None
) -> Iterator[_Field]:
    for ref in refs:
        obj = ref.get_object()
        if not isinstance(obj, generic.DictionaryObject) or "/T" not in obj:
            continue
        name = prefix + str(obj["/T"])
        field_type = str(obj["/FT"]) if "/FT" in obj else inherited_type
        named_kids = [k for k in obj.get("/Kids", ()) if "/T" in k.get_object()]
        if named_kids:
            yield from _walk(generic.ArrayObject(named_kids), name + ".", field_type)
        else:
            yield _Field(name, ref, obj, field_type)


def _fields(root: generic.DictionaryObject) -> dict[str, _Field]:
    form = root.get("/AcroForm")
    if form is None:
        return {}
    return {f.name: f for f in _walk(form.get_object().get("/Fields", generic.ArrayObject()))}


def _write_output(output_path: Path, writer: IncrementalPdfFileWriter) -> None:
    buf = io.BytesIO()
    writer.write(buf)
    tmp = output_path.with_name(output_path.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, output_path)


class _Writer(IncrementalPdfFileWriter):
    """pyHanko's incremental writer, finding the last page from the back of the page tree.

    pyHanko walks the tree from the front and parses every page object before the one it
    wants. Signature fields go on the last page: on a 200-page draft with a flat page tree
    that was 200 page objects parsed (about 70 ms) for one reference.
    """

    def find_page_for_modification(
        self, page_ix: int
    ) -> tuple[generic.IndirectObject, generic.PdfObject]:
        """The page at ``page_ix`` (negative counts from the back) and its resources."""
        pages = self.root["/Pages"]
        if page_ix in (-1, int(pages["/Count"]) - 1):
            found = _last_page(self.root.raw_get("/Pages"))
            if found is not None:
                return found
        page: tuple[generic.IndirectObject, generic.PdfObject] = (
            super().find_page_for_modification(page_ix))
        return page


def _last_page(
    node_ref: generic.PdfObject,
) -> tuple[generic.IndirectObject, generic.PdfObject] | None:
    """Down the last non-empty kid at each level; None if the tree is not as expected
    (the caller then lets pyHanko walk it, with its own checks)."""
    resources: generic.PdfObject = generic.DictionaryObject()
    seen: set[generic.Reference] = set()
    while isinstance(node_ref, generic.IndirectObject) and node_ref.reference not in seen:
        seen.add(node_ref.reference)
        node = node_ref.get_object()
        if not isinstance(node, generic.DictionaryObject):
            return None
        if "/Resources" in node:
            resources = node.raw_get("/Resources")
        if node.get("/Type") == "/Page":
            return node_ref, resources
        if node.get("/Type") != "/Pages":
            return None
        last: generic.PdfObject | None = None
        for kid_ref in reversed(node.get("/Kids", generic.ArrayObject())):
            kid = kid_ref.get_object() if isinstance(kid_ref, generic.IndirectObject) else None
            if not isinstance(kid, generic.DictionaryObject):
                return None
            if kid.get("/Type") == "/Page" or int(kid.get("/Count", 0)) > 0:
                last = kid_ref
                break
        if last is None:
            return None
        node_ref = last
    return None


def _open(input_path: Path) -> IncrementalPdfFileWriter:
    # Read fully first: the output may replace the input file.
    return _Writer(io.BytesIO(Path(input_path).read_bytes()))


def _ensure_form(writer: IncrementalPdfFileWriter) -> generic.DictionaryObject:
    root = writer.root
    if "/AcroForm" not in root:
        root["/AcroForm"] = writer.add_object(generic.DictionaryObject())
        writer.update_root()
    form = root["/AcroForm"]
    if "/Fields" not in form:
        form["/Fields"] = generic.ArrayObject()
    # A viewer regenerating appearances would redraw the number in a font without
    # Vietnamese glyphs; ours are always written.
    if "/NeedAppearances" in form:
        del form["/NeedAppearances"]
    resources = form.setdefault(pdf_name("/DR"), generic.DictionaryObject())
    fonts = resources.setdefault(pdf_name("/Font"), generic.DictionaryObject())
    if "/Helv" not in fonts:
        fonts[pdf_name("/Helv")] = writer.add_object(generic.DictionaryObject({
            pdf_name("/Type"): pdf_name("/Font"),
            pdf_name("/Subtype"): pdf_name("/Type1"),
            pdf_name("/BaseFont"): pdf_name("/Helvetica"),
            pdf_name("/Encoding"): pdf_name("/WinAnsiEncoding"),
        }))
    writer.update_container(form)
    form_obj: generic.DictionaryObject = form
    return form_obj


def _page_count(writer: IncrementalPdfFileWriter) -> int:
    return int(writer.root["/Pages"]["/Count"])


def add_text_fields(
    input_path: Path,
    output_path: Path,
    fields: Sequence[TextFieldSpec],
    *,
    signature_fields: Sequence[SigFieldSpec] = (),
) -> None:
    """Add empty text fields (and empty signature fields) to an unsigned draft.

    Fields that already exist with the right type are kept; a signature field's page may
    be negative (-1 is the last page). Every signature field
    that a later signer needs must be created here: pyHanko rejects new visible
    signature fields after a certification signature. Fields are drawn in the order
    given, so list the leader's block before the seal that covers it.
    """
    writer = _open(Path(input_path))
    if writer.prev.embedded_signatures:
        raise DraftAlreadySignedError("the PDF is already signed; fields must come first")
    form = _ensure_form(writer)
    existing = _fields(writer.root)
    pages = _page_count(writer)
    for spec in fields:
        if spec.name in existing:
            if existing[spec.name].field_type != "/Tx":
                raise InvalidInputError(f"field {spec.name!r} exists and is not a text field")
            continue
        if not 0 <= spec.page < pages:
            raise InvalidInputError(f"page {spec.page} is out of range (the PDF has {pages})")
        _add_text_field(writer, form, spec)
    for sig in signature_fields:
        if sig.sig_field_name in existing:
            if existing[sig.sig_field_name].field_type != "/Sig":
                raise InvalidInputError(
                    f"field {sig.sig_field_name!r} exists and is not a signature field"
                )
            continue
        if not -pages <= sig.on_page < pages:
            raise InvalidInputError(f"page {sig.on_page} is out of range (the PDF has {pages})")
        append_signature_field(writer, sig)
    _write_output(Path(output_path), writer)


def _add_text_field(
    writer: IncrementalPdfFileWriter, form: generic.DictionaryObject, spec: TextFieldSpec
) -> None:
    x1, y1, x2, y2 = spec.box
    llx, lly, urx, ury = min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)
    if urx - llx < 1 or ury - lly < 1:
        raise InvalidInputError(f"field {spec.name!r} needs a non-empty box")
    page_ref = writer.find_page_for_modification(spec.page)[0]
    blank = init_xobject_dictionary(b"", urx - llx, ury - lly)
    field = generic.DictionaryObject({
        pdf_name("/FT"): pdf_name("/Tx"),
        pdf_name("/T"): generic.pdf_string(spec.name),
        pdf_name("/Type"): pdf_name("/Annot"),
        pdf_name("/Subtype"): pdf_name("/Widget"),
        pdf_name("/Rect"): generic.ArrayObject(
            generic.FloatObject(v) for v in (llx, lly, urx, ury)
        ),
        pdf_name("/F"): generic.NumberObject(ANNOT_PRINT),
        pdf_name("/P"): page_ref,
        pdf_name("/DA"): generic.pdf_string(f"/Helv {spec.font_size:g} Tf 0 g"),
        pdf_name("/Q"): generic.NumberObject(QUADDING[spec.align]),
        pdf_name("/Ff"): generic.NumberObject(FF_MULTILINE if spec.multiline else 0),
        pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): writer.add_object(blank)}),
    })
    ref = writer.add_object(field)
    fields = form["/Fields"]
    fields.append(ref)
    writer.update_container(fields)
    writer.register_annotation(page_ref, ref)


def fill_text_fields(
    input_path: Path,
    output_path: Path,
    values: dict[str, str],
    font_path: Path | str = DEFAULT_FONT,
) -> None:
    """Set text field values by an incremental update, with visible appearances.

    Only the fields' /V, /Ff (made read-only) and new appearance streams change, which
    a certification signature with form filling allowed accepts.
    """
    writer = _open(Path(input_path))
    existing = _fields(writer.root)
    missing = sorted(name for name in values if name not in existing)
    if missing:
        raise FormFieldMissingError(
            f"the PDF has no form field named {', '.join(missing)}",
            missing=missing,
            available=sorted(existing),
        )
    for name, value in values.items():
        if existing[name].field_type != "/Tx":
            raise InvalidInputError(f"field {name!r} is not a text field")
        require_drawable(value, font_path)
    painter = TextPainter(writer, font_path)
    for name, value in values.items():
        field = existing[name]
        flags = int(field.obj.get("/Ff", 0))
        text = value if flags & FF_MULTILINE else " ".join(value.splitlines())
        field.obj[pdf_name("/V")] = generic.pdf_string(text)
        field.obj[pdf_name("/Ff")] = generic.NumberObject(flags | FF_READ_ONLY)
        writer.update_container(field.obj)
        for widget in field.widgets():
            stream = _appearance(painter, widget, field.obj, text, bool(flags & FF_MULTILINE))
            widget[pdf_name("/AP")] = generic.DictionaryObject(
                {pdf_name("/N"): writer.add_object(stream)}
            )
            writer.update_container(widget)
    _write_output(Path(output_path), writer)


def _font_size(widget: generic.DictionaryObject, field: generic.DictionaryObject) -> float:
    da = widget.get("/DA", field.get("/DA", ""))
    raw = bytes(da) if isinstance(da, bytes) else str(da).encode("latin-1", "replace")
    match = DA_FONT.search(raw)
    return float(match.group(2)) if match else 0.0


def _wrap(painter: TextPainter, text: str, width: float, size: float) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if current and painter.width(candidate, size) > width:
                lines.append(current)
                current = word
            else:
                current = candidate
        lines.append(current)
    return lines


def _appearance(
    painter: TextPainter,
    widget: generic.DictionaryObject,
    field: generic.DictionaryObject,
    text: str,
    multiline: bool,
) -> generic.StreamObject:
    llx, lly, urx, ury = (float(v) for v in widget["/Rect"])
    width, height = abs(urx - llx), abs(ury - lly)
    inner_w, inner_h = width - 2 * INSET, height - 2 * INSET
    size = _font_size(widget, field) or min(12.0, inner_h / LEADING)
    if multiline:
        lines = _wrap(painter, text, inner_w, size)
        while size > MIN_SIZE and len(lines) * size * LEADING > inner_h:
            size = max(size * 0.9, MIN_SIZE)
            lines = _wrap(painter, text, inner_w, size)
        first = height - INSET - size
    else:
        lines = [text]
        size = max(min(painter.fit(lines, inner_w, size), inner_h / LEADING), MIN_SIZE)
        first = (height - size) / 2 + 0.22 * size  # centre the x-height band
    quadding = int(widget.get("/Q", field.get("/Q", 0)))
    ops = [b"/Tx BMC q %g %g %g %g re W n" % (INSET / 2, INSET / 2, width - INSET, height - INSET)]
    for i, line in enumerate(lines):
        line_width = painter.width(line, size)
        x = {0: INSET, 1: (width - line_width) / 2, 2: width - INSET - line_width}[
            quadding if quadding in (0, 1, 2) else 0
        ]
        ops.append(painter.line(line, x, first - i * size * LEADING, size))
    ops.append(b"Q EMC")
    resources = generic.DictionaryObject({
        pdf_name("/Font"): generic.DictionaryObject({painter.resource_name: painter.resource()})
    })
    return init_xobject_dictionary(b" ".join(ops), width, height, resources)


def read_text_fields(path: Path) -> dict[str, str]:
    """Every text field of the PDF's latest revision, by full name ("" when empty)."""
    with Path(path).open("rb") as fh:
        reader = PdfFileReader(fh, strict=False)
        return {
            name: str(field.obj.get("/V", ""))
            for name, field in _fields(reader.root).items()
            if field.field_type == "/Tx"
        }
