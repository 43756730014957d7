"""A real OpenID provider for the tests: ``oidc-provider-mock`` served on 127.0.0.1.

The provider signs in whoever's subject is typed (or posted) on its authorization page; a
test chooses the claims that subject carries with :meth:`Provider.set_user` (the provider's
own ``PUT /users/<sub>``). Tokens are RS256-signed and its key set is served at /jwks, so
docmgmt checks them exactly as it would check Keycloak's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import oidc_provider_mock
import pytest
import werkzeug.serving
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.support.server import free_port

CLIENT_ID = "docmgmt"
CLIENT_SECRET = "test-client-secret"
NATIVE_REDIRECT = "http://127.0.0.1/native-callback"  # an API client's own (never served)


@dataclass
class Provider:
    """A running provider and what a test does with it."""

    issuer: str

    def set_user(self, sub: str, **claims: Any) -> None:
        """Give subject ``sub`` these claims (e.g. ``preferred_username``) from now on."""
        r = httpx.put(f"{self.issuer}/users/{sub}", json=claims, timeout=10)
        assert r.status_code == 204, r.text

    def approve(self, authorize_url: str, sub: str) -> str:
        """Sign in as ``sub`` on the provider's page at ``authorize_url`` (as the form
        does); the address the provider sends the browser back to."""
        r = httpx.post(authorize_url, data={"sub": sub}, timeout=10)
        assert r.status_code == 302, r.text
        return r.headers["location"]

    def tokens_for(self, sub: str, client_id: str = CLIENT_ID) -> dict[str, Any]:
        """The provider's tokens for ``sub``, as an API client of ``client_id`` gets them
        (authorization code with PKCE on its own redirect address)."""
        verifier = generate_token(64)
        query = urlencode({
            "response_type": "code", "client_id": client_id, "redirect_uri": NATIVE_REDIRECT,
            "scope": "openid profile email", "state": generate_token(16),
            "nonce": generate_token(16), "code_challenge_method": "S256",
            "code_challenge": create_s256_code_challenge(verifier)})
        back = self.approve(f"{self.issuer}/oauth2/authorize?{query}", sub)
        code = parse_qs(urlsplit(back).query)["code"][0]
        r = httpx.post(f"{self.issuer}/oauth2/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": NATIVE_REDIRECT,
            "client_id": client_id, "client_secret": CLIENT_SECRET,
            "code_verifier": verifier}, timeout=10)
        assert r.status_code == 200, r.text
        tokens: dict[str, Any] = r.json()
        return tokens


@contextmanager
def running_provider(token_max_age: timedelta = timedelta(hours=1)) -> Iterator[Provider]:
    """Serve a fresh provider on 127.0.0.1 until the block ends (tokens live
    ``token_max_age``)."""
    app = oidc_provider_mock.app(require_nonce=True, access_token_max_age=token_max_age)
    port = free_port()
    server = werkzeug.serving.make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield Provider(f"http://127.0.0.1:{port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="package")
def oidc_provider() -> Iterator[Provider]:
    """A real OpenID provider on 127.0.0.1 for the tests of one package."""
    with running_provider() as provider:
        yield provider


def sso_settings(provider: Provider, **more: object) -> dict[str, object]:
    """Settings overrides that make docmgmt use ``provider`` for single sign-on."""
    return {"oidc_issuer": provider.issuer, "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET, "oidc_leeway_seconds": 0} | more
