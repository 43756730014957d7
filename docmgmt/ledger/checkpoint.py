"""Signed, timestamped checkpoints of the ledger (C2SP signed-note style).

The note body follows C2SP tlog-checkpoint: origin line, tree size, base64 root, then one
extension line with the time. The signature line follows C2SP signed-note: an em dash,
the key name, and base64(4-byte key id || signature). The key id is the first four bytes
of SHA-256(key name || 0x0A || 0xFF || DER SubjectPublicKeyInfo); 0xFF marks a signature
type outside the registered ones (here ECDSA P-256 / SHA-256 or RSA PKCS#1 v1.5 / SHA-256
over the note body). An RFC 3161 timestamp over SHA-256 of the body is stored beside it.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg

from docmgmt.ledger.merkle import CompactRange

ORIGIN = "docmgmt ledger"
FETCH = 5000


class NoteSigner(Protocol):
    """A system key that signs checkpoint notes."""

    name: str

    @property
    def certificate_der(self) -> bytes:
        """The signer's X.509 certificate (DER)."""
        ...

    @property
    def public_key_der(self) -> bytes:
        """The DER SubjectPublicKeyInfo of the key."""
        ...

    def sign(self, data: bytes) -> bytes:
        """A signature over ``data``."""
        ...


class NoteTimestamper(Protocol):
    """An RFC 3161 time-stamp authority."""

    def timestamp(self, sha256_digest: bytes) -> bytes:
        """A DER TimeStampToken (CMS ContentInfo) over the digest."""
        ...


@dataclass(frozen=True)
class Checkpoint:
    """One stored checkpoint."""

    tree_size: int
    root_hash: bytes
    created_at: datetime
    note: str
    signature: bytes
    signer_certificate: bytes
    timestamp_token: bytes


def key_id(name: str, public_key_der: bytes) -> bytes:
    """The signed-note key id of a key (see the module docstring)."""
    return hashlib.sha256(name.encode() + b"\n\xff" + public_key_der).digest()[:4]


def note_body(origin: str, tree_size: int, root: bytes, when: datetime) -> str:
    """The checkpoint text that is signed."""
    stamp = when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return (f"{origin}\n{tree_size}\n{base64.b64encode(root).decode()}\n"
            f"time {stamp}\n")


def signed_note(body: str, name: str, kid: bytes, signature: bytes) -> str:
    """Body, blank line, signature line."""
    return f"{body}\n— {name} {base64.b64encode(kid + signature).decode()}\n"


def ledger_state(conn: psycopg.Connection[Any]) -> tuple[int, bytes]:
    """Size and root of the tree of all leaves in the ledger (one streaming pass)."""
    tree = CompactRange()
    with conn.cursor(name="checkpoint_leaves") as cur:
        cur.itersize = FETCH
        cur.execute("SELECT leaf_hash FROM docmgmt.ledger_leaves ORDER BY position")
        for (leaf,) in cur:
            tree.append(bytes(leaf))
    return tree.size, tree.root()


def write_checkpoint(
    conninfo: str, signer: NoteSigner, stamper: NoteTimestamper, origin: str = ORIGIN,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Checkpoint | None:
    """Sign, timestamp and store a checkpoint of the ledger; None if nothing is new."""
    with psycopg.connect(conninfo) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            size, root = ledger_state(conn)
            if conn.execute("SELECT 1 FROM docmgmt.ledger_checkpoints WHERE tree_size = %s",
                            (size,)).fetchone():
                return None
            when = now()
            body = note_body(origin, size, root, when)
            signature = signer.sign(body.encode())
            note = signed_note(body, signer.name, key_id(signer.name, signer.public_key_der),
                               signature)
            token = stamper.timestamp(hashlib.sha256(body.encode()).digest())
            conn.execute(
                "INSERT INTO docmgmt.ledger_checkpoints (tree_size, root_hash, created_at,"
                " signature, signer_certificate, timestamp_token, note)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (size, root, when, signature, signer.certificate_der, token, note))
    return Checkpoint(size, root, when, note, signature, signer.certificate_der, token)


def run_checkpointer(
    conninfo: str, signer: NoteSigner, stamper: NoteTimestamper, *, every_events: int,
    every_seconds: float, stop: threading.Event, poll: float = 1.0,
) -> None:
    """Checkpoint whenever ``every_events`` leaves are new, or ``every_seconds`` passed."""
    last_at = time.monotonic()
    while not stop.wait(poll):
        with psycopg.connect(conninfo) as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM docmgmt.ledger_leaves),"
                " (SELECT coalesce(max(tree_size), 0) FROM docmgmt.ledger_checkpoints)"
            ).fetchone()
        new = 0 if row is None else int(row[0]) - int(row[1])
        due = time.monotonic() - last_at >= every_seconds
        if new >= every_events or (new > 0 and due):
            write_checkpoint(conninfo, signer, stamper)
            last_at = time.monotonic()
