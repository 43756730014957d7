"""Production key registry: keys on tokens/HSMs or in PKCS#12 files, named in the keys file.

The file's format and its typed form are in :mod:`signing.keysfile`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from pyhanko.sign.timestamps import HTTPTimeStamper

from docmgmt.domain.errors import InvalidInputError
from signing.errors import KeyBackendError, SigningProviderError
from signing.keys import KeyBackend, Pkcs11KeyBackend, Pkcs12KeyBackend
from signing.keysfile import (
    ConfirmSigningSpec,
    CscSigningSpec,
    KeysConfig,
    KeySpec,
    Pkcs12KeySpec,
    ServerSigningSpec,
    SigningSpec,
    load_keys_file,
)
from signing.pades import PadesLevel, SigningContext
from signing.port import AgencyIdentity, SignerIdentity
from signing.providers.confirm import ConfirmProvider
from signing.providers.csc import ClientCredentialsToken, CscProvider
from signing.providers.server import ServerKeyProvider
from signing.remote import SignerAccount, SigningProvider
from signing.trust import load_certificate_files


def _secret(variable: str, name: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise KeyBackendError(f"the environment variable {variable!r} ({name}) is not set")
    return value


def _provider_secret(variable: str, name: str) -> str:
    # A provider's every failure is a SigningProviderError, a missing secret included.
    try:
        return _secret(variable, name)
    except KeyBackendError as exc:
        raise SigningProviderError(str(exc)) from None


def open_key(spec: KeySpec) -> KeyBackend:
    """The key backend a keys-file entry names (``pkcs12`` or ``pkcs11``)."""
    if isinstance(spec, Pkcs12KeySpec):
        return Pkcs12KeyBackend(spec.path, _secret(spec.password_env, "password_env").encode())
    return Pkcs11KeyBackend(spec.module, spec.token_label, spec.key_label,
                            _secret(spec.pin_env, "pin_env"), spec.cert_label)


class ConfiguredKeyRegistry:
    """Keys and trust from the keys file; each key is opened once and kept."""

    def __init__(self, path: Path) -> None:
        self.config: KeysConfig = load_keys_file(path)
        self._keys: dict[str, KeyBackend] = {}
        self._providers: dict[str, SigningProvider] = {}
        self._lock = threading.Lock()
        if not self.config.trust_roots:
            raise InvalidInputError(f"{path} names no trust_roots")
        self._roots = load_certificate_files(list(self.config.trust_roots))
        url = self.config.tsa_url
        self._stamper = HTTPTimeStamper(url, timeout=10) if url else None

    def _key(self, cache_key: str, spec: KeySpec | None, what: str) -> KeyBackend:
        if spec is None:
            raise KeyBackendError(f"no key is configured for {what}")
        with self._lock:
            if cache_key not in self._keys:
                self._keys[cache_key] = open_key(spec)
            return self._keys[cache_key]

    def leader_key(self, signer: SignerIdentity, agency: AgencyIdentity) -> KeyBackend:
        """The signer's key as configured under users."""
        return self._user_key(signer.username)

    def _user_key(self, username: str) -> KeyBackend:
        user = self.config.users.get(username)
        return self._key(f"user:{username}", user.key if user else None, f"user {username}")

    def seal_key(self, agency: AgencyIdentity) -> KeyBackend:
        """The agency's seal key as configured under agencies."""
        entry = self.config.agencies.get(agency.code)
        return self._key(f"seal:{agency.code}", entry.seal if entry else None,
                         f"the seal of {agency.code}")

    def context(self, agency: AgencyIdentity | None) -> SigningContext:
        """Configured roots and TSA; revocation fetched over the network."""
        return SigningContext(trust_roots=list(self._roots), timestamper=self._stamper,
                              fetch_revocation=self.config.fetch_revocation)

    def signature_image(self, signer: SignerIdentity) -> bytes | None:
        """The user's signature image, if configured."""
        user = self.config.users.get(signer.username)
        path = user.signature_image if user else None
        return path.read_bytes() if path else None

    def level(self, agency: AgencyIdentity) -> PadesLevel | None:
        """The agency's configured PAdES level ("pades_level"), if any."""
        entry = self.config.agencies.get(agency.code)
        return entry.pades_level if entry else None

    def seal_image(self, agency: AgencyIdentity) -> bytes:
        """The agency's seal image."""
        entry = self.config.agencies.get(agency.code)
        path = entry.seal_image if entry else None
        if not path:
            raise KeyBackendError(f"no seal image is configured for {agency.code}")
        return path.read_bytes()

    def provider(self, agency: AgencyIdentity) -> SigningProvider | None:
        """The agency's signing service ("signing" under agencies), built once; the server's
        keys when it names none but "users" holds keys; else None."""
        entry = self.config.agencies.get(agency.code)
        spec = entry.signing if entry else None
        if spec is None:
            if not self.config.users:
                return None
            # Keys files written before signing services existed: the leaders' keys under
            # "users" sign as they always did.
            spec = ServerSigningSpec()
        with self._lock:
            if agency.code not in self._providers:
                self._providers[agency.code] = self._build_provider(spec)
            return self._providers[agency.code]

    def _build_provider(self, spec: SigningSpec) -> SigningProvider:
        if isinstance(spec, CscSigningSpec):
            token = None
            if spec.oauth is not None:
                env = spec.oauth.client_secret_env
                token = ClientCredentialsToken(
                    spec.oauth.token_url, spec.oauth.client_id,
                    lambda: _provider_secret(env, "oauth.client_secret_env"))
            return CscProvider(spec.url, client_data=spec.client_data, token=token)
        if isinstance(spec, ConfirmSigningSpec):
            env = spec.secret_env
            return ConfirmProvider(spec.url, client_id=spec.client_id,
                                   secret=lambda: _provider_secret(env, "secret_env"),
                                   callback_url=spec.callback_url)
        return ServerKeyProvider(self._account_key)

    def _account_key(self, account: SignerAccount) -> KeyBackend:
        return self._user_key(account.username)
