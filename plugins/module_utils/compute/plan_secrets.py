# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The secret parts of a build plan travel apart from it.

Ansible logs every module's arguments to the system log of the host it runs on ("Invoked
with ..."), except the values of options marked ``no_log``. A build plan's config drive holds
secrets: ``meta_data.admin_pass``, ``user_data`` and the injected ``files`` (personality: path and
base64 contents). Marking the whole ``instances`` option ``no_log`` would make Ansible mask every
string of every plan (uuids, ``disk``, ``virtio``) wherever it appears in the module's output.
So the controller half of a step takes the secrets out of each plan (`split`) and sends them
in the ``no_log`` option ``secrets``, keyed by instance uuid; the module puts them back
(`merge`) just before it builds the config drive. The plan keeps the names of the parts it
lost (``config_drive.secrets``), so a module that is not given them fails instead of building
a config drive without them.
"""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

# Parts of config_drive (admin_pass is in its meta_data) that never go into `instances`.
SECRET_PARTS = ("admin_pass", "user_data", "files")
MOVED_KEY = "secrets"


def split(plans: list[dict[str, t.Any]]) -> tuple[list[dict[str, t.Any]], dict[str, dict[str, t.Any]]]:
    """(the plans without their secrets, the secrets by instance uuid); the input is not changed."""
    bare: list[dict[str, t.Any]] = []
    secrets: dict[str, dict[str, t.Any]] = {}
    for plan in plans:
        cd = plan.get("config_drive")
        if not isinstance(cd, dict):
            bare.append(plan)
            continue
        meta = dict(cd.get("meta_data") or {})
        found = {"admin_pass": meta.pop("admin_pass", None), "user_data": cd.get("user_data"),
                 "files": cd.get("files") or None}
        found = {k: v for k, v in found.items() if v is not None}
        stripped = {k: v for k, v in cd.items() if k not in ("user_data", "files", "meta_data")}
        stripped.update(meta_data=meta, **{MOVED_KEY: sorted(found)})
        bare.append(dict(plan, config_drive=stripped))
        if found:
            secrets[plan["uuid"]] = found
    return bare, secrets


def merge(inst: dict[str, t.Any], secrets: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The instance's plan with its config drive's secrets back in place (a new dict)."""
    cd = inst.get("config_drive")
    if not isinstance(cd, dict) or MOVED_KEY not in cd:  # no config drive, or a plan never split
        return inst
    mine = secrets.get(inst["uuid"]) or {}
    if not isinstance(mine, dict):
        raise StratusError("InvalidRequest", "the secrets of instance %s are not a dict" % inst["uuid"], "secrets")
    missing = [k for k in cd.get(MOVED_KEY) or [] if k not in mine]
    if missing:
        raise StratusError("InvalidRequest", "the config drive of instance %s needs its %s, which the action "
                           "plugin passes in the secrets option" % (inst["uuid"], ", ".join(missing)), "secrets")
    full = {k: v for k, v in cd.items() if k != MOVED_KEY}
    meta = dict(cd.get("meta_data") or {})
    if mine.get("admin_pass") is not None:
        meta["admin_pass"] = mine["admin_pass"]
    full["meta_data"] = meta
    full["user_data"] = mine.get("user_data")
    full["files"] = list(mine.get("files") or [])
    return dict(inst, config_drive=full)
