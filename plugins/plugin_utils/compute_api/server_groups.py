# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova's os-server-groups for every front end: a project's server groups from two sources, the inventory's
catalog (``stratus_server_groups``, the operator's) and the state store (made through `stratus api`).

A group id is a uuid, so the two cannot clash; the catalog is looked in first. A create's
``scheduler_hints.group`` resolves against both, and membership (the instances' ``server_group_id``), the
member quota and the affinity filters and weighers are the same whichever source the group came from.
Another project's group does not exist for a caller (Nova's 404) unless policy makes the caller an admin.
"""
from __future__ import annotations

import datetime as dt
import typing as t
import uuid as uuidlib

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import quota
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import host_usage
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import server_groups as rows
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

POLICY = "os_compute_api:os-server-groups:%s"
POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")
RULES = ("max_server_per_host",)


def _not_found(group_id: t.Any, field: str = "id") -> StratusError:
    shown = group_id if isinstance(group_id, str) and len(group_id) <= 64 and group_id.isprintable() \
        and "<" not in group_id else "<invalid>"
    return StratusError("InstanceGroupNotFound", "Instance group %s could not be found." % shown, field)


def _catalog_group(catalog: Catalog, group_id: str) -> t.Optional[dict[str, t.Any]]:
    for group in catalog.server_groups:
        if str(group["id"]) == group_id:
            rules = dict(group.get("rules") or {})
            if "max_server_per_host" in rules:
                rules["max_server_per_host"] = int(rules["max_server_per_host"])
            return {"id": str(group["id"]), "name": group["name"], "policy": group["policy"], "rules": rules,
                    "project_id": group.get("project_id"), "user_id": group.get("user_id") or "",
                    "created_at": None, "source": "catalog"}
    return None


def lookup(conn: t.Optional[Connection], catalog: Catalog, group_id: str) -> t.Optional[dict[str, t.Any]]:
    """The group of this id in either source (the catalog's first), whoever's it is; the store is read only
    when the catalog has no such group."""
    found = _catalog_group(catalog, group_id)
    if found is None and conn is not None:
        found = rows.get(conn, group_id)
        if found is not None:
            found["source"] = "store"
    return found


def _visible(group: t.Mapping[str, t.Any], project_id: str, is_admin: bool) -> bool:
    return is_admin or group.get("project_id") == project_id


def for_server(catalog: Catalog, db_url: t.Optional[str], group_id: str, caller: Caller) -> dict[str, t.Any]:
    """A create's scheduler_hints.group (compute_api/checks.py): {id, name, policy, rules, project_id}, or
    InstanceGroupNotFound (Nova's 400). The store is read (a short transaction) only when the catalog has
    no such group."""
    group = _catalog_group(catalog, group_id)
    if group is None:
        with store.transaction(db_url) as conn:
            group = rows.get(conn, group_id)
    if group is None or not _visible(group, caller.project_id, caller.is_admin):
        raise _not_found(group_id, "scheduler_hints.group")
    return {k: group[k] for k in ("id", "name", "policy", "rules", "project_id")}


def count(conn: Connection, catalog: Catalog, project_id: str) -> int:
    return sum(1 for g in catalog.server_groups if g.get("project_id") == project_id) + rows.count(conn, project_id)


# --- the API (os-server-groups) -------------------------------------------------------------------------

def _with_members(conn: Connection, group: dict[str, t.Any]) -> dict[str, t.Any]:
    return dict(group, members=[u for u, _h in host_usage.group_members(conn, group["id"])])


def listed(conn: Connection, catalog: Catalog, caller: Caller, all_projects: bool = False) -> list[dict[str, t.Any]]:
    """The caller's project's groups; every project's for all_projects when policy allows it (Nova: an
    admin asking without it sees their own project's only)."""
    caller.authorize(POLICY % "index", {"project_id": caller.project_id})
    if all_projects:
        caller.authorize(POLICY % "index:all_projects", {"project_id": caller.project_id}, "all_projects")
    project = None if all_projects else caller.project_id
    groups = [g for g in (_catalog_group(catalog, str(c["id"])) for c in catalog.server_groups)
              if g is not None and (project is None or g["project_id"] == project)]
    groups += [dict(g, source="store") for g in rows.listed(conn, project)]
    return [_with_members(conn, g) for g in groups]


def _own(conn: Connection, catalog: Catalog, caller: Caller, group_id: str, action: str) -> dict[str, t.Any]:
    group = lookup(conn, catalog, group_id)
    if group is None or not _visible(group, caller.project_id, caller.is_admin):
        raise _not_found(group_id)
    caller.authorize(POLICY % action, {"project_id": group["project_id"], "user_id": group["user_id"]})
    return group


def show(conn: Connection, catalog: Catalog, caller: Caller, group_id: str) -> dict[str, t.Any]:
    return _with_members(conn, _own(conn, catalog, caller, group_id, "show"))


def checked_name(name: t.Any, field: str = "name") -> str:
    """Nova's name format: 1 to 255 printable characters, no whitespace at either end."""
    if not isinstance(name, str) or not 1 <= len(name) <= 255 or not name.isprintable() or name != name.strip():
        raise StratusError("InvalidInput", "Invalid input for field/attribute %s. A name is 1 to 255 printable "
                           "characters with no whitespace at either end." % field, field)
    return name


def checked_rules(policy: str, rules: t.Any, field: str = "rules") -> dict[str, int]:
    """Nova's 2.64 rules: max_server_per_host (a positive integer), with anti-affinity only."""
    if rules is None or rules == {}:
        return {}
    if not isinstance(rules, dict) or set(rules) - set(RULES):
        raise StratusError("InvalidInput", "Invalid input for field/attribute %s. The only rule is "
                           "max_server_per_host." % field, field)
    if policy != "anti-affinity":
        raise StratusError("InvalidInput", "Only anti-affinity policy supports rules.", field)
    value = rules["max_server_per_host"]
    text = str(value)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not text.isdigit() or len(text) > 9 \
            or int(text) < 1:
        raise StratusError("InvalidInput", "Invalid input for field/attribute %s.max_server_per_host. It must be a "
                           "positive integer." % field, field + ".max_server_per_host")
    return {"max_server_per_host": int(text)}


def create(conn: Connection, catalog: Catalog, quotas: t.Optional[t.Mapping[str, t.Any]], caller: Caller,
           name: t.Any, policy: t.Any, rules: t.Any = None, policy_field: str = "policy") -> dict[str, t.Any]:
    """A new group in the caller's project (never another's: Nova's create is member-only). Nothing is written
    on a refusal."""
    caller.authorize(POLICY % "create", caller.target())
    name = checked_name(name)
    if policy not in POLICIES:
        raise StratusError("InvalidInput", "Invalid input for field/attribute %s. It must be one of %s."
                           % (policy_field, ", ".join(POLICIES)), policy_field)
    checked = checked_rules(str(policy), rules)
    quota.serialize(conn)
    limits = quota.Limits(quotas, caller.project_id, caller.user_id)
    quota.check_server_groups(limits, count(conn, catalog, caller.project_id) + 1)
    made = rows.add(conn, str(uuidlib.uuid4()), name, caller.project_id, caller.user_id, str(policy), checked,
                    dt.datetime.now(dt.timezone.utc))
    return dict(made, source="store", members=[])


def delete(conn: Connection, catalog: Catalog, caller: Caller, group_id: str) -> None:
    """Nova deletes a group that has members; they keep running, and a later move finds no group to keep."""
    group = _own(conn, catalog, caller, group_id, "delete")
    if group["source"] == "catalog":
        raise StratusError("Conflict", "Server group %s is the operator's (the inventory's stratus_server_groups): "
                           "it is removed there, not through the API." % group_id, "id")
    rows.remove(conn, group_id)
