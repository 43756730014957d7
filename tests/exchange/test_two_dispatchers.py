"""Two dispatch processes on one database deliver every copy exactly once.

An operator may start a second dispatch process by mistake, or a deployment may briefly run
the old and the new one side by side. Both follow the same events; each copy must still
arrive once and each delivery be recorded once, and neither process may crash.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from docmgmt.kernel.db import Database
from docmgmt.outgoing import sending
from tests.exchange.conftest import City
from tests.exchange.test_dispatch_crash import WARDS, _start, _topics
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres

DOCUMENTS = 6


def test_two_dispatch_processes_deliver_each_copy_once(
        city: City, database: Database, tmp_path: Path) -> None:
    data_dir = city.write.settings.data_dir
    docs = [city.sealed("STTTT", f"Công văn số {n} gửi hai phường") for n in range(DOCUMENTS)]
    expected = DOCUMENTS * len(WARDS)

    # Two dispatch processes run at once; then the department issues the documents.
    processes = [_start(database, data_dir), _start(database, data_dir)]
    try:
        time.sleep(2.0)  # both are up and waiting before the first event arrives
        for doc in docs:
            sending.dispatch(city.write.app, city["STTTT"]["clerk"], doc, list(WARDS), [],
                             "", None)
        wait_until(lambda: sum(n for (_, kind), n in _topics(database).items()
                               if kind == "DeliveredTo") >= expected, timeout=180)
        time.sleep(2.0)  # a duplicate from the slower process would show up now
        running = [p.poll() is None for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        errors = [p.communicate(timeout=30)[1].decode() for p in processes]
    # Both were still running throughout: this was a race, not a hand-over.
    assert running == [True, True], [e[-2000:] for e in errors]

    counts = _topics(database)
    # Every copy arrived once, and every document records each delivery once.
    arrived = [n for (_, kind), n in counts.items() if kind == "Arrived"]
    assert len(arrived) == expected
    assert set(arrived) == {1}
    for doc in docs:
        assert counts[(str(doc), "DeliveredTo")] == len(WARDS)
    assert [p.returncode for p in processes] == [0, 0], [e[-2000:] for e in errors]

