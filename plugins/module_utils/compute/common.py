# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every hypervisor step shares: its argument spec and the per-instance loop.

The argument spec here is mirrored one to one by the doc fragment
``stratus.compute.hypervisor``.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import os
import time
import traceback
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.compute.libvirt_conn import error_text
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

HYPERVISOR_ARG_SPEC: dict[str, t.Any] = {
    "uri": {"type": "str", "default": "qemu:///system"},
    "instances": {"type": "list", "elements": "dict", "default": []},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    # Read by the step's action plugin on the controller; the module ignores them.
    "run_uuids": {"type": "list", "elements": "str"},
    "building_only": {"type": "bool", "default": False},
    "db_url": {"type": "str", "no_log": True},
}


# Mirrored by the doc fragment stratus.compute.block_devices.
BLOCK_DEVICE_ARG_SPEC: dict[str, t.Any] = {
    "base_pool_path": {"type": "path", "default": "/var/lib/libvirt/stratus/base"},
    "instance_pool_path": {"type": "path", "default": "/var/lib/libvirt/stratus/instances"},
    "uploads": {"type": "dict", "default": {}},
    "image_checksums": {"type": "dict", "default": {}},
    # The plans' secrets (plan_secrets.py), never logged: these modules build config drives.
    "secrets": {"type": "dict", "default": {}, "no_log": True},
}

# Mirrored by the doc fragment stratus.compute.spawn.
SPAWN_ARG_SPEC: dict[str, t.Any] = {
    "domain_type": {"type": "str", "default": "auto", "choices": ["auto", "kvm", "qemu"]},
    "timeout": {"type": "float", "default": 60.0},
    "parallel": {"type": "int", "default": 4},
}


def _one_instance(step: t.Callable[[dict[str, t.Any]], dict[str, t.Any]],
                  inst: dict[str, t.Any]) -> dict[str, t.Any]:
    try:
        return dict(step(inst), ok=True)
    except StratusError as exc:
        return {"ok": False, "changed": False, "error": exc.to_dict()}
    except Exception as exc:  # a libvirt or OS error: the instance's fault, with its cause
        return {
            "ok": False, "changed": False,
            "error": {"code": "BuildAbortException", "message": error_text(exc), "field": None},
            "exception": traceback.format_exc(),
        }


def per_instance(instances: list[dict[str, t.Any]],
                 step: t.Callable[[dict[str, t.Any]], dict[str, t.Any]],
                 workers: int = 1) -> tuple[bool, dict[str, t.Any]]:
    """Run one step for each instance; one instance's failure is not the host's.

    With ``workers`` > 1 the first instance runs alone (what it learns about the host, such as a
    KVM that cannot run guests, holds for the rest) and the others up to ``workers`` at a time:
    libvirtd starts and stops different domains in parallel, and most of a start is waiting.
    """
    results: dict[str, t.Any] = {}
    if instances:
        results[instances[0]["uuid"]] = _one_instance(step, instances[0])
    rest = instances[1:]
    if workers > 1 and len(rest) > 1:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(rest))) as pool:
            for inst, res in zip(rest, pool.map(lambda i: _one_instance(step, i), rest)):
                results[inst["uuid"]] = res
    else:
        for inst in rest:
            results[inst["uuid"]] = _one_instance(step, inst)
    return any(r.get("changed") for r in results.values()), results


HOST_LOCK_PATH = "/var/lib/libvirt/stratus/compute.lock"
HOST_LOCK_TIMEOUT = 600.0


@contextlib.contextmanager
def host_lock(path: str = HOST_LOCK_PATH, timeout: float = HOST_LOCK_TIMEOUT) -> t.Iterator[None]:
    """One changing step at a time on a hypervisor (Nova serialises per instance in the compute manager).

    A run killed on the controller leaves its module running on the host until it finishes; the
    rerun's step waits for it here instead of racing it over the same domain, disks and DHCP entries.
    """
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StratusError("HypervisorUnavailable",
                                       "another Stratus step has held %s for %d s" % (path, timeout))
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # closing drops the lock


def run_module(runner: t.Callable[[dict[str, t.Any]], dict[str, t.Any]],
               argument_spec: dict[str, t.Any], supports_check_mode: bool = False,
               exclusive: bool = True) -> None:
    """A module's whole main(): parse arguments, run (holding the host lock unless it only reads),
    map a StratusError to the error result."""
    from ansible.module_utils.basic import AnsibleModule

    from ansible_collections.stratus.compute.plugins.module_utils.errors import error_result

    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=supports_check_mode)
    try:
        if exclusive:
            with host_lock():
                result = runner(module.params)
        else:
            result = runner(module.params)
        module.exit_json(**result)
    except StratusError as exc:
        module.exit_json(**error_result(exc))


def step_argument_spec(*pieces: dict[str, t.Any]) -> dict[str, t.Any]:
    spec = dict(HYPERVISOR_ARG_SPEC)
    for piece in pieces:
        spec.update(piece)
    return spec
