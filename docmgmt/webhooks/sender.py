"""The sender: POSTs pending deliveries, signed, and retries failures with backoff.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` and leased (their next attempt is pushed
past the HTTP timeout) before any request is made, so several processes can send at once
without sending a delivery twice at the same moment, and a crash mid-request only delays
that delivery until the lease ends. Retry times use the database clock, shared by all.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import certifi
import psycopg
import urllib3
from psycopg.rows import DictRow, dict_row
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from docmgmt.webhooks.targets import (
    Target,
    TargetPolicy,
    UnresolvableTargetError,
    WebhookTargetRefusedError,
)

log = logging.getLogger("docmgmt.webhooks")

USER_AGENT = "docmgmt-webhooks/1"

CLAIM = (
    "WITH due AS ("
    " SELECT id FROM docmgmt.webhook_deliveries"
    " WHERE status = 'pending' AND next_attempt_at <= now()"
    " ORDER BY next_attempt_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED),"
    " claimed AS ("
    " UPDATE docmgmt.webhook_deliveries w SET attempts = w.attempts + 1,"
    " last_attempt_at = now(), next_attempt_at = now() + make_interval(secs => %(lease)s)"
    " FROM due WHERE w.id = due.id"
    " RETURNING w.id, w.subscription_id, w.kind, w.payload, w.attempts)"
    " SELECT c.*, s.url, s.active, k.secret FROM claimed c"
    " JOIN docmgmt.webhook_subscriptions s ON s.id = c.subscription_id"
    " LEFT JOIN docmgmt.webhook_secrets k ON k.subscription_id = c.subscription_id"
)


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``timestamp + "." + body`` under the secret."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: base, 2×base, 4×base … up to cap; then dead."""

    base_seconds: float = 10.0
    cap_seconds: float = 3600.0
    max_attempts: int = 8
    jitter: float = 0.1

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        nominal = min(self.cap_seconds, self.base_seconds * 2 ** max(attempts - 1, 0))
        spread = nominal * self.jitter
        jittered: float = nominal + secrets.SystemRandom().uniform(-spread, spread)
        return max(0.0, jittered)


class Transport(Protocol):
    """Sends one HTTP POST to a checked target and returns the status code (raises on
    network errors)."""

    def post(self, target: Target, body: bytes, headers: Mapping[str, str],
             timeout: float) -> int:
        """POST the body to the target's checked address; the response's status code."""


class PinnedTransport:
    """urllib3 connecting to the address that was checked, never resolving the name again.

    The Host header, TLS server name and certificate check use the URL's host name; no
    redirect is followed (a 3xx is a failure) and no proxy is used.
    """

    def __init__(self, ca_certs: str | None = None) -> None:
        # The public roots by default; an agency's own CA bundle where it runs one.
        self._ca_certs = ca_certs or certifi.where()

    def post(self, target: Target, body: bytes, headers: Mapping[str, str],
             timeout: float) -> int:
        """POST the body to the target's checked address; the response's status code."""
        pool: urllib3.HTTPConnectionPool
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                target.address, target.port, timeout=timeout, retries=False,
                server_hostname=target.host, assert_hostname=target.host,
                cert_reqs="CERT_REQUIRED", ca_certs=self._ca_certs)
        else:
            pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout,
                                              retries=False)
        with pool:
            response = pool.urlopen(
                "POST", target.path, body=body,
                headers={**headers, "Host": target.host_header}, redirect=False,
                retries=False, assert_same_host=False, preload_content=False)
            try:
                return int(response.status)
            finally:
                response.drain_conn()
                response.release_conn()


