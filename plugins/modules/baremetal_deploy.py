#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: baremetal_deploy
short_description: Deploy bare-metal servers on their nodes, and clean the nodes their deletes released
version_added: 0.1.0
description:
  - The bare-metal side of C(playbooks/provision.yml) (an action plugin; the BMC calls run on the
    controller, where the BMCs are reachable). First every node in C(cleaning) that no server holds
    (a deleted server's, or one whose BMC did not answer earlier) is cleaned - powered off, its virtual
    media ejected, the deploy medium of the server that held it removed, its DHCP entries dropped - and
    made C(available); a BMC that does not answer leaves the node in C(cleaning) with the fault for the
    next run, any other fault is C(clean failed).
  - Then each bare-metal server being built (of I(run_uuids)) walks Nova's task states with action-log
    events as on a hypervisor - C(networking) (the node's MAC pinned to the server's address in the node
    network's DHCP), C(block_device_mapping) (the deploy medium - kernel, ramdisk and config drive - written
    to C(stratus_baremetal_media_dir), 0640, for a Redfish node; for an IPMI node the kernel, the ramdisk,
    the config drive as a second initrd and the node's iPXE script in C(stratus_baremetal_tftp_root)),
    C(spawning) (Redfish - the medium's URL under C(stratus_baremetal_media_url) inserted as virtual CD, boot
    from CD; IPMI - boot from the network; the boot device set persistently, so that the node boots its
    server again at every power on; then power on, wait until on) - while its node goes C(available),
    C(deploying), C(active). A failed step tears the node down and cleans it, and the server moves to its
    next alternate node, or ends in C(ERROR) with the fault and nothing held after I(max_attempts).
  - Nodes whose driver has no deploy boot interface are never scheduled for a deploy (Redfish boots by
    virtual media, IPMI by PXE).
  - Where the media and the DHCP live are the controller's variables C(stratus_baremetal_media_dir),
    C(stratus_baremetal_media_url) (C(http(s)://host[:port]), served to the BMCs) and C(stratus_baremetal_host_root)
    (the root under which the node network's libvirt keeps its dnsmasq hosts directories and pid files,
    default C(/)) and C(stratus_baremetal_tftp_root) (the node network's TFTP root, for IPMI nodes; its
    C(boot.ipxe) gives the files their group). The BMC credentials are the nodes' own C(stratus_bm_username) and C(stratus_bm_password);
    never in a result, message, log or the store.
options:
  run_uuids:
    description: The servers of this run (the others are left alone); all builds under way when omitted.
    type: list
    elements: str
  max_attempts:
    description: Deploy rounds (a rescheduled server is deployed on its next node in the next round).
    type: int
    default: 3
extends_documentation_fragment:
  - stratus.compute.store_read
  - stratus.compute.attributes
attributes:
  check_mode:
    support: none
    details: Nothing is touched in check mode.
  diff_mode:
    support: none
author:
  - Stratus contributors (@stratus-compute)
seealso:
  - module: stratus.compute.baremetal_node
  - module: stratus.compute.server
"""

EXAMPLES = r"""
- name: Deploy this run's bare-metal servers, clean released nodes
  stratus.compute.baremetal_deploy:
    run_uuids: "{{ stratus_run_uuids }}"
"""

RETURN = r"""
instances:
  description:
    - Per server uuid deployed in this run, C(ok), C(node), and on failure C(error) (C(code), C(message),
      C(field), C(host)) and C(rescheduled_to) (the next node, or null when the server ended in ERROR).
  returned: always, unless refused
  type: dict
cleaned:
  description: Per node cleaned in this run, C(ok), C(provision_state), C(done) or C(error).
  returned: always, unless refused
  type: dict
error:
  description: On failure, C(code), C(message) and C(field) (a bad C(stratus_baremetal_media_dir) or C(stratus_baremetal_media_url)).
  returned: failure
  type: dict
"""
