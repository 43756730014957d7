"""Schemathesis against the served /openapi.json: no server error, no undocumented status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.api.conftest import Api

# Bounded for CI (the whole suite has 20 minutes) by the examples per operation, about a
# minute per identity on 2 cores; raise it locally with DOCMGMT_FUZZ_EXAMPLES. The timeout is
# a backstop only (schemathesis's --max-time would fuzz until the time is spent).
MAX_EXAMPLES = int(os.environ.get("DOCMGMT_FUZZ_EXAMPLES", "15"))
TIMEOUT_SECONDS = 300
SEED = 12

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "unsupported_method",
    "allow_header_conformance",
])


def fuzz(api: Api, username: str, report: Path) -> dict[str, Any]:
    """Run schemathesis as ``username`` against the served schema; the JSON run report."""
    r = api.client().post("/auth/token", data={"username": username,
                                               "password": "correct-horse-battery"})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "run", api.base + "/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--workers", "1",  # hypothesis describes lambdas with ast.parse: not thread-safe on 3.11
        "--request-timeout", "30",
        "--no-shrink",
        "--generation-database", "none",
        "--suppress-health-check", "all",
        "--report", "json", "--report-json-path", str(report),
        "--no-color",
    ]
    started = time.monotonic()
    # Its working folder takes schemathesis's cache, so not the checkout.
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                          check=False, cwd=report.parent)
    elapsed = time.monotonic() - started
    print(f"--- schemathesis as {username}: {elapsed:.0f} s, exit {done.returncode}")
    print(done.stdout[-20000:])
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]
    result: dict[str, Any] = json.loads(report.read_text())
    print(f"figures as {username}: {result['operations']['tested']} operations, "
          f"{result['test_cases']['generated']} test cases, "
          f"{len(result['failures'])} failures, {len(result['errors'])} errors, "
          f"{result['running_time']:.0f} s")
    return result


def test_fuzzing_the_served_schema_finds_no_server_error(
    api: Api, city: dict[str, Any], tmp_path: Path
) -> None:
    # An official and an admin between them reach every operation past its role check.
    for username in ("official_a", "root"):
        result = fuzz(api, username, tmp_path / f"{username}.json")
        assert result["failures"] == [], result["failures"]
        assert result["errors"] == [], result["errors"]
        assert result["operations"]["tested"] == result["operations"]["total"]
