"""Signing jobs: what a docmgmt page asked the agent to sign, until the leader answers.

A job lives in memory only. It is pending until the leader types the right PIN (signed),
presses Refuse (refused), the token locks or fails (failed), or it expires (failed with
``expired``). Finished jobs are forgotten one expiry period later.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from signing.agent.token import Token, TokenAbsentError, TokenError, WrongPinError


class JobStatus(StrEnum):
    """Where a job stands (the ``status`` of ``GET /v1/sign/{job_id}``)."""

    PENDING = "pending"
    SIGNED = "signed"
    REFUSED = "refused"
    FAILED = "failed"


class TooManyJobsError(Exception):
    """More jobs are waiting for the leader than the agent keeps at once."""


@dataclass(frozen=True)
class Item:
    """One digest of a job, with the line the leader reads for it."""

    id: str
    digest: bytes
    label: str


@dataclass
class Job:
    """One request to sign a list of digests with one certificate, under one PIN entry."""

    id: str
    csrf: str
    origin: str
    certificate_id: str
    items: tuple[Item, ...]
    expires_at: datetime
    status: JobStatus = JobStatus.PENDING
    error: str | None = None
    signatures: tuple[bytes, ...] = ()
    failed_attempts: int = 0
    last_error: str | None = None  # why the last confirmation did not sign (page only)
    pin_warning: str | None = None
    _busy: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def csrf_matches(self, token: str) -> bool:
        """Whether the confirm form carried this job's token (constant-time comparison)."""
        return hmac.compare_digest(self.csrf.encode(), token.encode())

    def as_json(self) -> dict[str, Any]:
        """The wire form of ``GET /v1/sign/{job_id}`` (signatures only once all are made)."""
        body: dict[str, Any] = {"status": self.status.value, "signatures": [
            {"id": item.id, "signature": base64.b64encode(sig).decode()}
            for item, sig in zip(self.items, self.signatures, strict=False)]}
        if self.error:
            body["error"] = self.error
        return body


class JobStore:
    """The agent's jobs, expiring ``lifetime`` after they were asked for."""

    def __init__(self, lifetime: timedelta = timedelta(minutes=5), max_pending: int = 20,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.lifetime = lifetime
        self.max_pending = max_pending
        self._clock = clock
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def create(self, origin: str, certificate_id: str, items: Sequence[Item]) -> Job:
        """A new pending job (refused when too many are already waiting)."""
        with self._lock:
            self._sweep()
            pending = sum(j.status is JobStatus.PENDING for j in self._jobs.values())
            if pending >= self.max_pending:
                raise TooManyJobsError(f"{pending} jobs are already waiting")
            job = Job(id=secrets.token_urlsafe(18), csrf=secrets.token_urlsafe(24),
                      origin=origin, certificate_id=certificate_id, items=tuple(items),
                      expires_at=self._clock() + self.lifetime)
            self._jobs[job.id] = job
            return job

    def get(self, job_id: str) -> Job | None:
        """The job, marked expired if its time is up; None once forgotten."""
        with self._lock:
            self._sweep()
            return self._jobs.get(job_id)

    def _sweep(self) -> None:
        now = self._clock()
        for job_id, job in list(self._jobs.items()):
            if job.status is JobStatus.PENDING and now >= job.expires_at:
                job.status, job.error = JobStatus.FAILED, "expired"
            if now >= job.expires_at + self.lifetime:
                del self._jobs[job_id]

    def refuse(self, job: Job) -> None:
        """The leader pressed Refuse (only a pending job changes)."""
        with job._busy:
            if self.get(job.id) is job and job.status is JobStatus.PENDING:
                job.status = JobStatus.REFUSED

    def sign(self, job: Job, token: Token, pin: str) -> None:
        """Sign every item with the PIN; a wrong PIN leaves the job pending for a retry."""
        with job._busy:  # a double-clicked Sign must not sign twice
            if self.get(job.id) is not job or job.status is not JobStatus.PENDING:
                return
            try:
                signatures = token.sign(job.certificate_id, [i.digest for i in job.items], pin)
            except WrongPinError as exc:
                job.failed_attempts += 1
                job.last_error, job.pin_warning = exc.code, token.pin_warning()
                return
            except TokenAbsentError as exc:  # plugged in again, the leader can retry
                job.last_error = exc.code
                return
            except TokenError as exc:  # a locked PIN among them: nothing a retry can fix
                job.status, job.error = JobStatus.FAILED, exc.code
                return
            job.signatures, job.status = tuple(signatures), JobStatus.SIGNED
