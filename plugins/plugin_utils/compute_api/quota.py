# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Quota: Nova's resources, defaults, limit checks and counting, from the state store.

Limits come from ``stratus_quotas`` (defaults, then per project, then per user in
a project), over Nova's defaults. Countable resources (instances, cores, ram,
server group members) are counted from the store inside the caller's transaction,
so the count and the claim that follows it cannot be split by another run.
All over-quota refusals carry the code ``QuotaExceeded`` and Nova's message.
"""
from __future__ import annotations

import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances, placement_lock

# nova/conf/quota.py defaults; -1 means unlimited.
NOVA_DEFAULTS: dict[str, int] = {
    "instances": 10, "cores": 20, "ram": 51200, "metadata_items": 128, "injected_files": 5,
    "injected_file_content_bytes": 10240, "injected_file_path_bytes": 255, "key_pairs": 100,
    "server_groups": 10, "server_group_members": 10,
    # deprecated and not enforced, accepted for compatibility as Nova does
    "fixed_ips": -1, "floating_ips": -1, "security_groups": -1, "security_group_rules": -1,
}
COUNTED = ("instances", "cores", "ram")


def over(message: str, field: t.Optional[str]) -> StratusError:
    return StratusError("QuotaExceeded", message, field)


class Limits:
    """The effective limits of one (project, user)."""

    def __init__(self, quotas: t.Optional[t.Mapping[str, t.Any]], project_id: str, user_id: str) -> None:
        quotas = quotas or {}
        self.values = dict(NOVA_DEFAULTS)
        self.values.update(quotas.get("defaults") or {})
        self.values.update((quotas.get("projects") or {}).get(project_id) or {})
        self.user_values = dict(((quotas.get("users") or {}).get(project_id) or {}).get(user_id) or {})
        self.values.update(self.user_values)

    def __getitem__(self, resource: str) -> int:
        return int(self.values[resource])

    @property
    def per_user(self) -> bool:
        """Nova counts per user only when the user has their own instances/cores/ram limits."""
        return any(r in self.user_values for r in COUNTED)


def check_metadata(limits: Limits, metadata: t.Optional[t.Mapping[str, t.Any]]) -> None:
    """_check_metadata_properties_quota."""
    limit = limits["metadata_items"]
    if metadata and 0 <= limit < len(metadata):
        raise over("Maximum number of metadata items exceeds %d" % limit, "metadata")


def check_injected_files(limits: Limits, files: t.Optional[list[t.Mapping[str, t.Any]]]) -> None:
    """_check_injected_file_quota: count first, then the path before the content."""
    if not files:
        return
    if 0 <= limits["injected_files"] < len(files):
        raise over("Personality file limit exceeded", "personality")
    max_path = max(len(f.get("path") or "") for f in files)
    max_content = max(len(f.get("contents") or "") for f in files)
    if 0 <= limits["injected_file_path_bytes"] < max_path:
        raise over("Personality file path exceeds maximum %d" % limits["injected_file_path_bytes"], "personality")
    if 0 <= limits["injected_file_content_bytes"] < max_content:
        raise over("Personality file content exceeds maximum %d" % limits["injected_file_content_bytes"],
                   "personality")


def serialize(conn: Connection) -> None:
    """Hold the placement lock until the transaction ends, so that two API creates of key pairs or server groups
    cannot both count the last unit of quota (SQLite's transactions are serialized already: BEGIN IMMEDIATE)."""
    if conn.dialect.name != "sqlite":
        conn.execute(sa.select(placement_lock.c.id).where(placement_lock.c.id == 1).with_for_update())


def check_key_pairs(limits: Limits, count: int, user_id: str) -> None:
    if 0 <= limits["key_pairs"] < count:
        raise over("Quota exceeded, too many key pairs.", "stratus_keypairs.%s" % user_id)


def check_server_groups(limits: Limits, count: int) -> None:
    if 0 <= limits["server_groups"] < count:
        raise over("Quota exceeded, too many server groups.", "stratus_server_groups")


def usage(conn: Connection, project_id: str, user_id: t.Optional[str] = None) -> dict[str, int]:
    """instances/cores/ram of the live servers of a project (or of one user in it)."""
    query = sa.select(instances.c.flavor).where(instances.c.project_id == project_id, instances.c.deleted == "")
    if user_id is not None:
        query = query.where(instances.c.user_id == user_id)
    rows = conn.execute(query).fetchall()
    return {"instances": len(rows), "cores": sum(int(r.flavor["vcpus"]) for r in rows),
            "ram": sum(int(r.flavor["ram"]) for r in rows)}


def check_num_instances(conn: Connection, limits: Limits, project_id: str, user_id: str,
                        flavor: t.Mapping[str, t.Any], min_count: int, max_count: int,
                        orig_num_req: t.Optional[int] = None) -> int:
    """Nova's check_num_instances_quota: how many between min and max the quota allows.

    With ``max_count == 0`` it is the recheck after the claim ("are we already over?").
    """
    used = usage(conn, project_id, user_id if limits.per_user else None)
    vcpus, ram = int(flavor["vcpus"]), int(flavor["ram"])
    per = {"instances": 1, "cores": vcpus, "ram": ram}
    deltas = {r: per[r] * max_count for r in COUNTED}
    overs = sorted(r for r in COUNTED if limits[r] >= 0 and used[r] + deltas[r] > limits[r])
    if not overs:
        return max_count
    if orig_num_req is not None:  # the recheck: report the original request, "used" = the limit
        requested = {"instances": str(orig_num_req), "cores": str(orig_num_req * vcpus),
                     "ram": str(orig_num_req * ram)}
        headroom = {r: 0 for r in COUNTED}
    else:
        headroom = {r: limits[r] - used[r] for r in COUNTED}
        # an unlimited cores or ram quota takes its headroom from the instances headroom
        unlimited = 1 << 62
        inst_room = headroom["instances"] if limits["instances"] >= 0 else unlimited
        for res in ("cores", "ram"):
            if limits[res] < 0:
                headroom[res] = inst_room * per[res] if per[res] else inst_room
        allowed = inst_room
        if vcpus:
            allowed = min(allowed, headroom["cores"] // vcpus)
        if ram:
            allowed = min(allowed, headroom["ram"] // ram)
        if 0 < allowed and min_count <= allowed <= max_count:
            return check_num_instances(conn, limits, project_id, user_id, flavor, min_count, allowed)
        requested = {"instances": str(min_count) if min_count == max_count else "%d-%d" % (min_count, max_count),
                     "cores": str(deltas["cores"]), "ram": str(deltas["ram"])}
    raise over("Quota exceeded for %s: Requested %s, but already used %s of %s %s" % (
        ", ".join(overs), ", ".join(requested[r] for r in overs),
        ", ".join(str(limits[r] - headroom[r]) for r in overs),
        ", ".join(str(limits[r]) for r in overs), ", ".join(overs)), "max_count")


def check_server_group_members(conn: Connection, limits: Limits, group_id: str, user_id: str, adding: int) -> None:
    """server_group_members is counted per user per group, as Nova does."""
    limit = limits["server_group_members"]
    if limit < 0:
        return
    members = conn.execute(sa.select(sa.func.count()).select_from(instances).where(
        instances.c.server_group_id == group_id, instances.c.user_id == user_id,
        instances.c.deleted == "")).scalar_one()
    if members + adding > limit:
        raise over("Quota exceeded, too many servers in group", "scheduler_hints.group")
