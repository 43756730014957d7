"""A real HTTP receiver that checks signatures, and helpers to build incoming documents."""

from __future__ import annotations

import hashlib
import hmac
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
from psycopg.rows import dict_row

from docmgmt.domain.common import Actor, Role
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.kernel.db import Database
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import DocMgmt
from tests.support import waiting

ACTOR = Actor(uuid.uuid4(), "clerk.test", "127.0.0.1")


def admin_of(agency_id: uuid.UUID) -> Principal:
    """An admin acting through the service layer."""
    return Principal(user_id=uuid.uuid4(), username="root", agency_id=agency_id,
                     unit_id=None, roles=frozenset({Role.ADMIN}))


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes
    signature_ok: bool


@dataclass
class Receiver:
    """An endpoint on 127.0.0.1 that answers with scripted statuses and checks HMACs."""

    url: str
    statuses: list[int] = field(default_factory=list)
    default_status: int = 200
    secret: bytes | None = None
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        """Record the request and pick the status to answer with."""
        ok = False
        if self.secret is not None:
            ts = headers.get("X-Docmgmt-Timestamp", "")
            expected = "sha256=" + hmac.new(self.secret, ts.encode() + b"." + body,
                                            hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(expected, headers.get("X-Docmgmt-Signature", ""))
        with self.lock:
            self.requests.append(Received(headers, body, ok))
            return self.statuses.pop(0) if self.statuses else self.default_status


@contextmanager
def receiver(statuses: list[int] | None = None, default_status: int = 200,
             ) -> Iterator[Receiver]:
    """Serve a Receiver until the block ends."""
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = box["r"].answer(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook",
                        list(statuses or []), default_status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box["r"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def save(app: DocMgmt, *aggregates: Any) -> int:
    """Save and return the log position of the last event written."""
    recordings = app.save(*aggregates)
    return max(r.notification.id for r in recordings)


def arrive(app: DocMgmt, sender_id: uuid.UUID, recipient_id: uuid.UUID,
           summary: str = "Về việc báo cáo tình hình", label: str = "12/SOA-VP",
           ) -> IncomingDocument:
    """A recipient's copy, created as the dispatch process creates it."""
    digest = uuid.uuid4().hex * 2
    doc = IncomingDocument(
        outgoing_id=uuid.uuid4(), sender_agency_id=sender_id, sender_code="SOA",
        sender_name="Sở A", recipient_agency_id=recipient_id, number_label=label,
        code="SOA-VP", issued_date="2027-03-01", doc_type="CV", summary=summary,
        urgency="normal", confidentiality="normal",
        file={"key": f"sha256/{digest}", "sha256": digest, "size": 10, "page_count": 1,
              "file_name": "a.pdf"},
        appendices=[], links=[], authenticity={"ok": True},
        registration_due="2027-03-02T17:00:00+07:00")
    save(app, doc)
    return doc


def assign(app: DocMgmt, doc: IncomingDocument, deadline: datetime, now: datetime) -> int:
    """Register (if needed) and assign with a deadline; the log position."""
    if doc.arrival_number is None:
        doc.register(1, 2027, "2027-03-01", ACTOR)
    doc.assign(lead_unit_id=uuid.uuid4(), lead_user_id=None, supporting_unit_ids=[],
               instructions="Xử lý, báo cáo", deadline=deadline, now=now, actor=ACTOR)
    return save(app, doc)


def deliveries(db: Database) -> list[dict[str, Any]]:
    """Every delivery row, oldest first."""
    with psycopg.connect(db.owner.conninfo(), row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM docmgmt.webhook_deliveries"
                            " ORDER BY created_at, kind, id").fetchall()


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0,
               what: str = "condition") -> None:
    """Poll until the predicate holds, or fail saying what did not happen."""
    waiting.wait_until(predicate, timeout, what)


def settled(db: Database) -> bool:
    """No delivery is pending any more."""
    return all(d["status"] != "pending" for d in deliveries(db))
