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
import binascii
import dataclasses
import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from docmgmt.kernel.projection_health import describe
from docmgmt.ledger.bundle_verify import (
    load_certificates,
    timestamp_signer,
    token_signer_cert,
    tsa_signature_ok,
    verify_signature,
)
from docmgmt.ledger.state_tree import state_as_of
from docmgmt.ledger.stored_tree import Frontier, checked_tiles, extend_tiles

ORIGIN = "docmgmt ledger"
log = logging.getLogger("docmgmt.ledger")


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

    @property
    def chain_pem(self) -> bytes:
        """The intermediate CA certificates between the signer and its root, as PEM
        (empty when a root issued the signer directly)."""
        ...

    def crls_pem(self, certificates: Sequence[x509.Certificate]) -> bytes:
        """Current CRLs covering these certificates, as PEM (empty if none can be had)."""
        ...

    def sign(self, data: bytes) -> bytes:
        """A signature over ``data``."""
        ...


class CertifiedNoteSigner:
    """What every system key shares: its certificate, its public key and the intermediate
    CA certificates that link it to a root (self-signed ones are roots, not links)."""

    def __init__(self, name: str, certificate: x509.Certificate,
                 others: Sequence[x509.Certificate] = ()) -> None:
        self.name = name
        self._cert = certificate.public_bytes(Encoding.DER)
        self._public = certificate.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        self._chain = b"".join(c.public_bytes(Encoding.PEM) for c in others
                               if c.subject != c.issuer)

    @property
    def certificate_der(self) -> bytes:
        """The signer's certificate (DER)."""
        return self._cert

    @property
    def public_key_der(self) -> bytes:
        """The key's SubjectPublicKeyInfo (DER)."""
        return self._public

    @property
    def chain_pem(self) -> bytes:
        """The intermediate CA certificates, as PEM."""
        return self._chain


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
    signer_chain: bytes = b""
    revocation_info: bytes = b""
    # Format 2: (entries, root) of the state tree signed in the note; None for format 1.
    state: tuple[int, bytes] | None = None
    # The tree it covers, for the next checkpoint to continue from (not stored).
    frontier: Frontier | None = field(default=None, repr=False, compare=False)


def key_id(name: str, public_key_der: bytes) -> bytes:
    """The signed-note key id of a key (see the module docstring)."""
    return hashlib.sha256(name.encode() + b"\n\xff" + public_key_der).digest()[:4]


def note_body(origin: str, tree_size: int, root: bytes, when: datetime,
              state: tuple[int, bytes] | None = None) -> str:
    """The checkpoint text that is signed (format 2 when a state root is given)."""
    stamp = when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    body = (f"{origin}\n{tree_size}\n{base64.b64encode(root).decode()}\n"
            f"time {stamp}\n")
    if state is None:
        # Format 1: notes signed before the state tree existed must re-derive byte for byte.
        return body
    entries, state_root = state
    return f"{body}state {entries} {base64.b64encode(state_root).decode()}\n"


def signed_note(body: str, name: str, kid: bytes, signature: bytes) -> str:
    """Body, blank line, signature line."""
    return f"{body}\n— {name} {base64.b64encode(kid + signature).decode()}\n"


def write_checkpoint(
    conninfo: str, signer: NoteSigner, stamper: NoteTimestamper, origin: str = ORIGIN,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    frontier: Frontier | None = None,
) -> Checkpoint | None:
    """Sign, timestamp and store a checkpoint of the ledger; None if nothing is new.

    ``frontier``: the tree as of an earlier call's :attr:`Checkpoint.frontier` (only the
    leaves added since, and the aggregates they changed, are read); without it, every
    leaf and every aggregate's state entry is read. The note is format 2: it signs the
    state tree's size and root too (see :mod:`docmgmt.ledger.state_leaf`). The tiles of
    the blocks of leaves it completes are stored with it (:func:`extend_tiles`).
    """
    with psycopg.connect(conninfo) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            # Leaves and state entries commit together, so one snapshot sees both agree.
            state = (frontier or _resumed(conn, signer) or Frontier.empty()).advanced(conn)
            size, root = state.tree.size, state.tree.root()
            if conn.execute("SELECT 1 FROM docmgmt.ledger_checkpoints WHERE tree_size = %s",
                            (size,)).fetchone():
                return None
            stored = store_checkpoint(conn, signer, stamper, size, root, now(), origin,
                                      state=(state.states.size, state.states.root()))
        _store_tiles(conn, size)
        return dataclasses.replace(stored, frontier=state)


