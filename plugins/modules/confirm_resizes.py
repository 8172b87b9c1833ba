#!/usr/bin/python
# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: confirm_resizes
short_description: Confirm resizes and cold migrations that waited longer than the resize confirm window
version_added: 0.1.0
description:
  - Nova's C(resize_confirm_window) and its periodic task - every resize or cold migration that has waited in
    C(VERIFY_RESIZE) longer than I(window) seconds is confirmed, as M(stratus.compute.server_action) with
    C(action=confirm_resize) would (the migration C(confirming), the source's copy recorded for clean-up). The
    source's M(stratus.compute.compute_resize) step in the same run cleans it and ends the confirm.
  - Run first by C(playbooks/server_action.yml) and C(playbooks/provision.yml), and by
    C(playbooks/confirm_resizes.yml), which operators schedule (cron, an AWX schedule) so that the window holds
    without other runs.
  - The system confirms, not the caller - the instance action's user is C(stratus).
  - An action plugin; it runs on the controller.
options:
  window:
    description:
      - Seconds a resize may wait for its confirm or revert (Nova's C(resize_confirm_window)). C(0) - never
        confirmed automatically. Default the C(stratus_resize_confirm_window) variable, else C(0).
    type: int
extends_documentation_fragment:
  - stratus.compute.store_read
  - stratus.compute.attributes
attributes:
  check_mode:
    support: full
    details: Names the servers it would confirm; nothing is recorded.
  diff_mode:
    support: none
author:
  - Stratus contributors (@stratus-compute)
seealso:
  - module: stratus.compute.server_action
  - module: stratus.compute.compute_resize
"""

EXAMPLES = r"""
- name: Confirm resizes that waited more than a day
  stratus.compute.confirm_resizes:
    window: 86400
"""

RETURN = r"""
confirmed:
  description: The names of the servers confirmed.
  returned: success
  type: list
  elements: str
move_first:
  description: Their sources, whose C(compute_resize) step cleans the old copies.
  returned: success
  type: list
  elements: str
server_uuids:
  description: Their uuids.
  returned: success
  type: list
  elements: str
request_id:
  description: The request id of the confirms in the action log.
  returned: success
  type: str
"""
