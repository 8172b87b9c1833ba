#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: baremetal_power
short_description: Stop, start and reboot bare-metal servers through their nodes' BMCs, Nova's way
version_added: 0.1.0
description:
  - The bare-metal side of C(playbooks/action_steps.yml), which C(playbooks/server_action.yml) and
    C(playbooks/provision.yml) import (an action plugin; the BMC calls run on the controller, where the
    BMCs are reachable), after M(stratus.compute.server_action) recorded the actions.
    It takes the bare-metal servers of I(run_uuids) in a power task_state (C(powering-off),
    C(powering-on), C(rebooting), C(rebooting_hard)) and does each one through its node's driver, as Nova's
    Ironic driver does.
  - C(stop) is a graceful power off (the BMC asks the OS to shut down), waited for up to I(timeout)
    seconds, then a forced power off; a I(timeout) of 0 forces at once. A node that is off is left alone.
  - C(start) powers the node on and waits until the BMC says it is on. The deploy set the node's boot
    device persistently and left its medium inserted (or its PXE files in place), so the node boots its
    server again.
  - A soft C(reboot) is the graceful power off (forced when it does not end in time), then power on; a
    hard one is a forced power off, then power on. A soft reboot needs a node that is on.
  - Each server is ended as the hypervisors' power step ends one - vm_state and power_state, the action
    log's event (with C(forced off after the shutdown timeout) or C(soft reboot fell back to hard)), or
    the fault (C(BMCUnreachable) for a BMC that does not answer, C(BMCAuthFailed), C(BMCError)); a failed
    stop or start keeps the vm_state, a failed reboot leaves the server in C(ERROR). The node's
    C(power_state) follows.
  - The BMC credentials are the nodes' own C(stratus_bm_username) and C(stratus_bm_password); never in a
    result, message, log or the store.
options:
  run_uuids:
    description: The servers of this run (the others are left alone); every bare-metal server in a power task_state when omitted.
    type: list
    elements: str
  timeout:
    description:
      - Seconds the OS may take to shut down after a graceful power off before the node is forced off
        (Nova's C(shutdown_timeout)). C(0) forces at once.
      - Defaults to the node's C(stratus_shutdown_timeout) variable (its own, or its groups'), else the
        controller's, else 60.
    type: int
  parallel:
    description:
      - How many servers to handle at once (each is on a node of its own; a stop waits for its OS).
      - Defaults to the C(stratus_power_parallel) variable, else 4.
    type: int
extends_documentation_fragment:
  - stratus.compute.store_read
  - stratus.compute.attributes
attributes:
  check_mode:
    support: none
    details: Nothing is touched in check mode (M(stratus.compute.server_action) records nothing in it either).
  diff_mode:
    support: none
author:
  - Stratus contributors (@stratus-compute)
seealso:
  - module: stratus.compute.server_action
  - module: stratus.compute.compute_power
  - module: stratus.compute.baremetal_deploy
"""

EXAMPLES = r"""
- name: Stop, start or reboot this run's bare-metal servers, giving each OS two minutes to shut down
  stratus.compute.baremetal_power:
    run_uuids: "{{ stratus_run_uuids }}"
    timeout: 120
"""

RETURN = r"""
instances:
  description:
    - Per server uuid handled in this run, C(ok), C(changed), C(node) and C(power_state) (the node's,
      C(power on) or C(power off)); C(forced) for a stop that changed something (forced off after the
      timeout); C(hard_fallback) for a soft reboot (forced off after the timeout).
    - Or C(ok=false) and C(error) (C(code), C(message), C(field)).
  returned: always, unless refused
  type: dict
failed_uuids:
  description: The servers whose power action failed (each recorded with its fault).
  returned: when one failed
  type: list
  elements: str
error:
  description: On failure, C(code), C(message) and C(field) (a bad node inventory, a bad I(timeout)).
  returned: failure
  type: dict
"""
