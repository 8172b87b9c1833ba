# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every hypervisor step shares: its argument spec and the per-instance loop.

The argument spec here is mirrored one to one by the doc fragment
``stratus.compute.hypervisor``.
"""
from __future__ import annotations

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


def per_instance(instances: list[dict[str, t.Any]],
                 step: t.Callable[[dict[str, t.Any]], dict[str, t.Any]]) -> tuple[bool, dict[str, t.Any]]:
    """Run one step for each instance; one instance's failure is not the host's."""
    changed = False
    results: dict[str, t.Any] = {}
    for inst in instances:
        try:
            res = step(inst)
            changed = changed or bool(res.get("changed"))
            results[inst["uuid"]] = dict(res, ok=True)
        except StratusError as exc:
            results[inst["uuid"]] = {"ok": False, "changed": False, "error": exc.to_dict()}
        except Exception as exc:  # a libvirt or OS error: the instance's fault, with its cause
            results[inst["uuid"]] = {
                "ok": False, "changed": False,
                "error": {"code": "BuildAbortException", "message": error_text(exc), "field": None},
                "exception": traceback.format_exc(),
            }
    return changed, results


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


def step_argument_spec(extra: dict[str, t.Any]) -> dict[str, t.Any]:
    spec = dict(HYPERVISOR_ARG_SPEC)
    spec.update(extra)
    return spec