def _resumed(conn: psycopg.Connection[Any], signer: NoteSigner) -> Frontier | None:
    """The tree and the state tree as of the newest checkpoint, read from its tiles and
    the state rows instead of every leaf; None (read every leaf) unless that checkpoint
    is format 2, signed by this signer's key, holds up (note, signature, timestamp), and
    its tiles and state rows give the roots it signs."""
    row = newest_checkpoint(conn)
    if row is None or not row[0]:
        return None
    cp = StoredCheckpoint(*row)
    key = _signer_key(bytes(cp.signer_certificate or b""))
    if (cp.state is None or key is None or key[1] != signer.public_key_der
            or check_checkpoint(cp).problem is not None):
        return None
    tiled = checked_tiles(conn, cp.tree_size, bytes(cp.root_hash))
    if tiled is None or tiled.last_position is None:
        return None
    states = state_as_of(conn, tiled.last_position, cp.state)
    if (states.size, states.root()) != cp.state:
        return None
    return Frontier(tiled.compact_range(), tiled.last_position, states)


def _store_tiles(conn: psycopg.Connection[Any], size: int) -> None:
    """The tiles of the blocks a checkpoint completed, in a transaction of their own:
    they only save readers time, so a failure here is logged and left to the next
    checkpoint, and the checkpoint stands."""
    try:
        conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
        with conn.transaction():
            extend_tiles(conn, size)
    except psycopg.Error as exc:
        log.warning("ledger tiles not stored up to tree size %s (the next checkpoint "
                    "retries): %s", size, describe(exc))


def store_checkpoint(
    conn: psycopg.Connection[Any], signer: NoteSigner, stamper: NoteTimestamper, size: int,
    root: bytes, when: datetime, origin: str = ORIGIN, state: tuple[int, bytes] | None = None,
) -> Checkpoint:
    """Sign and timestamp the note of (``size``, ``root``, ``when``) and insert it, with the
    signer's intermediates and the CRLs covering the certificates behind it, in ``conn``'s
    transaction. The caller vouches that ``root`` is the root of the first ``size`` leaves
    and ``state`` (format 2; None writes format 1) the state tree of those leaves.
    """
    body = note_body(origin, size, root, when, state)
    signature = signer.sign(body.encode())
    note = signed_note(body, signer.name, key_id(signer.name, signer.public_key_der),
                       signature)
    token = stamper.timestamp(hashlib.sha256(body.encode()).digest())
    chain = signer.chain_pem
    crls = signer.crls_pem(_covered(signer.certificate_der, chain, token))
    conn.execute(
        "INSERT INTO docmgmt.ledger_checkpoints (tree_size, root_hash, created_at,"
        " signature, signer_certificate, timestamp_token, note, signer_chain,"
        " revocation_info, state_entries, state_root)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (size, root, when, signature, signer.certificate_der, token, note,
         chain or None, crls or None, *(state or (None, None))))
    return Checkpoint(size, root, when, note, signature, signer.certificate_der, token,
                      chain, crls, state)


def _covered(signer_der: bytes, chain_pem: bytes, token: bytes) -> list[x509.Certificate]:
    """Every certificate below a root behind a checkpoint: the signer, its intermediates,
    the TSA and the certificates its token embeds."""
    stamp = timestamp_signer(token)
    certs = [x509.load_der_x509_certificate(signer_der),
             *(load_certificates(chain_pem) if chain_pem else []),
             *([stamp.tsa] if stamp.tsa is not None else []), *stamp.embedded]
    unique: dict[bytes, x509.Certificate] = {}
    for cert in certs:
        if cert.subject != cert.issuer:
            unique.setdefault(cert.fingerprint(hashes.SHA256()), cert)
    return list(unique.values())


# Every checkpoint row, its columns in StoredCheckpoint's order (add ORDER BY, LIMIT).
STORED_CHECKPOINTS = (
    "SELECT tree_size, root_hash, created_at, note, signature, signer_certificate,"
    " timestamp_token, signer_chain, revocation_info, state_entries, state_root"
    " FROM docmgmt.ledger_checkpoints")


