"""An inventory as ansible-inventory merges it: what `stratus awx survey` and `stratus api` read the catalog from."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

from stratus_cli.errors import CliError


def _ansible_inventory() -> str:
    beside = Path(sys.executable).parent / "ansible-inventory"
    found = str(beside) if beside.exists() else shutil.which("ansible-inventory")
    if not found:
        raise CliError("ConfigurationError", "ansible-inventory is not installed beside the CLI nor on the PATH",
                       "inventory")
    return found


def inventory_listing(sources: list[str]) -> dict[str, t.Any]:
    """`ansible-inventory --list` of the sources: groups and _meta.hostvars (variables not templated)."""
    argv = [_ansible_inventory(), "--list"]
    for source in sources:
        argv += ["-i", source]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CliError("ConfigurationError", "cannot run ansible-inventory: %s" % exc, "inventory")
    try:
        listed = json.loads(proc.stdout) if proc.returncode == 0 else None
    except ValueError:
        listed = None
    if not isinstance(listed, dict):
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        raise CliError("ConfigurationError", "cannot read the inventory %s: %s"
                       % (", ".join(sources), lines[-1] if lines else "no output"), "inventory")
    return listed


def hostvars(listed: t.Mapping[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    return dict((listed.get("_meta") or {}).get("hostvars") or {})


def group_hosts(listed: t.Mapping[str, t.Any], group: str) -> list[str]:
    return list((listed.get(group) or {}).get("hosts") or [])


def controller_vars(listed: t.Mapping[str, t.Any], sources: list[str]) -> dict[str, t.Any]:
    """The vars of localhost, where the controller's plays read the catalog, else of the first host that has
    stratus_flavors."""
    variables = hostvars(listed)
    hosts = sorted(variables, key=lambda h: h != "localhost")
    found = next((variables[h] for h in hosts if variables[h].get("stratus_flavors")), {})
    if not found:
        raise CliError("ConfigurationError", "the inventory %s has no catalog (stratus_flavors)"
                       % ", ".join(sources), "inventory")
    return dict(found)
