"""Every delivery resolves and checks its target again, and connects to what it checked."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from docmgmt.webhooks import Target, TargetPolicy
from docmgmt.webhooks.sender import PinnedTransport, error_category
from tests.webhooks.conftest import World
from tests.webhooks.support import admin_of, arrive, deliveries, receiver, settled, wait_until

PUBLIC = "93.184.216.34"


class Dns:
    """A resolver the test controls: the answers can change between two lookups."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError("no such name")
        return self.answers[host]


class Recording(PinnedTransport):
    """The real transport, noting each target it was asked to connect to."""

    def __init__(self) -> None:
        self.targets: list[Target] = []

    def post(self, target: Target, body: bytes, headers: Mapping[str, str],
             timeout: float) -> int:
        self.targets.append(target)
        return super().post(target, body, headers, timeout)


def send(world: World, targets: TargetPolicy, transport: Recording) -> None:
    sender = world.sender(targets=targets)
    sender._transport = transport
    sender.start()
    try:
        wait_until(lambda: settled(world.db), what="every delivery to settle")
    finally:
        sender.stop()


def test_a_name_that_later_resolves_inside_is_refused_at_delivery(world: World) -> None:
    dns = Dns({"hooks.agency.example": [PUBLIC]})
    targets = TargetPolicy.from_lists(["127.0.0.1"], [], resolver=dns)
    service = type(world.service)(world.app, targets=targets)
    with receiver() as hook:
        port = hook.url.split(":")[2].split("/")[0]
        # Subscribed while the name resolves to a public address: accepted.
        service.subscribe(admin_of(world.recipient), world.recipient,
                          f"http://hooks.agency.example:{port}/hook", ["received"])
        # Then the name is pointed at an internal address (DNS rebinding).
        dns.answers["hooks.agency.example"] = ["10.0.0.5"]
        arrive(world.app, world.sender_agency, world.recipient)
        world.outbox_until(world.app.recorder.max_notification_id())
        transport = Recording()
        send(world, targets, transport)

        assert transport.targets == [], "no connection may be attempted"
        assert hook.requests == []
        [row] = deliveries(world.db)
        assert (row["status"], row["attempts"], row["last_status"]) == ("dead", 3, None)
        assert row["last_error"] == "address_refused"
        assert dns.asked.count("hooks.agency.example") == 1 + 3, "resolved at every attempt"


def test_the_sender_connects_to_the_address_it_checked(world: World) -> None:
    # The name is unknown to the system's resolver: only the checked address can be used.
    dns = Dns({"receiver.agency.example": ["127.0.0.1"]})
    targets = TargetPolicy.from_lists([], ["127.0.0.0/8"], resolver=dns)
    with receiver() as hook:
        port = hook.url.split(":")[2].split("/")[0]
        new = type(world.service)(world.app, targets=targets).subscribe(
            admin_of(world.recipient), world.recipient,
            f"http://receiver.agency.example:{port}/hook", ["received"])
        hook.secret = bytes.fromhex(new.secret)
        arrive(world.app, world.sender_agency, world.recipient)
        world.outbox_until(world.app.recorder.max_notification_id())
        transport = Recording()
        send(world, targets, transport)

        [request] = hook.requests
        assert request.signature_ok
        assert request.headers["Host"] == f"receiver.agency.example:{port}"
        assert [t.address for t in transport.targets] == ["127.0.0.1"]
        [row] = deliveries(world.db)
        assert (row["status"], row["last_status"], row["last_error"]) == \
            ("delivered", 200, None)


def test_a_redirect_is_not_followed(world: World) -> None:
    with receiver(default_status=302) as hook:
        world.service.subscribe(admin_of(world.recipient), world.recipient, hook.url,
                                ["received"])
        arrive(world.app, world.sender_agency, world.recipient)
        world.outbox_until(world.app.recorder.max_notification_id())
        transport = Recording()
        send(world, TargetPolicy.from_lists(["127.0.0.1"], []), transport)
        [row] = deliveries(world.db)
        assert (row["status"], row["last_status"], row["last_error"]) == \
            ("dead", 302, "HTTP 302")
        assert len(hook.requests) == 3
        assert len(transport.targets) == 3


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://localhost/x",
                                 "http://[::1]:8000/", "http://2130706433/",
                                 "http://0x7f000001/"])
def test_subscribing_refuses_loopback_without_the_allow_list(world: World, url: str) -> None:
    from docmgmt.webhooks import WebhookTargetRefusedError

    service = type(world.service)(world.app)
    with pytest.raises(WebhookTargetRefusedError) as caught:
        service.subscribe(admin_of(world.recipient), world.recipient, url, ["received"])
    assert caught.value.code == "webhook_target_loopback"


def test_the_database_keeps_only_error_categories(world: World) -> None:
    import psycopg

    world.service.subscribe(admin_of(world.recipient), world.recipient,
                            "http://127.0.0.1:9/x", ["received"])
    arrive(world.app, world.sender_agency, world.recipient)
    world.outbox_until(world.app.recorder.max_notification_id())
    with psycopg.connect(world.db.owner.conninfo()) as conn:
        for fine in ("timeout", "HTTP 503", None):
            conn.execute("UPDATE docmgmt.webhook_deliveries SET last_error = %s", (fine,))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE docmgmt.webhook_deliveries SET last_error ="
                         " 'ConnectionError: [Errno 111] Connection refused'")


def _tls_receiver_files(tmp: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for ``name`` signed by it (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.mark.parametrize(("certified", "expected"), [
    ("receiver.agency.example", (200, None)),
    ("someone-else.example", (None, "tls")),
])
def test_tls_is_checked_against_the_name_while_connecting_to_the_checked_address(
    tmp_path: Path, certified: str, expected: tuple[int | None, str | None]
) -> None:
    ca, cert, key = _tls_receiver_files(tmp_path, certified)
    got: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(self.headers["Host"])
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        dns = Dns({"receiver.agency.example": ["127.0.0.1"]})
        policy = TargetPolicy.from_lists([], ["127.0.0.0/8"], resolver=dns)
        target = policy.target(f"https://receiver.agency.example:{port}/hook")
        try:
            outcome: tuple[int | None, str | None] = (
                PinnedTransport(ca_certs=str(ca)).post(target, b"{}", {}, 5), None)
        except Exception as exc:
            outcome = (None, error_category(exc))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    assert outcome == expected
    assert got == ([f"receiver.agency.example:{port}"] if expected[0] else [])
