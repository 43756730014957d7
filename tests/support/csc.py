"""A real CSC API v1 service (certomancer-csc-dummy) on 127.0.0.1 over the test PKI.

It serves the committed certomancer config with the animator's URLs, so its certificates are
byte for byte those of ``test_pki``. Beside the dummy's own routes it has an OAuth2
client-credentials token endpoint, and it records every call; with ``require_token`` set it
refuses CSC calls without a token it issued. Credential ids are ``docmgmt-test/<label>``
(``client_data`` = ``docmgmt-test`` lists only that hierarchy).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from certomancer.registry import CertomancerConfig
from csc_dummy.csc_dummy_server import CSCWithCertomancer, DummyServiceParams

from tests.signing.conftest import ARCH, PKI_DIR, PkiFixture

CLIENT_ID = "docmgmt-test"
CLIENT_SECRET = "csc-test-client-secret"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class CscCall:
    """One request the service received."""

    endpoint: str
    body: dict[str, Any]
    authorization: str | None


@dataclass
class CscService:
    """The running service: its base URL (``.../csc/v1``), token URL and what it saw."""

    url: str
    token_url: str
    client_data: str = ARCH
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    require_token: bool = False
    token_lifetime: int = 3600
    calls: list[CscCall] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    def reset(self) -> None:
        """Forget the calls and tokens; tokens not required."""
        self.require_token = False
        self.token_lifetime = 3600
        self.calls.clear()
        self.tokens.clear()

    def called(self, endpoint: str) -> list[CscCall]:
        """The calls made to one endpoint (``credentials/authorize``, ...)."""
        return [c for c in self.calls if c.endpoint == endpoint]


def _build_app(config: CertomancerConfig, service: CscService) -> web.Application:
    with warnings.catch_warnings():
        # The dummy keys its aiohttp app with plain strings (NotAppKeyWarning).
        warnings.simplefilter("ignore")
        csc = CSCWithCertomancer(config, service_params=DummyServiceParams(multisign=100))
        csc.register_routes()
    app = csc.app

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/csc/v1/"):
            auth = request.headers.get("Authorization")
            body = await request.json() if request.can_read_body else {}
            service.calls.append(CscCall(request.path.removeprefix("/csc/v1/"), body, auth))
            if service.require_token and auth not in {f"Bearer {t}" for t in service.tokens}:
                return web.json_response({"error": "invalid_token"}, status=401)
        return await handler(request)

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        if (form.get("grant_type") != "client_credentials"
                or form.get("client_id") != service.client_id
                or form.get("client_secret") != service.client_secret):
            return web.json_response({"error": "invalid_client"}, status=401)
        value = secrets.token_urlsafe(16)
        service.tokens.append(value)
        return web.json_response({"access_token": value, "token_type": "Bearer",
                                  "expires_in": service.token_lifetime})

    app.middlewares.append(record)
    app.router.add_post("/oauth2/token", token)
    return app


@pytest.fixture(scope="session")
def csc_server(test_pki: PkiFixture) -> Iterator[CscService]:
    """The CSC dummy on a free port of 127.0.0.1, in a thread with its own event loop."""
    config = CertomancerConfig.from_file(str(PKI_DIR / "certomancer.yml"),
                                         external_url_prefix=test_pki.url)
    loop = asyncio.new_event_loop()
    service = CscService(url="", token_url="")
    runner = web.AppRunner(_build_app(config, service))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    host, port = runner.addresses[0][:2]
    service.url = f"http://{host}:{port}/csc/v1"
    service.token_url = f"http://{host}:{port}/oauth2/token"
    thread = threading.Thread(target=loop.run_forever, name="csc-dummy", daemon=True)
    thread.start()
    yield service
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


@pytest.fixture
def csc_service(csc_server: CscService) -> CscService:
    """The CSC service with its record of calls cleared and no token required."""
    csc_server.reset()
    return csc_server
