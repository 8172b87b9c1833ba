"""A bad catalog fails with the file, the path inside the variable and what is wrong."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = """\
stratus_context: {user_id: u, project_id: p, roles: [member]}
stratus_flavors:
  - {id: "1", name: m1.tiny, vcpus: 1, ram: 512, disk: 1}
stratus_images:
  - {id: img, name: img}
stratus_networks:
  - {id: n1, name: private, cidr: 10.30.0.0/24}
"""
PLAY = """\
- hosts: localhost
  gather_facts: false
  tasks:
    - stratus.compute.server: {name: x, flavor: "1", image: img, networks: none}
      check_mode: true
      register: out
      ignore_errors: true
    - ansible.builtin.copy: {dest: "{{ out_file }}", content: "{{ out | to_json }}", mode: "0600"}
"""
HYPERVISORS = """\
all:
  children:
    hypervisors:
      hosts:
        hv1: {stratus_vcpus: 4, stratus_memory_mb: 4096, stratus_local_gb: 20%s}
"""

# (extra catalog text, extra hv1 vars, expected field, key part of the message, line of the culprit or None)
CASES = [
    ("stratus_quotas:\n  defaults:\n    instancez: 5\n", "", "stratus_quotas.defaults.instancez",
     "Additional properties are not allowed", 10),
    ("stratus_policy:\n  'os_compute_api:servers:create': 'role:member and (project_id:%(project_id)s'\n", "",
     "stratus_policy.os_compute_api:servers:create", "", None),
    ("stratus_networks_extra: 1\nstratus_keypairs:\n  u:\n    - {name: k}\n", "", "stratus_keypairs.u[0].public_key",
     "'public_key' is a required property", 11),
    ("", ", stratus_cpu_allocation_ratio: -1", "hostvars[hv1].stratus_cpu_allocation_ratio",
     "less than or equal to the minimum of 0", None),
]


@pytest.mark.parametrize("extra,hv_extra,field,message,line", CASES, ids=[c[2] for c in CASES])
def test_bad_catalog(tmp_path: Path, extra: str, hv_extra: str, field: str, message: str,
                     line: int | None) -> None:
    (tmp_path / "group_vars" / "all").mkdir(parents=True)
    catalog = tmp_path / "group_vars" / "all" / "catalog.yml"
    catalog.write_text(GOOD + extra)
    (tmp_path / "inventory.yml").write_text(HYPERVISORS % hv_extra)
    (tmp_path / "play.yml").write_text(PLAY)
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "inventory.yml", "play.yml",
         "-e", "out_file=%s" % out],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                 STRATUS_DB_URL="sqlite:///%s" % (tmp_path / "s.db")))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    error = json.loads(out.read_text())["error"]
    assert error["code"] == "InvalidCatalog" and error["field"] == field, error
    assert message in error["message"] and field in error["message"], error
    if line is not None:
        assert error["message"].startswith("%s:%d: " % (catalog, line)), error
    assert "Traceback" not in error["message"]
