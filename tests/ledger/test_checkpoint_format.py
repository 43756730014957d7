"""Checkpoint note bodies: format 1 unchanged, format 2 adds the signed state line."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from docmgmt.ledger.checkpoint import note_body

WHEN = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
ROOT = bytes(range(32))
STATE = bytes(reversed(range(32)))


def test_format_one_body_is_exactly_as_before() -> None:
    """An old note re-derives byte for byte, so its signature keeps verifying."""
    assert note_body("docmgmt", 9, ROOT, WHEN) == (
        f"docmgmt\n9\n{base64.b64encode(ROOT).decode()}\n"
        "time 2026-12-04T13:00:00.000000Z\n")


def test_format_two_body_ends_with_the_state_line() -> None:
    """The state tree's size and root are a signed extension line after the time."""
    body = note_body("docmgmt", 9, ROOT, WHEN, state=(3, STATE))
    lines = body.splitlines()
    assert lines[:4] == note_body("docmgmt", 9, ROOT, WHEN).splitlines()
    assert lines[4] == f"state 3 {base64.b64encode(STATE).decode()}"
    assert body.endswith("\n")
