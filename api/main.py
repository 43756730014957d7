"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.bootstrap import running_container
from api.errors import install_error_handlers
from api.limits import BodySizeLimit, RequestId
from api.routes import (
    admin,
    audit,
    documents,
    evidence,
    exchange,
    ledger,
    system,
    webhooks,
    workflow,
)
from api.textguard import TextGuard
from docmgmt.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API; adapters are created in the lifespan, not at import."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_container(settings or Settings()) as container:
            app.state.container = container
            yield

    app = FastAPI(
        title="docmgmt",
        summary="Văn bản điện tử và chữ ký số / Official electronic documents and signatures",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)

    limit = (settings or Settings()).max_upload_bytes
    app.add_middleware(TextGuard)  # innermost: its 422 carries the request id
    app.add_middleware(RequestId)
    app.add_middleware(BodySizeLimit, max_body=limit + 1024 * 1024)
    app.include_router(system.router)
    app.include_router(admin.router)
    app.include_router(documents.router)
    app.include_router(workflow.router)
    app.include_router(workflow.validate_router)
    app.include_router(exchange.router)
    app.include_router(webhooks.router)
    app.include_router(evidence.router)
    app.include_router(audit.router)
    app.include_router(ledger.router)
    return app
