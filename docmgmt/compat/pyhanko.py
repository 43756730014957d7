"""Three faster, behaviour-identical replacements inside pyHanko (written for 0.38.0).

Why and how much: docs/signing-notes.md. ``tests/unit/test_compat.py`` compares each with
pyHanko's original.
"""

from __future__ import annotations

import binascii
import functools
import re
from collections.abc import Iterator
from typing import Any

from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE
from pyhanko.sign import general
from pyhanko.sign.attributes import (
    CMSAttributeProvider,
    SignedAttributeProviderSpec,
    SigningCertificateV2Provider,
)
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers import Signer

from docmgmt.compat.versions import require

DISTRIBUTION = "pyHanko"
WRITTEN_FOR = "0.38.0"
ORIGINAL_READ_HEX = generic.read_hex_string_from_stream
ORIGINAL_MATCH_ISSUER_SERIAL = general.match_issuer_serial
ORIGINAL_SIGNED_ATTR_PROVIDER_SPEC = Signer._signed_attr_provider_spec
_HEX_BODY = re.compile(rb"[0-9A-Fa-f" + re.escape(PDF_WHITESPACE) + rb"]*")
_CHUNK = 8192


def read_hex_string_from_stream(stream: Any) -> Any:
    """pyHanko's hex string reader, a whole string at a time when it is plain."""
    start = stream.tell()
    stream.read(1)  # "<"
    body = b""
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        end = chunk.find(b">")
        if end < 0:
            body += chunk
            continue
        body += chunk[:end]
        if _HEX_BODY.fullmatch(body) is None:
            break
        stream.seek(start + 1 + len(body) + 1)
        digits = body.translate(None, PDF_WHITESPACE)
        if len(digits) % 2:
            digits += b"0"
        return generic.pdf_string(binascii.unhexlify(digits))
    # A comment, a bad character or a missing ">": pyHanko's reader raises its own errors.
    stream.seek(start)
    return ORIGINAL_READ_HEX(stream)


def match_issuer_serial(expected_issuer_serial: Any, cert: Any) -> bool:
    """pyHanko's issuer-and-serial match: the (cheap) serial number first, then the names
    byte for byte without the [4] tag an ESS IssuerSerial's directoryName carries (pyHanko
    compares the tagged bytes, which never match there, so it always fell through to the
    slow comparison); only names that differ in bytes go to pyHanko's own function."""
    if expected_issuer_serial["serial_number"] != cert["tbs_certificate"]["serial_number"]:
        return False
    expected = expected_issuer_serial["issuer"]
    if (isinstance(expected, asn1_x509.GeneralNames) and len(expected) == 1
            and expected[0].name == "directory_name"):
        expected = expected[0].chosen
    if isinstance(expected, asn1_x509.Name) and expected.untag().dump() == cert.issuer.dump():
        return True
    return bool(ORIGINAL_MATCH_ISSUER_SERIAL(expected_issuer_serial, cert))


@functools.lru_cache(maxsize=256)
def _signing_certificate_v2_der(cert_der: bytes) -> bytes:
    """The ESS signing-certificate-v2 value (RFC 5035, SHA-256) of a certificate, as DER."""
    value = as_signing_certificate_v2(asn1_x509.Certificate.load(cert_der))
    return bytes(value.dump())


class EncodedSigningCertificate(CMSAttributeProvider):
    """signing-certificate-v2 from DER encoded once per certificate.

    asn1crypto re-serialises a freshly built value on every ``dump()``, and pyHanko dumps
    the signed attributes several times per signature; a value loaded from DER dumps its
    cached bytes. Same bytes either way: the DER is what ``as_signing_certificate_v2`` builds.
    """

    attribute_type = "signing_certificate_v2"

    def __init__(self, cert: asn1_x509.Certificate) -> None:
        self._der = _signing_certificate_v2_der(cert.dump())

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        """The attribute value, loaded from its DER."""
        return tsp.SigningCertificateV2.load(self._der)


class EncodedSigningCertificateSpec(SignedAttributeProviderSpec):
    """pyHanko's own signed-attribute spec, with signing-certificate-v2 pre-encoded."""

    def __init__(self, inner: SignedAttributeProviderSpec) -> None:
        self._inner = inner

    def signed_attr_providers(
        self, data_digest: bytes, digest_algorithm: str
    ) -> Iterator[CMSAttributeProvider]:
        """pyHanko's providers, the signing-certificate-v2 one replaced."""
        for provider in self._inner.signed_attr_providers(data_digest, digest_algorithm):
            if isinstance(provider, SigningCertificateV2Provider):
                yield EncodedSigningCertificate(provider.signing_cert)
            else:
                yield provider


def signed_attr_provider_spec(self: Signer, attr_settings: Any, timestamper: Any = None,
                              use_cades: bool = False,
                              is_pdf_sig: bool = True) -> SignedAttributeProviderSpec:
    """pyHanko's choice of signed-attribute spec, wrapped so that every other attribute
    stays pyHanko's."""
    spec = ORIGINAL_SIGNED_ATTR_PROVIDER_SPEC(
        self, attr_settings, timestamper=timestamper, use_cades=use_cades,
        is_pdf_sig=is_pdf_sig)
    return EncodedSigningCertificateSpec(spec)


def check_version() -> None:
    """Refuse unless pyHanko is the version these replacements were written for."""
    require(DISTRIBUTION, WRITTEN_FOR)


def install() -> None:
    """Put the replacements in place (idempotent); pyHanko calls the helpers by module
    name and the spec as a method of every signer."""
    check_version()
    generic.read_hex_string_from_stream = read_hex_string_from_stream
    general.match_issuer_serial = match_issuer_serial
    Signer._signed_attr_provider_spec = signed_attr_provider_spec  # type: ignore[method-assign]
