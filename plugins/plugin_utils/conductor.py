# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller half of a create: checks, quota, schedule, claim, IPs, build plans.

This is the first cut of Nova's API + conductor path. Everything that decides
happens in one locked transaction of the state store, so a refused request
leaves nothing behind and two runs cannot both take the last unit of quota,
of a host or of an address pool.
"""
from __future__ import annotations

import base64
import binascii
import random
import re
import typing as t
import uuid as uuidlib

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.scheduler import FilterScheduler, SchedulerConfig
from ansible_collections.stratus.compute.plugins.plugin_utils import lifecycle
from ansible_collections.stratus.compute.plugins.plugin_utils.catalog import Catalog, host_states
from ansible_collections.stratus.compute.plugins.plugin_utils.ipam import allocate_ip
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import claims, instances

# Fields that cannot change on an existing server without recreating it.
IMMUTABLE_FIELDS = ("flavor", "image", "networks", "key_name", "user_data", "config_drive",
                    "availability_zone", "block_device_mapping_v2")
DEFAULT_QUOTAS = {"instances": 10, "cores": 20, "ram": 51200}
GiB = 1024 ** 3


def sanitize_hostname(name: str) -> str:
    """Nova's sanitize_hostname: lower case, [ _.] to '-', only [a-z0-9-], at most 63."""
    host = re.sub(r"[ _.]", "-", name.lower())
    host = re.sub(r"[^\w-]+", "", host, flags=re.ASCII)
    return host[:63].strip("-.")


def _fingerprint(req: dict[str, t.Any]) -> dict[str, t.Any]:
    return {k: req.get(k) for k in IMMUTABLE_FIELDS}


def _authorize_create(ctx: dict[str, t.Any], forced_host: bool) -> None:
    roles = set(ctx.get("roles") or [])
    if "admin" in roles:
        return
    if forced_host:
        raise StratusError("PolicyNotAuthorized",
                           "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed.",
                           "availability_zone")
    if not roles & {"member", "manager"}:
        raise StratusError("PolicyNotAuthorized",
                           "Policy doesn't allow os_compute_api:servers:create to be performed.", "context")


def _parse_az(value: t.Optional[str]) -> tuple[t.Optional[str], t.Optional[str]]:
    if not value:
        return None, None
    parts = value.split(":")
    if len(parts) > 3:
        raise StratusError("InvalidRequest", "Invalid input received: Unable to parse availability_zone",
                           "availability_zone")
    zone = parts[0] or None
    host = parts[1] if len(parts) > 1 and parts[1] else None
    return zone, host


