# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every hypervisor step shares: its argument spec and the per-instance loop.

The argument spec here is mirrored one to one by the doc fragment
``stratus.compute.hypervisor``.
"""
from __future__ import annotations

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
