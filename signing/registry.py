"""Production key registry: keys on tokens/HSMs or in PKCS#12 files, named in a JSON file.

The file (``DOCMGMT_KEYS_FILE``) holds no secret itself: PINs and passwords are named by the
environment variables that carry them. Example::

    {
      "trust_roots": ["/etc/docmgmt/roots/rootca-gov.pem"],
      "tsa_url": "http://tsa.example.gov.vn/tsa",
      "fetch_revocation": true,
      "agencies": {"STTTT": {"pades_level": "B-LTA",
                             "seal": {"type": "pkcs11", "module": "/usr/lib/libhsm.so",
                                      "token_label": "STTTT", "key_label": "seal",
                                      "pin_env": "STTTT_SEAL_PIN"},
                             "seal_image": "/etc/docmgmt/seals/STTTT.png"}},
      "users": {"an.nguyen": {"type": "pkcs12", "path": "/etc/docmgmt/keys/an.p12",
                              "password_env": "AN_P12_PASSWORD",
                              "signature_image": "/etc/docmgmt/sig/an.png"}}
    }
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from pyhanko.sign.timestamps import HTTPTimeStamper

from docmgmt.domain.errors import InvalidInputError
from signing.errors import KeyBackendError
from signing.keys import KeyBackend, Pkcs11KeyBackend, Pkcs12KeyBackend
from signing.pades import PadesLevel, SigningContext
from signing.port import AgencyIdentity, SignerIdentity
from signing.trust import load_certificate_files


def _secret(spec: dict[str, Any], name: str) -> str:
    variable = spec.get(name)
    value = os.environ.get(str(variable)) if variable else None
    if not value:
        raise KeyBackendError(f"the environment variable {variable!r} ({name}) is not set")
    return value


def backend_from_spec(spec: dict[str, Any]) -> KeyBackend:
    """The key backend a keys-file entry names (``pkcs12`` or ``pkcs11``)."""
    kind = spec.get("type")
    if kind == "pkcs12":
        return Pkcs12KeyBackend(Path(spec["path"]), _secret(spec, "password_env").encode())
    if kind == "pkcs11":
        return Pkcs11KeyBackend(spec["module"], spec["token_label"], spec["key_label"],
                                _secret(spec, "pin_env"), spec.get("cert_label"))
    raise KeyBackendError(f"unknown key type {kind!r} (pkcs12 or pkcs11)")


class ConfiguredKeyRegistry:
    """Keys and trust from the keys file; each key is opened once and kept."""

    def __init__(self, path: Path) -> None:
        self.config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        self._keys: dict[str, KeyBackend] = {}
        self._lock = threading.Lock()
        roots = [Path(p) for p in self.config.get("trust_roots", [])]
        if not roots:
            raise InvalidInputError(f"{path} names no trust_roots")
        self._roots = load_certificate_files(roots)
        url = self.config.get("tsa_url")
        self._stamper = HTTPTimeStamper(url, timeout=10) if url else None

    def _key(self, cache_key: str, spec: dict[str, Any] | None, what: str) -> KeyBackend:
        if spec is None:
            raise KeyBackendError(f"no key is configured for {what}")
        with self._lock:
            if cache_key not in self._keys:
                self._keys[cache_key] = backend_from_spec(spec)
            return self._keys[cache_key]

    def leader_key(self, signer: SignerIdentity, agency: AgencyIdentity) -> KeyBackend:
        """The signer's key as configured under users."""
        spec = self.config.get("users", {}).get(signer.username)
        return self._key(f"user:{signer.username}", spec, f"user {signer.username}")

    def seal_key(self, agency: AgencyIdentity) -> KeyBackend:
        """The agency's seal key as configured under agencies."""
        spec = self.config.get("agencies", {}).get(agency.code, {}).get("seal")
        return self._key(f"seal:{agency.code}", spec, f"the seal of {agency.code}")

    def context(self, agency: AgencyIdentity | None) -> SigningContext:
        """Configured roots and TSA; revocation fetched over the network."""
        return SigningContext(trust_roots=list(self._roots), timestamper=self._stamper,
                              fetch_revocation=bool(self.config.get("fetch_revocation", True)))

    def signature_image(self, signer: SignerIdentity) -> bytes | None:
        """The user's signature image, if configured."""
        path = self.config.get("users", {}).get(signer.username, {}).get("signature_image")
        return Path(path).read_bytes() if path else None

    def level(self, agency: AgencyIdentity) -> PadesLevel | None:
        """The agency's configured PAdES level ("pades_level"), if any."""
        value = self.config.get("agencies", {}).get(agency.code, {}).get("pades_level")
        return PadesLevel(value) if value else None

    def seal_image(self, agency: AgencyIdentity) -> bytes:
        """The agency's seal image."""
        path = self.config.get("agencies", {}).get(agency.code, {}).get("seal_image")
        if not path:
            raise KeyBackendError(f"no seal image is configured for {agency.code}")
        return Path(path).read_bytes()
