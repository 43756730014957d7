"""The inbox/outbox cursor: today's tokens still decode; a time without a zone is refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from uuid import UUID

import pytest

from docmgmt.domain.errors import InvalidInputError
from docmgmt.kernel.cursor import decode_optional_cursor as decode_cursor
from docmgmt.kernel.cursor import encode_cursor

ID = UUID("0b8f2b8e-3c2a-4f4e-9a43-1d2f0e6c7a10")
# A token as the exchange routes gave it out before the move (asyncpg hands timestamptz
# columns back in UTC): "2027-03-02T02:00:00.123456+00:00|<id>", unpadded urlsafe base64.
ISSUED = ("MjAyNy0wMy0wMlQwMjowMDowMC4xMjM0NTYrMDA6MDB8MGI4ZjJiOGUtM2MyYS00ZjRlLTlhNDMt"
          "MWQyZjBlNmM3YTEw")


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_a_token_given_out_before_decodes_to_the_same_position() -> None:
    moment = datetime(2027, 3, 2, 2, 0, 0, 123456, tzinfo=UTC)
    assert encode_cursor((moment, ID)) == ISSUED
    assert decode_cursor(ISSUED) == (moment, ID)
    assert decode_cursor(ISSUED)[0].utcoffset() is not None  # type: ignore[index]


def test_no_token_is_the_first_page() -> None:
    assert encode_cursor(None) is None
    assert decode_cursor(None) is None
    assert decode_cursor("") is None


@pytest.mark.parametrize("token", [
    _token(f"2027-03-02T02:00:00|{ID}"),  # no zone: which moment it means is unknown
    _token("2027-03-02T02:00:00+00:00"),
    _token("2027-03-02T02:00:00+00:00|not-a-uuid"),
    "%%%",
    "gA",  # one byte, 0x80: not UTF-8
])
def test_a_token_the_api_did_not_give_out_is_refused(token: str) -> None:
    with pytest.raises(InvalidInputError, match="gave out"):
        decode_cursor(token)
