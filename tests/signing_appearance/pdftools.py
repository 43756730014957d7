"""Helpers for the Annex I tests: a realistic draft, a throwaway signer, PDF inspection."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.signers.pdf_cms import SimpleSigner
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.appearance import StampSpec, TextPainter

AGENCY_CODE = "STTTT"
AGENCY_NAME = "Sở Thông tin và Truyền thông"
A4 = (595, 842)
LEADER_BOX = (330, 300, 550, 430)
NUMBER_BOX = (60, 712, 270, 730)
DATE_BOX = (300, 712, 560, 730)
NUMBER = "Số: 12/QĐ-STTTT"
DATE = "Hà Nội, ngày 22 tháng 11 năm 2026"


@dataclass(frozen=True)
class ThrowawaySigner:
    """A self-signed key and certificate, trusted only where a test says so."""

    signer: SimpleSigner
    cert: asn1_x509.Certificate


def throwaway_signer(common_name: str = "Nguyễn Văn An (test)") -> ThrowawaySigner:
    """A self-signed EC P-256 signing certificate made with ``cryptography``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "docmgmt tests"),
    ])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    asn1_cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    asn1_key = asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    signer = SimpleSigner(
        signing_cert=asn1_cert,
        signing_key=asn1_key,
        cert_registry=SimpleCertificateStore.from_certs([asn1_cert]),
    )
    return ThrowawaySigner(signer, asn1_cert)


def make_draft(path: Path) -> Path:
    """A one-page A4 draft laid out like a Decree 30 decision, in the bundled font."""
    writer = PdfFileWriter()
    painter = TextPainter(writer)
    # Annex I margins: top 20-25 mm, left 30-35 mm (the first line sits below 785 pt).
    ops = [
        painter.centred("UBND THÀNH PHỐ HÀ NỘI", 165, 770, 11),
        painter.centred(AGENCY_NAME.upper(), 165, 756, 11),
        painter.centred("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 425, 770, 11),
        painter.centred("Độc lập - Tự do - Hạnh phúc", 425, 756, 11),
        painter.centred("QUYẾT ĐỊNH", A4[0] / 2, 660, 14),
        painter.centred("Về việc ban hành Quy chế quản lý văn bản điện tử", A4[0] / 2, 642, 12),
        painter.line("Điều 1. Ban hành kèm theo Quyết định này Quy chế quản lý,", 90, 600, 12),
        painter.line("sử dụng văn bản điện tử và chữ ký số của Sở (bản thử nghiệm).", 90, 584, 12),
        painter.line("Điều 2. Quyết định có hiệu lực kể từ ngày ký.", 90, 560, 12),
    ]
    content = writer.add_object(generic.StreamObject(stream_data=b" ".join(ops)))
    resources = generic.DictionaryObject({
        pdf_name("/Font"): generic.DictionaryObject({painter.resource_name: painter.resource()})
    })
    writer.insert_page(PageObject(contents=content, media_box=[0, 0, *A4], resources=resources))
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def signature_statuses(path: Path, **context: Any) -> dict[str, PdfSignatureStatus]:
    """Validate every signature of the PDF, by field name (a fresh context for each)."""
    with path.open("rb") as fh:
        reader = PdfFileReader(fh)
        return {
            str(sig.field_name): validate_pdf_signature(
                sig, signer_validation_context=ValidationContext(**context)
            )
            for sig in reader.embedded_signatures
        }


@dataclass(frozen=True)
class Widget:
    """What a reader of the PDF sees of one field's widget."""

    rect: tuple[float, float, float, float]
    page_index: int
    flags: int
    appearance: bytes
    image_xobjects: list[generic.StreamObject]
    actual_texts: list[str]
    glyph_ids: list[int]


def widget(path: Path, field_name: str) -> Widget:
    """The widget of a top-level field, with its normal appearance decoded."""
    with path.open("rb") as fh:
        reader = PdfFileReader(fh)
        for ref in reader.root["/AcroForm"]["/Fields"]:
            field = ref.get_object()
            if str(field["/T"]) == field_name:
                break
        else:
            raise AssertionError(f"no field {field_name}")
        page_refs = [reader.find_page_for_modification(i)[0] for i in range(_pages(reader))]
        page_index = next(
            i for i, p in enumerate(page_refs) if p.reference == field.raw_get("/P").reference
        )
        stream = field["/AP"]["/N"]
        images: list[generic.StreamObject] = []
        data = _collect(stream, images)
        return Widget(
            rect=tuple(float(v) for v in field["/Rect"]),  # type: ignore[arg-type]
            page_index=page_index,
            flags=int(field.get("/F", 0)),
            appearance=data,
            image_xobjects=images,
            actual_texts=_actual_texts(data),
            glyph_ids=[
                int(h[i : i + 4], 16)
                for h in re.findall(rb"<([0-9a-fA-F]+)>", data)
                for i in range(0, len(h), 4)
            ],
        )


def _pages(reader: PdfFileReader) -> int:
    return int(reader.root["/Pages"]["/Count"])


def _collect(stream: generic.StreamObject, images: list[generic.StreamObject]) -> bytes:
    """The stream's operators followed by those of every nested form XObject."""
    data = stream.data
    xobjects = stream.get("/Resources", generic.DictionaryObject()).get("/XObject", {})
    for ref in xobjects.values():
        xobj = ref.get_object()
        if xobj["/Subtype"] == "/Image":
            images.append(xobj)
        else:
            data += b"\n" + _collect(xobj, images)
    return data


def _actual_texts(data: bytes) -> list[str]:
    """Strings from ``/ActualText`` spans: what each shaped line says."""
    texts = []
    for match in re.finditer(rb"/ActualText\s*([(<])", data):
        if match.group(1) == b"<":
            end = data.index(b">", match.end())
            raw = bytes.fromhex(data[match.end() : end].decode())
        else:
            raw = _literal_string(data, match.end())
        texts.append(raw[2:].decode("utf-16-be") if raw[:2] == b"\xfe\xff" else raw.decode())
    return texts


ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}


def _literal_string(data: bytes, pos: int) -> bytes:
    """Decode a PDF literal string whose opening parenthesis ends just before ``pos``."""
    out, depth = bytearray(), 1
    while True:
        c = data[pos]
        pos += 1
        if c == ord("\\"):
            nxt = data[pos]
            if 48 <= nxt <= 55:
                digits = re.match(rb"[0-7]{1,3}", data[pos : pos + 3])
                assert digits is not None
                out.append(int(digits.group(), 8) & 0xFF)
                pos += len(digits.group())
            else:
                out.append(ESCAPES.get(nxt, nxt))
                pos += 1
            continue
        if c == ord("("):
            depth += 1
        elif c == ord(")"):
            depth -= 1
            if depth == 0:
                return bytes(out)
        out.append(c)


def sign(
    src: Path,
    dst: Path,
    signer: SimpleSigner,
    field: str,
    stamp: StampSpec,
    *,
    certify: bool = False,
    timestamper: TimeStamper | None = None,
) -> Path:
    """Sign the existing field ``field`` with the given Annex I appearance."""
    meta = PdfSignatureMetadata(
        field_name=field,
        certify=certify,
        docmdp_permissions=MDPPerm.FILL_FORMS,
        subfilter=SigSeedSubFilter.PADES,
    )
    pdf_signer = PdfSigner(meta, signer, stamp_style=stamp.style, timestamper=timestamper)
    with src.open("rb") as fh:
        writer = IncrementalPdfFileWriter(fh)
        with dst.open("wb") as out:
            pdf_signer.sign_pdf(writer, appearance_text_params=stamp.text_params, output=out)
    return dst
