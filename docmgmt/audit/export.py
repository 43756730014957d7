"""Audit trails as CSV, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

CSV_COLUMNS = ("position", "time", "type", "agency_id", "document_id", "aggregate_id",
               "version", "user_id", "username", "client_ip", "request_id", "purpose",
               "payload")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    # Client-supplied text (request ids, user agents) must not run as a spreadsheet formula.
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(items: Sequence[dict[str, Any]]) -> str:
    """The events as CSV with a header row (UTF-8 text, payload as JSON); cells that a
    spreadsheet would run as a formula are prefixed with an apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item in items:
        actor, payload = item["actor"], item["payload"]
        writer.writerow([_cell(v) for v in (
            item["position"], item["time"], item["type"], item["agency_id"] or "",
            item["document_id"] or "", item["aggregate_id"], item["version"],
            actor.get("user_id", ""), actor.get("username", ""), actor.get("client_ip", ""),
            actor.get("request_id", ""), payload.get("purpose", ""),
            json.dumps(payload, ensure_ascii=False, sort_keys=True),
        )])
    return out.getvalue()


