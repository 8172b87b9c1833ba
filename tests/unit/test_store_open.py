"""Opening the store: alembic runs only when the schema is not at the version scripts' head."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

VERSIONS = Path(store.MIGRATIONS) / "versions"


def fresh_engine(path: Path) -> sa.engine.Engine:
    return store._sqlite_engine(sa.engine.make_url("sqlite:///%s" % path))


def test_script_heads_is_the_last_revision_of_the_chain() -> None:
    numbers = sorted(p.name.split("_", 1)[0] for p in VERSIONS.glob("[0-9]*_*.py"))
    assert store._script_heads() == frozenset({numbers[-1]})


def test_a_script_not_in_the_plain_form_leaves_the_decision_to_alembic(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "versions" / "0001_x.py").write_text('revision = "0001"\ndown_revision = ("a", "b")\n')
    monkeypatch.setattr(store, "MIGRATIONS", str(tmp_path))
    assert store._script_heads() is None


def test_a_store_at_head_is_opened_without_alembic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = fresh_engine(tmp_path / "stratus.db")
    assert not store._at_head(engine)  # empty: alembic creates the schema
    store._migrate(engine)
    assert store._at_head(engine)
    # at head, a second open must not need alembic at all
    monkeypatch.setitem(sys.modules, "alembic", None)
    store._migrate(fresh_engine(tmp_path / "stratus.db"))


def test_a_store_behind_the_head_is_migrated(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path / "stratus.db")
    store._migrate(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'not-a-head'")
    assert not store._at_head(engine)
    with pytest.raises(Exception, match="not-a-head"):  # alembic decides, and refuses a revision it does not know
        store._migrate(engine)


def test_a_read_transaction_neither_waits_for_a_writer_nor_writes(db_url: str) -> None:
    """The API's GET routes read in read transactions: on SQLite one reads its snapshot while another
    transaction holds the write lock (BEGIN IMMEDIATE) and does not see that one's uncommitted row; a write in
    it fails on both backends. An ordinary transaction after it writes again (query_only is reset)."""
    import threading

    from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import identity_projects as table

    with store.transaction(db_url) as conn:
        conn.execute(table.insert().values(id="before", name="before", description="", enabled=True,
                                           created_at=sa.func.now()))
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store.transaction(db_url) as conn:
            conn.execute(table.insert().values(id="during", name="during", description="", enabled=True,
                                               created_at=sa.func.now()))
            holding.set()
            release.wait(60)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(60)
        with store.read_transaction(db_url) as conn:  # would wait up to busy_timeout (60 s) if it took the lock
            seen = {r.id for r in conn.execute(sa.select(table.c.id))}
        assert seen == {"before"}
    finally:
        release.set()
        thread.join(60)
    with pytest.raises(sa.exc.DBAPIError):
        with store.read_transaction(db_url) as conn:
            conn.execute(table.delete())
    with store.transaction(db_url) as conn:
        conn.execute(table.delete().where(table.c.id == "during"))
    with store.read_transaction(db_url) as conn:
        assert {r.id for r in conn.execute(sa.select(table.c.id))} == {"before"}
