#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: compute_power
short_description: Stop, start and reboot libvirt domains on a hypervisor, Nova's way
version_added: 0.1.0
description:
  - The hypervisor half of Nova's server actions C(stop), C(start) and C(reboot) (task states C(powering-off),
    C(powering-on), C(rebooting) and C(rebooting_hard)), for the domains of one hypervisor in one call.
  - C(stop) is Nova's clean shutdown. A domain that is shut off is left alone. A running one is sent an ACPI
    shutdown, sent again every I(retry_interval) seconds until it is shut off, and destroyed when it is
    still up after I(timeout) seconds. A I(timeout) of 0 destroys it at once (Nova's force stop).
  - C(start) creates a shut-off domain and waits until it runs; a running one is left alone.
  - C(reboot_soft) is the same clean shutdown, destroying the domain when it does not stop in time,
    then creates it again. Only a running domain can be soft rebooted.
  - C(reboot_hard) destroys the domain unless it is shut off, then creates it again.
  - Each domain is found by its name and must carry the instance's uuid.
  - Normally run by C(playbooks/server_action.yml) through the action plugin of the same name, on the
    controller - it takes this hypervisor's servers whose power action M(stratus.compute.server_action)
    recorded (their task_state) from the state store, runs the module once for all of them, and ends
    each one there (vm_state, power_state, the action log's event, or the fault). The host's variables
    C(stratus_shutdown_timeout), C(stratus_shutdown_retry_interval) and C(stratus_power_parallel) give
    I(timeout), I(retry_interval) and I(parallel) unless the task does.
options:
  uri:
    description: The libvirt connection URI on the hypervisor.
    type: str
    default: qemu:///system
  instances:
    description:
      - The domains to act on. Normally filled in by the action plugin from the state store.
    type: list
    elements: dict
    default: []
    suboptions:
      uuid:
        description: The instance uuid, which is also its domain's uuid.
        type: str
        required: true
      domain_name:
        description: The instance's domain name, C(instance-<uuid>).
        type: str
        required: true
      action:
        description: What to do with the domain.
        type: str
        required: true
        choices: [stop, start, reboot_soft, reboot_hard]
  timeout:
    description:
      - Seconds a clean shutdown may take before the domain is destroyed (Nova's C(shutdown_timeout)).
      - C(0) destroys at once.
    type: int
    default: 60
  retry_interval:
    description: Seconds between ACPI shutdown requests while waiting (Nova's C(shutdown_retry_interval)).
    type: int
    default: 10
  parallel:
    description: How many domains to handle at once (a stop waits for its guest).
    type: int
    default: 4
  run_uuids:
    description:
      - For the action plugin - the servers of this run (the C(stratus_run_uuids) fact of
        C(playbooks/server_action.yml)); those placed on this host with a power action in progress
        are handled. Omitted, every such server of this host is.
    type: list
    elements: str
  db_url:
    description:
      - For the action plugin - the state store URL (SQLAlchemy form). Defaults to the C(stratus_db_url)
        variable, then the E(STRATUS_DB_URL) environment variable, then a SQLite file under E(STRATUS_STATE_DIR).
    type: str
requirements:
  - libvirt-python on the hypervisor
notes:
  - The failure of one domain is reported in its entry of RV(instances), not as the host's failure.
  - Holds the hypervisor's Stratus step lock while it changes domains, not in check mode.
extends_documentation_fragment:
  - stratus.compute.attributes
attributes:
  check_mode:
    support: full
    details: Reports which domains would change and their power state now; changes nothing.
  diff_mode:
    support: none
author:
  - Stratus contributors (@stratus-compute)
seealso:
  - module: stratus.compute.server_action
"""

EXAMPLES = r"""
- name: Stop one server, giving its guest two minutes to shut down
  stratus.compute.compute_power:
    instances:
      - uuid: 6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11
        domain_name: instance-6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11
        action: stop
    timeout: 120
"""

RETURN = r"""
instances:
  description:
    - Per instance uuid, C(ok), C(changed) and C(power_state) (Nova's name of the domain's power state after
      the action, or now in check mode - C(running), C(shutdown), C(paused), C(crashed), C(suspended),
      C(nostate)); C(forced) for a stop that changed something (the domain was destroyed);
      C(hard_fallback) for a soft reboot (the guest did not shut down in time and was destroyed).
    - Or C(ok=false) and C(error) (C(code), C(message), C(field)). The codes are C(InstanceNotFound) (no domain
      of that name and uuid), C(InstanceInvalidState) (a soft reboot of a domain that is not running; a start
      of one that is active but not running, such as paused), C(InstancePowerOffFailure) and
      C(InstancePowerOnFailure) (libvirt refused), C(HypervisorUnavailable) (the libvirt connection broke) and
      C(InvalidRequest) (a domain name that is not C(instance-<uuid>)). A failed entry has C(power_state) when
      the domain could be read, and C(changed=true) when the failure came half way (destroyed, not created again).
  returned: always
  type: dict
  sample:
    6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11: {ok: true, changed: true, forced: false, power_state: shutdown}
"""

from ansible_collections.stratus.compute.plugins.module_utils.compute.power import run_power_module


def main() -> None:
    run_power_module()


if __name__ == "__main__":
    main()
