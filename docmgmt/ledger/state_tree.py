"""The state tree kept between checkpoints, and the state as of any tree size.

:class:`StateTree` holds the aggregates in id order (ids, last versions and positions as
flat arrays), their leaf hashes and every level of the tree. Applying the entries changed
since the last checkpoint rehashes only what they touch: an aggregate that moved on
rehashes its leaf and the nodes above it; a new aggregate shifts the leaves to its right,
so the nodes over them are rehashed from the cached leaf hashes (one pass of
:func:`~docmgmt.ledger.bulkhash.node_level` per level). Rows read from the database come
sorted by id with their leaf hashes computed by PostgreSQL, a handful of byte strings per
query, so no per-entry Python work is needed. Figures: bench/README.md.
"""

from __future__ import annotations

import bisect
import sys
from array import array
from collections.abc import Iterable
from typing import Any
from uuid import UUID

import psycopg

from docmgmt.ledger.bulkhash import HASH_SIZE, node_level
from docmgmt.ledger.merkle import EMPTY_ROOT, TreeLevels, inclusion_proof, node_hash
from docmgmt.ledger.state_leaf import STATE_TAG, STATE_VERSION, StateEntry

H = HASH_SIZE
_ID = 16
# The version-1 entry's leaf hash, computed by PostgreSQL (uuid_send: the UUID's 16 bytes;
# int8send: big-endian; the first parameter is 0x00 || tag || layout version), and each
# column aggregated in aggregate id order (uuid order is byte order), over the rows
# (aggregate id, last version, last position) of one of the queries below.
_COLUMNS = (
    "SELECT count(*),"
    " pg_catalog.string_agg(pg_catalog.uuid_send(i), ''::bytea ORDER BY i),"
    " pg_catalog.string_agg(pg_catalog.int8send(v), ''::bytea ORDER BY i),"
    " pg_catalog.string_agg(pg_catalog.int8send(p), ''::bytea ORDER BY i),"
    " pg_catalog.string_agg(pg_catalog.sha256(%(prefix)s::bytea || pg_catalog.uuid_send(i)"
    "  || pg_catalog.int8send(v) || pg_catalog.int8send(p)), ''::bytea ORDER BY i)"
)
_PREFIX = b"\x00" + STATE_TAG + bytes([STATE_VERSION])
# Every aggregate whose entry moved after a position (constant text: values are parameters).
CHANGED_AFTER = _COLUMNS + (  # noqa: S608
    " FROM (SELECT originator_id, last_version, last_position"
    " FROM docmgmt.ledger_state WHERE last_position > %(after)s) AS entries (i, v, p)")
# Every aggregate's last leaf up to a position (the state as of an older checkpoint).
AS_OF = _COLUMNS + (  # noqa: S608
    " FROM (SELECT DISTINCT ON (originator_id) originator_id, originator_version,"
    " position FROM docmgmt.ledger_leaves WHERE position <= %(upto)s"
    " ORDER BY originator_id, originator_version DESC) AS entries (i, v, p)")
# The same from one row per aggregate instead of one per leaf: the ``ledger_state`` rows
# not moved past the position, and for the few moved since, their last event up to it
# (the events' primary key is (originator_id, originator_version)).
AS_OF_STATE = _COLUMNS + (  # noqa: S608
    " FROM (SELECT originator_id, last_version, last_position FROM docmgmt.ledger_state"
    " WHERE last_position <= %(upto)s"
    " UNION ALL SELECT s.originator_id, e.originator_version, e.notification_id"
    " FROM docmgmt.ledger_state AS s CROSS JOIN LATERAL (SELECT originator_version,"
    " notification_id FROM docmgmt.docmgmt_events WHERE originator_id = s.originator_id"
    " AND notification_id <= %(upto)s ORDER BY originator_version DESC LIMIT 1) AS e"
    " WHERE s.last_position > %(upto)s) AS entries (i, v, p)")
# The next ``size`` events after position ``after``, straight from the event store: how
# many there are and the last one's position, then each aggregate's entry as of the last
# of them, as :data:`_COLUMNS` gives them. An aggregate's entry is its event with the
# greatest position among them (positions are unique, so the greatest pair (position,
# version) is that event's), found by hashing on the aggregate rather than sorting the
# span: half the server's time per checkpoint of 1,000 events (bench/README.md).
SPAN = (
    "WITH entries (i, v, p, n) AS (SELECT originator_id,"  # noqa: S608
    " (pg_catalog.max(ARRAY[notification_id, originator_version]))[2],"
    " pg_catalog.max(notification_id), count(*)"
    " FROM (SELECT notification_id, originator_id, originator_version"
    " FROM docmgmt.docmgmt_events WHERE notification_id > %(after)s"
    " ORDER BY notification_id LIMIT %(size)s) AS span GROUP BY originator_id)"
    " SELECT (SELECT coalesce(pg_catalog.sum(n), 0)::int8 FROM entries),"
    " (SELECT pg_catalog.max(p) FROM entries), state.*"
    f" FROM ({_COLUMNS} FROM entries) AS state")


