"""Text PostgreSQL cannot hold, made storable where projection parameters reach it.

Stored events are forever, and an old one may carry a NUL (accepted before the API
refused control characters, or written below it). PostgreSQL's text, jsonb and text[]
cannot hold U+0000, so the views store U+2400 SYMBOL FOR NULL ("␀") in its place: one
visible character that says what was there, valid in text and in JSON alike (a
backslash escape such as "\\u0000" would be indistinguishable from text a user typed,
and jsonb refuses that escape). Lone surrogates, which UTF-8 cannot encode, become
U+FFFD. The event itself keeps the original: only the view holds the stand-in.

Installed as psycopg dumpers on the projection's connection, so every parameter of every
handler goes through it, including arrays (their items use the str dumper) and JSON
documents passed as text (``json.dumps`` writes NUL as the escape ``\\u0000``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from psycopg import Connection
from psycopg.adapt import Buffer, PyFormat
from psycopg.types.json import set_json_dumps
from psycopg.types.string import StrBinaryDumper, StrDumperUnknown

NUL_STAND_IN = "\u2400"
# The JSON escape \u0000, unless its backslash is itself escaped (an even run before it).
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with what PostgreSQL cannot hold replaced by visible stand-ins."""
    if "\x00" in text:
        text = text.replace("\x00", NUL_STAND_IN)
    # Only a JSON document has escapes; plain text keeps a literal backslash-u as typed.
    if "\\u0000" in text and text[:1] in "{[":
        text = _JSON_NUL.sub(lambda m: m.group(1) + NUL_STAND_IN, text)
    return text


def _encoded(text: str, encoding: str) -> bytes:
    text = storable(text)
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode(encoding, "replace")


class StorableStrDumper(StrDumperUnknown):
    """psycopg's default str dumper (text format), storing stand-ins for NUL."""

    def dump(self, obj: str) -> Buffer | None:
        """The text as PostgreSQL can hold it."""
        return _encoded(obj, self._encoding)


class StorableStrBinaryDumper(StrBinaryDumper):
    """psycopg's binary str dumper, storing stand-ins for NUL."""

    def dump(self, obj: str) -> Buffer | None:
        """The text as PostgreSQL can hold it."""
        return _encoded(obj, self._encoding)


def storable_json(value: Any) -> str:
    """JSON for psycopg's Json/Jsonb wrappers, with NUL as its stand-in."""
    return _JSON_NUL.sub(lambda m: m.group(1) + NUL_STAND_IN,
                         json.dumps(value, ensure_ascii=False))


def make_text_storable(conn: Connection[Any]) -> None:
    """Install the dumpers on ``conn`` (once; cheap to call again)."""
    adapters = conn.adapters
    if adapters.get_dumper(str, PyFormat.TEXT) is StorableStrDumper:
        return
    # The last one registered is also the one used for %s, as psycopg's own default.
    adapters.register_dumper(str, StorableStrBinaryDumper)
    adapters.register_dumper(str, StorableStrDumper)
    set_json_dumps(storable_json, conn)
