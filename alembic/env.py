"""Alembic environment: the product's own engine and models, so migrations run on SQLite and PostgreSQL alike."""
from alembic import context

from rxapp.plumbing.db import make_engine
from rxapp.plumbing.tables import metadata

config = context.config
if config.get_main_option("sqlalchemy.url") in (None, "", "from-settings"):
    # Run from the command line: use the product's own configuration (DATABASE_URL or the SQLite default).
    from rxapp.plumbing.config import settings

    config.set_main_option("sqlalchemy.url", settings().database_url.replace("%", "%%"))
target_metadata = metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = make_engine(config.get_main_option("sqlalchemy.url"))
    with connectable.connect() as connection:
        # render_as_batch lets later migrations alter tables on SQLite too.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
