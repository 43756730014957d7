"""JSON over HTTP for the providers: timeouts, a bearer token, every failure one error.

A failure becomes ``SigningProviderError`` with a detail naming the service and the call,
never the token, a secret or a request body.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from signing.errors import SigningProviderError

DEFAULT_TIMEOUT = 10.0
"""Seconds to wait for a provider's answer before giving up."""

_MAX_DETAIL = 200


def _service_error(body: bytes) -> str:
    """The service's own short explanation of an HTTP error (CSC ``error_description``)."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    text = data.get("error_description") or data.get("error") or data.get("detail") or ""
    return f": {str(text)[:_MAX_DETAIL]}" if text else ""


def request_json(
    service: str, method: str, url: str, *, body: dict[str, Any] | None = None,
    form: dict[str, str] | None = None, bearer: str | None = None,
    headers: dict[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Send one request and return the decoded JSON object it answers."""
    what = f"{service} {method} {urllib.parse.urlsplit(url).path}"
    sent = dict(headers or {})
    sent["Accept"] = "application/json"
    data: bytes | None = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    if bearer:
        sent["Authorization"] = f"Bearer {bearer}"
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise SigningProviderError(f"{service}: the URL must be http or https")
    req = urllib.request.Request(url, data=data, method=method, headers=sent)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
            raw = response.read()
    except urllib.error.HTTPError as exc:
        explanation = _service_error(exc.read())
        raise SigningProviderError(
            f"{what} was refused (HTTP {exc.code}){explanation}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise SigningProviderError(f"{what}: no answer within {timeout:g} s") from None
        raise SigningProviderError(
            f"{what}: the service cannot be reached ({type(reason).__name__})") from None
    try:
        decoded = json.loads(raw)
    except ValueError:
        raise SigningProviderError(f"{what} answered something that is not JSON") from None
    if not isinstance(decoded, dict):
        raise SigningProviderError(f"{what} answered JSON that is not an object")
    return decoded


def b64(value: bytes) -> str:
    """Standard base64 text, as every provider takes digests and signatures."""
    return base64.b64encode(value).decode("ascii")


def unb64(value: Any, what: str) -> bytes:
    """Decode a base64 field of an answer; SigningProviderError naming ``what`` if it is not."""
    if not isinstance(value, str) or not value:
        raise SigningProviderError(f"{what}: expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SigningProviderError(f"{what}: not valid base64") from None