def error_category(exc: BaseException) -> str:
    """A short word for why an attempt failed: the raw text of a network error is never
    kept, since it would let whoever reads the deliveries probe the network."""
    if isinstance(exc, MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, UnresolvableTargetError):
        return "dns_failure"
    if isinstance(exc, WebhookTargetRefusedError):
        return "address_refused"
    if isinstance(exc, SSLError):
        return "tls"
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, ConnectionRefusedError) or isinstance(cause, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(exc, NewConnectionError):  # a ConnectTimeoutError subclass: test it first
        return "timeout" if isinstance(cause, TimeoutError) else "connection_failed"
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, ProtocolError | OSError):
        return "connection_failed"
    return "error"


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    delivery_id: UUID
    attempts: int
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        """2xx is success; anything else, or no answer, is a failure."""
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender:
    """Delivers pending rows of ``webhook_deliveries`` in a background thread."""

    def __init__(self, conninfo: str, *, policy: RetryPolicy | None = None,
                 timeout_seconds: float = 5.0, poll_seconds: float = 1.0, batch: int = 20,
                 concurrency: int = 4, transport: Transport | None = None,
                 clock: Callable[[], float] = time.time,
                 targets: TargetPolicy | None = None) -> None:
        self._conninfo = conninfo
        self.policy = policy or RetryPolicy()
        self._timeout = timeout_seconds
        self._poll = poll_seconds
        self._batch = batch
        self._transport = transport or PinnedTransport()
        self._targets = targets or TargetPolicy()
        self._clock = clock
        # The lease outlasts a whole batch of requests at the timeout.
        self._lease = 30.0 + timeout_seconds * (batch // max(concurrency, 1) + 1)
        self._pool = ThreadPoolExecutor(max_workers=max(concurrency, 1),
                                        thread_name_prefix="webhook-post")
        self._conn: psycopg.Connection[DictRow] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)

    def _connection(self) -> psycopg.Connection[DictRow]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._conninfo, autocommit=True,
                                         row_factory=dict_row)
        return self._conn

    def send_due(self) -> int:
        """Attempt every delivery due now (one batch); how many were attempted."""
        conn = self._connection()
        rows = conn.execute(CLAIM, {"batch": self._batch, "lease": self._lease}).fetchall()
        sendable = []
        for row in rows:
            if not row["active"] or row["secret"] is None:
                conn.execute(
                    "UPDATE docmgmt.webhook_deliveries SET status = 'cancelled',"
                    " next_attempt_at = NULL, last_error = 'the subscription was cancelled'"
                    " WHERE id = %s", (row["id"],))
            else:
                sendable.append(row)
        for outcome in self._pool.map(self._attempt, sendable):
            self._record(conn, outcome)
        return len(rows)

    def _attempt(self, row: DictRow) -> Outcome:
        body = str(row["payload"]).encode("utf-8")
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "X-Docmgmt-Event": str(row["kind"]),
            "X-Docmgmt-Delivery": str(row["id"]),
            "X-Docmgmt-Timestamp": timestamp,
            "X-Docmgmt-Signature": signature(bytes(row["secret"]), timestamp, body),
        }
        try:
            # Resolved and checked at every attempt (DNS can change since subscribing),
            # and the connection goes to the address checked here.
            target = self._targets.target(str(row["url"]))
            status = self._transport.post(target, body, headers, self._timeout)
        except Exception as exc:
            category = error_category(exc)
            log.info("webhook delivery %s failed: %s", row["id"], category)
            return Outcome(row["id"], row["attempts"], None, category)
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return Outcome(row["id"], row["attempts"], status, error)

    def _record(self, conn: psycopg.Connection[DictRow], outcome: Outcome) -> None:
        params: dict[str, Any] = {"id": outcome.delivery_id, "code": outcome.status_code,
                                  "error": outcome.error}
        if outcome.ok:
            conn.execute(
                "UPDATE docmgmt.webhook_deliveries SET status = 'delivered',"
                " delivered_at = now(), next_attempt_at = NULL, last_status = %(code)s,"
                " last_error = NULL WHERE id = %(id)s AND status = 'pending'", params)
        elif outcome.attempts >= self.policy.max_attempts:
            conn.execute(
                "UPDATE docmgmt.webhook_deliveries SET status = 'dead',"
                " next_attempt_at = NULL, last_status = %(code)s, last_error = %(error)s"
                " WHERE id = %(id)s AND status = 'pending'", params)
            log.warning("webhook delivery %s is dead after %d attempts (%s)",
                        outcome.delivery_id, outcome.attempts, outcome.error)
        else:
            params["delay"] = self.policy.delay(outcome.attempts)
            conn.execute(
                "UPDATE docmgmt.webhook_deliveries SET last_status = %(code)s,"
                " last_error = %(error)s,"
                " next_attempt_at = now() + make_interval(secs => %(delay)s)"
                " WHERE id = %(id)s AND status = 'pending'", params)

    def start(self) -> None:
        """Send in a background thread until stopped."""
        self._thread.start()

    def _run(self) -> None:
        backoff = self._poll
        while not self._stop.is_set():
            try:
                attempted = self.send_due()
                backoff = self._poll
            except Exception as exc:
                log.error("webhook sender failed: %s: %s", type(exc).__name__, exc)
                self._close()
                attempted = 0
                backoff = min(max(backoff, 0.5) * 2, 30.0)
            if attempted == 0:
                self._stop.wait(backoff)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception as exc:  # pragma: no cover - closing a broken connection
                log.debug("closing the sender's connection failed: %s", exc)

    def stop(self) -> None:
        """Stop sending (requests in flight finish or time out)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._timeout * 2 + 30)
        self._pool.shutdown(wait=True)
        self._close()
