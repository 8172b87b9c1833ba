# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: servers
short_description: Stratus servers as inventory hosts
version_added: 0.1.0
description:
  - Reads the live servers from the Stratus state store and makes each one an inventory host, with
    C(ansible_host) set to its first fixed IP address.
  - Groups them by project (C(project_<id>)), availability zone (C(az_<zone>), when the request named
    one), flavor (C(flavor_<name>)), hypervisor (C(hypervisor_<host>), or C(baremetal_node_<node>) for a
    bare-metal server's node) and Nova's status (C(status_active), C(status_shutoff), C(status_error), ...;
    a play for the running servers targets C(status_active)); I(compose), I(groups) and I(keyed_groups) add
    more, as in the C(constructed) plugin.
  - A caller sees the servers of its own project; a caller that passes policy
    C(os_compute_api:servers:detail:get_all_tenants) (admin by default) sees every project's, unless
    I(all_projects=false).
  - Every value read from the store is marked unsafe, so a server name or metadata value is never
    rendered as a template.
  - The file must be named C(*.stratus.yml) or C(*.stratus.yaml). Nothing is cached, so every run sees
    the store as it is.
options:
  plugin:
    description: The name of this plugin; it must be C(stratus.compute.servers).
    type: str
    required: true
    choices: [stratus.compute.servers]
  db_url:
    description:
      - The state store URL. Defaults to E(STRATUS_DB_URL), then a SQLite file C(stratus.db) under
        E(STRATUS_STATE_DIR) (default C(~/.local/state/stratus)), as for M(stratus.compute.server).
    type: str
    env:
      - name: STRATUS_DB_URL
  context:
    description:
      - The caller C({user_id, project_id, roles}), as the C(stratus_context) variable has it (no
        C(is_admin), since admin is a role that policy recognises).
      - When E(STRATUS_USER_ID) and E(STRATUS_PROJECT_ID) are set (an AWX credential, the C(stratus) CLI),
        they name the caller instead, as for every Stratus front end. Without either, I(user_id),
        I(project_id) and I(roles) make one.
    type: dict
  user_id:
    description: The caller's user id, when neither the environment nor I(context) names the caller.
    type: str
  project_id:
    description: The caller's project id, when neither the environment nor I(context) names the caller.
    type: str
  roles:
    description: The caller's roles, when neither the environment nor I(context) names the caller.
    type: list
    elements: str
    default: [reader]
  policy:
    description: Policy rule overrides, as in the C(stratus_policy) variable.
    type: dict
    default: {}
  all_projects:
    description:
      - For a caller allowed to list every project (admin by default), include every project's servers.
        Other callers always see their own project only.
    type: bool
    default: true
  vm_states:
    description: Only servers in these vm_states (for example C([active])); by default every live server.
    type: list
    elements: str
  hostname:
    description:
      - What names the host, after I(host_prefix). C(name) is the server name; when two visible servers
        share one (in two projects), or the name is not a plain host name (letters, digits, C(_.-)), the
        server is named by its uuid instead. C(uuid) is the server id.
    type: str
    default: name
    choices: [name, uuid]
  host_prefix:
    description:
      - Put before every host name, so that a server cannot take the name of a host of another inventory
        source (a server named C(hv1) would otherwise merge into the hypervisor C(hv1) and replace its
        C(ansible_host)). Server names are chosen by project members; host names are the operator's.
      - A name that is already a host of a source parsed before this one, or C(localhost), is never used;
        the server gets I(host_prefix) plus its uuid instead (with a warning). Sources parsed after this one
        can still merge into its hosts, so with an empty prefix list this source last.
    type: str
    default: server-
extends_documentation_fragment:
  - constructed
author:
  - Stratus contributors (@stratus-compute)
"""

EXAMPLES = r"""
# demo.stratus.yml: the servers of the demo project, as hosts server-<name>
plugin: stratus.compute.servers
context: {user_id: demo, project_id: demo, roles: [member]}

# ops.stratus.yml: every project, with a group per metadata role and per vm_state
plugin: stratus.compute.servers
db_url: postgresql://stratus@db.example.org/stratus
context: {user_id: root, project_id: ops, roles: [admin]}
vm_states: [active]
keyed_groups:
  - key: stratus_metadata.role | default('none')
    prefix: role
  - key: stratus_vm_state
    prefix: state
compose:
  ansible_user: "'root'"
groups:
  web: stratus_name.startswith('web')
"""

RETURN = r"""
_hostvars:
  description: The variables each server host gets (all marked unsafe).
  type: dict
  contains:
    ansible_host:
      description: The first fixed IP address of the server (absent when it has none).
      type: str
    stratus_id:
      description: The server uuid.
      type: str
    stratus_name:
      description: The server name.
      type: str
    stratus_project_id:
      description: The project of the server.
      type: str
    stratus_user_id:
      description: The user who created the server.
      type: str
    stratus_hypervisor:
      description: The hypervisor the server is placed on (a bare-metal server's node).
      type: str
    stratus_driver:
      description: What builds the server, C(libvirt) (a domain on a hypervisor) or C(baremetal) (a whole node).
      type: str
    stratus_availability_zone:
      description: The availability zone the request named, or null.
      type: str
    stratus_flavor:
      description: The flavor name.
      type: str
    stratus_vm_state:
      description: Nova's vm_state (building, active, error, ...).
      type: str
    stratus_task_state:
      description: Nova's task_state, or null.
      type: str
    stratus_status:
      description: Nova's API status (BUILD, ACTIVE, ERROR, ...).
      type: str
    stratus_addresses:
      description: Fixed addresses per network name, each a list of C(addr) and C(mac).
      type: dict
    stratus_metadata:
      description: The server metadata.
      type: dict
    stratus_tags:
      description: The server tags.
      type: list
    stratus_server:
      description: The whole server view, as M(stratus.compute.server_info) returns it.
      type: dict
"""

import os
import re
import typing as t

from ansible.errors import AnsibleParserError
from ansible.inventory.group import to_safe_group_name
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import caller as callerlib
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import views
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store


# A host name that is not also an inventory pattern (no ',', ':', '!', '&', '*', '[', '~' or space).
_HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
_RESERVED = frozenset(("localhost", "127.0.0.1", "::1", "all", "ungrouped"))


def _first_ip(server: t.Mapping[str, t.Any]) -> t.Optional[str]:
    for addrs in (server.get("addresses") or {}).values():
        for addr in addrs or []:
            if addr.get("addr"):
                return str(addr["addr"])
    return None


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "stratus.compute.servers"

    def verify_file(self, path: str) -> bool:
        return bool(super().verify_file(path)) and path.endswith((".stratus.yml", ".stratus.yaml"))

    def _context(self) -> dict[str, t.Any]:
        """Who asks: the environment (as for every front end), else this source's configuration."""
        from_env = callerlib.context_from_environment(os.environ)
        if from_env is not None:
            return from_env
        ctx = self.get_option("context")
        if ctx:
            return callerlib.checked_context(ctx, "context")
        return callerlib.checked_context({"user_id": self.get_option("user_id"),
                                          "project_id": self.get_option("project_id"),
                                          "roles": list(self.get_option("roles") or [])}, "user_id/project_id")

    def _host_name(self, server: t.Mapping[str, t.Any], taken: set[str]) -> t.Optional[str]:
        """The server's host name: prefix + name (or uuid), never a name another source or server has."""
        prefix = self.get_option("host_prefix") or ""
        by_uuid = prefix + server["id"]
        name = prefix + server["name"] if self.get_option("hostname") == "name" else by_uuid
        if name != by_uuid and not _HOST_NAME.fullmatch(name):
            self.display.warning("stratus.compute.servers: server %s has a name that is not a plain host name; it is "
                                 "host %s" % (server["id"], by_uuid))
            name = by_uuid
        if name != by_uuid and (name in taken or name in self.inventory.hosts or name in _RESERVED):
            self.display.warning("stratus.compute.servers: host %s is taken (another source or server, or reserved); "
                                 "server %s of project %s is host %s"
                                 % (name, server["id"], server["project_id"], by_uuid))
            name = by_uuid
        if name in taken or name in self.inventory.hosts or not _HOST_NAME.fullmatch(name):
            self.display.warning("stratus.compute.servers: host %s is taken or not a plain host name (host_prefix?); "
                                 "server %s is left out" % (name, server["id"]))
            return None
        return name

    def parse(self, inventory: t.Any, loader: t.Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            caller = callerlib.Caller(self._context(), Enforcer(self.get_option("policy") or None))
            project_id = views.visible_project(caller, self.get_option("all_projects"), strict=False)
            with store.transaction(self.get_option("db_url")) as conn:
                rows = views.visible_servers(conn, project_id)
        except StratusError as exc:
            raise AnsibleParserError("%s: %s" % (path, exc))
        wanted = self.get_option("vm_states")
        servers = [views.server_view(r) for r in rows if not wanted or r.vm_state in wanted]
        taken: set[str] = set()
        for server in servers:
            name = self._host_name(server, taken)
            if name is not None:
                taken.add(name)
                self._add_server(name, server)

    def _add_server(self, name: str, server: dict[str, t.Any]) -> None:
        strict = self.get_option("strict")
        host = self.inventory.add_host(name)
        hostvars = {
            "stratus_id": server["id"], "stratus_name": server["name"], "stratus_project_id": server["project_id"],
            "stratus_user_id": server["user_id"], "stratus_hypervisor": server["host"], "stratus_driver": server["driver"],
            "stratus_availability_zone": server["availability_zone"],
            "stratus_flavor": (server.get("flavor") or {}).get("name"), "stratus_vm_state": server["vm_state"],
            "stratus_task_state": server["task_state"], "stratus_status": server["status"],
            "stratus_addresses": server["addresses"], "stratus_metadata": server["metadata"],
            "stratus_tags": server["tags"], "stratus_server": server,
        }
        address = _first_ip(server)
        if address:
            hostvars["ansible_host"] = address
        for key, value in hostvars.items():
            self.inventory.set_variable(host, key, wrap_var(value))
        for prefix, value in (("project", server["project_id"]), ("az", server["availability_zone"]),
                              ("flavor", hostvars["stratus_flavor"]), ("status", server["status"].lower()),
                              ("baremetal_node" if server["driver"] == "baremetal" else "hypervisor", server["host"])):
            if value:
                group = self.inventory.add_group(to_safe_group_name("%s_%s" % (prefix, value), force=True, silent=True))
                self.inventory.add_child(group, host)
        variables = self.inventory.get_host(host).get_vars()
        self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)
