"""admin_pass and user data never reach Ansible's output: the real provision.yml at -vvv.

The hypervisors run their step modules on this machine against libvirt's in-memory test driver
(test:///default): the builds fail there (no image file), which is fine, the plans still travel.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from frontend_helpers import ROOT, VENV_BIN, env, inventory, write_yaml

SECRET_PASS = "Adm1nPassNeverShown"
SECRET_DATA = "VXNlckRhdGFOZXZlclNob3du"  # base64 of UserDataNeverShown


def test_admin_pass_and_user_data_not_in_verbose_output(tmp_path: Path) -> None:
    hosts = inventory({"hv1": {}})
    hosts["all"]["children"]["hypervisors"]["vars"].update(
        ansible_connection="local", ansible_python_interpreter=str(VENV_BIN / "python"),
        stratus_libvirt_uri="test:///default", stratus_base_pool_path=str(tmp_path / "base"),
        stratus_instance_pool_path=str(tmp_path / "instances"))
    inv = write_yaml(tmp_path / "hosts.yml", hosts)
    request = {"name": "s", "flavor": "m1.tiny", "image": "cirros", "networks": [{"name": "net1"}],
               "admin_pass": SECRET_PASS, "user_data": SECRET_DATA}
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-vvv", "-i", str(inv), str(ROOT / "playbooks" / "provision.yml"),
         "-e", json.dumps({"stratus_servers": [request]})],
        capture_output=True, text=True, env=env(STRATUS_DB_URL="sqlite:///%s" % (tmp_path / "s.db")),
        cwd=str(tmp_path), timeout=300, check=False)
    out = proc.stdout + proc.stderr
    assert "AnsiballZ_compute_block_devices" in out, out[-3000:]  # the plans did travel
    assert "(item=s)" in out, out[-3000:]
    assert SECRET_PASS not in out and SECRET_DATA not in out
