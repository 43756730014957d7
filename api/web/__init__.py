"""The web application: server-rendered pages for officials, leaders, clerks, auditors and
admins, over the same steps and queries as the API (``/app/``)."""

from __future__ import annotations

from fastapi import FastAPI

from api.web import session
from api.web.assets import assets_router
from api.web.errors import install_page_errors
from api.web.pages import (
    admin,
    audit,
    auth,
    desk,
    documents,
    home,
    incoming,
    outgoing_steps,
    oversight,
    oversight_admin,
    signing,
)


def install_web(app: FastAPI) -> None:
    """Add the pages and their assets to the app (after the API's error handlers)."""
    app.include_router(assets_router())
    app.include_router(auth.router)
    app.include_router(home.router)
    app.include_router(outgoing_steps.router)  # before documents: /documents/new
    app.include_router(signing.router)
    app.include_router(documents.router)
    app.include_router(incoming.router)
    app.include_router(desk.router)
    app.include_router(audit.router)
    app.include_router(oversight.router)
    app.include_router(admin.router)
    app.include_router(oversight_admin.router)
    install_page_errors(app)
    app.add_middleware(session.ReadersLanguage)
