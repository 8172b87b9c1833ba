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
  - Every failure returns C(error) with C(code) (Nova's exception name), C(message) and C(field).
options:
  name:
    description: The server name (Nova's C(name)). Printable, no leading or trailing whitespace, at most 255 characters.
    type: str
    required: true
  state:
    description: C(present) creates. Delete (C(absent)) comes with the compute steps' reverse walk.
    type: str
    default: present
    choices: [present]
  flavor:
    description: Flavor name or id from C(stratus_flavors).
    type: raw
  image:
    description: Image name or id from C(stratus_images).
    type: raw
  networks:
    description:
      - A list of C({uuid | name, fixed_ip, port}), or C(auto) (the only network of the catalog) or C(none).
    type: raw
  block_device_mapping_v2:
    description: Nova's block device mapping v2 entries.
    type: list
    elements: dict
  min_count:
    description: The least number of servers to create; quota may reduce the number between I(min_count) and I(max_count).
    type: int
    default: 1
  max_count:
    description: The most servers to create. Defaults to I(min_count).
    type: int
  availability_zone:
    description: C(az), or C(az:host) / C(az:host:node) to force a host (admin only by policy).
    type: str
  key_name:
    description: A key pair of the requesting user from C(stratus_keypairs).
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
  context:
    description:
      - The request context C({user_id, project_id, roles}). Defaults to the C(stratus_context) variable.
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
  - Catalog variables C(stratus_flavors), C(stratus_images), C(stratus_networks), C(stratus_keypairs),
    C(stratus_quotas) and the C(hypervisors) group describe what may be built and where.
author:
  - Stratus contributors
"""

EXAMPLES = r"""
- name: Three small servers on the demo network
  stratus.compute.server:
    name: web
    flavor: m1.tiny
    image: stratus-guest
    networks: [{name: demo}]
    min_count: 3
    context: {user_id: alice, project_id: demo, roles: [member]}
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
error:
  description: On failure, C(code) (Nova's exception name), C(message) and C(field).
  returned: failure
  type: dict
"""
