#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: server
short_description: Create servers the way Nova does, on plain libvirt hypervisors
version_added: 0.1.0
description:
  - The controller side of a server request, run as an action plugin on the controller
    (no module is shipped anywhere). It checks the request, the policy, the quota and the
    catalog, schedules every instance onto a hypervisor of the C(hypervisors) group, claims
    its resources, allocates its fixed IPs and MACs, and writes vm_state C(building) and a build
    plan into the state store, all in one transaction.
  - The hypervisor steps (M(stratus.compute.compute_network), M(stratus.compute.compute_block_devices),
    M(stratus.compute.compute_domain)) then build what the plans say; the playbook
    C(stratus.compute.provision) runs the whole walk.
  - Identity is (project, name). With I(max_count) > 1 the names are C(name-1) .. C(name-N).
    A request that matches what exists changes nothing; one that differs in a field that cannot
    change in place fails with C(Conflict) naming the fields; I(metadata), I(tags) and
    I(description) are updated in place.
  - The request is checked in Nova's order, with Nova's rules and error names (see C(docs/requests.md)),
    JSON Schema (C(schemas/server.json)), policy (Nova's defaults plus C(stratus_policy) overrides),
    availability zone, block device mappings, networks, flavor and image, metadata and file quotas,
    instance quota (counted in the state store, rechecked after the claim), then the scheduler.
  - Every failure returns C(error) with C(code) (Nova's exception name), C(message) and C(field)
    (the JSON path of the offending value). A refused request leaves only an action-log entry
    (see M(stratus.compute.server_info) C(refusals)).
options:
  # BEGIN options generated from schemas/server.json by schemas/gen_server_doc.py: edit the schema
  name:
    description: The server name (Nova's C(name)). Printable, no leading or trailing whitespace, at most 255
      characters.
    type: str
    required: true
  state:
    description:
      - C(present) creates what is missing.
      - C(absent) starts Nova's delete (policy C(os_compute_api:servers:delete)), for any vm_state including ERROR;
        the servers get task_state C(deleting) and the hypervisor play of C(stratus.compute.provision) walks back
        (destroy and undefine, disks, DHCP entries), after which the store releases IPs and claims. A server that
        never reached a host is deleted at once; deleting what is gone reports no change.
    type: str
    default: present
    choices: [present, absent]
  status:
    description:
      - The power state the servers are to be in, kept on every run - C(active) (running) or C(stopped) (SHUTOFF).
        Omitted, a new server is left active and an existing one as it is.
      - After the build, a server that is not in it is stopped or started as Nova's os-stop and os-start do (policy
        C(os_compute_api:servers:stop) or C(os_compute_api:servers:start), the instance action C(stop) or C(start) in
        the action log, the hypervisor's C(stratus_shutdown_timeout) for a clean shutdown); one that is in it changes
        nothing. A server in ERROR is left as it is (delete it, or hard-reboot it with
        C(stratus.compute.server_action)). It is not part of what a server must match, so changing it never means a
        C(Conflict) or a C(recreate).
    type: str
    choices: [active, stopped]
  flavor:
    description: Flavor name or id from C(stratus_flavors). Required unless I(state=absent).
    type: raw
  image:
    description: Image name or id from C(stratus_images). May be omitted when booting from volume (a
      I(block_device_mapping_v2) entry with C(boot_index=0)).
    type: raw
  networks:
    description: A list of C({uuid | name, fixed_ip, port}), or C(auto) (the only network of the catalog) or C(none).
    type: raw
  block_device_mapping_v2:
    description: Nova's block device mapping v2 entries (C(boot_index), C(uuid), C(source_type), C(destination_type),
      C(device_name), C(device_type), C(disk_bus), C(volume_size), C(guest_format), C(delete_on_termination),
      C(volume_type), C(tag)), checked by Nova's rules. With I(image), include the image entry (C(source_type=image),
      C(destination_type=local), C(boot_index=0)) as Nova's clients do.
    type: list
    elements: dict
  min_count:
    description: The least number of servers to create; quota may reduce the number between I(min_count) and
      I(max_count).
    type: int
    default: 1
  max_count:
    description: The most servers to create. Defaults to I(min_count).
    type: int
  availability_zone:
    description: C(az), or C(az:host) / C(az:host:node) to force a host (admin only by policy).
    type: str
  key_name:
    description: A key pair of the requesting user, from C(stratus_keypairs), else one the user made through C(stratus
      api) (the state store); the catalog wins a clash.
    type: str
  user_data:
    description: Base64-encoded user data, at most 65535 characters; put on the config drive.
    type: str
  metadata:
    description: Server metadata (string keys and values); updated in place.
    type: dict
    default: {}
  personality:
    description: Files to inject (C(path), base64 C(contents)).
    type: list
    elements: dict
  config_drive:
    description: Attach a config drive. Defaults to the C(stratus_force_config_drive) variable (true).
    type: bool
  security_groups:
    description: Security group names (recorded; isolated networks have no filtering yet).
    type: list
    elements: raw
  scheduler_hints:
    description: Scheduler hints (C(group), C(same_host), C(different_host), ...).
    type: dict
  admin_pass:
    description: The admin password; never logged.
    type: str
  description:
    description: A free-form description; updated in place.
    type: str
  tags:
    description: Server tags; updated in place.
    type: list
    elements: str
    default: []
  host:
    description: Request a compute host (Nova 2.74 C(host)); admin only by policy; the filters still run.
    type: str
  hypervisor_hostname:
    description: Request a hypervisor by name (Nova 2.74); admin only by policy.
    type: str
  hostname:
    description:
      - The guest hostname (Nova 2.90, a fully qualified name as of 2.94); defaults to the sanitized name. Not with
        I(max_count) > 1.
      - RFC 1123, as dnsmasq and the guest take it, checked before anything is decided (C(InvalidRequest), field
        C(hostname)); dot-separated labels of 1 to 63 ASCII letters, digits and hyphens, none starting or ending with
        a hyphen, at most 253 characters. No underscore.
    type: str
  trusted_image_certificates:
    description: Trusted certificate ids (Nova 2.63); checked by policy, recorded.
    type: list
    elements: str
  recreate:
    description:
      - Replace a server whose fields that cannot change in place (flavor, image, networks, block devices, key, user
        data, files, config drive, zone, hints, hostname) differ from the request.
      - Without it such a difference fails with C(Conflict) naming the fields (a changed flavor or image is done in
        place instead when O(allow_resize) or O(allow_rebuild) says so). With it the old server is deleted at once
        (policy C(os_compute_api:servers:delete)) and a new one, with a new uuid, is built; the old server's host is
        cleaned (domain, disks, DHCP entry) before anything is built there, and its resources count as used on that
        host until then. A request that matches changes nothing.
    type: bool
    default: false
  allow_resize:
    description:
      - A flavor that differs from the server's is done in place as Nova's resize, then confirmed, instead of a
        C(Conflict) - the server keeps its uuid, IPs and name, the scheduler picks its host again for the new flavor
        (the same host only with C(stratus_allow_resize_to_same_host)), its root disk grows (never shrinks) and the
        claim moves with it (docs/server-actions.md, Declarative resize and rebuild).
      - Kept on every run - while it is set the server's flavor is compared with the request, so a server resized to
        another flavor by hand is resized back. Policy C(os_compute_api:servers:resize) and
        C(os_compute_api:servers:confirm_resize), the instance actions C(resize) and C(confirmResize) in the action
        log; a server that is not ACTIVE or SHUTOFF is left until it is. A resize refused or failed (C(NoValidHost),
        C(QuotaExceeded), C(ResizeError) for a smaller root disk, ...) fails the run with its error and changes
        nothing; the next run tries again.
    type: bool
    default: false
  allow_rebuild:
    description:
      - An image that differs from the server's is done in place as Nova's rebuild instead of a C(Conflict) - the
        server keeps its uuid, IPs, host and volumes and gets a new root disk of the image and a new config drive
        (docs/server-actions.md, Declarative resize and rebuild). When the flavor changes too (O(allow_resize)), the
        rebuild comes first.
      - Kept on every run - while it is set the server's image is compared with the request. Policy
        C(os_compute_api:servers:rebuild), the instance action C(rebuild) in the action log. A server booted from a
        volume has no image to change - its request's block devices differ instead (a C(Conflict)).
    type: bool
    default: false
  explain:
    description: Return the scheduler's reasoning in RV(explain), also with a C(NoValidHost) error. For every
      candidate host it names the filter that rejected it, or gives its weight per weigher. Best used with check mode.
    type: bool
    default: false
  # END options generated from schemas/server.json
  request:
    description:
      - The whole request as one mapping of the options above (the C(stratus.compute.provision) playbook
        passes each item of C(stratus_servers) this way), checked against C(schemas/server.json) as a whole;
        a key the schema does not know is refused. An option may not be given both here and on its own.
      - A request never names its caller; a C(context) key is refused (see notes).
    type: dict
  db_url:
    description:
      - The state store URL. Defaults to C(stratus_db_url), then E(STRATUS_DB_URL), then a SQLite
        file C(stratus.db) under E(STRATUS_STATE_DIR) (default C(~/.local/state/stratus)), mode 0600.
    type: str
extends_documentation_fragment:
  - stratus.compute.attributes
attributes:
  check_mode:
    support: full
    details: Runs every check and the scheduling decision, reports where each server would go, and writes nothing.
  diff_mode:
    support: none
notes:
  - Who asks comes from one place the operator controls, never from the request. That is the environment
    (E(STRATUS_USER_ID), E(STRATUS_PROJECT_ID), E(STRATUS_ROLES), set by an AWX credential or by the C(stratus)
    CLI's C(--user/--project/--role)), else the C(stratus_context) variable (C({user_id, project_id, roles}))
    of the inventory or the playbook. Admin is a role that policy recognises (C(context_is_admin)), never a
    flag. Roles imply each other as Keystone's defaults do (admin > manager > member > reader).
  - Every Stratus action refuses to run while an extra variable (AWX prompt on launch, C(-e)) of the
    C(stratus_) or C(ansible_) namespace overrides the inventory, except the playbooks' inputs such as
    C(stratus_servers) and what the operator lists in C(stratus_launch_vars). See C(docs/trust-model.md).
  - Catalog variables C(stratus_flavors), C(stratus_images), C(stratus_networks), C(stratus_keypairs),
    C(stratus_quotas), C(stratus_policy), C(stratus_server_groups) and the C(hypervisors) group describe
    what may be built and where; each is checked against its JSON Schema in C(schemas/), and a bad one
    fails with C(InvalidCatalog) naming the file, the line and the path.
author:
  - Stratus contributors (@stratus-compute)
"""

EXAMPLES = r"""
- name: Three small servers on the demo network
  stratus.compute.server:
    name: web
    flavor: m1.tiny
    image: stratus-guest
    networks: [{name: demo}]
    min_count: 3
  vars:
    stratus_context: {user_id: alice, project_id: demo, roles: [member]}
  register: web
"""

RETURN = r"""
servers:
  description: The servers of this request, as the state store holds them.
  returned: success
  type: list
  elements: dict
hosts:
  description: The hypervisors that have build work for this request.
  returned: success
  type: list
  elements: str
server_uuids:
  description: The uuids of the servers of this request.
  returned: success
  type: list
  elements: str
updates:
  description:
    - Existing servers whose flavor or image differs from the request where it lets them change in place
      (O(allow_resize), O(allow_rebuild)), each with C(id), C(name) and what it needs - C(image) (a rebuild to
      that image id), C(flavor) (a resize to that flavor id) and C(confirm) (the resize then confirmed).
      C(playbooks/provision.yml) runs those actions after the build.
  returned: when a server needs one
  type: list
  elements: dict
explain:
  description:
    - With I(explain=true), per candidate host of the first instance, C(rejected_by) (the filter that
      rejected it) or the weights per weigher; also returned with a C(NoValidHost) error.
  returned: when asked
  type: dict
error:
  description: On failure, C(code) (Nova's exception name), C(message) and C(field).
  returned: failure
  type: dict
"""
