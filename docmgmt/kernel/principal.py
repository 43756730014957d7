"""Who is asking: an authenticated user and the request they are making."""


from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from docmgmt.domain.common import (
    Actor,
    Role,
)
from docmgmt.domain.errors import (
    PermissionDeniedError,
)

# --- who is asking ----------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """An authenticated user and the request they are making."""

    user_id: UUID
    username: str
    agency_id: UUID
    unit_id: UUID | None
    roles: frozenset[Role]
    client_ip: str = ""
    user_agent: str = ""
    request_id: str = ""
    full_name: str = ""  # for display only; events record the user id and username

    @property
    def actor(self) -> Actor:
        """The accountability record for events."""
        return Actor(self.user_id, self.username, self.client_ip, self.user_agent,
                     self.request_id)

    def require(self, *roles: Role) -> None:
        """Raise PermissionDeniedError unless the user holds one of the roles."""
        if not self.roles.intersection(roles):
            names = ", ".join(r.value for r in roles)
            raise PermissionDeniedError(f"this action needs one of the roles: {names}")
