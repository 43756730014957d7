"""A verdict is a typed value that serialises exactly as the string it replaced."""

from __future__ import annotations

import json

from eventsourcing.persistence import JSONTranscoder
from starlette.responses import JSONResponse

from docmgmt.ledger.bundle_verify import canonical_json
from signing.port import Verdict, competent_signature_valid, summarise

REPORT = {"bottom_line": "invalid", "sha256": "ab",
          "signatures": [{"field_name": "Leader", "bottom_line": "valid", "intact": True},
                         {"field_name": "Seal", "bottom_line": "indeterminate"}]}


def test_the_values_are_the_strings_of_before() -> None:
    assert [v.value for v in Verdict] == ["valid", "invalid", "indeterminate", "unsigned"]
    assert Verdict.VALID == "valid"
    # The HTML report formats verdicts into text and CSS classes.
    assert f"{Verdict.VALID}" == str(Verdict.VALID) == "valid"


def test_every_serialiser_writes_a_verdict_as_its_string() -> None:
    summary = summarise(REPORT)
    as_strings = json.loads(json.dumps(summary))
    assert summary["bottom_line"] is Verdict.INVALID
    assert summary["signatures"][1]["bottom_line"] is Verdict.INDETERMINATE
    assert json.dumps(summary) == json.dumps(as_strings)
    assert canonical_json(summary) == canonical_json(as_strings)
    assert JSONResponse(summary).body == JSONResponse(as_strings).body
    transcoder = JSONTranscoder()
    assert transcoder.encode(summary) == transcoder.encode(as_strings)


def test_the_summary_keeps_the_key_order_of_the_report() -> None:
    summary = summarise(REPORT)
    assert list(summary["signatures"][0]) == [
        "field_name", "intact", "valid", "trusted", "revocation", "signer_subject",
        "signer_fingerprint", "signing_time", "timestamp", "modification_level",
        "pades_level", "bottom_line", "reason"]


def test_the_competent_signature_is_judged_by_its_verdict() -> None:
    assert competent_signature_valid(REPORT)
    assert not competent_signature_valid({"signatures": [{"bottom_line": "indeterminate"}]})
    assert not competent_signature_valid({"signatures": []})
