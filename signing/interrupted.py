"""Interrupted signing: prepare a PDF for a signature whose value is computed elsewhere.

``prepare`` writes the PDF with its signature dictionary and a reserved /Contents and returns
the digest the signer's key must sign (the SHA-256 of the CMS signed attributes), with a JSON
state; ``finish`` checks a returned value against that state and embeds it, at the PAdES level
chosen at preparation. Every leader signature goes through here, the server's own keys too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms, x509
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import ExternalSigner, PdfSignatureMetadata
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import (
    PdfTBSDocument,
    PostSignInstructions,
    PreSignValidationStatus,
)
from pyhanko_certvalidator.registry import SimpleCertificateStore

from docmgmt.domain.calendar import VIETNAM_TZ
from signing.errors import (
    KeyBackendError,
    SignatureMismatchError,
    SignerCertificateError,
    SigningError,
)
from signing.keys import (
    CertificateAccessors,
    CertificateInfo,
    digest_signature_verifies,
    max_signature_size,
)
from signing.pades import (
    PadesLevel,
    SigningContext,
    _check_signer,
    _open_writer,
    _PinnedTimePdfSigner,
    ensure_no_running_loop,
    learn_reservation,
    learned_reservation,
    pyhanko_refusals,
    require_revocation_info,
    require_timestamper,
)
from signing.port import CertificateDict, PreparedSignature

MD_ALGORITHM = "sha256"
STATE_VERSION = 1


class ReservationTooSmallError(SigningError):
    """The signature container came out larger than the space reserved when preparing."""


class RegisteredCertificate(CertificateAccessors):
    """A signer's certificate and chain without the key: a KeyBackend that cannot sign.

    Its pyHanko signer embeds a fixed value (pyHanko's ExternalSigner): a placeholder of the
    key's longest signature when preparing, the value that came back when finishing.
    """

    def __init__(self, certificate: x509.Certificate, chain: Sequence[x509.Certificate],
                 signature_value: bytes | None = None) -> None:
        self._certificate = certificate
        self._chain = [c for c in chain if c.subject != c.issuer]
        self._info = CertificateInfo.from_certificate(certificate)
        value = signature_value if signature_value is not None else max_signature_size(certificate)
        self._signer = ExternalSigner(
            signing_cert=certificate,
            cert_registry=SimpleCertificateStore.from_certs(list(chain)),  # type: ignore[no-untyped-call]
            signature_value=value,
        )

    @classmethod
    def load(cls, certificate: bytes, chain: Sequence[bytes],
             signature_value: bytes | None = None) -> RegisteredCertificate:
        """Parse DER certificates; SignerCertificateError if one cannot be read."""
        try:
            cert = x509.Certificate.load(bytes(certificate))
            others = [x509.Certificate.load(bytes(c)) for c in chain]
            for c in (cert, *others):
                _ = c.subject, c.public_key.algorithm  # asn1crypto parses lazily
        except (ValueError, TypeError) as exc:
            raise SignerCertificateError("the certificate is not a DER X.509 certificate") \
                from exc
        return cls(cert, others, signature_value)

    def __repr__(self) -> str:
        return f"<RegisteredCertificate {self._info.subject}>"

    def signer(self) -> ExternalSigner:
        """pyHanko's ExternalSigner over this certificate."""
        return self._signer

    def sign_digest(self, digest: bytes, mechanism: str) -> bytes:
        """Never: the key is elsewhere."""
        raise KeyBackendError("a registered certificate holds no key")

    @property
    def mechanism(self) -> str:
        """The signature algorithm the key's signature uses (asn1crypto's name)."""
        algorithm = self._certificate.public_key.algorithm
        if algorithm == "rsa":
            return "sha256_rsa"
        if algorithm == "ec":
            return "sha256_ecdsa"
        raise SignerCertificateError(
            f"a {algorithm} key cannot sign a digest here: RSA and ECDSA keys only",
            subject=self._info.subject, fingerprint_sha256=self._info.fingerprint_sha256)

    def der_chain(self) -> list[bytes]:
        """The intermediates, DER-encoded."""
        return [c.dump() for c in self._chain]


def verify_signature(certificate: x509.Certificate, digest: bytes, signature: bytes) -> None:
    """SignatureMismatchError unless ``signature`` (CSC form) over ``digest`` is by the key."""
    if not digest_signature_verifies(certificate, digest, signature):
        raise SignatureMismatchError(
            "the signature was not made by the registered certificate's key over this "
            "document's digest", fingerprint_sha256=certificate.sha256.hex())


def check_certificate(key: RegisteredCertificate, ctx: SigningContext) -> CertificateDict:
    """Validate a certificate now, like a signer's at the signing moment."""
    ensure_no_running_loop("check_certificate")
    moment = ctx.now()

    async def check() -> None:
        vc = ctx.validation_context(moment=moment, allow_fetching=ctx.fetch_revocation,
                                    hard_fail=ctx.fetch_revocation, other_certs=key.chain)
        try:
            await _check_signer(key, vc, moment)
        finally:
            await vc.aclose()  # type: ignore[no-untyped-call]

    asyncio.run(check())
    return key.info().as_payload()


@dataclass(frozen=True)
class State:
    """What finishing needs beside the prepared PDF (JSON, no secret)."""

    signed_attrs: bytes
    document_digest: bytes
    region: tuple[int, int]
    level: PadesLevel
    field_name: str
    certificate: bytes
    chain: tuple[bytes, ...]
    signing_time: datetime

    def to_json(self) -> str:
        """The state as recorded in the signature request."""
        b64 = _b64
        return json.dumps({
            "version": STATE_VERSION, "md_algorithm": MD_ALGORITHM,
            "signed_attrs": b64(self.signed_attrs),
            "document_digest": self.document_digest.hex(),
            "reserved_region": list(self.region), "level": self.level.value,
            "field_name": self.field_name, "certificate": b64(self.certificate),
            "chain": [b64(c) for c in self.chain],
            "signing_time": self.signing_time.isoformat(),
        }, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> State:
        """Read a state back; SigningError if it is not one this module wrote."""
        try:
            data: dict[str, Any] = json.loads(text)
            if data["version"] != STATE_VERSION or data["md_algorithm"] != MD_ALGORITHM:
                raise ValueError("unknown state version")
            start, end = (int(v) for v in data["reserved_region"])
            signing_time = datetime.fromisoformat(data["signing_time"])
            if signing_time.utcoffset() is None:
                raise ValueError("naive signing time")
            return cls(
                signed_attrs=base64.b64decode(data["signed_attrs"], validate=True),
                document_digest=bytes.fromhex(data["document_digest"]),
                region=(start, end), level=PadesLevel(data["level"]),
                field_name=str(data["field_name"]),
                certificate=base64.b64decode(data["certificate"], validate=True),
                chain=tuple(base64.b64decode(c, validate=True) for c in data["chain"]),
                signing_time=signing_time,
            )
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise SigningError("the prepared signature's state cannot be read") from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")


def prepare(src: Path, dst: Path, *, key: RegisteredCertificate, level: PadesLevel,
            ctx: SigningContext, meta: dict[str, Any], stamp: Any,
            text_params: dict[str, Any] | None, learned: bool = True) -> PreparedSignature:
    """Validate the certificate, write the prepared PDF to ``dst``, return what to sign.

    ``learned``: reserve what this certificate's signatures at this level took before (when
    known) rather than pyHanko's estimate from a dummy signature.
    """
    ensure_no_running_loop("prepare")
    level = PadesLevel(level)
    require_timestamper(level, ctx)
    mechanism = key.mechanism
    signing_time = ctx.now().astimezone(VIETNAM_TZ)
    partial = _partial(dst)
    try:
        with pyhanko_refusals():
            state = asyncio.run(_prepare(src, partial, key, level, ctx, meta, stamp,
                                         text_params, signing_time, learned))
        os.replace(partial, dst)
    finally:
        partial.unlink(missing_ok=True)
    return PreparedSignature(digest=hashlib.sha256(state.signed_attrs).digest(),
                             mechanism=mechanism, certificate=key.info().as_payload(),
                             state=state.to_json())


async def _prepare(src: Path, partial: Path, key: RegisteredCertificate, level: PadesLevel,
                   ctx: SigningContext, meta: dict[str, Any], stamp: Any,
                   text_params: dict[str, Any] | None, signing_time: datetime,
                   learned: bool) -> State:
    vc = ctx.validation_context(moment=signing_time, allow_fetching=ctx.fetch_revocation,
                                hard_fail=ctx.fetch_revocation, other_certs=key.chain)
    try:
        await _check_signer(key, vc, signing_time)
        require_revocation_info(level, vc, key)
    finally:
        await vc.aclose()  # type: ignore[no-untyped-call]
    # Revocation data for the DSS is gathered when finishing; here only the signature
    # revision is written (pyHanko's default puts the DSS after the signature).
    pdf_signer = _PinnedTimePdfSigner(
        PdfSignatureMetadata(**meta, md_algorithm=MD_ALGORITHM,
                             subfilter=SigSeedSubFilter.PADES, signer_key_usage=set()),
        key.signer(),
        # Only for sizing: the signature timestamp is requested when finishing.
        timestamper=ctx.timestamper if level.timestamped else None,
        stamp_style=stamp,
        signing_time=signing_time,
    )
    fingerprint = key.info().fingerprint_sha256
    with src.open("rb") as infile, partial.open("w+b") as outfile:
        writer = _open_writer(infile)
        prepared, _, _ = await pdf_signer.async_digest_doc_for_signing(
            writer, output=outfile, appearance_text_params=text_params,
            bytes_reserved=learned_reservation(fingerprint, level) if learned else None,
        )
    signed_attrs = await key.signer().signed_attrs(
        prepared.document_digest, MD_ALGORITHM,
        attr_settings=PdfCMSSignedAttributes(signing_time=signing_time), use_pades=True,
    )
    return State(
        signed_attrs=signed_attrs.dump(), document_digest=prepared.document_digest,
        region=(prepared.reserved_region_start, prepared.reserved_region_end), level=level,
        field_name=str(meta["field_name"]), certificate=key.certificate.dump(),
        chain=tuple(key.der_chain()), signing_time=signing_time,
    )


def _range_digest(path: Path, region: tuple[int, int]) -> bytes:
    start, end = region
    h = hashlib.sha256()
    with path.open("rb") as fh:
        h.update(fh.read(start))
        fh.seek(end)
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


def finish(prepared: Path, dst: Path, *, ctx: SigningContext, state: str,
           signature: bytes) -> tuple[CertificateInfo, PadesLevel]:
    """Check ``signature`` and the prepared PDF against ``state``, then embed and extend it."""
    ensure_no_running_loop("finish")
    st = State.from_json(state)
    key = RegisteredCertificate.load(st.certificate, st.chain, signature_value=signature)
    verify_signature(key.certificate, hashlib.sha256(st.signed_attrs).digest(), signature)
    if _range_digest(prepared, st.region) != st.document_digest:
        raise SigningError("the prepared PDF is not the one this signature was prepared for")
    require_timestamper(st.level, ctx)
    partial = _partial(dst)
    try:
        shutil.copyfile(prepared, partial)
        with pyhanko_refusals():
            asyncio.run(_finish(partial, key, st, ctx))
        os.replace(partial, dst)
    finally:
        partial.unlink(missing_ok=True)
    return key.info(), st.level


async def _finish(partial: Path, key: RegisteredCertificate, st: State,
                  ctx: SigningContext) -> None:
    signer = key.signer()
    timestamper = ctx.timestamper if st.level.timestamped else None
    signed_attrs = cms.CMSAttributes.load(st.signed_attrs)
    container = await signer.async_sign_prescribed_attributes(
        MD_ALGORITHM, signed_attrs, timestamper=timestamper)
    der = container.dump()
    start, end = st.region
    if 2 * len(der) > end - start - 2:
        raise ReservationTooSmallError(
            f"the signature container ({len(der)} bytes) does not fit the space reserved "
            f"when the document was prepared ({(end - start - 2) // 2} bytes)")
    vc = ctx.validation_context(moment=st.signing_time, allow_fetching=ctx.fetch_revocation,
                                hard_fail=ctx.fetch_revocation, other_certs=key.chain)
    try:
        instructions = None
        if st.level.long_term:
            instructions = await _post_sign_instructions(key, st, ctx, vc)
        with partial.open("r+b") as fh:
            await PdfTBSDocument.async_finish_signing(
                fh, PreparedByteRangeDigest(st.document_digest, start, end), container,
                post_sign_instr=instructions,
                validation_context=vc if st.level.long_term else None,
            )
    finally:
        await vc.aclose()  # type: ignore[no-untyped-call]
    learn_reservation(key.info().fingerprint_sha256, st.level, len(der))


async def _post_sign_instructions(key: RegisteredCertificate, st: State,
                                  ctx: SigningContext, vc: Any) -> PostSignInstructions:
    """What pyHanko would have gathered before signing: the DSS contents, the LTA stamp."""
    signer_path = await _check_signer(key, vc, st.signing_time)
    require_revocation_info(st.level, vc, key)
    ts_paths = []
    if ctx.timestamper is not None:
        stamper_paths = ctx.timestamper.validation_paths(vc)  # type: ignore[no-untyped-call]
        ts_paths = [path async for path in stamper_paths]
    info = PreSignValidationStatus(
        signer_path=signer_path, validation_paths=[signer_path, *ts_paths],
        ts_validation_paths=ts_paths, ocsps_to_embed=vc.ocsps, crls_to_embed=vc.crls,
    )
    return PostSignInstructions(
        validation_info=info,
        timestamper=ctx.timestamper if st.level is PadesLevel.B_LTA else None,
        timestamp_md_algorithm=MD_ALGORITHM,
        embed_roots=key.signer().embed_roots,
    )