def newest_checkpoint(conn: psycopg.Connection[Any]) -> tuple[Any, ...] | None:
    """The row of the checkpoint with the largest tree size (None before the first)."""
    return conn.execute(STORED_CHECKPOINTS + " ORDER BY tree_size DESC LIMIT 1").fetchone()


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint row as read back, any column possibly missing or altered."""

    tree_size: int
    root_hash: bytes
    created_at: datetime
    note: str | None
    signature: bytes | None
    signer_certificate: bytes | None
    timestamp_token: bytes | None
    # PEM intermediates of the signer (not covered by the signature: only used to build a
    # chain to a trust root, which must still verify).
    signer_chain: bytes | None = None
    # PEM CRLs fetched when the checkpoint was made (each verified against its issuer).
    revocation_info: bytes | None = None
    # Format 2: the state tree's size and root its note signs (both None in format 1).
    state_entries: int | None = None
    state_root: bytes | None = None

    @property
    def state(self) -> tuple[int, bytes] | None:
        """(entries, root) of the signed state tree; None for a format-1 checkpoint."""
        if self.state_entries is None or self.state_root is None:
            return None
        return int(self.state_entries), bytes(self.state_root)


@dataclass(frozen=True)
class CheckpointCheck:
    """The verdict on one stored checkpoint: ``problem`` is None when it holds up."""

    kind: str = "checkpoint"
    problem: str | None = None
    timestamp_time: datetime | None = None


def check_checkpoint(cp: StoredCheckpoint) -> CheckpointCheck:
    """Check a stored checkpoint's note, signature and RFC 3161 timestamp token.

    Integrity only: the signer and TSA certificates are the ones stored or embedded,
    not validated against a trust root.
    """
    if cp.note is None or cp.signature is None or cp.signer_certificate is None:
        return CheckpointCheck("checkpoint-signature", "the checkpoint is not signed")
    body, sep, sig_line = cp.note.partition("\n\n")
    body += "\n"
    expected = note_body(ORIGIN, cp.tree_size, bytes(cp.root_hash), cp.created_at, cp.state)
    if not sep or body != expected:
        return CheckpointCheck(
            "checkpoint-note", f"the note body {body!r} does not state the stored size, "
                               f"root, time and state root ({expected!r})")
    problem = _check_signature(body.encode(), sig_line, bytes(cp.signature),
                               bytes(cp.signer_certificate))
    if problem is not None:
        return CheckpointCheck("checkpoint-signature", problem)
    if cp.timestamp_token is None:
        return CheckpointCheck("checkpoint-timestamp", "the checkpoint has no timestamp token")
    problem, when = _check_timestamp(bytes(cp.timestamp_token),
                                     hashlib.sha256(body.encode()).digest())
    if problem is not None:
        return CheckpointCheck("checkpoint-timestamp", problem)
    return CheckpointCheck(timestamp_time=when)


@functools.lru_cache(maxsize=64)
def _signer_key(cert_der: bytes) -> tuple[Any, bytes] | None:
    """The public key in ``cert_der`` and its SubjectPublicKeyInfo, None if it does not
    parse (kept: every checkpoint carries the same certificate; this depends on its bytes
    only)."""
    try:
        key = x509.load_der_x509_certificate(cert_der).public_key()
    except ValueError:
        return None
    return key, key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _check_signature(body: bytes, sig_line: str, signature: bytes, cert_der: bytes) -> str | None:
    parsed = _signer_key(cert_der)
    if parsed is None:
        return "the stored signer certificate cannot be parsed"
    key, spki = parsed
    dash, _, rest = sig_line.rstrip("\n").partition(" ")
    name, _, blob = rest.rpartition(" ")
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if dash != "—" or raw[:4] != key_id(name, spki) or raw[4:] != signature:
        return ("the note's signature line does not carry the stored signature under the "
                "key id of the stored certificate")
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return f"unsupported signer key type {type(key).__name__}"
    if not verify_signature(key, signature, body, hashes.SHA256()):
        return "the signature does not verify with the stored signer certificate"
    return None


def _check_timestamp(token: bytes, imprint: bytes) -> tuple[str | None, datetime | None]:
    try:
        signed = cms.ContentInfo.load(token)["content"]
        content = bytes(signed["encap_content_info"]["content"].contents)
        tst = tsp.TSTInfo.load(content)
        hashed = tst["message_imprint"]["hashed_message"].native
        algo = tst["message_imprint"]["hash_algorithm"]["algorithm"].native
        when: datetime = tst["gen_time"].native
        if algo != "sha256" or hashed != imprint:
            return ("the timestamp token's message imprint is not SHA-256 of the note body",
                    when)
        cert = token_signer_cert(signed, signed["signer_infos"][0])
        if cert is None:
            return "the timestamp token does not embed the TSA's certificate", when
        intact, _ = tsa_signature_ok(signed, content, cert)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        return f"the timestamp token cannot be parsed ({exc})", None
    if not intact:
        return "the TSA signature on the timestamp token does not verify", when
    return None, when


def run_checkpointer(
    conninfo: str, signer: NoteSigner, stamper: NoteTimestamper, *, every_events: int,
    every_seconds: float, stop: threading.Event, poll: float = 1.0,
) -> None:
    """Checkpoint whenever ``every_events`` leaves are new, or ``every_seconds`` passed."""
    CheckpointScheduler(conninfo, signer, stamper, every_events=every_events,
                        every_seconds=every_seconds, poll=poll, stop=stop).run()


class CheckpointScheduler:
    """Writes checkpoints in a background thread while the app runs.

    A checkpoint is due when ``every_events`` leaves are new since the last one, or when
    ``every_seconds`` have passed and at least one leaf is new. A failure (database
    restart, TSA down, another process checkpointing the same size) is logged and retried
    on the next round; ``last_error`` keeps it for the health check.
    """

    def __init__(
        self, conninfo: str, signer: NoteSigner, stamper: NoteTimestamper, *,
        every_events: int = 1000, every_seconds: float = 300.0, poll: float = 1.0,
        stop: threading.Event | None = None,
    ) -> None:
        if every_events < 1 or every_seconds <= 0 or poll <= 0:
            raise ValueError("every_events, every_seconds and poll must be positive")
        self._conninfo = conninfo
        self._signer = signer
        self._stamper = stamper
        self.every_events = every_events
        self.every_seconds = every_seconds
        self.poll = poll
        self.last_error: str | None = None
        self.written = 0
        # (last position counted, leaves up to it) and the tree of the last checkpoint
        # written here: polls and checkpoints read only what is new.
        self._counted = (-(1 << 63), 0)
        self._frontier: Frontier | None = None
        self._stop = stop or threading.Event()
        self._thread = threading.Thread(target=self.run, name="ledger-checkpoints",
                                        daemon=True)

    def start(self) -> None:
        """Start the background thread."""
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread (a checkpoint being written is finished first)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def _new_leaves(self) -> int:
        """Leaves beyond the newest checkpoint; counts only those after the last count."""
        with psycopg.connect(self._conninfo) as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM docmgmt.ledger_leaves WHERE position > %s),"
                " (SELECT max(position) FROM docmgmt.ledger_leaves),"
                " (SELECT coalesce(max(tree_size), 0) FROM docmgmt.ledger_checkpoints)",
                (self._counted[0],)).fetchone()
        if row is None:
            return 0
        if row[1] is not None:
            self._counted = (int(row[1]), self._counted[1] + int(row[0]))
        return self._counted[1] - int(row[2])

    def run(self) -> None:
        """Check every ``poll`` seconds in the calling thread until stopped."""
        last_at = time.monotonic()
        while not self._stop.wait(self.poll):
            try:
                new = self._new_leaves()
                due = time.monotonic() - last_at >= self.every_seconds
                if new >= self.every_events or (new > 0 and due):
                    written = write_checkpoint(self._conninfo, self._signer, self._stamper,
                                               frontier=self._frontier)
                    if written is not None:
                        self._frontier = written.frontier
                        self.written += 1
                    last_at = time.monotonic()
                self.last_error = None
            except Exception as exc:
                # The log keeps the whole message; health shows it without server paths.
                log.error("ledger checkpoint failed (%s: %s); retrying", type(exc).__name__, exc)
                self.last_error = describe(exc)
