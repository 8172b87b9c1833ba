"""Database fixtures and the test markers. The checkout is importable as ansible_collections.stratus.compute
and the lab toolkit as stratus_lab: setup/bootstrap.sh installs both into .venv."""
from __future__ import annotations

import os
import typing as t
from pathlib import Path

import pytest

ALL_BACKENDS = ("sqlite", "postgresql")


def _wanted_backends() -> list[str]:
    return [b.strip() for b in os.environ.get("STRATUS_TEST_BACKENDS", "").split(",") if b.strip()]


# Unset or empty: every backend.
BACKENDS = [b for b in ALL_BACKENDS if b in _wanted_backends()] or list(ALL_BACKENDS)


def pytest_configure(config):  # type: ignore[no-untyped-def]
    config.addinivalue_line("markers", "lab: needs the namespaced libvirt lab (root, libvirtd, qemu)")
    unknown = sorted(set(_wanted_backends()) - set(ALL_BACKENDS))
    if unknown:
        raise pytest.UsageError("STRATUS_TEST_BACKENDS: unknown %s (choose from %s)"
                                % (", ".join(unknown), ", ".join(ALL_BACKENDS)))


@pytest.fixture(scope="session")
def pg_url() -> t.Iterator[str]:
    """A PostgreSQL server of our own for this session (shared with parallel sessions, stopped by the last)."""
    from stratus_lab import pg_server  # imported here: ansible-test units reads this file in a venv without it

    try:
        with pg_server.shared() as url:
            yield url
    except pg_server.PgServerError as exc:
        pytest.fail("PostgreSQL test server: %s" % exc, pytrace=False)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> t.Iterator[str]:
    """An empty state store for one test: a SQLite file, or a fresh PostgreSQL database."""
    from stratus_lab.store import empty_store_url

    url = empty_store_url(request.param, tmp_path / "state", request.node.originalname,
                          lambda: request.getfixturevalue("pg_url"))
    yield url
    # The store caches one engine per URL for the life of the process: close this
    # one, or every test leaves its pooled connections open on the server.
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

    cached = store._ENGINES.pop(url, None)
    if cached is not None:
        cached.dispose()
