"""Small request helpers shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from docmgmt.bootstrap import Container
from docmgmt.domain.errors import InvalidInputError
from docmgmt.identity.context import IdentityContext
from docmgmt.incoming.handling import IncomingContext
from docmgmt.incoming.queries import ExchangeQueries
from docmgmt.kernel.store import DocMgmt
from docmgmt.outgoing.context import OutgoingContext


# The dependencies below are coroutines: a plain function would cost each request a trip
# through the thread pool.
async def get_container(request: Request) -> Container:
    """The running system."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def expected_version(
    if_match: Annotated[str | None, Header(description="The version you last read, e.g. \"3\"")]
    = None,
) -> int | None:
    """Optimistic concurrency: the version the client last saw (If-Match header)."""
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise InvalidInputError("If-Match must be a version number such as \"3\"")
    return int(value)


IfMatch = Annotated[int | None, Depends(expected_version)]


def pick_version(header: int | None, body: int | None) -> int | None:
    """The expected version from the If-Match header or the request body."""
    if header is not None and body is not None and header != body:
        raise InvalidInputError("If-Match and expected_version disagree")
    return header if header is not None else body


# --- each stage's steps get their context; query routes their read side -------------------


async def get_outgoing(c: ContainerDep) -> OutgoingContext:
    """The outgoing stage's context (văn bản đi), as the composition root built it."""
    return c.write.outgoing


async def get_incoming(c: ContainerDep) -> IncomingContext:
    """The incoming stage's context (văn bản đến)."""
    return c.write.incoming


async def get_identity(c: ContainerDep) -> IdentityContext:
    """The identity stage's context."""
    return c.write.identity


async def get_store(c: ContainerDep) -> DocMgmt:
    """The event store, for steps that need nothing else."""
    return c.write.app


async def get_exchange_reads(c: ContainerDep) -> ExchangeQueries:
    """Inbox, outbox, registers, dashboard and search (asyncpg)."""
    return c.exchange_reads


OutgoingDep = Annotated[OutgoingContext, Depends(get_outgoing)]
IncomingDep = Annotated[IncomingContext, Depends(get_incoming)]
IdentityDep = Annotated[IdentityContext, Depends(get_identity)]
StoreDep = Annotated[DocMgmt, Depends(get_store)]
ExchangeReadsDep = Annotated[ExchangeQueries, Depends(get_exchange_reads)]