def _validate_basic(req: dict[str, t.Any]) -> None:
    name = req.get("name")
    if not isinstance(name, str) or not name or len(name) > 255 or name != name.strip() \
            or not name.isprintable():
        raise StratusError("InvalidRequest", "An invalid 'name' value was provided. The name must be: "
                           "printable characters. Can not start or end with whitespace.", "name")
    min_count, max_count = req["min_count"], req["max_count"]
    if min_count < 1 or max_count < 1:
        raise StratusError("InvalidRequest", "min_count and max_count must be positive integers", "min_count")
    if min_count > max_count:
        raise StratusError("InvalidRequest", "min_count must be <= max_count", "min_count")
    if req.get("user_data") is not None:
        try:
            base64.b64decode(req["user_data"], validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise StratusError("InvalidRequest", "User data needs to be valid base 64.", "user_data")
        if len(req["user_data"]) > 65535:
            raise StratusError("InvalidRequest", "user_data is longer than 65535 characters", "user_data")


def _quota_check(conn: Connection, project_id: str, quotas: dict[str, t.Any], flavor: dict[str, t.Any],
                 min_count: int, max_count: int) -> int:
    """Nova's check_num_instances_quota: how many (between min and max) quota allows."""
    limits = dict(DEFAULT_QUOTAS)
    limits.update((quotas.get("defaults") or {}))
    limits.update(((quotas.get("projects") or {}).get(project_id) or {}))
    rows = conn.execute(sa.select(instances.c.flavor).where(
        instances.c.project_id == project_id, instances.c.deleted == "",
        instances.c.vm_state != "error")).fetchall()
    used = {"instances": len(rows), "cores": sum(int(r.flavor["vcpus"]) for r in rows),
            "ram": sum(int(r.flavor["ram"]) for r in rows)}
    per = {"instances": 1, "cores": flavor["vcpus"], "ram": flavor["ram"]}
    allowed = max_count
    for res in ("instances", "cores", "ram"):
        limit = int(limits[res])
        if limit >= 0 and per[res]:
            allowed = min(allowed, (limit - used[res]) // per[res])
    if allowed >= min_count:
        return allowed
    overs = sorted(r for r in ("instances", "cores", "ram")
                   if int(limits[r]) >= 0 and used[r] + per[r] * min_count > int(limits[r]))
    req_text = str(min_count) if min_count == max_count else "%d-%d" % (min_count, max_count)
    requested = ", ".join(req_text if r == "instances" else str(per[r] * min_count) for r in overs)
    raise StratusError("QuotaExceeded", "Quota exceeded for %s: Requested %s, but already used %s of %s %s"
                       % (", ".join(overs), requested, ", ".join(str(used[r]) for r in overs),
                          ", ".join(str(limits[r]) for r in overs), ", ".join(overs)), "max_count")


def _usage_by_host(conn: Connection) -> dict[str, dict[str, int]]:
    usage: dict[str, dict[str, int]] = {}
    for row in conn.execute(sa.select(claims)):
        u = usage.setdefault(row.host, {"vcpus": 0, "memory_mb": 0, "disk_gb": 0, "instances": 0})
        u["vcpus"] += row.vcpus
        u["memory_mb"] += row.memory_mb
        u["disk_gb"] += row.disk_gb
        u["instances"] += 1
    return usage


def _block_devices(uuid: str, flavor: dict[str, t.Any], image: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """Nova's default mapping: image root (vda), flavor ephemeral (vdb), flavor swap (vdc)."""
    devs = [{"name": "%s-disk" % uuid, "kind": "image", "device_name": "vda", "bus": "virtio",
             "device_type": "disk", "format": "qcow2", "image_id": image["id"],
             "base_format": image["disk_format"], "size_bytes": flavor["disk"] * GiB,
             "delete_on_termination": True}]
    letters = iter("bcdefghijklmnopqrstuvwxyz")
    if flavor["ephemeral"]:
        devs.append({"name": "%s-disk.eph0" % uuid, "kind": "blank", "device_name": "vd" + next(letters),
                     "bus": "virtio", "device_type": "disk", "format": "qcow2", "guest_format": None,
                     "size_bytes": flavor["ephemeral"] * GiB, "delete_on_termination": True})
    if flavor["swap"]:
        devs.append({"name": "%s-disk.swap" % uuid, "kind": "blank", "device_name": "vd" + next(letters),
                     "bus": "virtio", "device_type": "disk", "format": "qcow2", "guest_format": "swap",
                     "size_bytes": flavor["swap"] * 1024 * 1024, "delete_on_termination": True})
    return devs


def _config_drive(inst: dict[str, t.Any], nics: list[dict[str, t.Any]], req: dict[str, t.Any],
                  keypair: t.Optional[dict[str, t.Any]]) -> dict[str, t.Any]:
    meta_data = {
        "uuid": inst["uuid"], "name": inst["name"], "hostname": inst["hostname"],
        "availability_zone": inst["availability_zone"] or "nova", "project_id": inst["project_id"],
        "launch_index": inst["launch_index"], "meta": dict(req.get("metadata") or {}), "devices": [],
        "public_keys": {keypair["name"]: keypair["public_key"]} if keypair else {},
        "keys": [{"name": keypair["name"], "type": keypair["type"], "data": keypair["public_key"]}]
        if keypair else [],
    }
    links, networks = [], []
    for i, nic in enumerate(nics):
        links.append({"id": "tap%d" % i, "type": "phy", "ethernet_mac_address": nic["mac"], "mtu": 1500})
        networks.append({"id": "network%d" % i, "type": "ipv4_dhcp", "link": "tap%d" % i,
                         "network_id": nic["network_id"]})
    return {"meta_data": meta_data, "network_data": {"links": links, "networks": networks, "services": []},
            "user_data": req.get("user_data")}


class CreateResult(t.NamedTuple):
    changed: bool
    servers: list[dict[str, t.Any]]
    hosts: list[str]


def server_view(row: t.Any) -> dict[str, t.Any]:
    plan = row.plan or {}
    return {
        "id": row.uuid, "name": row.name, "project_id": row.project_id, "user_id": row.user_id,
        "host": row.host, "availability_zone": row.availability_zone, "flavor": row.flavor,
        "image": row.image_id, "vm_state": row.vm_state, "task_state": row.task_state,
        "power_state": row.power_state, "fault": row.fault, "metadata": row.metadata,
        "tags": row.tags, "description": row.description,
        "addresses": {n["network_name"]: [{"addr": n["ip"], "mac": n["mac"]}] for n in plan.get("nics", [])},
        "status": {"active": "ACTIVE", "building": "BUILD", "error": "ERROR", "deleted": "DELETED"}
        .get(row.vm_state, row.vm_state.upper()),
    }


def create(req: dict[str, t.Any], ctx: dict[str, t.Any], task_vars: dict[str, t.Any],
           hypervisors: list[str], hostvars: t.Mapping[str, t.Any], db_url: t.Optional[str],
           check_mode: bool, request_id: str) -> CreateResult:
    _validate_basic(req)
    zone, forced_host = _parse_az(req.get("availability_zone"))
    _authorize_create(ctx, bool(forced_host))
    catalog = Catalog(task_vars)
    flavor = catalog.flavor(req["flavor"])
    image = catalog.image(req["image"]) if req.get("image") else None
    if image is None:
        raise StratusError("InvalidRequest", "Missing imageRef attribute", "image")
    if flavor["ram"] < image["min_ram"]:
        raise StratusError("InvalidRequest", "Flavor's memory is too small for requested image.", "flavor")
    nets_req = req.get("networks") or "auto"
    if nets_req == "none":
        networks: list[dict[str, t.Any]] = []
        fixed: list[t.Optional[str]] = []
    elif nets_req == "auto":
        if len(catalog.networks) != 1:
            raise StratusError("InvalidRequest", "networks: auto needs exactly one network in the catalog",
                               "networks")
        networks, fixed = [catalog.network(catalog.networks[0]["id"])], [None]
    else:
        networks = [catalog.network(n.get("uuid") or n.get("name")) for n in nets_req]
        fixed = [n.get("fixed_ip") for n in nets_req]
    keypair = catalog.keypair(ctx["user_id"], req["key_name"]) if req.get("key_name") else None
    project_id, user_id = ctx["project_id"], ctx["user_id"]
    count = req["max_count"]
    names = [req["name"]] if count == 1 else ["%s-%d" % (req["name"], i + 1) for i in range(count)]

    with store.transaction(db_url, locked=True) as conn:
        existing = {row.name: row for row in conn.execute(sa.select(instances).where(
            instances.c.project_id == project_id, instances.c.deleted == "", instances.c.name.in_(names)))}
        for row in existing.values():
            differs = [k for k, v in _fingerprint(req).items() if row.request.get(k) != v]
            if differs:
                raise StratusError("Conflict", "Server %s exists and differs in fields that cannot change in "
                                   "place: %s" % (row.name, ", ".join(sorted(differs))), differs[0])
        missing = [n for n in names if n not in existing]
        changed = False
        if missing:
            allowed = _quota_check(conn, project_id, task_vars.get("stratus_quotas") or {}, flavor,
                                   min(req["min_count"], len(missing)), len(missing))
            missing = missing[:allowed]
            spec = RequestSpec(flavor={"vcpus": flavor["vcpus"], "memory_mb": flavor["ram"],
                                       "root_gb": flavor["disk"], "ephemeral_gb": flavor["ephemeral"],
                                       "swap": flavor["swap"]},
                               num_instances=len(missing), image=image, availability_zone=zone,
                               force_hosts=[forced_host] if forced_host else [], project_id=project_id,
                               requested_networks=[n["id"] for n in networks])
            states = host_states(hypervisors, hostvars, catalog, _usage_by_host(conn))
            uuids = [str(uuidlib.uuid4()) for _ in missing]
            scheduler = FilterScheduler(SchedulerConfig.from_dict(task_vars.get("stratus_scheduler")))
            selections = scheduler.select_destinations(states, spec, uuids)
            if check_mode:
                servers = [{"name": n, "host": s.host, "alternates": s.alternates, "vm_state": "building"}
                           for n, s in zip(missing, selections)]
                return CreateResult(True, servers + [server_view(r) for r in existing.values()], [])
            rng = random.Random()
            for index, (name, uuid, sel) in enumerate(zip(missing, uuids, selections)):
                _insert_instance(conn, req, ctx, flavor, image, networks, fixed, keypair, name, uuid, sel,
                                 index, zone, spec, rng, request_id)
            # Nova rechecks quota after the claim; under the placement lock this
            # holds unless the limits themselves changed mid-run.
            _quota_check(conn, project_id, task_vars.get("stratus_quotas") or {}, flavor, 0, 0)
            changed = True
        rows = list(conn.execute(sa.select(instances).where(
            instances.c.project_id == project_id, instances.c.deleted == "", instances.c.name.in_(names))
            .order_by(instances.c.name)))
        for row in rows:
            if row.name in existing and (row.metadata != dict(req.get("metadata") or {})
                                         or row.tags != list(req.get("tags") or [])
                                         or row.description != req.get("description")):
                if not check_mode:
                    conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
                        metadata=dict(req.get("metadata") or {}), tags=list(req.get("tags") or []),
                        description=req.get("description"), updated_at=lifecycle.now()))
                changed = True
        if changed:
            rows = list(conn.execute(sa.select(instances).where(
                instances.c.project_id == project_id, instances.c.deleted == "", instances.c.name.in_(names))
                .order_by(instances.c.name)))
    hosts = sorted({r.host for r in rows if r.host and r.vm_state in ("building", "active")})
    return CreateResult(changed, [server_view(r) for r in rows], hosts)


def _insert_instance(conn: Connection, req: dict[str, t.Any], ctx: dict[str, t.Any], flavor: dict[str, t.Any],
                     image: dict[str, t.Any], networks: list[dict[str, t.Any]], fixed: list[t.Optional[str]],
                     keypair: t.Optional[dict[str, t.Any]], name: str, uuid: str, sel: t.Any, index: int,
                     zone: t.Optional[str], spec: RequestSpec, rng: random.Random, request_id: str) -> None:
    now = lifecycle.now()
    hostname = sanitize_hostname(name) or "server-%s" % uuid
    inst = {"uuid": uuid, "name": name, "hostname": hostname, "project_id": ctx["project_id"],
            "user_id": ctx["user_id"], "availability_zone": zone, "launch_index": index}
    conn.execute(instances.insert().values(
        uuid=uuid, project_id=ctx["project_id"], user_id=ctx["user_id"], name=name, hostname=hostname,
        host=sel.host, availability_zone=zone, flavor=flavor, image_id=image["id"], request=_fingerprint(req),
        vm_state="building", task_state="scheduling", metadata=dict(req.get("metadata") or {}),
        tags=list(req.get("tags") or []), description=req.get("description"), launch_index=index,
        attempts=1, created_at=now, updated_at=now))
    conn.execute(claims.insert().values(instance_uuid=uuid, host=sel.host, project_id=ctx["project_id"],
                                        vcpus=spec.vcpus, memory_mb=spec.memory_mb, disk_gb=spec.disk_gb,
                                        created_at=now))
    nics = []
    for vif, (net, ip) in enumerate(zip(networks, fixed)):
        alloc = allocate_ip(conn, net, uuid, hostname, ip, vif, rng)
        nics.append({"network_id": net["id"], "network_name": net["name"], "libvirt_network": net["libvirt_name"],
                     "mac": alloc["mac"], "ip": alloc["address"], "hostname": hostname})
    config_drive = req.get("config_drive")
    plan = {
        **inst, "domain_name": "instance-%s" % uuid, "flavor": flavor,
        "image": {k: image[k] for k in ("id", "name", "file", "disk_format")},
        "nics": nics, "networks": networks, "alternates": sel.alternates,
        "block_devices": _block_devices(uuid, flavor, image),
        "config_drive": _config_drive(inst, nics, req, keypair) if config_drive else None,
        "created_at": now.isoformat(),
    }
    conn.execute(instances.update().where(instances.c.uuid == uuid).values(plan=plan))
    lifecycle.start_action(conn, uuid, "create", request_id, ctx["project_id"], ctx["user_id"])
    lifecycle.record_event(conn, uuid, "conductor_schedule_and_build_instances", sel.host, "Success",
                           "scheduled on %s (alternates: %s)" % (sel.host, ", ".join(sel.alternates) or "none"))
