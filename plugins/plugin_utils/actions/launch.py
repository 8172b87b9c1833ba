# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which extra variables a launcher may give: AWX's prompt on launch, ``-e``, ansible-runner's env/extravars.

Extra variables beat every other source of a variable in Ansible, so whoever launches a job
could otherwise replace what the operator set in the inventory: the caller (stratus_context),
policy, quotas, image files, the store URL, a hypervisor's capacity, or Ansible's own
connection settings (ansible_host, ansible_python_interpreter, ...) and so run code anywhere.

Every Stratus action refuses to run while an extra variable of the ``stratus_`` or ``ansible_``
namespace is set that is not a launch input: the requests and filters the playbooks take
(``LAUNCH_VARS``, the survey's ``stratus_survey_*`` answers), plus what the operator lists in the
inventory's ``stratus_launch_vars``. Other names are the playbook's own inputs: a playbook reads
them only if its author chose to. docs/trust-model.md lists what a job template may accept.
"""
from __future__ import annotations

import typing as t

from ansible import context as cli_context

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

# The inputs of the collection's playbooks; policy still decides what each may do.
LAUNCH_VARS = frozenset((
    "stratus_servers",        # provision.yml: the server requests (checked against schemas/server.json)
    "stratus_actions",        # server_action.yml: server actions (stop, start, reboot; policy decides)
    # action_steps_for.yml (a server_action task's own run of its steps, wait): results of actions already
    # recorded; the steps only finish what the store has under way
    "stratus_recorded_actions",
    "stratus_request",        # explain.yml: one request
    "stratus_all_projects",   # server_list.yml: every project (policy: admin)
    "stratus_server_name", "stratus_server_uuids", "stratus_server_actions",
    "stratus_quota_project", "stratus_quota_user",  # quota_show.yml (policy: reader of that project, or admin)
    "stratus_hypervisors",    # hypervisor_list.yml (policy: admin)
    # hypervisor_service.yml (policy: admin)
    "stratus_hypervisor", "stratus_hypervisor_disabled", "stratus_hypervisor_reason", "stratus_hypervisor_forced_down",
    # baremetal_node.yml, baremetal_node_list.yml (policy: admin)
    "stratus_baremetal_node", "stratus_baremetal_action", "stratus_baremetal_maintenance",
    "stratus_baremetal_reason", "stratus_baremetal_events",
))
LAUNCH_PREFIXES = ("stratus_survey_",)  # provision_survey.yml: a survey's answers
GUARDED_PREFIXES = ("stratus_", "ansible_")
OPERATOR_LIST = "stratus_launch_vars"


def extra_var_names() -> set[str]:
    """The names given as extra variables to this ansible-playbook process (none outside one)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.utils.vars import load_extra_vars

    if not cli_context.CLIARGS.get("extra_vars"):
        return set()
    # load_extra_vars keeps what the process loaded at start-up; a fresh loader only reads files
    return set(load_extra_vars(DataLoader()))


def refused(names: t.Iterable[str], operator_allows: t.Iterable[str] = ()) -> list[str]:
    """The names that a launcher may not set, sorted."""
    allowed = LAUNCH_VARS | set(operator_allows)
    return sorted(n for n in names if n.startswith(GUARDED_PREFIXES) and n not in allowed
                  and not n.startswith(LAUNCH_PREFIXES))


def check_extra_vars(task_vars: t.Mapping[str, t.Any], names: t.Optional[t.Iterable[str]] = None) -> None:
    """Raise Forbidden when an extra variable would override what the operator set."""
    names = set(extra_var_names() if names is None else names)
    if not names:
        return
    if OPERATOR_LIST in names:
        raise StratusError("Forbidden", "%s may not be given as an extra variable: it is the operator's list of "
                           "the extra variables a launcher may give, set in the inventory" % OPERATOR_LIST,
                           OPERATOR_LIST)
    operator_allows = task_vars.get(OPERATOR_LIST) or []
    if not isinstance(operator_allows, (list, tuple)) or not all(isinstance(n, str) for n in operator_allows):
        raise StratusError("InvalidCatalog", "%s: must be a list of variable names" % OPERATOR_LIST, OPERATOR_LIST)
    bad = refused(names, operator_allows)
    if bad:
        raise StratusError("Forbidden", "extra variable(s) %s may not be given at launch: they would override the "
                           "operator's inventory (identity, policy, quotas, catalog, store, connection). A launcher "
                           "may give %s and stratus_survey_*; an operator may allow more in the inventory's %s"
                           % (", ".join(bad), ", ".join(sorted(LAUNCH_VARS)), OPERATOR_LIST), bad[0])
