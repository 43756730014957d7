"""A signing service of the confirmation shape (SmartCA / MySign style) for the tests.

A real HTTP server on 127.0.0.1 (http.server in a thread) speaking the protocol of the
issue's design, holding keys from the test PKI. Nothing happens by itself: the test plays
the signer and decides each transaction (``confirm``, ``refuse``, ``expire``, or
``answer_late`` after expiry), and may have the service call the transaction's callback URL.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.hashes import SHA256

from tests.signing.conftest import PkiFixture

SECRET = "confirm-test-secret"
USERNAME = "an.nguyen"
CREDENTIAL_ID = "an.nguyen/leader"


def sign_like_csc(key: Any, digest: bytes) -> bytes:
    """A signature over a SHA-256 digest in CSC signHash form (PKCS#1 v1.5 or DER ECDSA)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(digest, padding.PKCS1v15(), Prehashed(SHA256()))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key.sign(digest, ec.ECDSA(Prehashed(SHA256())))


@dataclass
class Credential:
    """A key the service holds for a user, with its certificate and chain (DER)."""

    credential_id: str
    key: Any
    certificate: bytes
    chain: list[bytes]


@dataclass
class Transaction:
    """One request for signatures as the service keeps it."""

    transaction_id: str
    user_id: str
    credential: Credential
    expires_at: str
    callback_url: str | None
    items: list[dict[str, Any]]
    status: str = "pending"
    signatures: dict[str, bytes] = field(default_factory=dict)


@dataclass
class ConfirmService:
    """The running service: its URL, secret, keys and transactions; the test decides."""

    url: str
    secret: str
    credentials: dict[str, list[Credential]]
    transactions: dict[str, Transaction] = field(default_factory=dict)
    malformed: bool = False
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def only(self) -> Transaction:
        """The one transaction submitted so far."""
        assert len(self.transactions) == 1, self.transactions
        return next(iter(self.transactions.values()))

    def confirm(self, transaction_id: str, *, key: Any = None,
                digest: bytes | None = None) -> None:
        """The signer confirms in the app: every item is signed (optionally with another
        key, or over another digest, to play a dishonest service)."""
        tx = self.transactions[transaction_id]
        for item in tx.items:
            signed = digest or base64.b64decode(item["digest"])
            tx.signatures[item["id"]] = sign_like_csc(key or tx.credential.key, signed)
        tx.status = "signed"

    def refuse(self, transaction_id: str) -> None:
        """The signer presses Refuse."""
        self.transactions[transaction_id].status = "refused"

    def expire(self, transaction_id: str) -> None:
        """The service gives up waiting."""
        self.transactions[transaction_id].status = "expired"

    def answer_late(self, transaction_id: str) -> None:
        """The signer confirms after the request expired, and the service passes it on."""
        self.confirm(transaction_id)

    def notify(self, transaction_id: str) -> int:
        """POST ``{"transaction_id"}`` to the transaction's callback URL; the HTTP status."""
        url = self.transactions[transaction_id].callback_url
        assert url is not None, "the transaction has no callback_url"
        data = json.dumps({"transaction_id": transaction_id}).encode()
        request = urllib.request.Request(url, data=data, method="POST",  # noqa: S310
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)

    def view(self, tx: Transaction) -> dict[str, Any]:
        """The JSON answer of ``GET /v1/signatures/{id}``."""
        items = []
        for item in tx.items:
            entry: dict[str, Any] = {"id": item["id"], "status": tx.status}
            if tx.status == "signed":
                entry["signature"] = base64.b64encode(tx.signatures[item["id"]]).decode()
            items.append(entry)
        return {"status": tx.status, "items": items}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on what the service saw instead."""

    def _send(self, status: int, body: Any) -> None:
        service = self.server.service
        raw = b"{not json" if service.malformed else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _authorised(self) -> bool:
        service = self.server.service
        with service.lock:
            service.requests.append((self.command, self.path))
        if self.headers.get("Authorization") != f"Bearer {service.secret}":
            self._send(401, {"error": "unauthorized"})
            return False
        return True

    def do_GET(self) -> None:
        """Credentials of a user, or where a transaction stands."""
        if not self._authorised():
            return
        service = self.server.service
        parts = urllib.parse.urlsplit(self.path)
        if parts.path == "/v1/credentials":
            user = urllib.parse.parse_qs(parts.query).get("user_id", [""])[0]
            self._send(200, {"credentials": [
                {"id": c.credential_id,
                 "certificate": base64.b64encode(c.certificate).decode(),
                 "chain": [base64.b64encode(d).decode() for d in c.chain]}
                for c in service.credentials.get(user, [])]})
        elif parts.path.startswith("/v1/signatures/"):
            tx = service.transactions.get(parts.path.removeprefix("/v1/signatures/"))
            if tx is None:
                self._send(404, {"error": "no such transaction"})
            else:
                self._send(200, service.view(tx))
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        """Start a transaction that waits for the signer."""
        if not self._authorised():
            return
        service = self.server.service
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        matching = [c for c in service.credentials.get(body["user_id"], [])
                    if c.credential_id == body["credential_id"]]
        if self.path != "/v1/signatures" or not matching:
            self._send(400, {"error": "unknown credential"})
            return
        tx = Transaction(uuid.uuid4().hex, body["user_id"], matching[0], body["expires_at"],
                         body.get("callback_url"), body["items"])
        service.transactions[tx.transaction_id] = tx
        self._send(200, {"transaction_id": tx.transaction_id})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    service: ConfirmService


@pytest.fixture
def confirm_provider(test_pki: PkiFixture) -> Iterator[ConfirmService]:
    """The service on a free port, holding the test PKI's leader key for ``an.nguyen``."""
    server = _Server(("127.0.0.1", 0), _Handler)
    leader = Credential(CREDENTIAL_ID, test_pki.private_key("leader"),
                        test_pki.cert("leader").dump(), [test_pki.cert("interm").dump()])
    server.service = ConfirmService(f"http://127.0.0.1:{server.server_port}", SECRET,
                                    {USERNAME: [leader]})
    thread = threading.Thread(target=server.serve_forever, name="confirm-provider",
                              daemon=True)
    thread.start()
    yield server.service
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def new_secret() -> str:
    """A secret the service does not know."""
    return secrets.token_hex(8)
