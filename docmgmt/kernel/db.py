"""Where PostgreSQL is: the embedded server (pgserver) or any server by URL."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import psycopg
from psycopg import sql

from docmgmt.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DBNAME = "docmgmt"
EMBEDDED_OWNER = "postgres"
EMBEDDED_APP_ROLE = "docmgmt_app"


class DatabaseStartError(RuntimeError):
    """The database could not be started or reached."""


@dataclass(frozen=True)
class PgParams:
    """Connection parameters for one PostgreSQL login (TCP host or Unix socket folder)."""

    host: str
    port: int
    dbname: str
    user: str
    password: str = ""

    def conninfo(self) -> str:
        """libpq key/value connection string, for psycopg."""
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=str(self.port),
            dbname=self.dbname,
            user=self.user,
            password=self.password or None,
            connect_timeout="5",
        )

    def asyncpg_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for asyncpg.create_pool."""
        return {
            "host": self.host,
            "port": self.port,
            "database": self.dbname,
            "user": self.user,
            "password": self.password or None,
        }

    def url(self) -> str:
        """libpq URL (Unix socket folders go in the ``host`` query parameter)."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        if self.host.startswith("/"):
            return (f"postgresql://{auth}@/{self.dbname}"
                    f"?host={quote(self.host, safe='/')}&port={self.port}")
        return f"postgresql://{auth}@{self.host}:{self.port}/{self.dbname}"

    def sqlalchemy_url(self) -> str:
        """SQLAlchemy URL (psycopg 3 driver) for Alembic."""
        return self.url().replace("postgresql://", "postgresql+psycopg://", 1)

    def eventsourcing_env(self, schema: str, pool_size: int) -> dict[str, str]:
        """The eventsourcing library's environment for this login; tables come from Alembic."""
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_SCHEMA": schema,
            "POSTGRES_POOL_SIZE": str(pool_size),
            # The library retries reads ten times: keep each attempt short so an outage
            # is reported in seconds, not minutes.
            "POSTGRES_CONNECT_TIMEOUT": "2",
            "POSTGRES_LOCK_TIMEOUT": "5",
            "POSTGRES_ENABLE_DB_FUNCTIONS": "y",
            "POSTGRES_PRE_PING": "y",
            "CREATE_TABLE": "n",
        }


def parse_url(url: str) -> PgParams:
    """Parse a libpq URL (``postgresql://user:pw@host:port/db`` or ``?host=/socket/dir``)."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "postgresql+psycopg"}:
        raise ValueError(f"not a PostgreSQL URL: scheme {parts.scheme!r}")
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    port = int(query.get("port", [parts.port or 5432])[0])
    return PgParams(
        host=host,
        port=port,
        dbname=unquote(parts.path.lstrip("/")) or "postgres",
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
    )


@dataclass
class Database:
    """The owner login (runs migrations) and the application login (runs the system)."""

    owner: PgParams
    app: PgParams
    embedded: Any = None

    def close(self) -> None:
        """Release the embedded server handle (stops it when this was the last user)."""
        if self.embedded is not None:
            with contextlib.suppress(Exception):
                self.embedded.cleanup()
            self.embedded = None


def _start_embedded(pgdata: Path) -> Any:
    # pgserver warns when XDG_RUNTIME_DIR is unset; give it a private runtime folder instead.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(pgdata.parent / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - dependency is pinned
        raise DatabaseStartError("the embedded PostgreSQL needs: pip install pgserver") from exc
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    except Exception as exc:
        raise DatabaseStartError(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}; "
            "see its log in that folder, or set DOCMGMT_DATABASE_URL to use a server"
        ) from exc


def open_database(settings: Settings) -> Database:
    """Start the embedded server or resolve the configured URLs, without touching tables."""
    if settings.database_url is None:
        server = _start_embedded(settings.pgdata)
        info = server.get_postmaster_info()
        host = str(info.socket_dir) if info.socket_dir else (info.hostname or "127.0.0.1")
        admin = PgParams(host=host, port=info.port or 5432, dbname="postgres", user=EMBEDDED_OWNER)
        _ensure_database(admin, EMBEDDED_DBNAME)
        owner = replace(admin, dbname=EMBEDDED_DBNAME)
        app = replace(owner, user=EMBEDDED_APP_ROLE)
        return Database(owner=owner, app=app, embedded=server)
    app = parse_url(settings.database_url.get_secret_value())
    migration = settings.migration_database_url or settings.database_url
    return Database(owner=parse_url(migration.get_secret_value()), app=app)


def _ensure_database(admin: PgParams, dbname: str) -> None:
    with psycopg.connect(admin.conninfo(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
