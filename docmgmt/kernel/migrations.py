"""Schema migrations (Alembic owns all DDL) and the start-up check that they ran."""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic.config import Config
from alembic.script import ScriptDirectory
from psycopg import sql

from alembic import command
from docmgmt.kernel.db import Database

ALEMBIC_DIR = Path(__file__).resolve().parents[2] / "alembic"


def _script_location() -> str:
    # The migrations sit beside the packages (editable install or source checkout); a
    # wheel-only install would otherwise silently point at the alembic library itself.
    if not (ALEMBIC_DIR / "env.py").is_file() or not (ALEMBIC_DIR / "versions").is_dir():
        raise RuntimeError(f"the migration scripts are missing from {ALEMBIC_DIR}; "
                           "install docmgmt from its source tree (pip install -e .)")
    return str(ALEMBIC_DIR)


class DatabaseNotMigratedError(RuntimeError):
    """The database schema is missing or older than this code."""


def migration_app_role() -> str:
    """Inside a migration: the application role to grant to, as given by `docmgmt migrate`.

    Checked to be a plain identifier, since migrations put it into DDL text.
    """
    from alembic import context

    role = str(context.config.attributes.get("app_role", "docmgmt_app"))
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name: {role!r}")
    return role


def alembic_config(db: Database) -> Config:
    """An Alembic configuration for this database's owner login."""
    cfg = Config()
    cfg.set_main_option("script_location", _script_location())
    cfg.attributes["owner_url"] = db.owner.sqlalchemy_url()
    cfg.attributes["app_role"] = db.app.user
    return cfg


def head_revision() -> str:
    """The newest migration in this code base."""
    cfg = Config()
    cfg.set_main_option("script_location", _script_location())
    head = ScriptDirectory.from_config(cfg).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {ALEMBIC_DIR}")
    return head


def upgrade(db: Database) -> None:
    """Create or upgrade every table, trigger and grant, then set the app login's password."""
    command.upgrade(alembic_config(db), "head")
    if db.app.password and db.app.user != db.owner.user:
        with psycopg.connect(db.owner.conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(db.app.user), sql.Literal(db.app.password)
                )
            )


def current_revision(db: Database) -> str | None:
    """The migration the database is at (None when it was never migrated)."""
    with psycopg.connect(db.app.conninfo()) as conn:
        exists = conn.execute("SELECT to_regclass('docmgmt.alembic_version')").fetchone()
        if not exists or exists[0] is None:
            return None
        row = conn.execute("SELECT version_num FROM docmgmt.alembic_version").fetchone()
        return None if row is None else str(row[0])


def require_migrated(db: Database) -> None:
    """Refuse to run on a database that is not at the head migration."""
    try:
        current = current_revision(db)
    except psycopg.OperationalError as exc:
        raise DatabaseNotMigratedError(
            f"cannot connect to the database as {db.app.user!r}: {exc}. "
            "Run `docmgmt migrate` first (it also creates the application role)."
        ) from exc
    head = head_revision()
    if current != head:
        raise DatabaseNotMigratedError(
            f"the database is at migration {current or 'none'}, this code needs {head}: "
            "run `docmgmt migrate`"
        )
