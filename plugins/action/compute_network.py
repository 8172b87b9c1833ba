# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.stratus.compute.plugins.plugin_utils.step_action import StepAction


class ActionModule(StepAction):
    STEP = "network"
    MODULE = "stratus.compute.compute_network"
