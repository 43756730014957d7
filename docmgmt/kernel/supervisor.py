"""Keeps an in-process projection running, and the handle a request waits on it with."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from docmgmt.kernel.projection_health import (
    MAX_BACKOFF,
    ProjectionFailure,
    committed_position,
    describe,
    failing_position,
    head_position,
    tracking_recorder,
)
from docmgmt.kernel.projections import ReadModelRecorder

log = logging.getLogger("docmgmt")


class ProjectionSupervisor:
    """Keeps one in-process projection running.

    The eventsourcing runner stops for good when its connection breaks (a database restart,
    say); the supervisor notices, logs it, and starts a new runner with backoff. Tracking
    makes the restart resume exactly where the last committed event left off.
    """

    def __init__(self, es_env: dict[str, str], start: Callable[[dict[str, str]], Any],
                 name: str, fallback_view: Callable[[dict[str, str]], ReadModelRecorder]
                 ) -> None:
        self._env = es_env
        self._start = start
        self.name = name
        self._stop = threading.Event()
        self._runner: Any = None
        self._fallback_view = fallback_view(es_env)
        self.last_error: str | None = None
        # Set while the projection cannot get past an event (docmgmt.kernel.projection_health).
        self.failure: ProjectionFailure | None = None
        self.restarts = 0
        self._thread = threading.Thread(target=self._watch, name="projection-supervisor",
                                        daemon=True)

    @property
    def running(self) -> bool:
        """Whether a runner is processing events now."""
        runner = self._runner
        return runner is not None and not runner.is_interrupted.is_set()

    @property
    def view(self) -> ReadModelRecorder:
        """The current runner's view (wakes waiters at once), else a polling handle."""
        runner = self._runner
        if runner is not None and isinstance(runner.view, ReadModelRecorder):
            return runner.view
        return self._fallback_view

    def start(self) -> None:
        """Start the first runner (failing loudly if it cannot) and the watcher."""
        self._runner = self._new_runner()
        self._thread.start()

    def _new_runner(self) -> Any:
        runner = self._start(self._env)
        runner.__enter__()
        return runner

    def _close(self, runner: Any) -> None:
        if runner is not None:
            with contextlib.suppress(BaseException):
                runner.__exit__(None, None, None)

    @property
    def healthy(self) -> bool:
        """Running, and not stuck on an event."""
        return self.running and self.failure is None

    def _failed(self, runner: Any, exc: BaseException) -> float:
        """Report the failure; the seconds to wait before the next attempt."""
        position = failing_position(runner)
        previous = self.failure
        attempts = (previous.attempts + 1
                    if previous is not None and previous.position == position else 1)
        self.failure = ProjectionFailure(self.name, position, describe(exc), attempts)
        self.last_error = self.failure.error
        table = getattr(tracking_recorder(runner), "tracking_table_name", None)
        if table is not None:
            # The next attempt commits event by event up to here, to name the culprit.
            ReadModelRecorder.one_at_a_time_until[table] = max(head_position(runner),
                                                               position or 0)
        backoff: float = min(0.5 * 2 ** (attempts - 1), MAX_BACKOFF)
        log.error("%s projection failed at event %s (attempt %d): %s; retrying in %.1f s",
                  self.name, position, attempts, self.last_error, backoff)
        return backoff

    def _recovered(self, runner: Any) -> None:
        failure = self.failure
        if failure is None:
            return
        committed = committed_position(runner)
        if failure.position is None or (committed is not None
                                        and committed >= failure.position):
            self.failure = None
            log.info("%s projection got past event %s", self.name, failure.position)

    def _watch(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            runner = self._runner
            try:
                if runner is not None:
                    runner.run_forever(timeout=1.0)
                    # A batched view may fail in its idle flush, between events: restart
                    # from tracking now rather than at the next event.
                    failure = getattr(getattr(runner, "view", None), "failure", None)
                    if failure is not None:
                        raise failure
                    if not runner.is_interrupted.is_set():
                        self._recovered(runner)
                        backoff = 0.5
                        continue
                    if self._stop.is_set():
                        return
                    raise RuntimeError("the projection runner stopped")
            except Exception as exc:
                backoff = self._failed(runner, exc)
            self._runner = None
            self._close(runner)
            if self._stop.wait(backoff):
                return
            try:
                self._runner = self._new_runner()
                self.restarts += 1
                log.info("%s projection restarted", self.name)
            except Exception as exc:
                self.last_error = describe(exc)
                backoff = min(backoff * 2, MAX_BACKOFF)

    def request_stop(self) -> None:
        """Ask the watcher to stop (it notices within a second); ``stop`` waits for it."""
        self._stop.set()

    def stop(self) -> None:
        """Stop watching and stop the runner."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._close(self._runner)
        self._runner = None


class View:
    """A projection's tracking as a request waits on it (read-your-writes): the runner of
    this process, or, where the projections run in another process, a polling handle."""

    def __init__(self, recorder: Callable[[], ReadModelRecorder],
                 stuck: Callable[[], bool] | None = None) -> None:
        self._recorder = recorder
        self._stuck = stuck

    @classmethod
    def supervised(cls, supervisor: ProjectionSupervisor) -> View:
        """Waits on the supervised runner; gives up at once while it is stuck on an event
        (/health reports it; waiting would only hold every request up)."""
        return cls(lambda: supervisor.view, lambda: supervisor.failure is not None)

    @classmethod
    def polled(cls, recorder: ReadModelRecorder) -> View:
        """Waits by polling the tracking table."""
        return cls(lambda: recorder)

    def wait_for(self, position: int | None, timeout: float) -> bool:
        """Whether the view has ``position`` within ``timeout`` seconds."""
        return self._recorder().wait_for(position, timeout, self._stuck)


def stop_all(supervisors: list[ProjectionSupervisor]) -> None:
    """Stop several supervisors at once: each watcher takes up to a second to notice, so
    they are all asked first and waited for afterwards."""
    for supervisor in supervisors:
        supervisor.request_stop()
    for supervisor in reversed(supervisors):
        supervisor.stop()
