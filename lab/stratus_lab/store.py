# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state store, read (and for a fresh scenario, emptied) with plain SQL, as a harness checks it."""
from __future__ import annotations

import json
import re
import typing as t
from pathlib import Path


def sqlite_url(directory: Path) -> str:
    """The URL of the SQLite store in `directory` (made if missing), as STRATUS_STATE_DIR names it."""
    directory.mkdir(parents=True, exist_ok=True)
    return "sqlite:///%s" % (directory / "stratus.db")


def empty_store_url(backend: str, directory: Path, name: str, pg_base_url: t.Callable[[], str]) -> str:
    """An empty state store for a test: a SQLite file in ``directory``, or a fresh PostgreSQL database
    named ``name`` plus a random tail (unique when two suites share the test server) beside
    ``pg_base_url()``'s (called only for PostgreSQL: it may start the server)."""
    if backend == "sqlite":
        return sqlite_url(directory)
    import uuid

    from stratus_lab import pg_server

    stem = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:50]
    return pg_server.fresh_database(pg_base_url(), "%s_%s" % (stem, uuid.uuid4().hex[:8]))


def open_engine(db_url: str) -> t.Any:
    """A SQLAlchemy engine of the harness's own (the psycopg driver for PostgreSQL, as Stratus uses)."""
    import sqlalchemy as sa

    url = sa.engine.make_url(db_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(url)


def rows(db_url: str, query: str, **params: t.Any) -> list[t.Any]:
    """The rows of `query`; with `params` its :name placeholders are bound, without them the SQL is
    sent as written (so a literal such as a MAC address is never read as a placeholder)."""
    import sqlalchemy as sa

    engine = open_engine(db_url)
    try:
        with engine.connect() as conn:
            if params:
                return list(conn.execute(sa.text(query), params))
            return list(conn.exec_driver_sql(query))
    finally:
        engine.dispose()


def reset(db_url: str) -> None:
    """Drop every table of the store (the next run migrates again): a fresh PostgreSQL store."""
    import sqlalchemy as sa

    engine = open_engine(db_url)
    try:
        with engine.begin() as conn:
            meta = sa.MetaData()
            meta.reflect(conn)
            meta.drop_all(conn)
    finally:
        engine.dispose()


def as_json(value: t.Any, default: t.Any) -> t.Any:
    """A JSON column read with plain SQL: text on SQLite, already decoded on PostgreSQL."""
    if value is None:
        return default
    return json.loads(value) if isinstance(value, str) else value
