"""The system key that signs ledger checkpoints, and the TSA that timestamps them.

Production names them in the keys file (``DOCMGMT_KEYS_FILE``), the system key as any
signing key backend entry (PKCS#12 file or PKCS#11 token)::

    "system": {"type": "pkcs12", "path": "/etc/docmgmt/keys/ledger.p12",
               "password_env": "LEDGER_P12_PASSWORD"},
    "system": {"type": "pkcs11", "module": "/usr/lib/libhsm.so", "token_label": "LEDGER",
               "key_label": "checkpoint", "pin_env": "LEDGER_HSM_PIN"},
    "tsa_url": "http://tsa.example.gov.vn/tsa"

Development uses the development PKI's SYSTEM key and in-process TSA, made on first use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from cryptography import x509 as pyca_x509
from pyhanko.sign.timestamps import HTTPTimeStamper

from docmgmt.domain.errors import InvalidInputError
from docmgmt.ledger.checkpoint import CertifiedNoteSigner
from docmgmt.ledger.devkeys import SYSTEM_NAME, LazyDevSystemKeys, PyHankoNoteTimestamper
from docmgmt.ledger.revocation import fetch_crls
from docmgmt.settings import Mode, Settings
from signing.errors import KeyBackendError
from signing.keys import KeyBackend
from signing.keysfile import load_keys_file
from signing.registry import open_key


class BackendNoteSigner(CertifiedNoteSigner):
    """Signs checkpoint notes with a signing key backend: the key stays in its file or
    token; only the signature (RSA PKCS#1 v1.5 or ECDSA, SHA-256, as pyHanko's signer for
    that key makes it) comes out."""

    def __init__(self, backend: KeyBackend, name: str = SYSTEM_NAME) -> None:
        def loaded(cert: Any) -> pyca_x509.Certificate:
            return pyca_x509.load_der_x509_certificate(cert.dump())

        super().__init__(name, loaded(backend.certificate), [loaded(c) for c in backend.chain])
        self._backend = backend

    def crls_pem(self, certificates: Sequence[pyca_x509.Certificate]) -> bytes:
        """The CRLs the certificates' distribution points name, fetched now, as PEM."""
        return fetch_crls(certificates)

    def sign(self, data: bytes) -> bytes:
        """A signature over ``data`` (call outside any running event loop)."""
        return bytes(asyncio.run(self._backend.signer().async_sign_raw(data, "sha256")))

    def close(self) -> None:
        """Close the backend's session, if it keeps one (a PKCS#11 token)."""
        close = getattr(self._backend, "close", None)
        if close is not None:
            close()


def system_note_keys(settings: Settings) -> tuple[Any, Any] | None:
    """(signer, timestamper) for checkpoints, or None where none is configured."""
    if settings.keys_file is not None:
        try:
            config = load_keys_file(settings.keys_file)
        except KeyBackendError as exc:
            raise InvalidInputError(f"the keys file: {exc}") from None
        if config.system is None:
            return None
        url = config.tsa_url
        if not url:
            raise InvalidInputError("the keys file names no tsa_url for checkpoint timestamps")
        try:
            signer = BackendNoteSigner(open_key(config.system))
        except KeyBackendError as exc:
            raise InvalidInputError(f"the ledger's system key: {exc}") from None
        return signer, PyHankoNoteTimestamper(HTTPTimeStamper(url, timeout=10))
    if settings.mode is Mode.PRODUCTION:
        return None
    keys = LazyDevSystemKeys(settings.pki_dir)
    return keys, keys
