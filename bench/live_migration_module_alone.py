# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A live migration's own work without Ansible: run on a hypervisor, it calls the code the destination's and the
source's modules run (plugins/module_utils/compute/live_migration.py: run_prepare, run_migrate under the host
lock) with the arguments a Stratus run sent them, and prints its seconds.

bench/live_migration_bench.py captures those arguments from two untimed Stratus runs (one each way, their
AnsiballZ payloads kept) and runs this in the destination's namespaces (prepare), then the source's (migrate),
method module_alone: Stratus's time minus this is what Ansible, the action plugins, the store and the plays add.

    live_migration_module_alone.py prepare|migrate ARGS_JSON PROFILE
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".ansible" / "collections"))
from ansible.module_utils import basic  # noqa: E402
from ansible_collections.stratus.compute.plugins.module_utils.compute import live_migration  # noqa: E402
from ansible_collections.stratus.compute.plugins.module_utils.compute.common import (  # noqa: E402
    BLOCK_DEVICE_ARG_SPEC, host_lock, step_argument_spec,
)


def main(argv: list[str]) -> int:
    step, args_file, profile = argv[0], Path(argv[1]), argv[2]
    start = time.monotonic()
    # the parameters as the module parses them (its argument spec, defaults), from the bytes the controller sent
    basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE = args_file.read_bytes(), profile
    if step == "prepare":
        params = basic.AnsibleModule(argument_spec=step_argument_spec(BLOCK_DEVICE_ARG_SPEC)).params
        result = live_migration.run_prepare(params)
    else:
        params = basic.AnsibleModule(argument_spec=live_migration.LIVE_MIGRATION_ARG_SPEC).params
        with host_lock():
            result = live_migration.run_migrate(params)
    seconds = time.monotonic() - start
    instances = result.get("instances") or {}
    failed = {u: r.get("error") for u, r in instances.items() if not r.get("ok")}
    if "error" in result or not instances:
        failed["-"] = result.get("error") or "no instance in the arguments"
    print(json.dumps({"seconds": round(seconds, 3), "failed": failed, "changed": bool(result.get("changed")),
                      "libvirt_seconds": [r["seconds"] for r in instances.values() if "seconds" in r]}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
