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
from tests.exchange.conftest import City
from tests.exchange.test_dispatch_crash import WARDS, _start, _topics
from tests.support.waiting import wait_until

DOCUMENTS = 6


def test_two_dispatch_processes_deliver_each_copy_once(
        city: City, database: Database, tmp_path: Path) -> None:
    ex = city.write.exchange
    data_dir = city.write.settings.data_dir
    docs = [city.sealed("STTTT", f"Công văn số {n} gửi hai phường") for n in range(DOCUMENTS)]
    expected = DOCUMENTS * len(WARDS)

    # Two dispatch processes run at once; then the department issues the documents.
    processes = [_start(database, data_dir), _start(database, data_dir)]
    try:
        time.sleep(2.0)  # both are up and waiting before the first event arrives
        for doc in docs:
            ex.dispatch(city["STTTT"]["clerk"], doc, list(WARDS), [], "", None)
        wait_until(lambda: sum(n for (_, kind), n in _topics(database).items()
                               if kind == "DeliveredTo") >= expected, timeout=180)
        time.sleep(2.0)  # a duplicate from the slower process would show up now
        # Both were still running throughout: this was a race, not a hand-over.
        assert [p.poll() for p in processes] == [None, None], [
            (p.stderr.read() if p.stderr else b"").decode()[-2000:] for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in processes:
            p.wait(timeout=30)

    counts = _topics(database)
    # Every copy arrived once, and every document records each delivery once.
    arrived = [n for (_, kind), n in counts.items() if kind == "Arrived"]
    assert len(arrived) == expected
    assert set(arrived) == {1}
    for doc in docs:
        assert counts[(str(doc), "DeliveredTo")] == len(WARDS)
    for p in processes:
        assert p.returncode == 0, (p.stderr.read() if p.stderr else b"").decode()


pytestmark = pytest.mark.postgres
