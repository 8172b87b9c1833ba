# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening the state store: SQLite by default, PostgreSQL by URL.

The URL comes from, in order: an explicit argument (the ``stratus_db_url``
variable), the ``STRATUS_DB_URL`` environment variable, else a SQLite file at
``$STRATUS_STATE_DIR/stratus.db`` (default ``~/.local/state/stratus``), created
on first use with mode 0600. Migrations run on open, under a lock, so the first
of several parallel runs creates the schema and the others wait for it.
"""
from __future__ import annotations

import contextlib
import os
import re
import threading
import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import placement_lock

DEFAULT_STATE_DIR = os.path.join("~", ".local", "state", "stratus")
# Alembic's scripts live at the collection root: they are data, not plugins.
MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.realpath(__file__))))), "migrations")
# A version script's own revision and the one it follows (the project writes them as plain string literals).
_REVISION_LINE = re.compile(r"^(?P<key>revision|down_revision)\s*(?::[^=]*)?=\s*(?P<value>None|\"[^\"]+\"|'[^']+')\s*$",
                            re.MULTILINE)
_ENGINES: dict[str, Engine] = {}
READ_ONLY = "stratus_read_only"  # the execution option of a read_transaction's connection
_ENGINES_LOCK = threading.Lock()


def resolve_url(url: t.Optional[str] = None) -> str:
    url = url or os.environ.get("STRATUS_DB_URL")
    if url:
        return url
    state_dir = os.path.expanduser(os.environ.get("STRATUS_STATE_DIR") or DEFAULT_STATE_DIR)
    return "sqlite:///" + os.path.join(state_dir, "stratus.db")


def redact(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL that does not parse has no password we can find either
        return "<unparsable database URL>"


def _prepare_sqlite_file(path: str) -> None:
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if not os.path.exists(path):
        # Create it 0600 before SQLite does, so the file is never world-readable.
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    os.chmod(path, 0o600)


def _sqlite_engine(url: sa.engine.URL) -> Engine:
    if url.database and url.database != ":memory:":
        _prepare_sqlite_file(url.database)
    engine = sa.create_engine(url, connect_args={"timeout": 60})

    # pysqlite defers BEGIN; every transaction here takes SQLite's write lock up
    # front (BEGIN IMMEDIATE), which is what serialises concurrent placements
    # across processes. A read_transaction instead begins DEFERRED with
    # query_only on: in WAL mode it waits for no writer and holds none up.
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: t.Any, _record: t.Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = bool(conn.get_execution_options().get(READ_ONLY))
        conn.exec_driver_sql("PRAGMA query_only=%d" % read_only)  # a connection's flag: set at every begin
        conn.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")

    return engine


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def _script_heads() -> t.Optional[frozenset[str]]:
    """The head revision(s) of the version scripts, read from their text; None when a script is not of the
    plain form (alembic then decides)."""
    revisions, parents = set(), set()
    directory = os.path.join(MIGRATIONS, "versions")
    for name in os.listdir(directory):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(directory, name), encoding="utf-8") as script:
            found = {m.group("key"): m.group("value") for m in _REVISION_LINE.finditer(script.read())}
        if "revision" not in found or "down_revision" not in found or found["revision"] == "None":
            return None
        revisions.add(found["revision"][1:-1])
        if found["down_revision"] != "None":
            parents.add(found["down_revision"][1:-1])
    return frozenset(revisions - parents) or None


def _at_head(engine: Engine) -> bool:
    """Whether the store's schema is at the scripts' head already: then there is nothing to migrate, and
    alembic's import and loading of every script (about 0.1 s of CPU in each process that opens the store;
    each Ansible task is one) are skipped."""
    heads = _script_heads()
    if heads is None:
        return False
    with engine.begin() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return False
        stamped = {row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")}
    return stamped == heads


def _migrate(engine: Engine) -> None:
    if _at_head(engine):
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Parallel first runs (AWX jobs) must not race to create the schema.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7301)")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def get_engine(url: t.Optional[str] = None) -> Engine:
    if sa is None:
        raise StratusError("InternalError", "the state store needs the Python packages SQLAlchemy and alembic "
                           "(and psycopg for PostgreSQL) on the controller; see setup/requirements.txt")
    resolved = resolve_url(url)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(resolved)
        if engine is not None:
            return engine
        try:
            parsed = sa.engine.make_url(resolved)
            if parsed.get_backend_name() == "sqlite":
                engine = _sqlite_engine(parsed)
            else:
                if parsed.drivername == "postgresql":
                    parsed = parsed.set(drivername="postgresql+psycopg")
                engine = sa.create_engine(parsed, pool_pre_ping=True)
            _migrate(engine)
        except StratusError:
            raise
        except Exception as exc:
            raise StratusError(
                "InternalError",
                "cannot open the state store %s: %s" % (redact(resolved), _first_line(exc)),
                "stratus_db_url",
            )
        _ENGINES[resolved] = engine
        return engine


@contextlib.contextmanager
def transaction(url: t.Optional[str] = None, locked: bool = False) -> t.Iterator[Connection]:
    """A transaction; with ``locked`` it holds the placement lock until commit."""
    engine = get_engine(url)
    with engine.begin() as conn:
        if locked:
            lock(conn)
        yield conn


@contextlib.contextmanager
def read_transaction(url: t.Optional[str] = None) -> t.Iterator[Connection]:
    """A transaction that only reads (a write in it fails): on SQLite it takes no write lock, so it neither
    waits for a writer nor makes one wait, and it reads one consistent snapshot (WAL); on PostgreSQL it is a
    READ ONLY transaction. For what only shows the store (the API's GET routes)."""
    engine = get_engine(url)
    with engine.connect() as plain:
        options: dict[str, t.Any] = {READ_ONLY: True}
        if plain.dialect.name == "postgresql":
            options["postgresql_readonly"] = True
        conn = plain.execution_options(**options)
        with conn.begin():
            yield conn


def lock(conn: Connection) -> None:
    """Hold the placement lock until this transaction ends (SQLite's BEGIN IMMEDIATE already serialises)."""
    if conn.dialect.name != "sqlite":
        conn.execute(sa.select(placement_lock.c.id).where(placement_lock.c.id == 1).with_for_update())
