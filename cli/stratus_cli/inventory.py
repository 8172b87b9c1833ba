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


def rendered_hostvars(sources: list[str], listed: t.Mapping[str, t.Mapping[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    """The variables `listed` (ansible-inventory's, per host) as a task on each host sees them: Ansible's own
    inventory and variable managers,
    each variable templated (the catalog's image files are "{{ stratus_image_dir }}/..." in the demo
    inventory, and stratus_image_dir is relative to inventory_dir). A variable whose template needs what only
    a play has (playbook_dir, facts) is kept as written: the pipeline templates only the catalog it reads."""
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    try:
        manager = InventoryManager(loader=loader, sources=sources)
        variables = VariableManager(loader=loader, inventory=manager)
        out: dict[str, dict[str, t.Any]] = {}
        for name, names in listed.items():
            host = manager.get_host(name)
            if host is None:
                continue
            own = variables.get_vars(host=host, include_hostvars=False)
            templar = Templar(loader=loader, variables=own)
            rendered: dict[str, t.Any] = dict(names)
            for key in names:
                if key not in own:
                    continue
                try:
                    rendered[key] = templar.template(own[key])
                except AnsibleError:
                    rendered[key] = own[key]
            out[name] = json.loads(json.dumps(rendered, default=str))
        return out
    except AnsibleError as exc:
        raise CliError("ConfigurationError", "cannot read the inventory %s: %s"
                       % (", ".join(sources), str(exc).splitlines()[0] if str(exc) else type(exc).__name__),
                       "inventory")
