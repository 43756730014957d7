"""The PDF signing port of the workflow, over pyHanko: leader signature, number, seal."""

from __future__ import annotations

import functools
import hashlib
import shutil
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.timestamps import TimeStamper

from signing import interrupted
from signing.appearance import (
    DEFAULT_FONT,
    appendix_box,
    appendix_stamp,
    leader_stamp,
    sample_seal_png,
    sample_signature_png,
    seal_box_for,
    seal_stamp,
)
from signing.devpki import DevPki, dev_timestamper, init_dev_pki, issue_user_cert
from signing.formfill import TextFieldSpec, add_text_fields, fill_text_fields, read_text_fields
from signing.interrupted import RegisteredCertificate
from signing.keys import KeyBackend, Pkcs12KeyBackend, sign_digest
from signing.pades import PadesLevel, SigningContext, sign_pdf
from signing.port import (
    AgencyIdentity,
    CertificateDict,
    PreparedSignature,
    ReportDict,
    SignatureOutcome,
    SignerIdentity,
)
from signing.providers.dev import DevelopmentProvider
from signing.remote import SigningProvider
from signing.uploaded import accept_uploaded
from signing.validate import ValidationReport, report_html, validate_pdf

NUMBER_FIELD = "so_van_ban"
DATE_FIELD = "ngay_ban_hanh"
LEADER_FIELD = "lanh_dao"
SEAL_FIELD = "con_dau"
APPENDIX_FIELD = "con_dau_phu_luc"
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Placement:
    """Where the fields go when a draft does not bring its own (A4 defaults, points)."""

    number_box: Box = (70, 742, 290, 762)
    date_box: Box = (300, 742, 560, 762)
    leader_box: Box = (330, 90, 560, 230)


class KeyRegistry(Protocol):
    """Who signs with which key, under which trust, with which images."""

    def leader_key(self, signer: SignerIdentity, agency: AgencyIdentity) -> KeyBackend:
        """The signer's own key."""

    def seal_key(self, agency: AgencyIdentity) -> KeyBackend:
        """The agency's seal key."""

    def context(self, agency: AgencyIdentity | None) -> SigningContext:
        """Trust roots, time-stamping and revocation settings."""

    def signature_image(self, signer: SignerIdentity) -> bytes | None:
        """The signer's signature image (blue PNG), if any."""

    def seal_image(self, agency: AgencyIdentity) -> bytes:
        """The agency seal image (red PNG)."""

    def level(self, agency: AgencyIdentity) -> PadesLevel | None:
        """The agency's own PAdES level, if it sets one."""

    def provider(self, agency: AgencyIdentity) -> SigningProvider | None:
        """The service that signs for the agency's leaders, if one is configured."""


class DevKeyRegistry:
    """Development keys: one development PKI per agency under ``root``, made on demand.

    Every certificate says "DEVELOPMENT — NOT FOR PRODUCTION". Keys are loaded once and kept.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.RLock()
        self._pkis: dict[str, DevPki] = {}
        self._keys: dict[str, KeyBackend] = {}
        self._stampers: dict[str, TimeStamper] = {}
        self._providers: dict[str, DevelopmentProvider] = {}

    def pki(self, agency: AgencyIdentity) -> DevPki:
        """The agency's development PKI (created the first time)."""
        with self._lock:
            if agency.code not in self._pkis:
                self._pkis[agency.code] = init_dev_pki(self.root / agency.code, agency.code,
                                                       agency.name)
            return self._pkis[agency.code]

    def _key(self, cache_key: str, path: Path, pki: DevPki) -> KeyBackend:
        with self._lock:
            if cache_key not in self._keys:
                self._keys[cache_key] = Pkcs12KeyBackend(path, pki.password_for(path))
            return self._keys[cache_key]

    def leader_key(self, signer: SignerIdentity, agency: AgencyIdentity) -> KeyBackend:
        """The signer's development key (issued the first time)."""
        return self._user_key(signer.username, signer.full_name, agency)

    def _user_key(self, username: str, full_name: str, agency: AgencyIdentity) -> KeyBackend:
        pki = self.pki(agency)
        path = issue_user_cert(pki.directory, username, full_name)
        return self._key(f"user:{agency.code}:{username}", path, pki)

    def seal_key(self, agency: AgencyIdentity) -> KeyBackend:
        """The agency's development seal key."""
        pki = self.pki(agency)
        return self._key(f"seal:{agency.code}", pki.seal_p12_path, pki)

    def context(self, agency: AgencyIdentity | None) -> SigningContext:
        """Every development root is trusted; their CRLs are embedded (no network)."""
        roots, crls = [], []
        for meta in sorted(self.root.glob("*/pki.json")):
            with self._lock:
                code = meta.parent.name
                if code not in self._pkis:
                    from signing.devpki import load_dev_pki
                    self._pkis[code] = load_dev_pki(meta.parent)
                pki = self._pkis[code]
            roots.append(pki.root_cert)
            crls.append(pki.crl)
        stamper = None
        if agency is not None:
            with self._lock:
                if agency.code not in self._stampers:
                    self._stampers[agency.code] = dev_timestamper(self.pki(agency))
                stamper = self._stampers[agency.code]
        return SigningContext(trust_roots=roots, timestamper=stamper, fetch_revocation=False,
                              crls=crls)

    def signature_image(self, signer: SignerIdentity) -> bytes | None:
        """A drawn development signature."""
        return _sample_signature()

    def seal_image(self, agency: AgencyIdentity) -> bytes:
        """A drawn development seal with the agency's name."""
        return _sample_seal(agency.name)

    def level(self, agency: AgencyIdentity) -> PadesLevel | None:
        """Development uses the system-wide level."""
        return None

    def provider(self, agency: AgencyIdentity) -> SigningProvider | None:
        """The development provider: the signer's development key, issued on demand."""
        with self._lock:
            if agency.code not in self._providers:
                self._providers[agency.code] = DevelopmentProvider(
                    lambda account: self._user_key(account.username, account.full_name,
                                                   agency))
            return self._providers[agency.code]


