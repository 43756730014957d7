"""Two faster, behaviour-identical replacements of pyHanko helpers (written for 0.38.0).

Why and how much: docs/signing-notes.md. ``tests/unit/test_compat.py`` compares each with
pyHanko's original.
"""

from __future__ import annotations

import binascii
import re
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE
from pyhanko.sign import general

from docmgmt.compat.versions import require

DISTRIBUTION = "pyHanko"
WRITTEN_FOR = "0.38.0"
ORIGINAL_READ_HEX = generic.read_hex_string_from_stream
ORIGINAL_MATCH_ISSUER_SERIAL = general.match_issuer_serial
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


def check_version() -> None:
    """Refuse unless pyHanko is the version these replacements were written for."""
    require(DISTRIBUTION, WRITTEN_FOR)


def install() -> None:
    """Put both replacements in place (idempotent); pyHanko calls them by module name."""
    check_version()
    generic.read_hex_string_from_stream = read_hex_string_from_stream
    general.match_issuer_serial = match_issuer_serial
