"""The development TSA serves several signatures at once (the soak's one 500)."""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import tsp

from signing.devpki import dev_timestamper, init_dev_pki


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Threads switch as often as possible, so that a race shows in a short test."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def test_tokens_made_in_eight_threads_at_once_all_succeed(
    tmp_path: Path, fast_switching: None
) -> None:
    # The tokens are built around asn1crypto objects every request shares (the TSA's
    # certificate and names), which asn1crypto re-encodes lazily and not thread-safely:
    # a seal and a signature timestamped at the same moment failed with "UTF8String value
    # must be a unicode string, not NoneType" (HTTP 500) in the one-hour soak.
    stamper = dev_timestamper(init_dev_pki(tmp_path / "pki", "GUI", "Sở Kiểm thử"))
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def stamp(n: int) -> None:
        barrier.wait()
        for i in range(30):
            req = tsp.TimeStampReq({"version": 1, "message_imprint": tsp.MessageImprint({
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(f"{n}-{i}".encode()).digest()})})
            try:
                stamper.request_tsa_response(req)  # type: ignore[attr-defined]
            except Exception as exc:  # collected, asserted below
                errors.append(exc)

    threads = [threading.Thread(target=stamp, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
