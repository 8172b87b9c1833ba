"""Starting `stratus api`: read the inventory's catalog and open the store once (so a bad inventory or store
is said before anything listens), write the workers' configuration to a 0600 file, run uvicorn."""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import ssl
import tempfile
import typing as t
from pathlib import Path

from stratus_cli.errors import CliError
from stratus_cli.inventory import controller_vars, group_hosts, hostvars, inventory_listing, rendered_hostvars


def load_config(store_url: str, sources: list[str], public_url: t.Optional[str],
                token_ttl_seconds: int) -> t.Any:
    from stratus_cli.api.app import Config, build_app
    from stratus_cli.api.collection import ensure_importable

    ensure_importable()
    from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine

    listed = inventory_listing(sources)
    all_vars = hostvars(listed)
    nodes = group_hosts(listed, "baremetal_nodes")
    # templated as a task sees them: the create decides here, with the catalog's image files and capacities
    wanted = set(group_hosts(listed, "hypervisors") + nodes) | {"localhost"}
    all_vars.update(rendered_hostvars(sources, {h: v for h, v in all_vars.items() if h in wanted}))
    listed = dict(listed, _meta={"hostvars": all_vars})
    config = Config(store_url=store_url, variables=controller_vars(listed, sources), inventories=list(sources),
                    hypervisors=group_hosts(listed, "hypervisors"), baremetal_nodes=nodes,
                    hostvars={h: all_vars.get(h) or {} for h in group_hosts(listed, "hypervisors") + nodes},
                    public_url=public_url.rstrip("/") if public_url else None, token_ttl_seconds=token_ttl_seconds)
    try:
        engine.get_engine(store_url)  # migrations run here, once, before any worker
        build_app(config)  # the catalog and policy checked as every worker will
    except StratusError as exc:
        raise CliError(exc.code, exc.message, exc.field)
    return config


def _tls(cert: t.Optional[Path], key: t.Optional[Path]) -> dict[str, t.Any]:
    if cert is None and key is None:
        return {}
    if cert is None or key is None:
        raise CliError("InvalidInput", "--cert and --key go together", "--cert" if cert is None else "--key", 2)
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise CliError("InvalidInput", "cannot use the certificate %s with the key %s: %s"
                       % (cert, key, getattr(exc, "strerror", None) or exc.__class__.__name__), "--cert", 2)
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}


def serve(config: t.Any, host: str, port: int, workers: int, cert: t.Optional[Path], key: t.Optional[Path],
          log_level: str = "info") -> None:
    import uvicorn

    from stratus_cli.api.app import CONFIG_ENV, STORE_ENV
    from stratus_cli.api.edge import LOG_FORMAT
    from stratus_cli.api.tcp import PROTOCOL

    tls = _tls(cert, key)
    logging.basicConfig(level=getattr(logging, log_level.upper()), format=LOG_FORMAT)
    # The workers read the configuration from a file that has no name: unlinked at once, reached through this
    # process's /proc/<pid>/fd/<fd> for as long as it runs, so nothing is left behind however it ends. The
    # store's URL (it may hold a PostgreSQL password) goes to them in the environment, not in the file.
    data = dict(dataclasses.asdict(config), store_url=None)
    fd, path = tempfile.mkstemp(prefix="stratus-api-", suffix=".json")  # 0600
    os.unlink(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", closefd=False) as handle:
            json.dump(data, handle, default=str)
        os.environ[CONFIG_ENV] = "/proc/%d/fd/%d" % (os.getpid(), fd)
        os.environ[STORE_ENV] = config.store_url
        uvicorn.run("stratus_cli.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, server_header=False, proxy_headers=False, http=PROTOCOL, **tls)
    finally:
        os.close(fd)