@functools.cache
def _sample_signature() -> bytes:
    return sample_signature_png()


@functools.cache
def _sample_seal(name: str) -> bytes:
    return sample_seal_png(name.upper())


def _first_page_size(path: Path) -> tuple[float, float]:
    with path.open("rb") as fh:
        reader = PdfFileReader(fh, strict=False)
        page = reader.root["/Pages"]
        while page.get("/Type") != "/Page":
            page = page["/Kids"][0].get_object()
        x1, y1, x2, y2 = (float(v) for v in page["/MediaBox"])
        return abs(x2 - x1), abs(y2 - y1)


class PadesService:
    """Implements the workflow's PdfSigningPort with pyHanko."""

    def __init__(self, keys: KeyRegistry, level: PadesLevel, placement: Placement | None = None,
                 font_path: Path = DEFAULT_FONT) -> None:
        self.keys = keys
        self.level = PadesLevel(level)
        self.placement = placement or Placement()
        self.font_path = font_path

    def _prepare(self, src: Path, dst: Path) -> None:
        """Give the draft its number, date, leader and seal fields if it lacks them.

        The seal's field must exist before the leader certifies: adding a visible field
        afterwards is a change DocMDP (form filling) does not permit.
        """
        if NUMBER_FIELD in read_text_fields(src):
            shutil.copyfile(src, dst)
            return
        from signing.appearance import field_spec

        p = self.placement
        last = -1
        add_text_fields(
            src, dst,
            [TextFieldSpec(NUMBER_FIELD, 0, p.number_box, 13),
             TextFieldSpec(DATE_FIELD, 0, p.date_box, 13, align="right")],
            signature_fields=[field_spec(LEADER_FIELD, last, p.leader_box),
                              field_spec(SEAL_FIELD, last, seal_box_for(p.leader_box))],
        )

    def _leader_stamp(self, signer: SignerIdentity, capacity_line: str) -> Any:
        # Signing in one's own right, the capacity line already is the title: print it once.
        title = signer.title.upper()
        title = "" if title == capacity_line else title
        return leader_stamp(self.keys.signature_image(signer), signer.full_name,
                            capacity_line, title, self.font_path)

    def prepare_leader(
        self, src: Path, dst: Path, *, signer: SignerIdentity, agency: AgencyIdentity,
        capacity_line: str, certificate: bytes, chain: Sequence[bytes],
    ) -> PreparedSignature:
        """Write the PDF ready for a certification signature made elsewhere; what to sign."""
        return self._prepare_leader(src, dst, signer=signer, agency=agency,
                                    capacity_line=capacity_line,
                                    key=RegisteredCertificate.load(certificate, chain))

    def _prepare_leader(self, src: Path, dst: Path, *, signer: SignerIdentity,
                        agency: AgencyIdentity, capacity_line: str,
                        key: RegisteredCertificate, learned: bool = True) -> PreparedSignature:
        fields = dst.with_name(f".{dst.name}.fields.pdf")
        try:
            self._prepare(src, fields)
            stamp = self._leader_stamp(signer, capacity_line)
            meta = {"field_name": LEADER_FIELD, "reason": capacity_line or None,
                    "name": signer.full_name, "certify": True,
                    "docmdp_permissions": MDPPerm.FILL_FORMS}
            return interrupted.prepare(fields, dst, key=key, level=self._level(agency),
                                       ctx=self.keys.context(agency), meta=meta,
                                       stamp=stamp.style, text_params=stamp.text_params,
                                       learned=learned)
        finally:
            fields.unlink(missing_ok=True)

    def finish_leader(self, prepared: Path, dst: Path, *, agency: AgencyIdentity,
                      state: str, signature: bytes) -> SignatureOutcome:
        """Embed a checked signature value at the prepared level, then validate the PDF."""
        ctx = self.keys.context(agency)
        info, level = interrupted.finish(prepared, dst, ctx=ctx, state=state,
                                         signature=signature)
        return SignatureOutcome(info.as_payload(), level.value, self._validate(dst, ctx))

    def check_certificate(self, certificate: bytes, chain: Sequence[bytes]) -> CertificateDict:
        """Describe a certificate that chains to a trust root and may sign now."""
        return interrupted.check_certificate(RegisteredCertificate.load(certificate, chain),
                                             self.keys.context(None))

    def verify_possession(self, certificate: bytes, message: bytes, signature: bytes) -> None:
        """SignatureMismatchError unless the certificate's key signed SHA-256(message)."""
        key = RegisteredCertificate.load(certificate, ())
        interrupted.verify_signature(key.certificate, hashlib.sha256(message).digest(),
                                     signature)

    def sign_as_leader(
        self, src: Path, dst: Path, *, signer: SignerIdentity, agency: AgencyIdentity,
        capacity_line: str,
    ) -> SignatureOutcome:
        """Certify-sign with the leader's key held here, by the same two steps as any other."""
        key = self.keys.leader_key(signer, agency)
        registered = RegisteredCertificate(key.certificate, key.chain)
        prepared = dst.with_name(f".{dst.name}.prepared.pdf")
        try:
            for learned in (True, False):
                request = self._prepare_leader(src, prepared, signer=signer, agency=agency,
                                               capacity_line=capacity_line, key=registered,
                                               learned=learned)
                value = sign_digest(key, request.digest, request.mechanism)
                try:
                    return self.finish_leader(prepared, dst, agency=agency,
                                              state=request.state, signature=value)
                except interrupted.ReservationTooSmallError:
                    # A learned size fell short (a longer timestamp token): pyHanko's estimate.
                    if not learned:
                        raise
            raise AssertionError("unreachable")
        finally:
            prepared.unlink(missing_ok=True)

    def write_number(self, src: Path, dst: Path, *, number_label: str,
                     date_label: str) -> ReportDict:
        """Fill the number and date fields by an incremental update."""
        fill_text_fields(src, dst, {NUMBER_FIELD: number_label, DATE_FIELD: date_label},
                         self.font_path)
        return self._validate(dst, self.keys.context(None))

    def seal(self, src: Path, dst: Path, *, agency: AgencyIdentity) -> SignatureOutcome:
        """Apply the agency signature in the seal field, with the seal image and time."""
        key = self.keys.seal_key(agency)
        ctx = self.keys.context(agency)
        stamp = seal_stamp(self.keys.seal_image(agency), agency.name, ctx.now(), self.font_path)
        result = sign_pdf(src, dst, key=key, level=self._level(agency), ctx=ctx,
                          field_name=SEAL_FIELD,
                          reason=f"Ký số của cơ quan: {agency.name}", name=agency.name,
                          stamp=stamp.style, appearance_text_params=stamp.text_params)
        return SignatureOutcome(result.certificate.as_payload(), result.level.value,
                                self._validate(dst, ctx))

    def seal_appendix(self, src: Path, dst: Path, *, agency: AgencyIdentity,
                      number_label: str) -> SignatureOutcome:
        """The agency signature on an appendix file: text only, top right of page 1."""
        key = self.keys.seal_key(agency)
        ctx = self.keys.context(agency)
        width, height = _first_page_size(src)
        stamp = appendix_stamp(number_label, ctx.now(), agency.name, self.font_path)
        result = sign_pdf(src, dst, key=key, level=self._level(agency), ctx=ctx,
                          field_name=APPENDIX_FIELD, new_field_box=appendix_box(width, height),
                          page=0, reason=f"Ký số của cơ quan: {agency.name}",
                          name=agency.name, stamp=stamp.style,
                          appearance_text_params=stamp.text_params)
        return SignatureOutcome(result.certificate.as_payload(), result.level.value,
                                self._validate(dst, ctx))

    def _level(self, agency: AgencyIdentity) -> PadesLevel:
        return self.keys.level(agency) or self.level

    def _report(self, path: Path, ctx: SigningContext) -> ValidationReport:
        return validate_pdf(path, ctx)

    def _validate(self, path: Path, ctx: SigningContext) -> ReportDict:
        return self._report(path, ctx).to_dict()

    def validate(self, path: Path) -> ReportDict:
        """The validation report of any PDF, against every configured trust root."""
        return self._validate(path, self.keys.context(None))

    def validate_html(self, path: Path) -> str:
        """The same report as a bilingual HTML page."""
        return report_html(self._report(path, self.keys.context(None)))

    def prepare_upload(self, src: Path, dst: Path) -> None:
        """The approved PDF with its fields and no signature: what the leader's software signs."""
        self._prepare(src, dst)

    def accept_uploaded(self, prepared: Path, uploaded: Path, *, agency: AgencyIdentity,
                        certificates: Collection[str]) -> SignatureOutcome:
        """The prepared PDF plus exactly one valid leader signature, or the precise refusal."""
        return accept_uploaded(prepared, uploaded, field_name=LEADER_FIELD,
                               later_fields=(NUMBER_FIELD, DATE_FIELD, SEAL_FIELD),
                               certificates=certificates, ctx=self.keys.context(agency))
