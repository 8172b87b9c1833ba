"""Every front end reads the same catalog: a zone that only a host aggregate gives (issue 15, item 10).

hv2's zone comes from `stratus_host_aggregates` alone. The scheduler lookup, the server module
(check mode and a real play 1) and hypervisor_info must all see hv2 in that zone.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from frontend_helpers import VENV_BIN, caller_env, env, inventory, write_yaml

ADMIN = {"user_id": "root", "project_id": "ops", "roles": ["admin"]}
PLAY = """---
- name: One zone, three front ends
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The scheduler lookup
      ansible.builtin.set_fact:
        looked_up: "{{ query('stratus.compute.scheduler', {'flavor': {'vcpus': 1, 'memory_mb': 256, 'root_gb': 1},
                                                          'availability_zone': 'az-agg'}, use_store=false) }}"
    - name: The server module, in check mode
      stratus.compute.server:
        request: {name: z1, flavor: m1.tiny, image: cirros, networks: [{name: net1}], availability_zone: az-agg}
      check_mode: true
      register: checked
    - name: The server module, for real
      stratus.compute.server:
        request: {name: z2, flavor: m1.tiny, image: cirros, networks: [{name: net1}], availability_zone: az-agg}
      register: made
    - name: Hypervisors as an admin sees them
      stratus.compute.hypervisor_info:
      vars:
        stratus_context: {user_id: root, project_id: ops, roles: [admin]}
      register: hypervisors
    - name: Write what each said
      ansible.builtin.copy:
        dest: "{{ out_file }}"
        mode: "0600"
        content: "{{ {'lookup': looked_up, 'checked': checked, 'made': made, 'hypervisors': hypervisors} | to_json }}"
"""


def test_a_zone_from_an_aggregate_is_seen_by_every_front_end(tmp_path: Path) -> None:
    hosts = inventory({"hv1": {}, "hv2": {}})
    hosts["all"]["vars"] = dict(hosts["all"]["vars"], stratus_host_aggregates=[
        {"name": "agg1", "hosts": ["hv2"], "availability_zone": "az-agg"}])
    inv = write_yaml(tmp_path / "hosts.yml", hosts)
    (tmp_path / "play.yml").write_text(PLAY)
    out = tmp_path / "out.json"
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(inv), str(tmp_path / "play.yml"),
                           "-e", "out_file=%s" % out], capture_output=True, text=True, cwd=str(tmp_path),
                          env=env(STRATUS_DB_URL="sqlite:///%s" % (tmp_path / "s.db"), **caller_env(None)),
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    said = json.loads(out.read_text())
    assert [s["host"] for s in said["lookup"]] == ["hv2"]
    assert [s["host"] for s in said["checked"]["servers"]] == ["hv2"], said["checked"]
    assert [s["host"] for s in said["made"]["servers"]] == ["hv2"], said["made"]
    zones = {h["hypervisor_hostname"]: h["availability_zone"] for h in said["hypervisors"]["hypervisors"]}
    assert zones == {"hv1": "nova", "hv2": "az-agg"}
