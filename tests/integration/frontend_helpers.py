"""Shared by the front-end suites (CLI, AWX layout, inventory plugin): a catalog, fake hypervisors, play 1.

The hypervisors are never contacted: check mode decides on the controller, and the decide-only
playbook runs play 1 of provision.yml (checks, schedule, claims, IPs, store rows) without the build.
The environment, the controller inventory and the decide playbook are the lab toolkit's
(stratus_lab.ansible_run), shared with the reliability scenarios.
"""
from __future__ import annotations

import json
import subprocess
import typing as t
from pathlib import Path

from stratus_lab.ansible_run import DECIDE_PLAYBOOK, IMAGE_ID, caller_env, controller_inventory, env, write_yaml
from stratus_lab.paths import COLLECTIONS, ROOT, VENV_BIN

__all__ = ["CASES_DIR", "CATALOG", "COLLECTIONS", "DECIDE_PLAYBOOK", "IMAGE_ID", "NETWORK_ID", "ROOT", "VENV_BIN",
           "caller_env", "decide", "env", "inventory", "run_cases_playbook", "write_yaml"]

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


def inventory(hypervisors: t.Mapping[str, t.Mapping[str, t.Any]] | None = None,
              **capacity: t.Any) -> dict[str, t.Any]:
    """localhost (local connection) + hypervisors with the given capacity + the catalog as vars."""
    cap = {"stratus_vcpus": 4, "stratus_memory_mb": 4096, "stratus_local_gb": 40,
           "stratus_cpu_allocation_ratio": 1.0, "stratus_ram_allocation_ratio": 1.0,
           "stratus_disk_allocation_ratio": 1.0}
    cap.update(capacity)
    hvs = hypervisors if hypervisors is not None else {"hv1": {"stratus_availability_zone": "az1"},
                                                       "hv2": {"stratus_availability_zone": "az2"}}
    return controller_inventory(CATALOG, hvs, cap, interpreter="{{ ansible_playbook_python }}")


CASES_DIR = Path(__file__).resolve().parent / "nova_cases"


def run_cases_playbook(playbook: str, db_url: str, out: Path, timeout: float = 900) -> t.Any:
    """A playbook of nova_cases/ against this store (the operator's STRATUS_DB_URL); the JSON it writes to `out`."""
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(CASES_DIR / "inventory.yml"), str(CASES_DIR / playbook),
         "-e", "cases_out=%s" % out],
        capture_output=True, text=True, env=env(db_url=db_url),
        cwd=str(CASES_DIR), timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return json.loads(out.read_text())


def decide(tmp: Path, inventory_file: Path, db_url: str, servers: list[dict[str, t.Any]],
           caller: t.Optional[t.Mapping[str, t.Any]] = None) -> dict[str, t.Any]:
    """Run play 1 for these requests (non-check) with ansible-playbook, as `caller` (default: the inventory's)."""
    playbook = tmp / "decide.yml"
    if not playbook.exists():
        playbook.write_text(DECIDE_PLAYBOOK)
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory_file), str(playbook),
         "-e", json.dumps({"stratus_servers": servers})],
        capture_output=True, text=True, env=env(db_url=db_url, caller=caller), cwd=str(tmp),
        timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return {"stdout": proc.stdout}
