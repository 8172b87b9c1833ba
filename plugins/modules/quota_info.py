#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: quota_info
short_description: Limits and usage of a project's quota
version_added: 0.1.0
description:
  - Returns Nova's quota-sets detail for a project, C(limit), C(in_use) and C(reserved) per resource
    (an action plugin that runs on the controller). Limits come from C(stratus_quotas) over Nova's defaults;
    instances, cores and ram in use are counted from the live servers in the state store; key pairs
    and server groups from the catalog.
  - Policy C(os_compute_api:os-quota-sets:show) and C(os_compute_api:os-quota-sets:detail)
    (default C(rule:project_reader_or_admin)), so a reader of the project or an admin.
options:
  project_id:
    description: The project whose quota to show; defaults to the caller's project.
    type: str
  user_id:
    description:
      - Show the limits of this user in the project (per-user limits of C(stratus_quotas.users)), with
        instances, cores and ram counted for that user only, and the user's key pairs.
    type: str
extends_documentation_fragment:
  - stratus.compute.store_read
  - stratus.compute.attributes
  - stratus.compute.attributes.read
seealso:
  - module: stratus.compute.server
"""

EXAMPLES = r"""
- name: My project's quota
  stratus.compute.quota_info:
  register: q

- name: How many more instances fit
  ansible.builtin.debug:
    msg: "{{ q.quota_set.instances.limit - q.quota_set.instances.in_use }}"
"""

RETURN = r"""
project_id:
  description: The project shown.
  returned: success
  type: str
  sample: demo
user_id:
  description: The user shown, when I(user_id) was given.
  returned: success
  type: str
quota_set:
  description:
    - Per resource (C(instances), C(cores), C(ram), C(metadata_items), C(injected_files),
      C(injected_file_content_bytes), C(injected_file_path_bytes), C(key_pairs), C(server_groups),
      C(server_group_members)) its C(limit) (-1 is unlimited), C(in_use) and C(reserved) (always 0).
  returned: success
  type: dict
  sample: {instances: {limit: 10, in_use: 3, reserved: 0}, cores: {limit: 20, in_use: 3, reserved: 0}}
error:
  description: On failure, C(code) (for example C(PolicyNotAuthorized)), C(message) and C(field).
  returned: failure
  type: dict
"""
