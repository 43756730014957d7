"""Blob claims within one process, for tests on the in-memory application."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from docmgmt.kernel.newblobs import ClaimSession


@dataclass
class ThreadBlobClaims:
    """Claims within one process (the in-memory application of the unit tests)."""

    timeout_seconds: float = 30.0
    _shared: dict[str, int] = field(default_factory=dict)
    _exclusive: set[str] = field(default_factory=set)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    @contextlib.contextmanager
    def session(self) -> Iterator[ClaimSession]:
        """A session whose shared claims all end with it."""
        held: list[str] = []
        claims = self

        class Session:
            def share(self, sha256: str) -> None:
                with claims._changed:
                    claims._changed.wait_for(lambda: sha256 not in claims._exclusive)
                    claims._shared[sha256] = claims._shared.get(sha256, 0) + 1
                held.append(sha256)

        try:
            yield Session()
        finally:
            with self._changed:
                for sha256 in held:
                    self._shared[sha256] -= 1
                self._changed.notify_all()

    @contextlib.contextmanager
    def exclusive(self, sha256: str) -> Iterator[bool]:
        """Wait (bounded) until no session holds a claim on the digest; True if it came."""
        with self._changed:
            free = self._changed.wait_for(
                lambda: self._shared.get(sha256, 0) == 0 and sha256 not in self._exclusive,
                self.timeout_seconds)
            if free:
                self._exclusive.add(sha256)
        try:
            yield free
        finally:
            if free:
                with self._changed:
                    self._exclusive.discard(sha256)
                    self._changed.notify_all()
