#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: server_info
short_description: List and show the servers the caller may see
version_added: 0.1.0
description:
  - Reads servers from the state store (an action plugin; runs on the controller).
  - A caller sees only the servers of its own project, unless it has the C(admin) role and asks for I(all_projects).
options:
  name:
    description: Only the server with this name.
    type: str
  uuids:
    description:
      - Only servers with these uuids - as Nova's show, a caller that passes
        C(os_compute_api:servers:detail:get_all_tenants) (admin) finds them in any project, anyone else in
        their own.
    type: list
    elements: str
  all_projects:
    description: Servers of every project (policy C(os_compute_api:servers:detail:get_all_tenants), admin by default).
    type: bool
    default: false
  actions:
    description: Add each server's action log (Nova's instance actions with their events).
    type: bool
    default: false
  refusals:
    description: Also return the refused requests of the project (name, request id, error code and message).
    type: bool
    default: false
extends_documentation_fragment:
  - stratus.compute.store_read
  - stratus.compute.attributes
  - stratus.compute.attributes.read
"""

EXAMPLES = r"""
- name: My project's servers
  stratus.compute.server_info:
  register: mine
"""

RETURN = r"""
servers:
  description:
    - Servers with id, name, host, vm_state, task_state, power_state, status (Nova's - C(BUILD), C(ACTIVE),
      C(SHUTOFF), C(REBOOT), C(HARD_REBOOT), C(ERROR)), fault, addresses, flavor, metadata.
    - C(last_action) - the server's last instance action (C(create), C(stop), C(start), C(reboot), C(delete))
      with C(request_id), C(start_time), C(finish_time) and C(result) (C(Error) when one of its events failed,
      C(Success) once finished, null while under way); C(actions) the whole action log when I(actions=true).
    - C(migration) - only while a resize or migration is under way or waits for its confirm or revert - its
      C(id), C(type) (C(resize), C(migration)), C(status) (Nova's, such as C(finished)), C(source) and C(dest).
  returned: success
  type: list
  elements: dict
refusals:
  description: Refused requests (when I(refusals=true)), oldest first.
  returned: when refusals is true
  type: list
  elements: dict
"""
