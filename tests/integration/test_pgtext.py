"""Text PostgreSQL cannot hold is stored as a stand-in on a projection's connection."""

from __future__ import annotations

import json

import psycopg
import pytest
from psycopg.types.json import Jsonb

from docmgmt.kernel.db import Database
from docmgmt.kernel.pgtext import make_text_storable


def test_nul_reaches_text_jsonb_and_arrays_as_a_stand_in(database: Database) -> None:
    params = ("a\x00b", Jsonb({"k": "\x00"}), ["x\x00"], json.dumps({"k": "y\x00"}),
              "lone \ud800")
    query = "SELECT %s::text, %s::jsonb, %s::text[], %s::jsonb, %s::text"
    with psycopg.connect(database.app.conninfo()) as conn:
        # As psycopg sends them, PostgreSQL refuses every one.
        with pytest.raises((psycopg.DataError, UnicodeEncodeError)):
            conn.execute(query, params)
        conn.rollback()
        make_text_storable(conn)
        make_text_storable(conn)  # idempotent
        row = conn.execute(query, params, prepare=True).fetchone()
    assert row == ("a\u2400b", {"k": "\u2400"}, ["x\u2400"], {"k": "y\u2400"}, "lone \ufffd")
