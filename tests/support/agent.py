"""``docmgmt agent`` served in a thread on a free port of 127.0.0.1, over a test token."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from signing.agent.jobs import JobStore
from signing.agent.server import AgentConfig, AgentServer, normalise_origin
from signing.agent.token import Token
from tests.support.softhsm import SoftHsmToken


@contextmanager
def serve_agent(origin: str, token: SoftHsmToken,
                clock: Callable[[], datetime] = lambda: datetime.now(UTC)
                ) -> Iterator[AgentServer]:
    """The agent for ``origin`` (its URL: ``http://127.0.0.1:{server.port}``), then stopped."""
    config = AgentConfig(origin=normalise_origin(origin), token=Token(token.module, token.label),
                         jobs=JobStore(clock=clock))
    server = AgentServer(config, port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="docmgmt-agent", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
