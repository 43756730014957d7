"""The report's TypedDicts name exactly the keys the validation report serialises."""

from __future__ import annotations

from dataclasses import fields

from signing.port import (
    ReportDict,
    SignatureDict,
    SignatureSummaryDict,
    SummaryDict,
    TimestampDict,
    summarise,
)
from signing.validate import DocumentTimestampReport, SignatureReport, ValidationReport


def test_every_entry_type_names_the_dataclass_fields_in_order() -> None:
    assert list(SignatureDict.__annotations__) == [f.name for f in fields(SignatureReport)]
    assert list(TimestampDict.__annotations__) == [
        f.name for f in fields(DocumentTimestampReport)]


def test_the_report_type_names_what_to_dict_writes() -> None:
    written = [f.name for f in fields(ValidationReport)] + ["signature_count"]
    assert list(ReportDict.__annotations__) == written


def test_the_summary_type_names_what_summarise_writes() -> None:
    summary = summarise({"bottom_line": "valid", "signatures": [{"bottom_line": "valid"}]})
    assert list(summary) == list(SummaryDict.__annotations__)
    assert list(summary["signatures"][0]) == list(SignatureSummaryDict.__annotations__)
