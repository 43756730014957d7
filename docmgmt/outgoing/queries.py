"""Read-side queries over the view tables, with asyncpg."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from docmgmt.domain.common import Role


@dataclass(frozen=True)
class UserRecord:
    """A user as the read model knows them (for authentication of each request)."""

    id: UUID
    username: str
    full_name: str
    title: str
    agency_id: UUID
    unit_id: UUID | None
    roles: frozenset[Role]
    active: bool
    version: int


DOCUMENT_COLUMNS = (
    "id, agency_id, unit_id, drafted_by, summary, doc_type, urgency, confidentiality,"
    " legal_normative, status, revision_count, current_sha256, current_file_name,"
    " current_size, current_page_count, comment_count, view_count, created_at, updated_at,"
    " version, approved_revision, signed_by, signing_capacity, number, code, number_label,"
    " issued_date, series, latest_sha256, validation"
)


def _document(row: Any) -> dict[str, Any]:
    document = dict(row)
    if document.get("validation"):
        document["validation"] = json.loads(document["validation"])
    return document


def _user(row: Any) -> UserRecord:
    # asyncpg returns its own UUID subclass; the domain wants the standard type.
    unit_id = row["unit_id"]
    return UserRecord(
        id=UUID(str(row["id"])), username=row["username"], full_name=row["full_name"],
        title=row["title"], agency_id=UUID(str(row["agency_id"])),
        unit_id=None if unit_id is None else UUID(str(unit_id)),
        roles=frozenset(Role(r) for r in row["roles"]), active=row["active"],
        version=row["version"],
    )


# What waits at each step, for everyone of the agency who works that step, and what waits for
# the drafter alone: queue name -> document status.
AGENCY_QUEUES = {"to_approve": "submitted", "to_sign": "approved", "to_number": "signed",
                 "to_seal": "numbered", "to_dispatch": "sealed"}
OWN_QUEUES = {"drafts": "draft", "returned": "returned"}
WORK_COUNT_CAP = 1000


class ReadModelQueries:
    """Queries for the API; every one is scoped by the caller's agency where it matters."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def get_user(self, user_id: UUID) -> UserRecord | None:
        """A user by id."""
        row = await self.pool.fetchrow(
            "SELECT id, username, full_name, title, agency_id, unit_id, roles, active, version"
            " FROM docmgmt.users_view WHERE id = $1",
            user_id,
        )
        return None if row is None else _user(row)

    async def get_user_and_session(self, user_id: UUID) -> tuple[UserRecord | None, int | None]:
        """A user by id and their credentials' current session generation (None without
        credentials), read in one query: every authenticated request asks for both."""
        row = await self.pool.fetchrow(
            "SELECT u.id, u.username, u.full_name, u.title, u.agency_id, u.unit_id, u.roles,"
            " u.active, u.version, c.session_generation"
            " FROM docmgmt.users_view u"
            " LEFT JOIN docmgmt.credentials c ON c.user_id = u.id WHERE u.id = $1",
            user_id,
        )
        if row is None:
            return None, None
        generation = row["session_generation"]
        return _user(row), None if generation is None else int(generation)

    async def get_document(self, agency_id: UUID, document_id: UUID) -> dict[str, Any] | None:
        """A document of the agency, with its revisions."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {DOCUMENT_COLUMNS} FROM docmgmt.documents_view"
                " WHERE id = $1 AND agency_id = $2",
                document_id, agency_id,
            )
            if row is None:
                return None
            revisions = await conn.fetch(
                "SELECT revision, sha256, size, page_count, file_name, note, uploaded_by,"
                " uploaded_at FROM docmgmt.revisions_view WHERE document_id = $1"
                " ORDER BY revision",
                document_id,
            )
            appendices = await conn.fetch(
                "SELECT number, title, sha256, size, page_count, file_name, sealed_sha256"
                " FROM docmgmt.appendices_view WHERE document_id = $1 ORDER BY number",
                document_id,
            )
        document = _document(row)
        document["revisions"] = [dict(r) for r in revisions]
        document["appendices"] = [dict(a) for a in appendices]
        return document

    async def list_documents(
        self, agency_id: UUID, *, limit: int, offset: int, status: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the agency's documents, most recently changed first, and the total."""
        where = "agency_id = $1" + (" AND status = $2" if status else "")
        args: list[Any] = [agency_id] + ([status] if status else [])
        async with self.pool.acquire() as conn:
            total = await conn.fetchval(
                f"SELECT count(*) FROM docmgmt.documents_view WHERE {where}", *args
            )
            rows = await conn.fetch(
                f"SELECT {DOCUMENT_COLUMNS} FROM docmgmt.documents_view WHERE {where}"
                f" ORDER BY updated_at DESC, id DESC LIMIT ${len(args) + 1}"
                f" OFFSET ${len(args) + 2}",
                *args, limit, offset,
            )
        return [_document(r) for r in rows], int(total)

    async def work_counts(self, agency_id: UUID, user_id: UUID, *,
                          cap: int = WORK_COUNT_CAP) -> dict[str, int]:
        """What waits at each step of the agency's outgoing documents (submitted, approved,
        signed, numbered, sealed), and the user's own drafts and returned drafts; each count
        stops at ``cap`` (a queue that long reads "cap or more")."""
        def capped(where: str) -> str:
            return (f"(SELECT count(*) FROM (SELECT 1 FROM docmgmt.documents_view"
                    f" WHERE {where} LIMIT $3) s)")

        steps = {name: capped(f"agency_id = $1 AND status = '{status}'")
                 for name, status in AGENCY_QUEUES.items()}
        mine = {name: capped(f"drafted_by = $2 AND agency_id = $1 AND status = '{status}'")
                for name, status in OWN_QUEUES.items()}
        row = await self.pool.fetchrow(
            "SELECT " + ", ".join(f"{sql} AS {name}" for name, sql in (steps | mine).items()),
            agency_id, user_id, cap)
        return {k: int(v) for k, v in dict(row).items()} if row else {}

    async def list_documents_after(
        self, agency_id: UUID, *, limit: int, cursor: tuple[datetime, UUID] | None,
        status: str | None = None,
    ) -> tuple[list[dict[str, Any]], tuple[datetime, UUID] | None]:
        """Keyset paging: the page after ``cursor`` and the cursor of the page after it.

        Costs the same at any depth (the index on agency, updated_at, id), and counts nothing.
        """
        args: list[Any] = [agency_id]
        where = "agency_id = $1"
        if status:
            args.append(status)
            where += f" AND status = ${len(args)}"
        if cursor is not None:
            args.extend(cursor)
            where += f" AND (updated_at, id) < (${len(args) - 1}, ${len(args)})"
        args.append(limit + 1)
        rows = await self.pool.fetch(
            f"SELECT {DOCUMENT_COLUMNS} FROM docmgmt.documents_view WHERE {where}"
            f" ORDER BY updated_at DESC, id DESC LIMIT ${len(args)}",
            *args,
        )
        items = [_document(r) for r in rows[:limit]]
        after = None
        if len(rows) > limit:
            last = rows[limit - 1]
            after = (last["updated_at"], UUID(str(last["id"])))
        return items, after

    async def list_recent_for_drafter(self, agency_id: UUID, user_id: UUID, since: datetime,
                                      limit: int = 30) -> list[dict[str, Any]]:
        """The user's own drafts that others moved on since ``since`` (returned, approved,
        signed, numbered, sealed, dispatched, recalled) or commented on, newest change
        first.

        Bounded by ``since`` on the agency's (updated_at) index: the scan never reaches
        back further than the window, however many documents the agency has.
        """
        rows = await self.pool.fetch(
            "SELECT id, summary, status, number_label, comment_count, updated_at"
            " FROM docmgmt.documents_view"
            " WHERE agency_id = $1 AND updated_at >= $3 AND drafted_by = $2"
            " AND (status <> ALL($4::text[]) OR comment_count > 0)"
            " ORDER BY updated_at DESC, id DESC LIMIT $5",
            agency_id, user_id, since, ["draft", "submitted"], limit)
        return [dict(r) for r in rows]

    async def list_agencies(self) -> list[dict[str, Any]]:
        """Every agency with its units."""
        async with self.pool.acquire() as conn:
            agencies = await conn.fetch(
                "SELECT id, code, name, parent_id, created_at, version"
                " FROM docmgmt.agencies_view ORDER BY code"
            )
            units = await conn.fetch(
                "SELECT id, agency_id, code, name FROM docmgmt.units_view ORDER BY code"
            )
        by_agency: dict[UUID, list[dict[str, Any]]] = {}
        for u in units:
            by_agency.setdefault(u["agency_id"], []).append(
                {"id": u["id"], "code": u["code"], "name": u["name"]}
            )
        return [dict(a) | {"units": by_agency.get(a["id"], [])} for a in agencies]

    async def get_agency(self, agency_id: UUID) -> dict[str, Any] | None:
        """One agency with its units (as list_agencies gives each), or None."""
        async with self.pool.acquire() as conn:
            agency = await conn.fetchrow(
                "SELECT id, code, name, parent_id, created_at, version"
                " FROM docmgmt.agencies_view WHERE id = $1", agency_id)
            if agency is None:
                return None
            units = await conn.fetch(
                "SELECT id, code, name FROM docmgmt.units_view WHERE agency_id = $1"
                " ORDER BY code", agency_id)
        return dict(agency) | {"units": [dict(u) for u in units]}

    async def list_users(self, agency_id: UUID | None) -> list[dict[str, Any]]:
        """Users, optionally of one agency."""
        rows = await self.pool.fetch(
            "SELECT id, username, full_name, title, agency_id, unit_id, roles, active, version"
            " FROM docmgmt.users_view WHERE ($1::uuid IS NULL OR agency_id = $1)"
            " ORDER BY username",
            agency_id,
        )
        return [dict(r) for r in rows]

    async def list_users_page(self, agency_id: UUID, *, after: str = "",
                              limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
        """One page of an agency's users by user name, those after ``after``; and the
        name the next page starts after (None on the last page)."""
        rows = await self.pool.fetch(
            "SELECT id, username, full_name, title, agency_id, unit_id, roles, active, version"
            " FROM docmgmt.users_view WHERE agency_id = $1 AND username > $2"
            " ORDER BY username LIMIT $3",
            agency_id, after, limit + 1,
        )
        users = [dict(r) for r in rows[:limit]]
        return users, users[-1]["username"] if len(rows) > limit else None

    async def referenced_blob_keys(self) -> set[str]:
        """Every object key some event names (for orphan collection)."""
        rows = await self.pool.fetch("SELECT DISTINCT blob_key FROM docmgmt.revisions_view")
        return {r["blob_key"] for r in rows}

    async def ping(self) -> None:
        """Raise if the database cannot answer."""
        await self.pool.fetchval("SELECT 1")
