#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: server_action
short_description: Ask for a server action (stop, start, reboot, rebuild, evacuate, resize, migrate) as Nova's compute API checks it
version_added: 0.1.0
description:
  - Checks and records one action on one server, as Nova's C(POST /servers/{id}/action) does - the
    policy rule (C(os_compute_api:servers:stop), C(...:start), C(...:reboot)), the vm_state and
    task_state the action is allowed from (C(InstanceInvalidState) otherwise, nothing changed), then
    the task_state (C(powering-off), C(powering-on), C(rebooting), C(rebooting_hard)) and an instance
    action in the action log. An action plugin; it runs on the controller.
  - The hypervisor does it in the same run - the module M(stratus.compute.compute_power) on the
    server's host, which ends the walk (vm_state C(stopped) or C(active), the event
    C(compute_stop_instance), C(compute_start_instance) or C(compute_reboot_instance)); the other actions'
    steps likewise. With I(wait) (the default) this task runs those steps itself (the playbook
    C(stratus.compute.action_steps_for), by C(ansible-playbook) on this run's inventory sources and extra
    variables) and returns once the action is over, failing with the action's fault or C(ActionTimeout) after
    I(timeout). With I(wait=false) it only checks and records, and answers at once as Nova's API does (the
    server in its task_state); the plays after it do the steps - the playbook C(stratus.compute.server_action)
    (C(playbooks/server_action.yml), what C(stratus server ...) runs) records many actions so and runs each
    host's steps once for all of them. A server left in its task_state (a timeout, a host that did not answer)
    is finished by a rerun of the same action.
  - A stop of a stopped server or a start of an active one changes nothing (Nova's API would answer
    409). A server whose same action was interrupted (its task_state still the action's) is taken
    again, so a rerun finishes it.
  - Allowed from - C(stop) ACTIVE or ERROR; C(start) SHUTOFF (vm_state C(stopped)); a soft C(reboot)
    ACTIVE with nothing in progress; a hard C(reboot) ACTIVE, SHUTOFF or ERROR, also over a reboot in
    progress.
  - C(rebuild) (policy C(os_compute_api:servers:rebuild); from ACTIVE, SHUTOFF or ERROR) gives the server a
    new root disk from I(image) (the same or another; checked against the flavor as a create is - min_ram,
    min_disk, size) and a new config drive, keeping its uuid, IPs, volumes and host. The hypervisor's
    M(stratus.compute.compute_rebuild) walks Nova's C(rebuilding), C(rebuild_block_device_mapping),
    C(rebuild_spawning); the server ends ACTIVE, or SHUTOFF when it was stopped; a failure leaves it in
    ERROR with the fault. A volume-backed server is refused (C(InvalidRequest)).
  - C(evacuate) (admin, policy C(os_compute_api:os-evacuate); from ACTIVE, SHUTOFF or ERROR) moves a server
    whose host is down - the operator fenced it and said so (M(stratus.compute.hypervisor_service)
    I(forced_down), or the inventory's C(stratus_service_up=false)); a host still up is
    C(ComputeServiceInUse). The scheduler picks the new host (or checks I(host) with its filters, unless
    I(force)); the claim moves there, the old host keeps a leftover that the first run reaching it again
    cleans (domain, disks, DHCP entry), and the rebuild step builds the server there from its plan - same
    uuid, IPs, image and config drive. A server with volumes (in the old host's pool) is refused.
  - C(live_migrate) (admin, policy C(os_compute_api:os-migrate-server:migrate_live); from ACTIVE with nothing in
    progress) moves a running server to another hypervisor, libvirt copying its memory and local disks - the
    scheduler picks it (or checks I(host) with its filters, unless I(force)); both hosts need
    C(stratus_migration_uri), the destination C(stratus_migration_address) (C(MigrationPreCheckError)). The
    destination's M(stratus.compute.compute_live_migration_prep) prepares it, the source's
    M(stratus.compute.compute_live_migration) migrates it (Nova's task state C(migrating)) and ends it on the
    destination, or rolls it back (ACTIVE on its host, the fault kept). A server already on I(host) by a
    completed live migration is left as it is. A server's volumes move with it (pre-created on the
    destination, copied by libvirt; the source's copies deleted after the move).
  - C(resize) (policy C(os_compute_api:servers:resize); from ACTIVE or SHUTOFF) to I(flavor) and C(migrate)
    (admin, policy C(os_compute_api:os-migrate-server:migrate); to I(host) or the scheduler's pick, never the
    server's own host) are Nova's resize and cold migration - checked (C(CannotResizeToSameFlavor),
    C(ResizeError) for a smaller root disk, C(CannotResizeDisk), the image against the new flavor,
    C(QuotaExceeded) for the added cores and ram), the claim moved to the destination with the new sizes, a
    migration record. M(stratus.compute.compute_resize) on the source copies the disks and volumes away and
    M(stratus.compute.compute_finish_resize) on the destination starts the server there with the new flavor - it
    waits in VERIFY_RESIZE for C(confirm_resize) (the source's copy is cleaned, the volumes are the destination's)
    or C(revert_resize) (back to the source with the old flavor). The same request again changes nothing. A resize
    may stay on the server's host only when C(stratus_allow_resize_to_same_host) is true (Nova's C(allow_resize_to_same_host)).
  - A bare-metal server's stop, start and reboot are recorded the same way; the controller does them through
    its node's BMC in the same run (M(stratus.compute.baremetal_power)), and RV(nodes) names the node, not
    RV(hosts). Its other actions are not in this version (C(InvalidRequest)).
options:
  server:
    description:
      - The server, by uuid (any project the caller may see - an admin's, every project) or by name in
        the caller's project. One the caller may not see is C(InstanceNotFound).
    type: str
    required: true
  action:
    description: Nova's action.
    type: str
    required: true
    choices: [stop, start, reboot, rebuild, evacuate, resize, confirm_resize, revert_resize, migrate, live_migrate]
  reboot_type:
    description:
      - With I(action=reboot) - C(soft) (ACPI, then hard when the guest does not stop within the
        hypervisor's shutdown timeout) or C(hard) (power cycle). Default C(soft).
    type: str
    choices: [soft, hard]
  image:
    description:
      - With I(action=rebuild) (and only then, always) - the image of the new root disk, a name or id of
        C(stratus_images); C(ImageNotFound) otherwise.
    type: str
  flavor:
    description:
      - With I(action=resize) (and only then, always) - the new flavor, a name or id of C(stratus_flavors).
    type: str
  host:
    description:
      - With I(action=evacuate), C(migrate) or C(live_migrate) - the host to move the server to (a host of the C(hypervisors) group), checked
        by the scheduler's filters unless I(force). Omitted, the scheduler picks one.
    type: str
  force:
    description: With I(action=evacuate) or C(live_migrate) and I(host) - skip the filters for that host (Nova's C(force)).
    type: bool
    default: false
  wait:
    description:
      - Run the action's hypervisor steps from this task and return when the action is over (openstack.cloud's
        C(wait)). False - record it and return at once; the plays after it (or a rerun) do the steps.
    type: bool
    default: true
  timeout:
    description:
      - With I(wait), the seconds to wait for the steps. Past it they are stopped and the task fails with
        C(ActionTimeout); the server keeps its task_state, and the same action asked again finishes it.
    type: int
    default: 600
extends_documentation_fragment:
  - stratus.compute.store_read
  - stratus.compute.attributes
attributes:
  check_mode:
    support: full
    details: Checks the action and says whether it would change the server; nothing is recorded.
  diff_mode:
    support: none
author:
  - Stratus contributors (@stratus-compute)
seealso:
  - module: stratus.compute.compute_power
  - module: stratus.compute.baremetal_power
  - module: stratus.compute.compute_live_migration
  - module: stratus.compute.server_info
"""

EXAMPLES = r"""
- name: Stop web-1 and wait until it is SHUTOFF (its hypervisor's power step runs from this task)
  stratus.compute.server_action:
    server: web-1
    action: stop
    timeout: 300

- name: Only record a start (Nova's API answer, the server in powering-on); the hypervisor plays after it do it
  stratus.compute.server_action:
    server: web-2
    action: start
    wait: false

- name: Rebuild web-1 from another image (same uuid, IPs and host)
  stratus.compute.server_action:
    server: web-1
    action: rebuild
    image: debian-12

- name: Move web-1 off its fenced host (admin)
  stratus.compute.server_action:
    server: web-1
    action: evacuate

- name: Live-migrate web-1 to hv2, the guest running on (admin)
  stratus.compute.server_action:
    server: web-1
    action: live_migrate
    host: hv2

- name: Resize web-1 to a bigger flavor, then confirm it (the source's copy goes)
  stratus.compute.server_action:
    server: web-1
    action: "{{ item.action }}"
    flavor: "{{ item.flavor | default(omit) }}"
  loop:
    - {action: resize, flavor: m1.small}
    - {action: confirm_resize}

- name: Hard-reboot a server by uuid
  stratus.compute.server_action:
    server: 6b0f2d1e-9a43-4c1b-8f0e-3f2a5c7d9e10
    action: reboot
    reboot_type: hard
"""

RETURN = r"""
server:
  description:
    - The server as M(stratus.compute.server_info) shows it - with I(wait), as the action left it; else with the
      action's task_state when it was recorded.
  returned: success
  type: dict
action:
  description:
    - The action asked for and recorded (I(action)) - what the steps' hosts are chosen by
      (C(playbooks/tasks/action_hosts.yml) - a C(rebuild) or C(evacuate) runs the rebuild step).
  returned: success
  type: str
  sample: rebuild
hosts:
  description: The hypervisor whose power step does the action; empty when nothing is to be done.
  returned: success
  type: list
  elements: str
nodes:
  description: The bare-metal node whose BMC the controller's power step uses; empty for a server on a hypervisor or when nothing is to be done.
  returned: success
  type: list
  elements: str
live_destinations:
  description:
    - With I(action=live_migrate) - the destination, whose step prepares before the source's (in RV(hosts)) migrates;
      empty when nothing is to be done.
  returned: success, with I(action=live_migrate)
  type: list
  elements: str
move_first:
  description:
    - A resize, migrate or confirm_resize - the source (whose C(compute_resize) step copies the disks away, or
      cleans its copy); a revert_resize - the destination (whose copy goes). Empty for the other actions.
  returned: success
  type: list
  elements: str
move_then:
  description:
    - A resize or migrate - the destination (whose C(compute_finish_resize) step finishes it); a revert_resize -
      the source (where the old server comes back). Empty for the other actions.
  returned: success
  type: list
  elements: str
server_uuids:
  description: The server's uuid when the action was recorded (the power step's work); else empty.
  returned: success
  type: list
  elements: str
request_id:
  description: The id the action log records.
  returned: success
  type: str
error:
  description:
    - On failure, C(code), C(message) and C(field) - C(InstanceNotFound), C(NoUniqueMatch),
      C(InstanceInvalidState), C(PolicyNotAuthorized), C(InvalidRequest), C(ImageNotFound), C(NoValidHost),
      C(ComputeServiceInUse), C(ComputeHostNotFound), C(UnableToMigrateToSelf), C(MigrationPreCheckError),
      C(ImageUnacceptable), C(FlavorMemoryTooSmall), C(FlavorDiskSmallerThanImage), C(Forbidden) (a launch
      override); nothing was changed.
    - With I(wait), also how the action ended when it did not end well - its fault's code (C(InstancePowerOffFailure),
      C(MigrationError), ...), C(ActionTimeout), or C(HypervisorUnavailable) (its steps ran and its host did not do
      it); the action stays recorded and the same action asked again finishes it.
  returned: failure
  type: dict
"""
