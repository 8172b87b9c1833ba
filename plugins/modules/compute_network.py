#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: compute_network
short_description: Isolated libvirt networks and DHCP host entries on a hypervisor
version_added: 0.1.0
description:
  - The network step of a build (Nova's task_state C(networking)) makes sure the isolated
    libvirt network (no forward) of every requested network exists, with its bridge and subnet, and pins
    each instance's MAC to its IP with a DHCP host entry, live and persistent, without restarting the network.
  - A network it defines keeps the entries as files in a dnsmasq hosts directory,
    C(/var/lib/libvirt/dnsmasq/<network>.hostsdir), which dnsmasq reads as they appear (one SIGHUP after
    entries changed or went); libvirt's per-entry update would reload the network's firewall each time.
    A network defined without that directory keeps its entries in libvirt's XML.
  - With I(state=absent) it removes the instances' DHCP host entries and leaves other entries alone.
options: {}
extends_documentation_fragment:
  - stratus.compute.hypervisor
  - stratus.compute.attributes
  - stratus.compute.attributes.step
"""

EXAMPLES = r"""
- name: Pin this run's MACs to their addresses on this hypervisor (the action plugin fills in the instances)
  stratus.compute.compute_network:
    run_uuids: "{{ hostvars['localhost']['stratus_run_uuids'] }}"
"""

RETURN = r"""
instances:
  description:
    - Per instance uuid, C(ok) and C(changed) (a network defined or a DHCP host entry written or dropped),
      or C(error) (C(code), C(message), C(field)) when the instance's network step failed.
  returned: always
  type: dict
  sample:
    6b0f...: {ok: true, changed: true}
"""

from ansible_collections.stratus.compute.plugins.module_utils.compute.common import run_module, step_argument_spec
from ansible_collections.stratus.compute.plugins.module_utils.compute.steps import run_network


def main() -> None:
    run_module(run_network, step_argument_spec())


if __name__ == "__main__":
    main()
