"""The one codec of list cursors: a (moment, id) pair as an opaque URL-safe token.

Moments carry their time zone (the read models answer in UTC, Vietnam-time views in
+07:00); a token without one was never given out and is refused."""

from __future__ import annotations

import base64
from datetime import datetime
from uuid import UUID

from docmgmt.domain.errors import InvalidInputError


def encode_cursor(cursor: tuple[datetime, UUID] | None) -> str | None:
    """The token for the page after ``cursor`` (None: there is no next page)."""
    if cursor is None:
        return None
    moment, ident = cursor
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a cursor's moment must carry a time zone")
    raw = f"{moment.isoformat()}|{ident}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, UUID]:
    """The (moment, id) a token stands for, or InvalidInputError."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        moment, ident = raw.split("|")
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise ValueError("naive time")
        return parsed, UUID(ident)
    except ValueError:
        raise InvalidInputError("the cursor is not one this API gave out") from None


def decode_optional_cursor(token: str | None) -> tuple[datetime, UUID] | None:
    """The position a token stands for; none (the first page) for an absent or empty one."""
    return decode_cursor(token) if token else None
