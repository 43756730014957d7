"""Văn bản đi in the pages: the agency's list and the document page (metadata, the PDF,
signatures with the server's verdicts, the timeline, each recipient's state)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.web.forms import FormErrors
from api.web.session import PageSession
from docmgmt.bootstrap import Container

router = APIRouter(prefix="/app", include_in_schema=False)


async def document_page(request: Request, session: PageSession, c: Container,
                        document_id: UUID, *, errors: FormErrors | None = None,
                        form: dict[str, Any] | None = None, open_action: str | None = None,
                        status_code: int = 200) -> Response:
    """The document page; a step's form refused is shown open, with its errors."""
    raise NotImplementedError  # built in the documents area
