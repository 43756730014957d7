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


def start_fuzzing(api: Api, username: str, report: Path) -> subprocess.Popen[str]:
    """Start schemathesis as ``username`` against the served schema (its own process)."""
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
    # Its working folder takes schemathesis's cache, so not the checkout.
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=report.parent)


def finish_fuzzing(run: subprocess.Popen[str], username: str, report: Path,
                   started: float) -> dict[str, Any]:
    """Wait for a run started by ``start_fuzzing``; its JSON report."""
    try:
        stdout, stderr = run.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        run.kill()
        stdout, stderr = run.communicate()
    print(f"--- schemathesis as {username}: {time.monotonic() - started:.0f} s, "
          f"exit {run.returncode}")
    print(stdout[-20000:])
    assert run.returncode == 0, stdout[-20000:] + stderr[-5000:]
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
    # The two runs go at once (each its own process): the server is shared, the client's
    # generation is not, and the suite's 20 minutes are.
    started = time.monotonic()
    runs = {username: start_fuzzing(api, username, tmp_path / f"{username}.json")
            for username in ("official_a", "root")}
    for username, run in runs.items():
        result = finish_fuzzing(run, username, tmp_path / f"{username}.json", started)
        assert result["failures"] == [], result["failures"]
        assert result["errors"] == [], result["errors"]
        assert result["operations"]["tested"] == result["operations"]["total"]
