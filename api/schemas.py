"""Response bodies shared by the routers of several stages."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel


class Created(BaseModel):
    """The id and version of what a command created or changed."""

    id: UUID
    version: int
