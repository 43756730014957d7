"""Single sign-on: the OpenID Connect provider as docmgmt's pages and API use it (Authlib).

The pages take the authorization code flow with PKCE, state and nonce; the API exchanges a
token the provider issued to docmgmt for a docmgmt token (RFC 8693), so every request after
that is checked the one way docmgmt checks its own tokens, session generation included.
Discovery and the provider's keys are fetched when first needed (a provider that is down
never stops docmgmt from starting) and kept for an hour; an unknown key id fetches the keys
again once, so a key rotation at the provider needs no restart.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from fastapi import Request
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    InvalidTokenError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from docmgmt.domain.errors import DomainError
from docmgmt.identity.login import InvalidCredentialsError
from docmgmt.settings import Settings

CACHE_SECONDS = 3600
REQUIRED_METADATA = ("authorization_endpoint", "token_endpoint", "jwks_uri")
TIMEOUT = 10
# Asymmetric algorithms only: a provider's token is never checked with a shared secret.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
              "ES512", "EdDSA"]


class OidcTokenRefusedError(InvalidCredentialsError):
    """A token from (or claiming to be from) the provider did not check out."""

    code = "invalid_oidc_token"


class SsoCancelledError(OidcTokenRefusedError):
    """The provider sent the browser back without a sign-in (refused or cancelled)."""

    code = "sso_cancelled"


class SsoStateMismatchError(OidcTokenRefusedError):
    """The provider's answer belongs to no sign-in this browser started (or an old one)."""

    code = "sso_state_mismatch"


class OidcUnavailableError(DomainError):
    """Single sign-on is not configured, or the provider cannot be reached."""

    code = "sso_unavailable"


@dataclass(frozen=True)
class Flow:
    """One browser's sign-in under way: what comes back must match it."""

    state: str
    nonce: str
    code_verifier: str
    url: str


