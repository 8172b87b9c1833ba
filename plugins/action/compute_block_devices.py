# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.step import (
    BaseImageUploads, remember_disks, with_pool_paths)


class ActionModule(BaseImageUploads):
    """The block device step; copies an image to the host's base pool only when the module finds its
    checksum differs there (one module call per host when nothing is to copy)."""

    STEP = "block_devices"
    MODULE = "stratus.compute.compute_block_devices"
    # Not True: that makes Ansible open a remote temp dir before run(), even on a host with
    # nothing to do; an upload makes one only when an image must be copied.
    TRANSFERS_FILES = False

    def module_args(self, plans: list[BuildPlan], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        args = with_pool_paths(super().module_args(plans, task_vars), task_vars)
        if args.get("state", "present") == "present":
            args["image_checksums"] = self.image_checksums(plans)
        return args

    def after_module(self, conn: t.Any, host: str, uuid: str, outcome: dict[str, t.Any]) -> None:
        if "disks" in outcome:
            remember_disks(conn, uuid, outcome["disks"])
