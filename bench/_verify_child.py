"""Time ``verify_log`` in a fresh process, as ``docmgmt verify`` runs it (no other thread).

    python -m bench._verify_child CONNINFO [parallel] [in_process] [row_by_row]

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


PASSES: dict[str, dict[str, object]] = {
    "parallel": {}, "in_process": {"workers": 0}, "row_by_row": {"fast": False}}


def main() -> None:
    """The timed passes named (all three by default) over the database named."""
    conninfo, names = sys.argv[1], sys.argv[2:] or list(PASSES)
    print(json.dumps({name: timed(conninfo, **PASSES[name]) for name in names}))


if __name__ == "__main__":
    main()
