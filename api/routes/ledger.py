"""Evidence ledger: the latest signed checkpoint and Merkle proofs against it."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.auth import CurrentUser
from api.deps import ContainerDep
from api.routing import ThreadedRoute
from docmgmt.domain.errors import InvalidInputError, NotFoundError
from docmgmt.ledger.proofs import (
    MAX_CHECKPOINTS_PAGE,
    ProofRequestError,
    list_checkpoints,
    prove_consistency,
    prove_inclusion,
    state_fields,
)

router = APIRouter(prefix="/ledger", tags=["ledger"], route_class=ThreadedRoute)

LATEST = (
    "SELECT tree_size, root_hash, created_at, note, signature IS NOT NULL AS signed,"
    " timestamp_token IS NOT NULL AS timestamped, state_entries, state_root"
    " FROM docmgmt.ledger_checkpoints ORDER BY tree_size DESC LIMIT 1"
)


@router.get("/checkpoints/latest")
async def latest_checkpoint(who: CurrentUser, c: ContainerDep) -> dict[str, Any]:
    """Điểm kiểm tra mới nhất / The newest signed checkpoint of the ledger: its note text
    (C2SP signed note), tree size, root hash (hex and base64), time, whether it carries
    a signature and an RFC 3161 timestamp, and (note format 2) the signed state tree's
    size and root."""
    async with c.pool.acquire() as conn:
        row = await conn.fetchrow(LATEST)
    if row is None:
        raise NotFoundError("the ledger has no checkpoint yet")
    root = bytes(row["root_hash"])
    return {"tree_size": int(row["tree_size"]), "root_hash": root.hex(),
            "root_hash_base64": base64.b64encode(root).decode(),
            "created_at": row["created_at"].isoformat(), "note": row["note"],
            "signed": bool(row["signed"]), "timestamped": bool(row["timestamped"]),
            **state_fields(row["state_entries"], row["state_root"])}


@router.get("/checkpoints")
def checkpoints(
    who: CurrentUser,
    c: ContainerDep,
    after: Annotated[int, Query(ge=0, description="next_after of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_CHECKPOINTS_PAGE)] = 100,
) -> dict[str, Any]:
    """Các điểm kiểm tra / Every signed checkpoint of the ledger, oldest first, a page at a
    time (tree size, root hash, time, signed, timestamped), so that an auditor can ask for
    a consistency proof between any two.

    Any signed-in user may read checkpoints and proofs, as the newest checkpoint: they
    hold tree sizes and hashes only, never a document's content, and whoever holds an
    evidence bundle must be able to check it against the log without asking for a right."""
    try:
        return list_checkpoints(c.write.db.app.conninfo(), after, limit)
    except ProofRequestError as exc:
        raise InvalidInputError(str(exc)) from None


@router.get("/proofs/inclusion")
def inclusion(
    who: CurrentUser,
    c: ContainerDep,
    position: Annotated[int, Query(ge=1, description="The event's notification id")],
    tree_size: Annotated[int, Query(ge=1, description="Size of the tree to prove against")],
) -> dict[str, Any]:
    """Bằng chứng bao hàm / RFC 9162 audit path of the event at ``position`` in the tree
    of the first ``tree_size`` ledger leaves; hashes are hex, the path bottom-up."""
    try:
        return prove_inclusion(c.write.db.app.conninfo(), position, tree_size)
    except ProofRequestError as exc:
        raise InvalidInputError(str(exc)) from None


@router.get("/proofs/consistency")
def consistency(
    who: CurrentUser,
    c: ContainerDep,
    first: Annotated[int, Query(ge=1, description="The smaller tree size")],
    second: Annotated[int, Query(ge=1, description="The larger tree size")],
) -> dict[str, Any]:
    """Bằng chứng nhất quán / RFC 9162 proof that the tree of ``first`` leaves is a prefix
    of the tree of ``second`` leaves; hashes are hex."""
    try:
        return prove_consistency(c.write.db.app.conninfo(), first, second)
    except ProofRequestError as exc:
        raise InvalidInputError(str(exc)) from None
