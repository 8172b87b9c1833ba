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
