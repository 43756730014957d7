"""The oversight mandates as the oversight view holds them: an admin's listing of all of
them, a user's of their own (asyncpg, keyset pages, newest grant first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from docmgmt.domain.common import Role
from docmgmt.domain.errors import UserNotFoundError
from docmgmt.kernel.principal import Principal

MAX_PAGE = 200

LIST_SQL = """
SELECT m.id, m.user_id, coalesce(p.full_name, '') AS full_name,
       coalesce(p.title, '') AS title, m.agency_id, coalesce(a.code, '') AS agency_code,
       coalesce(a.name, '') AS agency_name, m.valid_from, m.valid_to, m.legal_basis,
       m.revoked, m.revoked_reason, m.granted_by, m.granted_at, m.version,
       (NOT m.revoked AND m.valid_from IS NOT NULL AND m.valid_from <= $1
        AND (m.valid_to IS NULL OR $1 < m.valid_to)) AS in_force
FROM docmgmt.oversight_mandates m
LEFT JOIN docmgmt.oversight_people p ON p.id = m.user_id
LEFT JOIN docmgmt.oversight_agencies a ON a.id = m.agency_id
WHERE ($2::uuid IS NULL OR m.user_id = $2)
  AND ($3::timestamptz IS NULL OR (m.granted_at, m.id) < ($3, $4::uuid))
ORDER BY m.granted_at DESC, m.id DESC
LIMIT $5
"""


@dataclass(frozen=True)
class MandateRow:
    """One oversight mandate: whose, over which agency (and those below it), its term."""

    id: UUID
    user_id: UUID
    full_name: str
    title: str
    agency_id: UUID
    agency_code: str
    agency_name: str
    valid_from: datetime | None
    valid_to: datetime | None
    legal_basis: str
    revoked: bool
    revoked_reason: str
    granted_by: UUID | None
    granted_at: datetime
    version: int
    in_force: bool


async def list_oversight_mandates(
    pool: asyncpg.Pool, who: Principal, now: datetime, *, user_id: UUID | None = None,
    limit: int = 50, cursor: tuple[datetime, UUID] | None = None,
) -> tuple[list[MandateRow], tuple[datetime, UUID] | None]:
    """Admins: every mandate (or one user's); others: their own only (another user's
    answer as unknown). Newest grant first; the cursor of the next page, if any."""
    if Role.ADMIN not in who.roles:
        if user_id is not None and user_id != who.user_id:
            raise UserNotFoundError(f"user {user_id} not found")
        user_id = who.user_id
    limit = max(1, min(limit, MAX_PAGE))
    after, after_id = cursor if cursor is not None else (None, None)
    rows = await pool.fetch(LIST_SQL, now, user_id, after, after_id, limit + 1)
    items = [MandateRow(**dict(r)) for r in rows[:limit]]
    more = len(rows) > limit
    return items, (items[-1].granted_at, items[-1].id) if more else None
