"""Two faster, behaviour-identical replacements inside pyHanko (pinned at 0.38.0).

Validating a freshly signed one-page PDF cost about 17 ms of CPU, and two pyHanko helpers
took a large part of it:

* ``pdf_utils.generic.read_hex_string_from_stream`` reads a hex string one character at
  a time through Python calls. A signature's ``/Contents`` is several thousand hex
  digits, and it is read more than once per validation.
* ``sign.general.match_issuer_serial`` compares the issuer names before the serial
  numbers. When a name is not byte-equal, asn1crypto compares it with LDAP string
  preparation (slow). pyHanko tries each certificate of a signature against the ESS
  certificate id, so every certificate that is not the signer's paid for it. And the
  ESS id's issuer is an explicitly tagged directoryName whose bytes never equal the
  certificate's issuer, so even the signer's own certificate paid for it.

The replacements give the same results:

* The hex reader takes the fast path only for a string made solely of hex digits and
  PDF whitespace up to ``>``. Anything else (a comment, a bad character, a missing
  ``>``) goes to pyHanko's own reader, which raises its own errors.
* The matcher checks the serial number first. When the serials are equal, it accepts
  names that are byte-equal once the tag is removed. Anything else goes to pyHanko's own
  function.

A third replacement is in asn1crypto. ``x509.Name.hashable`` is the key under which
pyhanko-certvalidator files and finds certificates by subject and issuer. It applies LDAP
string preparation to every attribute, each time it is asked, and it is asked a few
hundred times per validation for the same handful of names. It is now remembered by the
name's DER bytes: the same bytes always give the same key.

``tests/signing/test_pyhanko_speedups.py`` compares all three with the originals.
"""

from __future__ import annotations

import binascii
import re
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE
from pyhanko.sign import general

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


ORIGINAL_NAME_HASHABLE: Any = asn1_x509.Name.hashable
_HASHABLES: dict[bytes, str] = {}
_HASHABLES_MAX = 4096


def name_hashable(self: Any) -> str:
    """asn1crypto's ``Name.hashable``, remembered by the name's DER bytes."""
    key = self.dump()
    found = _HASHABLES.get(key)
    if found is None:
        found = str(ORIGINAL_NAME_HASHABLE.fget(self))
        if len(_HASHABLES) < _HASHABLES_MAX:  # a bounded memo, not a leak
            _HASHABLES[key] = found
    return found


def install() -> None:
    """Put the replacements in place (idempotent); pyHanko calls its two by module name,
    and ``Name.hashable`` is a property of the class."""
    generic.read_hex_string_from_stream = read_hex_string_from_stream
    general.match_issuer_serial = match_issuer_serial
    asn1_x509.Name.hashable = property(name_hashable)
