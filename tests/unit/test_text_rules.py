"""The text rule and the stand-ins the views store for what PostgreSQL cannot hold."""

from __future__ import annotations

import json

import pytest

from docmgmt.domain.text import (
    InvalidTextError,
    NumberOutOfRangeError,
    TextTooLongError,
    check_integer_text,
    check_text,
)
from docmgmt.kernel.pgtext import storable, storable_json
from docmgmt.kernel.projection_health import describe


@pytest.mark.parametrize("text", ["a\x00b", "\x1b[31m", "a\x7f", "a\x85", "\x9b2J", "\ud800"])
def test_control_characters_and_lone_surrogates_are_refused(text: str) -> None:
    with pytest.raises(InvalidTextError, match=r"body\.summary"):
        check_text("body.summary", text, limit=100)


@pytest.mark.parametrize("text", ["Về việc\thội nghị\r\n", "Ω ≠ ∅ 😀", ""])
def test_printable_text_tabs_and_line_breaks_pass(text: str) -> None:
    check_text("body.summary", text, limit=100)


def test_headers_keep_latin1_bytes_of_utf8_text() -> None:
    check_text("header.user-agent", "Trình duyệt".encode().decode("latin-1"), limit=100,
               header=True)
    with pytest.raises(InvalidTextError):
        check_text("header.user-agent", "a\x01", limit=100, header=True)


def test_lengths_and_numbers_are_bounded() -> None:
    with pytest.raises(TextTooLongError):
        check_text("body.text", "x" * 11, limit=10)
    check_integer_text("query.offset", str(2**63 - 1))
    check_integer_text("query.q", "not a number")
    for big in (str(2**63), "-" + str(2**64), "9" * 200):
        with pytest.raises(NumberOutOfRangeError):
            check_integer_text("query.offset", big)


def test_nul_is_stored_as_a_visible_stand_in_in_text_and_json() -> None:
    assert storable("abc\x00def") == "abc\u2400def"
    document = json.dumps({"a": "x\x00y", "b": "\\u0000"}, ensure_ascii=False)
    assert json.loads(storable(document)) == {"a": "x\u2400y", "b": "\\u0000"}
    # Plain text keeps a typed backslash-u as it is.
    assert storable("see \\u0000") == "see \\u0000"


def test_failure_reports_name_the_error_without_server_paths() -> None:
    error = FileNotFoundError("no such file: /srv/docmgmt/data/blobs/ab/cd")
    assert describe(error) == "FileNotFoundError: no such file: <path>"
    assert len(describe(RuntimeError("x" * 1000))) == 300


def test_json_wrappers_store_the_stand_in_too() -> None:
    assert json.loads(storable_json({"a": ["x\x00"]})) == {"a": ["x\u2400"]}
