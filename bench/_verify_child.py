"""Time ``verify_log`` in a fresh process, as ``docmgmt verify`` runs it (no other thread).

    python -m bench._verify_child CONNINFO

Prints one JSON object: seconds and event counts for the default pass (a connection per
core), the same pass on one connection, and the row-by-row pass.
"""

from __future__ import annotations

import json
import sys
import time

from docmgmt.ledger.verify import verify_log


def timed(conninfo: str, **options: object) -> dict[str, object]:
    t0 = time.perf_counter()
    report = verify_log(conninfo, **options)  # type: ignore[arg-type]
    return {"seconds": time.perf_counter() - t0, "events": report.events, "ok": report.ok,
            "summary": report.summary().splitlines()[0]}


def main() -> None:
    """Three timed passes over the database named on the command line."""
    conninfo = sys.argv[1]
    print(json.dumps({"parallel": timed(conninfo), "in_process": timed(conninfo, workers=0),
                      "row_by_row": timed(conninfo, fast=False)}))


if __name__ == "__main__":
    main()
