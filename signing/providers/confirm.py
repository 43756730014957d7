"""A remote signing service that waits for the signer's confirmation (SmartCA, MySign style).

The HTTP/JSON shape is the one in the issue's design (bearer = the agency's secret):
``GET /v1/credentials``, ``POST /v1/signatures`` (a transaction id comes back, no answers),
``GET /v1/signatures/{id}``. A pushed callback is only a hint to poll; and an answer given
after the request's ``expires_at`` is reported as expired, never as a signature.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from signing.errors import SigningProviderError
from signing.providers._http import DEFAULT_TIMEOUT, b64, request_json, unb64
from signing.providers._local import Clock, NamedProvider, utc_now
from signing.remote import (
    AnswerStatus,
    HashToSign,
    ProviderAnswer,
    ProviderCredential,
    SignerAccount,
    Submission,
)

_STATUSES = {s.value: s for s in AnswerStatus}


class ConfirmProvider(NamedProvider):
    """Asks the service for signatures the signer confirms in an app; answers by polling."""

    def __init__(self, url: str, *, client_id: str, secret: Callable[[], str],
                 callback_url: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 clock: Clock = utc_now) -> None:
        super().__init__("confirm")
        self._url = url.rstrip("/")
        self._client_id = client_id
        self._secret = secret
        self._callback_url = callback_url
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        # When each transaction this process submitted expires: a signature that arrives
        # later is a late answer. (The domain checks its own expires_at again.)
        self._expiry: dict[str, datetime] = {}

    def __repr__(self) -> str:
        return f"<ConfirmProvider {self._client_id}@{self._url}>"

    def _request(self, method: str, path: str,
                 body: dict[str, Any] | None = None) -> dict[str, Any]:
        return request_json("confirmation service", method, f"{self._url}{path}", body=body,
                            bearer=self._secret(), headers={"X-Client-ID": self._client_id},
                            timeout=self._timeout)

    def credentials(self, signer: SignerAccount) -> list[ProviderCredential]:
        """The signer's keys at the service, with their certificates."""
        query = urllib.parse.urlencode({"user_id": signer.username})
        listed = self._request("GET", f"/v1/credentials?{query}").get("credentials")
        if not isinstance(listed, list):
            raise SigningProviderError("confirmation service: credentials is not a list")
        found = []
        for entry in listed:
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                raise SigningProviderError("confirmation service: a credential has no id")
            where = f"confirmation service: credential {entry['id']}"
            chain = entry.get("chain", [])
            if not isinstance(chain, list):
                raise SigningProviderError(f"{where}: chain is not a list")
            found.append(ProviderCredential(
                entry["id"], unb64(entry.get("certificate"), f"{where}: certificate"),
                tuple(unb64(c, f"{where}: chain") for c in chain)))
        return found

    def submit(self, signer: SignerAccount, credential: ProviderCredential,
               hashes: Sequence[HashToSign], *, expires_at: datetime) -> Submission:
        """Start one transaction for all hashes; the signer confirms it once in the app."""
        if expires_at <= self._clock():
            raise SigningProviderError("confirmation service: the request has already expired")
        body: dict[str, Any] = {
            "user_id": signer.username, "credential_id": credential.credential_id,
            "expires_at": expires_at.isoformat(),
            "items": [{"id": h.request_id, "digest": b64(h.digest), "label": h.label}
                      for h in hashes]}
        if self._callback_url:
            body["callback_url"] = self._callback_url
        transaction_id = self._request("POST", "/v1/signatures", body).get("transaction_id")
        if not isinstance(transaction_id, str) or not transaction_id:
            raise SigningProviderError("confirmation service: no transaction_id in the answer")
        with self._lock:
            self._expiry[transaction_id] = expires_at
        return Submission(transaction_id)

    def poll(self, transaction_id: str,
             request_ids: Sequence[str]) -> tuple[ProviderAnswer, ...]:
        """Where each hash stands; past ``expires_at`` nothing counts as signed any more."""
        path = f"/v1/signatures/{urllib.parse.quote(transaction_id, safe='')}"
        answer = self._request("GET", path)
        overall = self._status(answer.get("status"), "the transaction's status")
        items = answer.get("items", [])
        if not isinstance(items, list):
            raise SigningProviderError("confirmation service: items is not a list")
        by_id = {i.get("id"): i for i in items if isinstance(i, dict)}
        with self._lock:
            expires_at = self._expiry.get(transaction_id)
        late = expires_at is not None and self._clock() >= expires_at
        answers = tuple(self._answer(rid, by_id.get(rid), overall, late) for rid in request_ids)
        if late or all(a.status is not AnswerStatus.PENDING for a in answers):
            with self._lock:
                self._expiry.pop(transaction_id, None)
        return answers

    @staticmethod
    def _status(value: Any, what: str) -> AnswerStatus:
        if not isinstance(value, str) or value not in _STATUSES:
            raise SigningProviderError(f"confirmation service: {what} is not one of "
                                       + ", ".join(_STATUSES))
        return _STATUSES[value]

    def _answer(self, request_id: str, item: dict[str, Any] | None, overall: AnswerStatus,
                late: bool) -> ProviderAnswer:
        status = overall if item is None else self._status(
            item.get("status"), f"the status of item {request_id}")
        if late and status in (AnswerStatus.PENDING, AnswerStatus.SIGNED):
            detail = ("answered after the request expired" if status is AnswerStatus.SIGNED
                      else "the signer did not confirm in time")
            return ProviderAnswer(request_id, AnswerStatus.EXPIRED, detail=detail)
        if status is not AnswerStatus.SIGNED:
            return ProviderAnswer(request_id, status)
        if item is None:
            raise SigningProviderError(
                f"confirmation service: item {request_id} is signed but not listed")
        signature = unb64(item.get("signature"), f"confirmation service: item {request_id}")
        return ProviderAnswer(request_id, AnswerStatus.SIGNED, signature)