class OidcProvider:
    """The configured provider: discovery, keys, the code flow and token checks."""

    def __init__(self, settings: Settings) -> None:
        if settings.oidc_issuer is None:
            raise OidcUnavailableError("single sign-on is not configured")
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        secret = settings.oidc_client_secret
        self._secret = secret.get_secret_value() if secret else None
        self.claim = settings.oidc_username_claim
        self.scopes = settings.oidc_scopes
        self.leeway = settings.oidc_leeway_seconds
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, KeySet] | None = None

    def _session(self, **kwargs: Any) -> Any:
        # A confidential client authenticates at the token endpoint; a public one sends
        # its client id and relies on PKCE.
        auth = "client_secret_basic" if self._secret else "none"
        return OAuth2Session(self.client_id, self._secret, scope=self.scopes,
                             token_endpoint_auth_method=auth,
                             code_challenge_method="S256", **kwargs)

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            with self._session() as http:
                response = http.get(url, timeout=TIMEOUT, withhold_token=True)
                response.raise_for_status()
                body = response.json()
        except Exception as exc:  # any transport or decoding failure: the provider is away
            raise OidcUnavailableError("the single sign-on provider cannot be reached; "
                                       "try again later") from exc
        if not isinstance(body, dict):
            raise OidcUnavailableError("the single sign-on provider answered nonsense")
        return body

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once an hour)."""
        with self._lock:
            if self._metadata and time.monotonic() - self._metadata[0] < CACHE_SECONDS:
                return self._metadata[1]
        body = self._get_json(self.issuer + "/.well-known/openid-configuration")
        if str(body.get("issuer", "")).rstrip("/") != self.issuer:
            raise OidcUnavailableError("the provider's discovery document names another "
                                       "issuer than the one configured")
        if not all(isinstance(body.get(name), str) for name in REQUIRED_METADATA):
            raise OidcUnavailableError("the provider's discovery document lacks one of "
                                       + ", ".join(REQUIRED_METADATA))
        with self._lock:
            self._metadata = (time.monotonic(), body)
        return body

    def cached_origins(self) -> set[str]:
        """Origins of the provider's pages known so far (for the pages' form-action)."""
        origins = {_origin(self.issuer)}
        if self._metadata:
            for name in ("authorization_endpoint", "end_session_endpoint"):
                if isinstance(self._metadata[1].get(name), str):
                    origins.add(_origin(self._metadata[1][name]))
        return origins

    def _key_set(self, refresh: bool = False) -> KeySet:
        with self._lock:
            if (not refresh and self._keys
                    and time.monotonic() - self._keys[0] < CACHE_SECONDS):
                return self._keys[1]
        keys = KeySet.import_key_set(self._get_json(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
        with self._lock:
            self._keys = (time.monotonic(), keys)
        return keys

    def start(self, redirect_uri: str) -> Flow:
        """A new sign-in: the provider's address to send the browser to, and its secrets."""
        endpoint = self.metadata()["authorization_endpoint"]
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        with self._session(redirect_uri=redirect_uri) as oauth:
            url, _ = oauth.create_authorization_url(endpoint, state=state, nonce=nonce,
                                                    code_verifier=verifier)
        return Flow(state, nonce, verifier, url)

    def finish(self, flow: Flow, redirect_uri: str, code: str) -> tuple[dict[str, Any], str]:
        """The checked ID token's claims and the token itself, for the code the browser
        brought back (its state already compared with the flow's)."""
        endpoint = self.metadata()["token_endpoint"]
        try:
            with self._session(redirect_uri=redirect_uri) as oauth:
                token = oauth.fetch_token(endpoint, grant_type="authorization_code",
                                          code=code, code_verifier=flow.code_verifier,
                                          timeout=TIMEOUT)
        except Exception as exc:  # the provider refused the code, or cannot be reached
            raise OidcTokenRefusedError("the provider did not exchange the sign-in code "
                                        "for tokens") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcTokenRefusedError("the provider returned no ID token")
        return self.check(id_token, nonce=flow.nonce), id_token

    def check(self, token: str, nonce: str | None = None) -> dict[str, Any]:
        """The claims of a token the provider signed for docmgmt; OidcTokenRefusedError
        naming what failed: signature, issuer, audience, expiry or nonce."""
        try:
            try:
                decoded = jwt.decode(token, self._key_set(), algorithms=ALGORITHMS)
            except InvalidKeyIdError:
                # A key this process has not seen: the provider may have rotated its keys.
                decoded = jwt.decode(token, self._key_set(refresh=True),
                                     algorithms=ALGORITHMS)
        except BadSignatureError:
            raise OidcTokenRefusedError("the token's signature does not verify against the "
                                        "provider's keys") from None
        except (JoseError, ValueError) as exc:
            raise OidcTokenRefusedError("the token is not a JWT signed by the provider") \
                from exc
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            leeway=self.leeway,
            iss={"essential": True, "value": self.issuer},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise OidcTokenRefusedError("the token has expired") from None
        except (MissingClaimError, InvalidClaimError, InvalidTokenError) as exc:
            raise OidcTokenRefusedError(f"the token's claims are not valid: {exc}") \
                from None
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if self.client_id not in audiences:
            raise OidcTokenRefusedError("the token was not issued to docmgmt (its audience "
                                        f"is not {self.client_id!r})")
        if len(audiences) > 1 and claims.get("azp") not in (None, self.client_id):
            raise OidcTokenRefusedError("the token was issued to another client (azp)")
        if nonce is not None and claims.get("nonce") != nonce:
            raise OidcTokenRefusedError("the ID token's nonce does not match this sign-in")
        return claims

    def username(self, claims: dict[str, Any]) -> str:
        """The docmgmt username the configured claim names."""
        value = claims.get(self.claim)
        if not isinstance(value, str) or not value.strip():
            raise OidcTokenRefusedError(
                f"the token has no {self.claim!r} claim to match an account with "
                "(check the provider's scopes and mappers)")
        return value

    def logout_url(self, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        """Where to end the session at the provider (RP-initiated logout), if it says."""
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except OidcUnavailableError:
            return None
        if not isinstance(endpoint, str):
            return None
        params = {"client_id": self.client_id,
                  "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token:
            params["id_token_hint"] = id_token
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def provider_of(request: Request) -> OidcProvider | None:
    """The app's provider, or None when single sign-on is not configured."""
    state = request.app.state
    settings: Settings = state.container.settings
    if settings.oidc_issuer is None:
        return None
    provider: OidcProvider | None = getattr(state, "oidc_provider", None)
    if provider is None:  # two at once make two; either serves (the caches are per copy)
        provider = state.oidc_provider = OidcProvider(settings)
    return provider
