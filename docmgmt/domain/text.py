"""The one rule for text a user sends: which characters, how long, which numbers."""

from __future__ import annotations

import re

from docmgmt.domain.errors import InvalidInputError

# C0 controls except tab, newline and carriage return; DEL; C1 controls; lone surrogates.
# DEL and C1 are refused too: no official text needs them, and in logs, CSV exports and
# terminals they act as control sequences (0x9B is a one-byte CSI). Lone surrogates cannot
# be encoded as UTF-8 at all, so PostgreSQL could never hold them.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Header values are bytes decoded as latin-1 (RFC 9110 obs-text): 0x80-0x9F there are
# UTF-8 continuation bytes of an ordinary non-ASCII user agent, not C1 controls.
FORBIDDEN_IN_HEADER = re.compile("[\x00-\x08\x0a-\x1f\x7f]")

INT64_MAX = 2**63 - 1
INTEGER = re.compile(r"[+-]?\d+")

# Longest text, in characters, per kind of field. The domain keeps its own, tighter
# limits (a summary 1000, a comment 4000); these bound what reaches it at all.
MAX_BODY_TEXT = 10_000
MAX_QUERY_TEXT = 1_000
MAX_HEADER_TEXT = 1_024
MAX_FIELD_TEXT = {
    "password": 1_024,  # hashed with argon2 on every login
    "client_secret": 1_024,
    "url": 2_048,
    "x-request-id": 128,
}
# A JSON body is read whole to check it, so it gets a cap of its own (uploads are
# multipart and streamed).
MAX_JSON_BYTES = 1024 * 1024


class InvalidTextError(InvalidInputError):
    """A text field holds a control character or is not valid Unicode."""

    code = "invalid_text"


class TextTooLongError(InvalidInputError):
    """A text field is longer than its kind of field allows."""

    code = "text_too_long"


class NumberOutOfRangeError(InvalidInputError):
    """A whole number does not fit in 64 bits."""

    code = "number_out_of_range"


def max_length(field: str, default: int) -> int:
    """The longest text allowed in ``field`` (its last name part decides)."""
    return MAX_FIELD_TEXT.get(field.rsplit(".", 1)[-1].split("[", 1)[0].lower(), default)


def check_text(field: str, value: str, *, limit: int, header: bool = False) -> None:
    """Raise if ``value`` breaks the rule; ``field`` names it in the error."""
    found = (FORBIDDEN_IN_HEADER if header else FORBIDDEN).search(value)
    if found is not None:
        raise InvalidTextError(
            f"{field} contains the control character or invalid code point"
            f" U+{ord(found.group()):04X}; only printable text, tab and line breaks are"
            " accepted", field=field)
    if len(value) > limit:
        raise TextTooLongError(f"{field} is longer than {limit} characters", field=field)


def check_integer_text(field: str, value: str) -> None:
    """Raise if ``value`` is a whole number outside the signed 64-bit range."""
    if len(value) > 18 and INTEGER.fullmatch(value):  # shorter ones always fit
        check_integer(field, int(value))


def check_integer(field: str, value: int) -> None:
    """Raise if ``value`` is outside the signed 64-bit range."""
    if abs(value) > INT64_MAX:
        raise NumberOutOfRangeError(
            f"{field} is out of range (at most {INT64_MAX})", field=field)
