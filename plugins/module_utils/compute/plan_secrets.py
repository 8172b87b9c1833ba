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
a config drive without them. The plan does the work (`BuildPlan.without_secrets`,
`BuildPlan.with_secrets`); these two take and give the dicts of the modules' arguments.
"""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan, read_plan


def split(plans: t.Sequence[t.Union[BuildPlan, t.Mapping[str, t.Any]]],
          ) -> tuple[list[dict[str, t.Any]], dict[str, dict[str, t.Any]]]:
    """(the plans without their secrets, the secrets by instance uuid); the input is not changed."""
    bare: list[dict[str, t.Any]] = []
    secrets: dict[str, dict[str, t.Any]] = {}
    for plan in plans:
        without, found = read_plan(plan).without_secrets()
        bare.append(without.to_dict())
        if found:
            secrets[without.uuid] = found
    return bare, secrets


def merge(plan: t.Union[BuildPlan, t.Mapping[str, t.Any]], secrets: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The instance's plan with its config drive's secrets back in place (a new dict)."""
    return read_plan(plan).with_secrets(secrets).to_dict()
