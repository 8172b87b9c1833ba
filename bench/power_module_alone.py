# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The power step's own work without Ansible: run on a hypervisor, it calls the code the compute_power
module runs (plugins/module_utils/compute/power.py) on the given domains and prints its seconds.

bench/power_bench.py runs it in each hypervisor's namespaces after Stratus's phases (method
module_alone): Stratus's time minus this is what Ansible, the store and the plays add.

    power_module_alone.py stop|start|reboot_hard PARALLEL UUID[,UUID...]
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".ansible" / "collections"))
from ansible_collections.stratus.compute.plugins.module_utils.compute import power  # noqa: E402


def main(argv: list[str]) -> int:
    action, parallel, uuids = argv[0], int(argv[1]), argv[2].split(",")
    start = time.monotonic()
    # shutdown timeout 0, as the bench's inventory gives the hypervisors
    result = power.run_power({"uri": "qemu:///system", "timeout": 0, "retry_interval": 10, "parallel": parallel,
                              "instances": [{"uuid": u, "domain_name": "instance-" + u, "action": action} for u in uuids]})
    failed = {u: r["error"] for u, r in result["instances"].items() if not r["ok"]}
    print(json.dumps({"seconds": round(time.monotonic() - start, 3), "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
