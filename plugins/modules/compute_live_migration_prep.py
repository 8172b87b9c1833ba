#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: compute_live_migration_prep
short_description: Prepare a hypervisor to receive live-migrated servers, Nova's way
version_added: 0.1.0
description:
  - The destination's half of Nova's live migration (its pre_live_migration), for the servers of the run whose
    live migration M(stratus.compute.server_action) recorded to this hypervisor (migration status C(queued) or
    C(preparing)). An action plugin on the controller that runs, on this hypervisor, what a failed earlier
    attempt left here cleaned (its leftover), then M(stratus.compute.compute_live_migration) with
    I(step=prepare) (the console log directory), M(stratus.compute.compute_network) (the network and the
    server's DHCP entry) and M(stratus.compute.compute_block_devices) (the base image uploaded when the base
    pool lacks it, the root overlay, ephemeral and swap disks of the same names, sizes and formats as on the
    source, the config drive, which libvirt does not copy).
  - The migration's status becomes C(preparing), and the server's plan gets the disks' paths here (the
    migration record keeps the source's plan). Then the source's step migrates.
  - A failure is rolled back at once (Nova's rollback_live_migration_at_destination) - what was made here is
    removed (a leftover when it cannot be), the claim goes back to the source, the server stays there ACTIVE
    with the fault, the migration is C(failed).
  - Run by C(playbooks/server_action.yml) (C(playbooks/action_steps.yml)); a host with nothing to prepare is
    not contacted.
options:
  run_uuids:
    description: The servers of this run; those migrating to this host are prepared. Omitted, every such server.
    type: list
    elements: str
  uri:
    description: The libvirt connection URI on the hypervisor (default the C(stratus_libvirt_uri) variable).
    type: str
  base_pool_path:
    description: The base image pool directory (default the C(stratus_base_pool_path) variable).
    type: str
  instance_pool_path:
    description: The instance disk pool directory (default the C(stratus_instance_pool_path) variable).
    type: str
  db_url:
    description: The state store URL; defaults as for M(stratus.compute.server).
    type: str
extends_documentation_fragment:
  - stratus.compute.attributes
attributes:
  check_mode:
    support: partial
    details: Names the servers it would prepare for; changes nothing and contacts no host.
  diff_mode:
    support: none
author:
  - Stratus contributors (@stratus-compute)
seealso:
  - module: stratus.compute.server_action
  - module: stratus.compute.compute_live_migration
"""

EXAMPLES = r"""
- name: Prepare this hypervisor for the servers live-migrating to it in this run
  stratus.compute.compute_live_migration_prep:
    run_uuids: "{{ hostvars['localhost']['stratus_power_uuids'] }}"
"""

RETURN = r"""
instances:
  description: Per server uuid, C(ok) and on failure C(error) (C(code), C(message)); the migration is then rolled back.
  returned: always, unless refused
  type: dict
error:
  description: On failure before any server, C(code), C(message) and C(field).
  returned: failure
  type: dict
"""