def int64s(data: bytes) -> array[int]:
    """Big-endian 8-byte integers (PostgreSQL's int8send, concatenated) as an array."""
    values = array("q", data)
    if sys.byteorder == "little":
        values.byteswap()
    return values


class StateTree:
    """The state tree over every aggregate's entry, updated in place as the log grows.

    ``position``: the log position up to which entries were applied (a checkpointer
    applies the ``ledger_state`` rows changed after it, see :meth:`advance`).
    """

    def __init__(self) -> None:
        self.position = -(1 << 63)
        self._ids: list[bytes] = []
        self._versions = array("q")
        self._positions = array("q")
        self._levels: list[bytearray] = [bytearray()]

    @property
    def size(self) -> int:
        """How many aggregates (leaves)."""
        return len(self._ids)

    def apply(self, entries: Iterable[StateEntry]) -> None:
        """Set these aggregates' entries (the last one given for an aggregate wins)."""
        latest = {e.aggregate_id.bytes: e for e in entries}
        ordered = [latest[k] for k in sorted(latest)]
        self.apply_sorted(sorted(latest), array("q", [e.last_version for e in ordered]),
                          array("q", [e.last_position for e in ordered]),
                          b"".join(e.leaf_hash() for e in ordered))

    def apply_sorted(self, ids: list[bytes], versions: array[int], positions: array[int],
                     leaves: bytes) -> None:
        """Set the entries of ``ids`` (16-byte ids, strictly ascending) with their last
        versions, positions and leaf hashes (concatenated)."""
        if not self._ids:  # the first build: every node from the leaves
            self._ids, self._versions, self._positions = list(ids), versions, positions
            self._levels = [bytearray(leaves)]
            self._rehash(set(), 0 if ids else None)
            return
        changed: set[int] = set()
        new: list[int] = []
        at = 0
        for j, key in enumerate(ids):
            at = bisect.bisect_left(self._ids, key, at)
            if at < len(self._ids) and self._ids[at] == key:
                self._versions[at], self._positions[at] = versions[j], positions[j]
                self._levels[0][H * at:H * at + H] = leaves[H * j:H * j + H]
                changed.add(at)
            else:
                new.append(j)
        shift = self._merge(new, ids, versions, positions, leaves) if new else None
        self._rehash(changed, shift)

    def _merge(self, new: list[int], ids: list[bytes], versions: array[int],
               positions: array[int], leaves: bytes) -> int:
        """Insert the new aggregates ``ids[j] for j in new`` in one pass (one by one would
        move every leaf to their right each time); returns the index of the first one."""
        old = (self._ids, self._versions, self._positions, self._levels[0])
        out_ids: list[bytes] = []
        out_versions, out_positions = array("q"), array("q")
        out_leaves: list[bytes | bytearray] = []
        done = 0
        first = -1
        for j in new:
            at = bisect.bisect_left(old[0], ids[j], done)
            first = at if first < 0 else first
            out_ids += old[0][done:at]
            out_ids.append(ids[j])
            out_versions += old[1][done:at]
            out_versions.append(versions[j])
            out_positions += old[2][done:at]
            out_positions.append(positions[j])
            out_leaves += (old[3][H * done:H * at], leaves[H * j:H * j + H])
            done = at
        out_ids += old[0][done:]
        out_versions += old[1][done:]
        out_positions += old[2][done:]
        out_leaves.append(old[3][H * done:])
        self._ids, self._versions, self._positions = out_ids, out_versions, out_positions
        self._levels[0] = bytearray(b"".join(out_leaves))
        return first

    def _rehash(self, changed: set[int], shift: int | None) -> None:
        """Recompute the nodes over ``changed`` leaves and over every leaf from ``shift``."""
        if shift is not None:
            changed = {i for i in changed if i < shift}
        height = 0
        while len(self._levels[height]) >= 2 * H:
            below = self._levels[height]
            pairs = len(below) // (2 * H)
            if height + 1 == len(self._levels):
                self._levels.append(bytearray())
                shift = 0
            above = self._levels[height + 1]
            if shift is not None:
                shift //= 2
                above[H * shift:] = node_level(bytes(below[2 * H * shift:2 * H * pairs]))
            parents = {i // 2 for i in changed if i // 2 < pairs}
            for p in parents:
                above[H * p:H * p + H] = node_hash(bytes(below[2 * H * p:2 * H * p + H]),
                                                  bytes(below[2 * H * p + H:2 * H * p + 2 * H]))
            changed = parents
            height += 1

    def tree(self) -> TreeLevels:
        """The current tree (over the cached levels: use it before the next apply)."""
        return TreeLevels.from_levels(self._levels)

    def root(self) -> bytes:
        """The RFC 9162 root (SHA-256 of nothing while there is no entry)."""
        return EMPTY_ROOT if not self._ids else bytes(self.tree().root())

    def entry(self, aggregate_id: UUID) -> StateEntry | None:
        """The entry of an aggregate, None if it has none."""
        i = bisect.bisect_left(self._ids, aggregate_id.bytes)
        if i == len(self._ids) or self._ids[i] != aggregate_id.bytes:
            return None
        return StateEntry(aggregate_id, self._versions[i], self._positions[i])

    def proof(self, aggregate_id: UUID, tree: TreeLevels | None = None) -> dict[str, Any]:
        """JSON-ready proof of an aggregate's entry, or of its absence (its neighbours)."""
        tree = tree or self.tree()
        key = aggregate_id.bytes
        i = bisect.bisect_left(self._ids, key)
        if i < len(self._ids) and self._ids[i] == key:
            return {"aggregate_id": str(aggregate_id), "present": True,
                    **self._leaf_proof(tree, i)}
        # Absent: the entries on both sides of where it would be sorted, adjacent leaves.
        return {"aggregate_id": str(aggregate_id), "present": False,
                "neighbours": [self._leaf_proof(tree, j) for j in (i - 1, i)
                               if 0 <= j < len(self._ids)],
                "state_size": self.size}

    def _leaf_proof(self, tree: TreeLevels, i: int) -> dict[str, Any]:
        entry = StateEntry(UUID(bytes=self._ids[i]), self._versions[i], self._positions[i])
        return {"entry_hex": entry.encode().hex(), "leaf_index": i, "state_size": self.size,
                "last_version": entry.last_version, "last_position": entry.last_position,
                "inclusion_path": [p.hex() for p in inclusion_proof(tree, i)]}

    def read(self, conn: psycopg.Connection[Any], query: str, **params: int) -> None:
        """Apply the entries ``query`` (:data:`CHANGED_AFTER` or :data:`AS_OF`) gives,
        hashed and sorted by PostgreSQL."""
        found = conn.execute(query, {"prefix": _PREFIX, **params}, binary=True).fetchone()
        if found is None or not found[0]:
            return
        raw = bytes(found[1])
        self.apply_sorted([raw[k:k + _ID] for k in range(0, len(raw), _ID)],
                          int64s(bytes(found[2])), int64s(bytes(found[3])),
                          bytes(found[4]))

    def advance(self, conn: psycopg.Connection[Any], up_to: int) -> None:
        """Apply the ``ledger_state`` rows changed after :attr:`position`, in ``conn``'s
        snapshot, which holds the leaves up to position ``up_to``."""
        if up_to <= self.position:
            return
        self.read(conn, CHANGED_AFTER, after=self.position)
        self.position = up_to


def state_as_of(conn: psycopg.Connection[Any], last_position: int,
                signed: tuple[int, bytes] | None = None) -> StateTree:
    """The state tree of the leaves up to ``last_position``, from every leaf up to it.

    Given the ``signed`` (entries, root) it should have, it is read first from one row per
    aggregate (:data:`AS_OF_STATE`: ``ledger_state`` is kept from the leaves, and the
    events agree with them unless the log is damaged, which `docmgmt verify` names), and
    from the leaves only if that does not give the signed state.
    """
    if signed is not None:
        tree = StateTree()
        tree.read(conn, AS_OF_STATE, upto=last_position)
        if (tree.size, tree.root()) == signed:
            tree.position = last_position
            return tree
    tree = StateTree()
    tree.read(conn, AS_OF, upto=last_position)
    tree.position = last_position
    return tree


def state_root_problem(conn: psycopg.Connection[Any],
                       signed: list[tuple[int, tuple[int, bytes]]]) -> tuple[int, str] | None:
    """The first (tree size, explanation) whose signed state (entries, root) is not that
    of the first tree-size *events* in the store, or None.

    One query per checkpoint: PostgreSQL takes the events since the previous one, keeps
    each aggregate's last and hashes its entry (:data:`SPAN`), and the tree applies them.
    """
    tree, count, after = StateTree(), 0, -(1 << 63)
    for size, (entries, root) in sorted(signed):
        if size > count:
            found = conn.execute(SPAN, {"prefix": _PREFIX, "after": after, "size": size - count},
                                 binary=True).fetchone()
            if found is None or found[0] < size - count:
                return size, (f"the checkpoint covers {size} events but only"
                              f" {count + (found[0] if found else 0)} exist")
            _, last, _, ids, versions, positions, leaves = found
            count, after, raw = size, int(last), bytes(ids)
            tree.apply_sorted([raw[k:k + _ID] for k in range(0, len(raw), _ID)],
                              int64s(bytes(versions)), int64s(bytes(positions)),
                              bytes(leaves))
        if (tree.size, tree.root()) != (entries, root):
            return size, (
                f"the state tree of the first {size} events has {tree.size} entries "
                f"and root {tree.root().hex()}; the checkpoint signed {entries} and "
                f"{root.hex()}: an aggregate's last version was misstated")
    return None
