"""The CSV export and the stored-JSON decoding, without I/O."""

from __future__ import annotations

import csv
import io
import json

from docmgmt.audit.export import to_csv
from docmgmt.audit.trails import plain


def test_stored_json_wrappers_are_undone() -> None:
    stored = {"document_id": {"_type_": "uuid_hex", "_data_": "0" * 31 + "1"},
              "timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-02T03:04:05+00:00"},
              "files": [{"sha256": "ab"}]}
    assert plain(stored) == {"document_id": "00000000-0000-0000-0000-000000000001",
                             "timestamp": "2026-01-02T03:04:05+00:00",
                             "files": [{"sha256": "ab"}]}


def test_csv_cells_never_run_as_spreadsheet_formulas() -> None:
    item = {"position": 7, "time": "2026-01-02T03:04:05+00:00", "type": "AccessLog.Viewed",
            "agency_id": None, "document_id": "d", "aggregate_id": "a", "version": 2,
            "actor": {"user_id": "u", "username": "chuyen_vien", "client_ip": "127.0.0.1",
                      "request_id": "=HYPERLINK(\"http://x\")"},
            "payload": {"purpose": "download", "ghi_chú": "Văn bản đã ký"}}
    (row,) = csv.DictReader(io.StringIO(to_csv([item])))
    assert row["request_id"] == "'=HYPERLINK(\"http://x\")"
    assert json.loads(row["payload"]) == item["payload"]
    assert (row["position"], row["agency_id"], row["purpose"]) == ("7", "", "download")
