"""Who may oversee what: the agency tree and the oversight mandates in force (asyncpg).

A mandate for an agency covers it and every agency below it (``parent_id``). Anything
outside the caller's mandates answers as if it did not exist (404): admins hold no special
right here, they grant mandates, they do not read through them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg

from docmgmt.domain.errors import AgencyNotFoundError
from docmgmt.kernel.principal import Principal
from docmgmt.oversight.model import Level

S = "docmgmt"


@dataclass(frozen=True)
class AgencyNode:
    """One agency of the tree."""

    id: UUID
    code: str
    name: str
    parent_id: UUID | None


@dataclass(frozen=True)
class AgencyTree:
    """Every agency, with its children (sorted by code)."""

    nodes: dict[UUID, AgencyNode]
    children: dict[UUID, list[UUID]] = field(default_factory=dict)

    @classmethod
    def of(cls, nodes: list[AgencyNode]) -> AgencyTree:
        """The tree of these agencies; a parent that is not among them makes a root."""
        by_id = {n.id: n for n in nodes}
        children: dict[UUID, list[UUID]] = {}
        for node in sorted(nodes, key=lambda n: (n.code, str(n.id))):
            if node.parent_id is not None and node.parent_id in by_id:
                children.setdefault(node.parent_id, []).append(node.id)
        return cls(by_id, children)

    def subtree(self, agency_id: UUID) -> list[UUID]:
        """The agency and every agency below it, breadth first (empty if unknown)."""
        if agency_id not in self.nodes:
            return []
        out: list[UUID] = []
        seen: set[UUID] = set()
        queue = deque([agency_id])
        while queue:
            current = queue.popleft()
            if current in seen:  # a cycle in odd data must not loop forever
                continue
            seen.add(current)
            out.append(current)
            queue.extend(self.children.get(current, ()))
        return out

    def path(self, root: UUID, agency_id: UUID) -> list[UUID] | None:
        """The agencies from ``root`` down to ``agency_id``, or None if it is not below."""
        chain: list[UUID] = []
        current: UUID | None = agency_id
        while current is not None and current in self.nodes and current not in chain:
            chain.append(current)
            if current == root:
                return list(reversed(chain))
            current = self.nodes[current].parent_id
        return None


async def agency_tree(pool: asyncpg.Pool) -> AgencyTree:
    """All agencies (id, code, name, parent) as the oversight view knows them."""
    rows = await pool.fetch(f"SELECT id, code, name, parent_id FROM {S}.oversight_agencies")  # noqa: S608
    return AgencyTree.of([AgencyNode(r["id"], r["code"], r["name"], r["parent_id"])
                          for r in rows])


async def oversight_roots(pool: asyncpg.Pool, user_id: UUID, now: datetime) -> list[UUID]:
    """The agencies the user holds an oversight mandate in force for (at ``now``)."""
    rows = await pool.fetch(
        f"SELECT m.agency_id FROM {S}.oversight_mandates m"  # noqa: S608
        f" LEFT JOIN {S}.oversight_agencies a ON a.id = m.agency_id"
        " WHERE m.user_id = $1 AND NOT m.revoked AND m.valid_from IS NOT NULL"
        " AND m.valid_from <= $2 AND (m.valid_to IS NULL OR $2 < m.valid_to)"
        " ORDER BY a.code NULLS LAST, m.agency_id", user_id, now)
    return [r["agency_id"] for r in rows]


def breadcrumbs(tree: AgencyTree, roots: list[UUID],
                agency_id: UUID) -> list[tuple[Level, UUID, str]]:
    """The way from the highest mandated root down to ``agency_id``; 404 outside them."""
    paths = [p for root in roots if (p := tree.path(root, agency_id)) is not None]
    if not paths:
        raise AgencyNotFoundError("no such agency within your oversight mandates",
                                  agency_id=str(agency_id))
    longest = max(paths, key=len)  # from the highest root: the whole way up is walkable
    return [(Level.AGENCY, a, tree.nodes[a].name) for a in longest]


async def scope(pool: asyncpg.Pool, who: Principal, agency_id: UUID, now: datetime,
                ) -> tuple[AgencyTree, list[tuple[Level, UUID, str]]]:
    """The tree and the breadcrumbs to ``agency_id`` if the caller may oversee it."""
    roots = await oversight_roots(pool, who.user_id, now)
    if not roots:
        raise AgencyNotFoundError("no such agency within your oversight mandates",
                                  agency_id=str(agency_id))
    tree = await agency_tree(pool)
    return tree, breadcrumbs(tree, roots, agency_id)


async def authorise(pool: asyncpg.Pool, who: Principal, agency_id: UUID,
                    now: datetime) -> list[tuple[Level, UUID, str]]:
    """Breadcrumbs from the mandate's root down to ``agency_id``; AgencyNotFoundError (404)
    when it is not within a mandate of the caller in force at ``now``."""
    return (await scope(pool, who, agency_id, now))[1]
