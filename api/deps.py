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


def get_container(request: Request) -> Container:
    """The running system."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def expected_version(
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


# --- incoming documents and the sender's side ---------------------------------------------


def incoming_context(request: Request) -> IncomingContext:
    """What the recipient's steps need."""
    return get_container(request).write.incoming


def exchange_reads(request: Request) -> ExchangeQueries:
    """Inbox, outbox, registers, dashboard and search (asyncpg)."""
    return get_container(request).exchange_reads


IncomingDep = Annotated[IncomingContext, Depends(incoming_context)]
ExchangeReadsDep = Annotated[ExchangeQueries, Depends(exchange_reads)]


# --- identity and audit steps ---------------------------------------------------------


def get_store(request: Request) -> DocMgmt:
    """The event store, for steps that need nothing else."""
    return get_container(request).write.app


def get_identity(request: Request) -> IdentityContext:
    """The identity stage's dependencies."""
    return get_container(request).write.identity


StoreDep = Annotated[DocMgmt, Depends(get_store)]
IdentityDep = Annotated[IdentityContext, Depends(get_identity)]
# --- outgoing (văn bản đi) ----------------------------------------------------------------


def get_outgoing(request: Request) -> OutgoingContext:
    """The outgoing stage's context, as the composition root built it."""
    return get_container(request).write.outgoing


OutgoingDep = Annotated[OutgoingContext, Depends(get_outgoing)]
