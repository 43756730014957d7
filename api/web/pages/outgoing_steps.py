"""The outgoing steps on the document page (draft, revise, comment, submit, approve, return,
sign, number, seal, dispatch, recall, link): their forms and the POSTs that run them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from docmgmt.kernel.principal import Principal

router = APIRouter(prefix="/app", include_in_schema=False)


def actions_for(who: Principal, document: dict[str, Any]) -> list[str]:
    """The steps the reader may take on the document now (by role and status)."""
    return []
