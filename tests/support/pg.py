"""A real PostgreSQL for tests: the embedded pgserver cluster, or any server by URL.

Set DOCMGMT_TEST_DATABASE_URL to a superuser URL to use your own server. Each test gets a
fresh database cloned from a migrated template, so append-only tables never need cleaning.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import asyncpg
import psycopg
from psycopg import sql

from docmgmt.kernel import migrations
from docmgmt.kernel.db import Database, DatabaseStartError, PgParams, _start_embedded, parse_url
from docmgmt.kernel.readpool import open_read_pool

T = TypeVar("T")
TEMPLATE = "docmgmt_test_template"
APP_ROLE = "docmgmt_app"


@dataclass
class Cluster:
    """A running server with a migrated template database."""

    admin: PgParams
    server: object | None = None

    def new_database(self) -> Database:
        """A fresh, migrated database (a copy of the template)."""
        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.admin.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE)))
        owner = replace(self.admin, dbname=name)
        return Database(owner=owner, app=replace(owner, user=APP_ROLE, password=""))

    def drop_database(self, db: Database) -> None:
        """Remove a test database (connections are closed first)."""
        with psycopg.connect(self.admin.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(db.owner.dbname)))


@contextmanager
def running_cluster(workdir: Path) -> Iterator[Cluster]:
    """Start (or connect to) PostgreSQL and prepare the migrated template."""
    url = os.environ.get("DOCMGMT_TEST_DATABASE_URL")
    server = None
    if url:
        admin = parse_url(url)
    else:
        try:
            server = _start_embedded(workdir / "pgdata")
        except DatabaseStartError as exc:
            raise RuntimeError(
                f"{exc}\nThe tests need a real PostgreSQL: `pip install pgserver` (embedded) "
                "or set DOCMGMT_TEST_DATABASE_URL to a superuser URL of PostgreSQL >= 15."
            ) from exc
        info = server.get_postmaster_info()  # type: ignore[attr-defined]
        admin = PgParams(host=str(info.socket_dir), port=info.port or 5432,
                         dbname="postgres", user="postgres")
    with psycopg.connect(admin.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(TEMPLATE)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    owner = replace(admin, dbname=TEMPLATE)
    migrations.upgrade(Database(owner=owner, app=replace(owner, user=APP_ROLE)))
    try:
        yield Cluster(admin=admin, server=server)
    finally:
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]


def on_pool(db: Database, call: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run one read-side call on a fresh asyncpg pool (the application's login)."""
    async def run() -> T:
        pool = await open_read_pool(db.app, max_size=2)
        try:
            return await call(pool)
        finally:
            await pool.close()

    return asyncio.run(run())
