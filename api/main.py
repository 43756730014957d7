"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from api.docs import docs_router
from api.errors import install_error_handlers
from api.headers import SecurityHeaders
from api.limits import BodySizeLimit, RequestId
from api.openapi import install_openapi
from api.routes import (
    audit,
    evidence,
    identity,
    incoming,
    ledger,
    outgoing,
    oversight,
    oversight_figures,
    sending,
    signatures,
    sso,
    system,
    webhooks,
)
from api.textguard import TextGuard
from api.web import install_web
from api.web.errors import text_refusal_page
from docmgmt.bootstrap import running_container
from docmgmt.settings import Settings


class DocmgmtAPI(FastAPI):
    """FastAPI with the edge middleware outside Starlette's error handler.

    Middleware added with add_middleware sits inside ServerErrorMiddleware, so the 500
    answer it writes would miss the request id and the security headers.
    """

    def build_middleware_stack(self) -> ASGIApp:
        """The app's own stack, wrapped in what every answer must carry."""
        return SecurityHeaders(RequestId(super().build_middleware_stack()))


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API; adapters are created in the lifespan, not at import."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_container(settings or Settings()) as container:
            app.state.container = container
            yield

    app = DocmgmtAPI(
        title="docmgmt",
        summary="Văn bản điện tử và chữ ký số / Official electronic documents and signatures",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by api.docs from installed files, not from a CDN
        redoc_url=None,
        # No OpenTelemetry: nothing collects it on the agencies' closed networks, and its
        # per-request checks cost every request on the event loop.
        telemetry={"tracing": False, "metrics": False, "logs": False,
                   "operation_spans": False},
    )
    install_error_handlers(app)
    install_openapi(app)

    # Inner to outer: the last added runs first. RequestId and SecurityHeaders wrap the
    # whole stack (DocmgmtAPI), so even a 413 from here or a 500 carries them.
    limit = (settings or Settings()).max_upload_bytes
    app.add_middleware(TextGuard, page_refusal=text_refusal_page)  # inside the size check
    app.add_middleware(BodySizeLimit, max_body=limit + 1024 * 1024)
    app.include_router(docs_router(app))
    app.include_router(system.router)
    app.include_router(identity.auth_router)
    app.include_router(sso.router)
    app.include_router(identity.router)
    app.include_router(audit.mandates_router)
    app.include_router(outgoing.router)
    app.include_router(outgoing.workflow_router)
    app.include_router(outgoing.validate_router)
    app.include_router(signatures.router)
    app.include_router(sending.router)
    app.include_router(incoming.router)
    app.include_router(webhooks.router)
    app.include_router(evidence.router)
    app.include_router(audit.router)
    app.include_router(ledger.router)
    app.include_router(oversight.router)
    app.include_router(oversight_figures.router)
    install_web(app)  # after the API's error handlers, which it wraps for pages
    return app
