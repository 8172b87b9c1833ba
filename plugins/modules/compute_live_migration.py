#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: compute_live_migration
short_description: Live-migrate libvirt domains to another hypervisor, Nova's way (disks copied)
version_added: 0.1.0
description:
  - The hypervisor half of Nova's live migration (task state C(migrating)) without shared storage.
  - On the source, for each instance - first where its guest runs, asking this hypervisor's libvirt and the
    destination's (I(dest_uri)); a guest already on the destination is left there (C(location=destination));
    with I(resume) (a rerun after a killed run) a guest still on the source, once no libvirt job of it goes
    on, is migrated as below (the killed run never started its migration, or libvirt ended it on the source).
  - Otherwise C(virDomainMigrateToURI3) to I(dest_uri) with the flags C(VIR_MIGRATE_LIVE),
    C(VIR_MIGRATE_PEER2PEER) (the source's libvirtd drives the migration; with I(mode=direct) this module
    calls C(virDomainMigrate3) over its own connection to both instead), C(VIR_MIGRATE_NON_SHARED_INC) (or
    C(VIR_MIGRATE_NON_SHARED_DISK) with I(disk_copy=full)), C(VIR_MIGRATE_PERSIST_DEST) and
    C(VIR_MIGRATE_UNDEFINE_SOURCE); the parameters C(migrate_uri) C(tcp://<dest_address>) (the memory stream),
    C(listen_address) I(dest_address) (the destination's QEMU and the NBD server that receives the disks
    listen there), C(migrate_disks) (the writable file and block disks, not the read-only config drive),
    and C(destination_xml) and C(persistent_xml) when a disk's path differs on the destination.
  - The job's progress is polled; when it has not completed within the completion timeout (Nova's
    C(live_migration_completion_timeout) - I(completion_timeout) seconds per GiB of RAM and of each copied
    disk, each counted as at least 2 GiB) it is aborted and the guest stays on the source.
  - A guest on the destination (migrated now or found there) has what this hypervisor still holds of it removed
    when its C(source_plan) is given (Nova's post live migration at the source) - the domain if still defined,
    the local disks, volume copies and config drive, the DHCP entry; what cannot be is named in C(source_left).
  - Normally run through the action plugin of the same name on the controller (C(playbooks/action_steps.yml)),
    which takes this hypervisor's servers whose live migration is prepared from the state store and ends each
    one there - on the destination (the server's host the destination, the migration C(completed)) or back on
    this host (Nova's rollback - the migration C(failed), the destination's half cleaned there). The host's variables
    C(stratus_live_migration_completion_timeout), C(stratus_live_migration_mode) and
    C(stratus_live_migration_disk_copy) give I(completion_timeout), I(mode) and I(disk_copy) unless the task does.
options:
  uri:
    description: The libvirt connection URI on this hypervisor.
    type: str
    default: qemu:///system
  dest_uri:
    description:
      - How this hypervisor's libvirt reaches the destination's (its C(stratus_migration_uri),
        Nova's C(live_migration_uri)) - C(qemu+tcp), C(qemu+tls) or C(qemu+ssh), a host (an IPv4 address or a
        name), an optional port, C(/system); the user only with C(qemu+ssh). Checked whole.
    type: str
    required: true
  dest_address:
    description:
      - The destination's address on the migration network (its C(stratus_migration_address)),
        an IPv4 address or a host name. Checked whole.
    type: str
    required: true
  instances:
    description: The domains. Normally filled in by the action plugin from the state store.
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
      disks:
        description:
          - The disks prepared on the destination, C(device_name) and C(path) each; a path that differs from
            the source's goes into the destination's domain XML.
        type: list
        elements: dict
        default: []
      source_plan:
        description:
          - The server's build plan on this hypervisor, without its secrets (its disks, volumes and NICs) - what is
            removed here once the guest runs on the destination. Omitted, nothing is removed.
        type: dict
  base_pool_path:
    description: The base image pool directory (the source's disks are deleted from the pools).
    type: path
    default: /var/lib/libvirt/stratus/base
  instance_pool_path:
    description: The instance disk pool directory.
    type: path
    default: /var/lib/libvirt/stratus/instances
  resume:
    description:
      - A rerun after a killed run - find where each guest runs, after waiting for a migration job libvirt
        still drives; a guest on the destination is finished there (its source's half removed), one still on
        the source is migrated (no migration of it goes on then). The action plugin sets it for a record the
        killed run had C(running).
    type: bool
    default: false
  completion_timeout:
    description:
      - Seconds per GiB of RAM and of each copied disk (each at least 2 GiB) a migration may take before it is
        aborted (Nova's C(live_migration_completion_timeout), 800). C(0) never aborts.
    type: int
    default: 800
  mode:
    description:
      - C(p2p) - the source's libvirtd connects to I(dest_uri) and drives the migration (Nova's
        C(VIR_MIGRATE_PEER2PEER)); C(direct) - this module connects to both libvirts (libvirt's managed direct
        migration).
    type: str
    default: p2p
    choices: [p2p, direct]
  disk_copy:
    description:
      - C(incremental) - only each disk's top image (C(VIR_MIGRATE_NON_SHARED_INC), Nova's block migration) - the
        destination's root overlay, made on the same base image (its checksum the controller's), receives
        what the guest wrote; ephemeral and swap disks have no base and are copied whole.
      - C(full) - every writable disk copied whole (C(VIR_MIGRATE_NON_SHARED_DISK), what
        C(virsh migrate --copy-storage-all) does); into an overlay with a base on the destination QEMU then
        writes every cluster of the disk's virtual size, zeroes too, which takes longer.
    type: str
    default: incremental
    choices: [full, incremental]
  run_uuids:
    description:
      - For the action plugin - the servers of this run; those migrating from this host are handled.
        Omitted, every such server of this host is.
    type: list
    elements: str
  db_url:
    description:
      - For the action plugin - the state store URL; defaults as for M(stratus.compute.server).
    type: str
requirements:
  - libvirt-python on the hypervisor
  - the destination's libvirtd reachable from the source at I(dest_uri), and its migration address from the
    source's QEMU (qemu+tls or qemu+ssh in production; the lab's migration network uses qemu+tcp)
notes:
  - One migration at a time from a host (Nova's C(max_concurrent_live_migrations) of 1).
  - Holds the hypervisor's Stratus step lock while it works, so that a rerun waits for a migration a killed
    run left going before it looks where the guest is.
  - The failure of one domain is reported in its entry of RV(instances), not as the host's failure.
extends_documentation_fragment:
  - stratus.compute.attributes
attributes:
  check_mode:
    support: full
    details:
      - The module says where each guest runs, migrates and removes nothing. Through the action
        plugin, names the servers it would migrate and contacts no host.
  diff_mode:
    support: none
author:
  - Stratus contributors (@stratus-compute)
seealso:
  - module: stratus.compute.server_action
  - module: stratus.compute.compute_live_migration_prep
"""

EXAMPLES = r"""
- name: Live-migrate this run's servers off this hypervisor (their destinations are prepared)
  stratus.compute.compute_live_migration:
    run_uuids: "{{ hostvars['localhost']['stratus_power_uuids'] }}"
"""

RETURN = r"""
instances:
  description:
    - Per instance uuid, C(ok) (the guest runs on the destination), C(changed), C(location) (C(destination),
      C(source), C(nowhere), or C(unknown) when the destination's libvirt could not be asked), and after a
      migration C(seconds), C(completion_timeout) (seconds), C(flags) (libvirt's), C(migrate_disks) and
      C(progress) (the last samples of the job - C(elapsed), C(memory_processed), C(memory_total),
      C(disk_processed), C(disk_total), C(data_remaining)); C(source_left) when what this host holds of a guest on
      the destination could not all be removed.
    - On failure C(error) (C(code) - C(MigrationError), C(MigrationPreCheckError), C(InvalidRequest) - C(message),
      C(field)).
  returned: always, unless refused
  type: dict
  sample:
    6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11: {ok: true, changed: true, location: destination, seconds: 9.4}
leftover_hosts:
  description:
    - The action plugin's, after the step - the hosts the state store has leftovers on (a rolled-back migration's
      destination half among them), sorted; C(playbooks/action_steps.yml) runs its clean-up play only on the run's
      destinations among them. Absent in check mode or when the step failed as a whole.
  returned: success, not in check mode
  type: list
  elements: str
error:
  description: On a refusal before any instance (a bad I(dest_uri) or I(dest_address)), C(code), C(message), C(field).
  returned: failure
  type: dict
"""

from ansible_collections.stratus.compute.plugins.module_utils.compute.live_migration import run_live_migration_module


def main() -> None:
    run_live_migration_module()


if __name__ == "__main__":
    main()
