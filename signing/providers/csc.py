"""A Cloud Signature Consortium API v1 client that signs prepared digests (SCAL2).

pyHanko's ``CSCSigner`` signs inside its own CMS assembly over aiohttp; docmgmt prepares the
signed attributes itself and only needs the service to sign digests, so this client follows
the same calls synchronously: credentials/list, credentials/info (certificates=chain),
credentials/authorize bound to the exact hashes, then signatures/signHash for all of them.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from signing.errors import SigningProviderError
from signing.providers._http import DEFAULT_TIMEOUT, b64, request_json, unb64
from signing.providers._local import AnswersAtOnce, Clock, mechanism_of, utc_now
from signing.remote import (
    AnswerStatus,
    HashToSign,
    ProviderAnswer,
    ProviderCredential,
    SignerAccount,
    Submission,
)

SHA256_OID = "2.16.840.1.101.3.4.2.1"
SIGN_ALGO_OIDS = {"sha256_rsa": "1.2.840.113549.1.1.11", "sha256_ecdsa": "1.2.840.10045.4.3.2"}
_TOKEN_MARGIN = timedelta(seconds=30)


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: datetime


class ClientCredentialsToken:
    """An OAuth2 client-credentials access token, fetched when needed and kept until expiry."""

    def __init__(self, token_url: str, client_id: str, client_secret: Callable[[], str], *,
                 timeout: float = DEFAULT_TIMEOUT, clock: Clock = utc_now) -> None:
        self._url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._token: _Token | None = None

    def __repr__(self) -> str:
        return f"<ClientCredentialsToken {self._client_id}@{self._url}>"

    def get(self) -> str:
        """A valid access token (fetched again once the last one nears its expiry)."""
        with self._lock:
            now = self._clock()
            if self._token is None or self._token.expires_at - _TOKEN_MARGIN <= now:
                self._token = self._fetch(now)
            return self._token.value

    def _fetch(self, now: datetime) -> _Token:
        answer = request_json("CSC OAuth", "POST", self._url, form={
            "grant_type": "client_credentials", "client_id": self._client_id,
            "client_secret": self._secret()}, timeout=self._timeout)
        value = answer.get("access_token")
        lifetime = answer.get("expires_in", 3600)
        if not isinstance(value, str) or not value:
            raise SigningProviderError("CSC OAuth: the token endpoint gave no access_token")
        if not isinstance(lifetime, int | float) or lifetime <= 0:
            raise SigningProviderError("CSC OAuth: expires_in is not a positive number")
        return _Token(value, now + timedelta(seconds=float(lifetime)))


class CscProvider(AnswersAtOnce):
    """Signs through a CSC API v1 service; ``url`` ends with ``/csc/v1``."""

    def __init__(self, url: str, *, client_data: str | None = None,
                 token: ClientCredentialsToken | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__("csc")
        self._url = url.rstrip("/")
        self._client_data = client_data
        self._token = token
        self._timeout = timeout
        self._multisign: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<CscProvider {self._url}>"

    def _call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._client_data is not None:
            body = {**body, "clientData": self._client_data}
        bearer = self._token.get() if self._token else None
        return request_json("CSC", "POST", f"{self._url}/{endpoint}", body=body,
                            bearer=bearer, timeout=self._timeout)

    def credentials(self, signer: SignerAccount) -> list[ProviderCredential]:
        """credentials/list for the signer, then credentials/info with the chain of each."""
        listed = self._call("credentials/list", {"userID": signer.username}).get(
            "credentialIDs")
        if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
            raise SigningProviderError("CSC credentials/list: credentialIDs is not a list")
        found = []
        for credential_id in listed:
            info = self._call("credentials/info", {"credentialID": credential_id,
                                                   "certificates": "chain"})
            credential = self._credential(credential_id, info)
            if credential is not None:
                found.append(credential)
        return found

    def _credential(self, credential_id: str, info: dict[str, Any]) -> ProviderCredential | None:
        where = f"CSC credentials/info of {credential_id}"
        key = info.get("key")
        if isinstance(key, dict) and key.get("status", "enabled") != "enabled":
            return None
        cert = info.get("cert")
        certificates = cert.get("certificates") if isinstance(cert, dict) else None
        if not isinstance(certificates, list) or not certificates:
            raise SigningProviderError(f"{where}: no certificates in the answer")
        ders = [unb64(c, f"{where}: a certificate") for c in certificates]
        multisign = info.get("multisign", 1)
        self._multisign[credential_id] = multisign if isinstance(multisign, int) else 1
        return ProviderCredential(credential_id, ders[0], tuple(ders[1:]))

    def submit(self, signer: SignerAccount, credential: ProviderCredential,
               hashes: Sequence[HashToSign], *, expires_at: datetime) -> Submission:
        """Authorise the exact hashes (SCAL2), then sign them all with one signHash each
        authorisation (more than one only if the credential's ``multisign`` is smaller)."""
        sign_algo = SIGN_ALGO_OIDS[mechanism_of(credential.certificate)]
        size = max(1, self._multisign.get(credential.credential_id, len(hashes) or 1))
        answers: list[ProviderAnswer] = []
        for start in range(0, len(hashes), size):
            group = hashes[start:start + size]
            answers.extend(self._sign_group(credential.credential_id, group, sign_algo))
        return Submission(uuid.uuid4().hex, tuple(answers))

    def _sign_group(self, credential_id: str, group: Sequence[HashToSign],
                    sign_algo: str) -> list[ProviderAnswer]:
        hash_list = [b64(h.digest) for h in group]
        authorised = self._call("credentials/authorize", {
            "credentialID": credential_id, "numSignatures": len(group), "hash": hash_list,
            "description": "; ".join(h.label for h in group)[:500]})
        sad = authorised.get("SAD")
        if not isinstance(sad, str) or not sad:
            raise SigningProviderError("CSC credentials/authorize: no SAD in the answer")
        signed = self._call("signatures/signHash", {
            "credentialID": credential_id, "SAD": sad, "hash": hash_list,
            "hashAlgo": SHA256_OID, "signAlgo": sign_algo}).get("signatures")
        if not isinstance(signed, list) or len(signed) != len(group):
            raise SigningProviderError(
                f"CSC signatures/signHash: expected {len(group)} signatures")
        return [ProviderAnswer(h.request_id, AnswerStatus.SIGNED,
                               unb64(value, "CSC signatures/signHash: a signature"))
                for h, value in zip(group, signed, strict=True)]
