"""The config drive's secrets travel apart from the plans: what the step modules are invoked with
(and so what Ansible writes to a hypervisor's system log) holds none of them, and the module that
builds the config drive gets them back."""
from __future__ import annotations

import base64
import copy
import io
import json
import typing as t

import pycdlib
import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.stratus.compute.plugins.module_utils.compute import plan_secrets, steps
from ansible_collections.stratus.compute.plugins.module_utils.compute.common import (
    BLOCK_DEVICE_ARG_SPEC, SPAWN_ARG_SPEC, step_argument_spec)
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.step import secrets_apart

UUID = "6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11"
ADMIN_PASS = "Adm1n-Unit-5e2f"
USER_DATA_PLAIN = b"#cloud-config\npassword: UnitUserData-77c1\n"
USER_DATA = base64.b64encode(USER_DATA_PLAIN).decode()
FILE_PLAIN = b"token = UnitPersonality-90ab\n"
FILES = [{"path": "/etc/stratus/unit.conf", "contents": base64.b64encode(FILE_PLAIN).decode()}]
SECRETS = [ADMIN_PASS, USER_DATA, "UnitUserData-77c1", FILES[0]["contents"], "UnitPersonality-90ab"]


def plan(**config_drive: t.Any) -> dict[str, t.Any]:
    """A build plan as the conductor writes it (the parts a step module reads)."""
    cd = {"meta_data": {"uuid": UUID, "name": "s-1", "hostname": "s-1", "meta": {}, "admin_pass": ADMIN_PASS},
          "network_data": {"links": [], "networks": [], "services": []}, "user_data": USER_DATA, "files": FILES}
    cd.update(config_drive)
    disk = {"name": "%s-disk" % UUID, "kind": "image", "bus": "virtio", "device_name": "vda"}
    return {"uuid": UUID, "name": "s-1", "domain_name": "instance-%s" % UUID, "vm_state": "building",
            "flavor": {"vcpus": 1, "ram": 192}, "block_devices": [disk],
            "nics": [{"mac": "52:54:00:aa:bb:01", "ip": "10.240.0.10", "libvirt_network": "stratus-demo"}],
            "config_drive": cd}


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def test_split_takes_every_secret_out_and_merge_puts_them_back() -> None:
    original = plan()
    kept = copy.deepcopy(original)
    bare, secrets = plan_secrets.split([original])
    assert original == kept  # the plan in the store is left as it is
    assert leaks(json.dumps(bare)) == []
    assert bare[0]["config_drive"]["secrets"] == ["admin_pass", "files", "user_data"]
    assert secrets == {UUID: {"admin_pass": ADMIN_PASS, "user_data": USER_DATA, "files": FILES}}
    merged = plan_secrets.merge(bare[0], secrets)
    assert merged["config_drive"] == original["config_drive"]


def test_a_plan_without_secrets_or_config_drive_travels_as_it_is() -> None:
    bare, secrets = plan_secrets.split([plan(user_data=None, files=[], meta_data={"uuid": UUID}),
                                        dict(plan(), uuid="other", config_drive=None)])
    assert secrets == {}
    assert bare[0]["config_drive"]["secrets"] == []
    assert plan_secrets.merge(bare[0], {})["config_drive"]["user_data"] is None
    assert bare[1]["config_drive"] is None


def test_a_config_drive_is_never_built_without_its_secrets() -> None:
    bare, _secrets = plan_secrets.split([plan()])
    with pytest.raises(StratusError) as info:
        plan_secrets.merge(bare[0], {})
    assert info.value.field == "secrets"
    assert leaks(str(info.value)) == []


@pytest.mark.parametrize("module, state, gets_secrets", [
    ("stratus.compute.compute_block_devices", "present", True),
    ("stratus.compute.compute_converge", "present", True),
    ("stratus.compute.compute_block_devices", "absent", False),
    ("stratus.compute.compute_network", "present", False),
    ("stratus.compute.compute_network", "absent", False),
    ("stratus.compute.compute_domain", "present", False),
])
def test_only_the_config_drive_builders_get_the_secrets(module: str, state: str, gets_secrets: bool) -> None:
    args = secrets_apart(module, {"uri": "qemu:///system", "state": state, "instances": [plan()]})
    assert leaks(json.dumps(args["instances"])) == []
    assert ("secrets" in args) is gets_secrets


def invocation_logged(monkeypatch: pytest.MonkeyPatch, args: dict[str, t.Any], spec: dict[str, t.Any]) -> str:
    """What AnsibleModule writes to the system log when a module starts with these arguments."""
    logged: list[str] = []
    monkeypatch.setattr(basic.AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy")  # what AnsiballZ sets for a module
    module = basic.AnsibleModule(argument_spec=spec)
    assert module.params["instances"][0]["uuid"] == UUID  # the plans themselves are not masked
    return "\n".join(logged)


@pytest.mark.parametrize("module, spec", [
    ("stratus.compute.compute_block_devices", step_argument_spec(BLOCK_DEVICE_ARG_SPEC)),
    ("stratus.compute.compute_converge", step_argument_spec(BLOCK_DEVICE_ARG_SPEC, SPAWN_ARG_SPEC)),
    ("stratus.compute.compute_network", step_argument_spec()),
    ("stratus.compute.compute_domain", step_argument_spec(SPAWN_ARG_SPEC)),
])
def test_the_module_invocation_log_line_has_no_secret(monkeypatch: pytest.MonkeyPatch, module: str,
                                                      spec: dict[str, t.Any]) -> None:
    args = secrets_apart(module, {"uri": "qemu:///system", "state": "present", "instances": [plan()]})
    line = invocation_logged(monkeypatch, args, spec)
    assert line.startswith("Invoked with") and UUID in line and "'virtio'" in line
    assert leaks(line) == []


def test_the_config_drive_gets_every_secret_back() -> None:
    bare, secrets = plan_secrets.split([plan()])
    image = steps.config_drive_image(plan_secrets.merge(bare[0], secrets)["config_drive"])
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(image))
    try:
        def read(path: str) -> bytes:
            out = io.BytesIO()
            iso.get_file_from_iso_fp(out, rr_path=path)
            return out.getvalue()
        meta = json.loads(read("/openstack/latest/meta_data.json"))
        assert meta["admin_pass"] == ADMIN_PASS
        assert meta["files"] == [{"path": "/etc/stratus/unit.conf", "content_path": "/content/0000"}]
        assert read("/openstack/latest/user_data") == USER_DATA_PLAIN
        assert read("/openstack/content/0000") == FILE_PLAIN
    finally:
        iso.close()


def test_bad_injected_file_contents_are_refused_without_echoing_them() -> None:
    with pytest.raises(StratusError) as info:
        steps.injected_files([{"path": "/a", "contents": "not base64 UnitPersonality-90ab!"}])
    assert info.value.field == "personality" and leaks(str(info.value)) == []
