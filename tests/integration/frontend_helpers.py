"""Shared by the front-end suites (CLI, AWX layout, inventory plugin): a catalog, fake hypervisors, play 1.

The hypervisors are never contacted: check mode decides on the controller, and the decide-only
playbook runs play 1 of provision.yml (checks, schedule, claims, IPs, store rows) without the build.
"""
from __future__ import annotations

import json
import os
import subprocess
import typing as t
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
COLLECTIONS = ROOT / ".ansible" / "collections"
IMAGE_ID = "11111111-2222-4333-8444-555555555555"
NETWORK_ID = "8d3c1a0e-6a7e-4a57-8a8f-0d5b6c2f4e99"

CATALOG: dict[str, t.Any] = {
    "stratus_context": {"user_id": "alice", "project_id": "pa", "roles": ["member"]},
    "stratus_flavors": [
        {"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 256, "disk": 1},
        {"id": "2", "name": "m1.big", "vcpus": 2, "ram": 1024, "disk": 5},
    ],
    "stratus_images": [{"id": IMAGE_ID, "name": "cirros", "disk_format": "qcow2"}],
    "stratus_networks": [{"id": NETWORK_ID, "name": "net1", "cidr": "10.77.0.0/24"}],
    "stratus_quotas": {"defaults": {"instances": 50, "cores": 100, "ram": 512000}},
}

# Play 1 of provision.yml as the front-end tests need it: each item of stratus_servers is one request.
DECIDE_PLAYBOOK = """---
# Play 1 of provision.yml only: decide, claim and write the store; the hypervisors are not contacted.
- name: Decide what to build
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Request servers
      stratus.compute.server:
        request: "{{ item }}"
      loop: "{{ stratus_servers | default([]) }}"
      loop_control:
        label: "{{ item.name }}"
      register: stratus_requests

    - name: Read this run's servers from the state store
      stratus.compute.server_info:
        uuids: "{{ stratus_requests.results | map(attribute='server_uuids') | flatten }}"
"""


def inventory(hypervisors: t.Mapping[str, t.Mapping[str, t.Any]] | None = None,
              **capacity: t.Any) -> dict[str, t.Any]:
    """localhost (local connection) + hypervisors with the given capacity + the catalog as vars."""
    cap = {"stratus_vcpus": 4, "stratus_memory_mb": 4096, "stratus_local_gb": 40,
           "stratus_cpu_allocation_ratio": 1.0, "stratus_ram_allocation_ratio": 1.0,
           "stratus_disk_allocation_ratio": 1.0}
    cap.update(capacity)
    hvs = hypervisors if hypervisors is not None else {"hv1": {"stratus_availability_zone": "az1"},
                                                       "hv2": {"stratus_availability_zone": "az2"}}
    return {"all": {
        "hosts": {"localhost": {"ansible_connection": "local",
                                "ansible_python_interpreter": "{{ ansible_playbook_python }}"}},
        "children": {"hypervisors": {"hosts": {h: dict(v) for h, v in hvs.items()}, "vars": cap}},
        "vars": CATALOG,
    }}


def write_yaml(path: Path, data: t.Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def env(**extra: str) -> dict[str, str]:
    out = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS))
    for key in ("STRATUS_DB_URL", "STRATUS_STATE_DIR", "STRATUS_INVENTORY", "STRATUS_PLAYBOOK_DIR",
                "STRATUS_USER_ID", "STRATUS_PROJECT_ID", "STRATUS_ROLES", "STRATUS_OUTPUT", "STRATUS_LAB_DIR"):
        out.pop(key, None)
    out.update(extra)
    return out


CASES_DIR = Path(__file__).resolve().parent / "nova_cases"


def run_cases_playbook(playbook: str, db_url: str, out: Path, timeout: float = 900) -> t.Any:
    """A playbook of nova_cases/ against this store (the operator's STRATUS_DB_URL); the JSON it writes to `out`."""
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(CASES_DIR / "inventory.yml"), str(CASES_DIR / playbook),
         "-e", "cases_out=%s" % out],
        capture_output=True, text=True, env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                                                 STRATUS_DB_URL=db_url),
        cwd=str(CASES_DIR), timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return json.loads(out.read_text())


def caller_env(context: t.Optional[t.Mapping[str, t.Any]]) -> dict[str, str]:
    """The environment that names a caller, as an AWX credential or the CLI sets it (none: stratus_context)."""
    if context is None:
        return {}
    return {"STRATUS_USER_ID": context["user_id"], "STRATUS_PROJECT_ID": context["project_id"],
            "STRATUS_ROLES": ",".join(context.get("roles") or [])}


def decide(tmp: Path, inventory_file: Path, db_url: str, servers: list[dict[str, t.Any]],
           caller: t.Optional[t.Mapping[str, t.Any]] = None) -> dict[str, t.Any]:
    """Run play 1 for these requests (non-check) with ansible-playbook, as `caller` (default: the inventory's)."""
    playbook = tmp / "decide.yml"
    if not playbook.exists():
        playbook.write_text(DECIDE_PLAYBOOK)
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory_file), str(playbook),
         "-e", json.dumps({"stratus_servers": servers})],
        capture_output=True, text=True, env=env(STRATUS_DB_URL=db_url, **caller_env(caller)), cwd=str(tmp),
        timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return {"stdout": proc.stdout}
