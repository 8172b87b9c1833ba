# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every Stratus action resolves from its task's variables, in one place.

The extra-variable guard (launch.py), the caller (caller.py), the catalog (every variable of
catalog.CATALOG_VARS, templated and raw) and the store URL (the task's db_url, the
stratus_db_url variable, then STRATUS_DB_URL or the default SQLite file: store/engine.py).
"""
from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import caller as callerlib
from ansible_collections.stratus.compute.plugins.plugin_utils.actions import launch
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import CATALOG_VARS


class CatalogVars(t.NamedTuple):
    """The catalog variables templated (what is read) and raw (what still knows its file and line)."""

    values: dict[str, t.Any]
    raw: dict[str, t.Any]


class StratusAction(ActionBase):
    TRANSFERS_FILES = False

    def launch_guard(self, task_vars: t.Mapping[str, t.Any]) -> None:
        """Refuse to act while an extra variable overrides the operator's (launch.py)."""
        launch.check_extra_vars(task_vars)

    def caller(self, task_vars: t.Mapping[str, t.Any]) -> callerlib.Caller:
        """Who asks, with the operator's policy: the environment, else stratus_context."""
        return callerlib.resolve(self._templar.template(task_vars.get(callerlib.CONTEXT_VAR)),
                                 self._templar.template(task_vars.get("stratus_policy") or {}))

    def catalog_vars(self, task_vars: t.Mapping[str, t.Any]) -> CatalogVars:
        present = [k for k in CATALOG_VARS if k in task_vars]
        return CatalogVars({k: self._templar.template(task_vars[k]) for k in present},
                           {k: task_vars[k] for k in present})

    def store_url(self, task_vars: t.Mapping[str, t.Any]) -> t.Optional[str]:
        """The task's db_url, else stratus_db_url; None lets the store take STRATUS_DB_URL or its default."""
        url = self._task.args.get("db_url") or task_vars.get("stratus_db_url")
        return self._templar.template(url) if url else None
