"""The one list-cursor codec: today's tokens still decode; moments keep their time zone."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest

from docmgmt.domain.errors import InvalidInputError
from docmgmt.kernel.cursor import decode_cursor, encode_cursor

IDENT = UUID("0b9f4b8e-6c35-4a57-9a1e-7d3c2f1a0b11")


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_a_token_the_outgoing_list_gave_out_decodes_and_encodes_back() -> None:
    # What GET /documents answered before the codec moved: the read model's UTC moment.
    token = _token(f"2026-03-05T02:15:30.123456+00:00|{IDENT}")
    moment, ident = decode_cursor(token)
    assert (moment, ident) == (datetime(2026, 3, 5, 2, 15, 30, 123456, tzinfo=UTC), IDENT)
    assert encode_cursor((moment, ident)) == token


def test_vietnam_time_keeps_its_offset() -> None:
    moment = datetime(2026, 3, 5, 9, 15, tzinfo=timezone(timedelta(hours=7)))
    token = encode_cursor((moment, IDENT))
    assert token is not None
    decoded, _ = decode_cursor(token)
    assert decoded == moment
    assert decoded.utcoffset() == timedelta(hours=7)


@pytest.mark.parametrize("token", [
    _token(f"2026-03-05T09:15:00|{IDENT}"),  # no time zone: never given out
    _token("2026-03-05T09:15:00+07:00"),
    _token("2026-03-05T09:15:00+07:00|not-a-uuid"),
    "%%%",
    base64.urlsafe_b64encode(b"\xff\xfe|x").decode(),
])
def test_a_token_not_given_out_is_invalid_input(token: str) -> None:
    with pytest.raises(InvalidInputError):
        decode_cursor(token)


def test_no_next_page_has_no_token_and_a_naive_moment_has_none_either() -> None:
    assert encode_cursor(None) is None
    with pytest.raises(ValueError, match="time zone"):
        encode_cursor((datetime(2026, 3, 5, 9, 15), IDENT))  # noqa: DTZ001
