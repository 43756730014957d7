"""The committed certomancer test PKI, served over real HTTP on 127.0.0.1 at a pinned moment."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509
from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig, PKIArchitecture
from cryptography.hazmat.primitives.serialization import (
    load_der_private_key,
)
from pyhanko.sign.timestamps import HTTPTimeStamper
from werkzeug.serving import BaseWSGIServer, make_server

from signing.keys import KeyBackend, Pkcs12KeyBackend
from signing.pades import PadesLevel, SigningContext
from signing.port import AgencyIdentity, SignerIdentity
from tests.support import softhsm
from tests.support.pdfs import make_pdf

PKI_DIR = Path(__file__).parent / "pki"
ARCH = "docmgmt-test"
# Inside every certificate's validity window except "expired" (2021-2024), after the
# revocation of "revoked" (2025-01-01).
MOMENT = datetime(2025, 6, 16, 3, 0, tzinfo=UTC)
P12_PASSWORD = b"test-only-passphrase"

logging.getLogger("werkzeug").setLevel(logging.WARNING)


def _not_ready(environ: Any, start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"the test PKI is still loading"]


@dataclass
class PkiFixture:
    """The test PKI: certificates, PKCS#12 key backends and a signing context."""

    url: str
    arch: PKIArchitecture
    rogue: PKIArchitecture
    p12_dir: Path
    ctx: SigningContext
    leader: Pkcs12KeyBackend
    seal: Pkcs12KeyBackend
    revoked: Pkcs12KeyBackend
    expired: Pkcs12KeyBackend
    untrusted: Pkcs12KeyBackend

    @property
    def moment(self) -> datetime:
        """The pinned moment shared by the animator and pyHanko."""
        return MOMENT

    @property
    def root(self) -> x509.Certificate:
        """The test trust root."""
        return self.arch.get_cert(CertLabel("root"))

    def cert(self, label: str) -> x509.Certificate:
        """A certificate of the main hierarchy."""
        return self.arch.get_cert(CertLabel(label))

    def p12(self, label: str) -> Path:
        """The exported PKCS#12 file of a signer (password P12_PASSWORD)."""
        return self.p12_dir / f"{label}.p12"

    def private_key(self, label: str) -> Any:
        """A signer's private key as a pyca/cryptography object (for remote/PKCS#11 tests)."""
        cert_spec = self.arch.get_cert_spec(CertLabel(label))
        der = self.arch.key_set.get_private_key(cert_spec.subject_key).dump()
        return load_der_private_key(der, password=None)

    def context(self, **changes: Any) -> SigningContext:
        """A copy of the signing context with some fields changed."""
        return replace(self.ctx, **changes)


def _export_p12(arch: PKIArchitecture, label: str, path: Path) -> Path:
    path.write_bytes(arch.package_pkcs12(CertLabel(label), password=P12_PASSWORD))
    return path


@pytest.fixture(scope="session")
def animator_server() -> Iterator[BaseWSGIServer]:
    """A threaded werkzeug server on a free port; its app is set once the port is known."""
    server = make_server("127.0.0.1", 0, _not_ready, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="certomancer", daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def test_pki(
    animator_server: BaseWSGIServer, tmp_path_factory: pytest.TempPathFactory
) -> PkiFixture:
    """Load the committed config with URLs pointing at the live animator, export the keys."""
    url = f"http://127.0.0.1:{animator_server.server_port}"
    config = CertomancerConfig.from_file(
        str(PKI_DIR / "certomancer.yml"), external_url_prefix=url
    )
    animator_server.app = Animator(
        AnimatorArchStore(config.pki_archs), at_time=MOMENT, with_web_ui=False
    )
    arch = config.get_pki_arch(ArchLabel(ARCH))
    rogue = config.get_pki_arch(ArchLabel("rogue"))
    p12_dir = tmp_path_factory.mktemp("p12")

    def backend(a: PKIArchitecture, label: str, file_label: str | None = None) -> Pkcs12KeyBackend:
        path = _export_p12(a, label, p12_dir / f"{file_label or label}.p12")
        return Pkcs12KeyBackend(path, P12_PASSWORD)

    ctx = SigningContext(
        trust_roots=[arch.get_cert(CertLabel("root"))],
        timestamper=HTTPTimeStamper(f"{url}/{ARCH}/tsa/tsa"),
        fetch_revocation=True,
        clock=MOMENT,
    )
    return PkiFixture(
        url=url,
        arch=arch,
        rogue=rogue,
        p12_dir=p12_dir,
        ctx=ctx,
        leader=backend(arch, "leader"),
        seal=backend(arch, "seal"),
        revoked=backend(arch, "revoked"),
        expired=backend(arch, "expired"),
        untrusted=backend(rogue, "signer", "untrusted"),
    )


@pytest.fixture
def draft_pdf(tmp_path: Path) -> Path:
    """A small unsigned two-page PDF with a recognisable title."""
    path = tmp_path / "draft.pdf"
    path.write_bytes(make_pdf(2, text="Cong van so 01/UBND-VP"))
    return path


# The token fixture lives in tests/support/softhsm.py (the agent and browser tests use it too).
softhsm_token = softhsm.softhsm_token
SoftHsmToken = softhsm.SoftHsmToken
SOFTHSM_MODULE, SOFTHSM_PIN = softhsm.SOFTHSM_MODULE, softhsm.SOFTHSM_PIN


class PkiKeys:
    """The committed test PKI as the signing service's key registry: the leader's and the
    seal's keys, the PKI's context, an agency level (None: the service's own) and a seal
    image (None: a seal is never expected, and asking for one fails the test)."""

    def __init__(self, pki: PkiFixture, level: PadesLevel | None = None,
                 seal_image: bytes | None = None) -> None:
        self.pki = pki
        self._level = level
        self._seal_image = seal_image

    def leader_key(self, signer: SignerIdentity, agency: AgencyIdentity) -> KeyBackend:
        """The test PKI's leader."""
        return self.pki.leader

    def seal_key(self, agency: AgencyIdentity) -> KeyBackend:
        """The test PKI's agency seal."""
        return self.pki.seal

    def context(self, agency: AgencyIdentity | None) -> SigningContext:
        """The test PKI's context at its pinned moment."""
        return self.pki.ctx

    def signature_image(self, signer: SignerIdentity) -> bytes | None:
        """No drawn signature."""
        return None

    def seal_image(self, agency: AgencyIdentity) -> bytes:
        """The seal image given, if a seal is expected."""
        if self._seal_image is None:
            raise AssertionError("no seal here")
        return self._seal_image

    def level(self, agency: AgencyIdentity) -> PadesLevel | None:
        """The level given, or None."""
        return self._level
