# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import hashlib
import os
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.compute.steps import DEFAULT_BASE_POOL_PATH
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.step_action import StepAction
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances

_SHA256_CACHE: dict[tuple[str, int, float], str] = {}


def file_sha256(path: str) -> str:
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime)
    if key not in _SHA256_CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _SHA256_CACHE[key] = digest.hexdigest()
    return _SHA256_CACHE[key]


class ActionModule(StepAction):
    """The block device step; copies each image to the host's base pool only when its checksum differs."""

    STEP = "block_devices"
    MODULE = "stratus.compute.compute_block_devices"
    # Not True: that makes Ansible open a remote temp dir before run(), even on a host with
    # nothing to do; _upload_images makes one only when an image must be copied.
    TRANSFERS_FILES = False

    def module_args(self, plans: list[dict[str, t.Any]], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        args = super().module_args(plans, task_vars)
        base = args.setdefault("base_pool_path", task_vars.get("stratus_base_pool_path", DEFAULT_BASE_POOL_PATH))
        if "instance_pool_path" not in args and task_vars.get("stratus_instance_pool_path"):
            args["instance_pool_path"] = task_vars["stratus_instance_pool_path"]
        if args.get("state", "present") == "present":
            args["uploads"] = self._upload_images(plans, base, task_vars)
        return args

    def _upload_images(self, plans: list[dict[str, t.Any]], base: str,
                       task_vars: dict[str, t.Any]) -> dict[str, str]:
        images = {p["image"]["id"]: p["image"] for p in plans if p.get("image")}
        uploads: dict[str, str] = {}
        for image_id, image in sorted(images.items()):
            local = image.get("file")
            if not local or not os.path.isfile(local):
                raise StratusError("ImageNotFound", "the file of image %s (%s) is missing on the controller"
                                   % (image_id, local), "image")
            remote = os.path.join(base, image_id)
            stat = self._execute_module("ansible.builtin.stat", module_args={
                "path": remote, "get_checksum": True, "checksum_algorithm": "sha256"}, task_vars=task_vars)
            if stat.get("stat", {}).get("checksum") == file_sha256(local):
                continue
            tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
            dest = self._connection._shell.join_path(tmpdir, "image-" + image_id)
            self._transfer_file(local, dest)
            uploads[image_id] = dest
        return uploads

    def after_module(self, conn: t.Any, host: str, uuid: str, outcome: dict[str, t.Any]) -> None:
        if "disks" not in outcome:
            return
        row = conn.execute(instances.select().where(instances.c.uuid == uuid)).first()
        plan = dict(row.plan, disks=outcome["disks"])
        conn.execute(instances.update().where(instances.c.uuid == uuid).values(plan=plan))
