"""The agent served on 127.0.0.1 (a free port) over a SoftHSM2 token, with a pinned clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, load_der_public_key
from cryptography.x509.oid import NameOID
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
from pkcs11.util.x509 import decode_x509_certificate

from signing.agent.server import AgentServer
from tests.signing import conftest as signing_fixtures
from tests.support import softhsm
from tests.support.agent import serve_agent

# Fixtures reused from the signing suite and tests/support (a conftest cannot name
# pytest_plugins).
animator_server = signing_fixtures.animator_server
test_pki = signing_fixtures.test_pki
softhsm_token = softhsm.softhsm_token

ORIGIN = "https://docmgmt.example.gov.vn"
LEADER_ID = "01"  # CKA_ID of the leader's key and certificate on the test token


@dataclass
class Clock:
    """The agent's clock, moved by the tests."""

    now: datetime = field(default_factory=lambda: datetime(2026, 12, 3, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self.now += delta


@dataclass
class Agent:
    """A running agent and HTTP clients as the docmgmt page and the leader's browser."""

    server: AgentServer
    clock: Clock
    api: httpx.Client   # the docmgmt page (sends its Origin)
    page: httpx.Client  # the leader's browser on the confirm page (no Origin)

    @property
    def url(self) -> str:
        """The agent's base URL."""
        return f"http://127.0.0.1:{self.server.port}"

    def confirm(self, confirm_url: str, **form: str) -> httpx.Response:
        """Open the confirm page and post its form (the CSRF token read from the page)."""
        shown = self.page.get(confirm_url, params={"lang": "en"})
        assert shown.status_code == 200, shown.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', shown.text)
        assert csrf is not None
        return self.page.post(confirm_url, data={"csrf": csrf.group(1), "lang": "en", **form},
                              headers={"Origin": self.url})


@pytest.fixture
def agent(softhsm_token: softhsm.SoftHsmToken) -> Iterator[Agent]:
    """An agent for ORIGIN over the test token, served in a thread."""
    clock = Clock()
    with serve_agent(ORIGIN, softhsm_token, clock) as server:
        base = f"http://127.0.0.1:{server.port}"
        with httpx.Client(base_url=base, headers={"Origin": ORIGIN}, timeout=30) as api, \
                httpx.Client(base_url=base, timeout=30) as page:
            yield Agent(server=server, clock=clock, api=api, page=page)


EC_ID = "03"  # CKA_ID of the EC key the ``ec_key`` fixture puts on the token


@pytest.fixture
def ec_key(softhsm_token: softhsm.SoftHsmToken, test_pki: signing_fixtures.PkiFixture
           ) -> Iterator[x509.Certificate]:
    """An EC P-256 key generated on the token, certified by the test PKI's intermediate CA.

    Removed again afterwards: the token is shared with the other suites.
    """
    token = pkcs11.lib(str(softhsm_token.module)).get_token(token_label=softhsm_token.label)
    with token.open(rw=True, user_pin=softhsm_token.pin) as session:
        params = session.create_domain_parameters(pkcs11.KeyType.EC, {
            pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
        public, _private = params.generate_keypair(store=True, label="leader-ec",
                                                  id=bytes.fromhex(EC_ID))
        issuer = x509.load_der_x509_certificate(test_pki.cert("interm").dump())
        moment = datetime(2026, 1, 1, tzinfo=UTC)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                            "Lãnh đạo EC (TEST ONLY)")]))
                .issuer_name(issuer.subject)
                .public_key(load_der_public_key(encode_ec_public_key(public)))
                .serial_number(x509.random_serial_number())
                .not_valid_before(moment).not_valid_after(moment + timedelta(days=3650))
                .sign(test_pki.private_key("interm"), hashes.SHA256()))
        session.create_object({
            **decode_x509_certificate(cert.public_bytes(Encoding.DER)),
            pkcs11.Attribute.TOKEN: True,
            pkcs11.Attribute.LABEL: "leader-ec",
            pkcs11.Attribute.ID: bytes.fromhex(EC_ID),
        })
    yield cert
    with token.open(rw=True, user_pin=softhsm_token.pin) as session:
        for obj in session.get_objects({pkcs11.Attribute.ID: bytes.fromhex(EC_ID)}):
            obj.destroy()
