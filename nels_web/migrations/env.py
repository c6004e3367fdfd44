"""Alembic's environment: the migrations run on the connection nels_web.schema
hands over (``config.attributes["connection"]``, inside its transaction), and
are compared with every table on Base.metadata.

A new revision, from a database at head (SQLite renders batch operations,
which SQLite needs to alter a table)::

    from alembic import command
    from nels_web import schema
    from seek_plugin.db import open_engine

    with open_engine(url).begin() as conn:
        command.revision(
            schema.alembic_config(conn), "what it changes", autogenerate=True, rev_id="0003_..."
        )

then read it: autogenerate misses some changes and guesses others.
"""

from alembic import context

from nels_web.schema import COMPARED, TABLES

connection = context.config.attributes.get("connection")
if connection is None:  # no URL in a file here: a URL's password stays out of settings
    raise RuntimeError("run the migrations through nels_web.schema (nels-bundle db upgrade)")
context.configure(
    connection=connection,
    target_metadata=TABLES,
    render_as_batch=True,
    **COMPARED,
)
with context.begin_transaction():
    context.run_migrations()
