"""One Vietnam-time constant, in the domain; signing uses it and prints the same times."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import signing.appearance
import signing.pades
import signing.validate
from docmgmt.domain.calendar import VIETNAM_TZ

ROOT = Path(__file__).resolve().parents[2]
# The outgoing stage's engineer replaces the one in docmgmt/workflow.py (issue 13).
STILL_TO_MERGE = {"docmgmt/workflow.py"}


def test_signing_uses_the_domain_constant() -> None:
    for module in (signing.appearance, signing.pades, signing.validate):
        assert module.VIETNAM_TZ is VIETNAM_TZ


def test_signing_times_print_at_plus_seven() -> None:
    moment = datetime(2026, 11, 22, 7, 5, 9, 123, tzinfo=UTC)
    assert signing.appearance.format_signing_time(moment) == "2026-11-22T14:05:09+07:00"
    assert VIETNAM_TZ.utcoffset(None) == timedelta(hours=7)


def test_no_other_module_defines_vietnam_time() -> None:
    pattern = re.compile(r"timezone\(\s*timedelta\(\s*hours\s*=\s*7")
    found = {str(p.relative_to(ROOT)) for package in ("docmgmt", "api", "signing", "storage")
             for p in (ROOT / package).rglob("*.py")
             if pattern.search(p.read_text(encoding="utf-8"))}
    assert found - STILL_TO_MERGE == {"docmgmt/domain/calendar.py"}
