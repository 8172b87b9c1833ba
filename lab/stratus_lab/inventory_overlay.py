"""An inventory source of variables for the group `all`, for the harnesses (tests, bench, reliability).

Catalog variables (flavors, quotas, key pairs, ...) are the operator's inventory, not launch input:
Stratus refuses them as extra variables (docs/trust-model.md). A harness that needs a catalog of
its own writes it here and passes the directory as the last `-i`: the group_vars/all of a later
inventory source beats those of the earlier ones (the demo's inventory/group_vars/all).
"""
from __future__ import annotations

import json
import os
import typing as t
from pathlib import Path


def write(directory: Path, variables: t.Mapping[str, t.Any]) -> Path:
    """The overlay inventory at `directory` (made or replaced); pass it with -i after the others."""
    (directory / "group_vars").mkdir(parents=True, exist_ok=True)
    hosts = directory / "hosts.yml"
    if not hosts.exists():
        hosts.write_text("# variables only: see group_vars/all.yml\nall: {}\n")
    # JSON is YAML; mode 0600 (a catalog may hold key pairs); renamed into place, so that a run
    # starting meanwhile reads the old file or the new one, never half of one
    target = directory / "group_vars" / "all.yml"
    part = target.with_name(".all.yml.%d" % os.getpid())
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fp:
        fp.write(json.dumps(dict(variables), indent=1))
    os.replace(part, target)
    return directory


def write_host(directory: Path, host: str, variables: t.Mapping[str, t.Any]) -> Path:
    """An inventory source giving one host variables of its own (they beat the lab inventory's when passed after
    it): how a test makes one hypervisor fail a step (a fault injected through its variables)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hosts.yml").write_text(json.dumps({"all": {"hosts": {host: dict(variables)}}}))
    return directory
