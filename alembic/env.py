"""Alembic environment: the owner login comes from docmgmt, never from a file in the repo."""

from __future__ import annotations

from sqlalchemy import create_engine, pool, text

from alembic import context

config = context.config
url = config.attributes.get("owner_url")
if url is None:  # run as plain `alembic upgrade head`: use the docmgmt settings.
    from docmgmt.kernel.db import open_database
    from docmgmt.settings import Settings

    url = open_database(Settings()).owner.sqlalchemy_url()

SCHEMA = "docmgmt"


def run_migrations_online() -> None:
    """Apply migrations in one transaction, with the version table in the docmgmt schema."""
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        connection.commit()
        context.configure(
            connection=connection,
            version_table_schema=SCHEMA,
            transactional_ddl=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run `docmgmt migrate`")
run_migrations_online()
