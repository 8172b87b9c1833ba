# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller half of a create: Nova's API and compute API checks, then quota, schedule, claim.

The checks run in Nova's order (nova.md §a.3 and §0): schema (done by the
action plugin) -> name -> min/max -> policy create -> trusted certs -> AZ
(+forced_host) -> host/node (+requested_destination) -> BDM format
(+attach_volume) -> image presence -> networks (+attach_network) -> flavor ->
multi-instance rules -> AZ exists -> image -> base options (flavor disabled, key
pair) -> BDM transform -> metadata/file quota -> flavor vs image -> server
group -> instance quota -> BDM validation -> server group quota -> schedule.

Everything that writes happens in one locked transaction of the state store,
so a refused request leaves nothing behind but its action-log entry, and two
runs cannot both take the last unit of quota, of a host or of an address pool.
"""
from __future__ import annotations

import random
import re
import typing as t
import uuid as uuidlib

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.scheduler import FilterScheduler, SchedulerConfig
from ansible_collections.stratus.compute.plugins.plugin_utils import bdm as bdmlib
from ansible_collections.stratus.compute.plugins.plugin_utils import lifecycle, quota, schema
from ansible_collections.stratus.compute.plugins.plugin_utils import host_usage, ipam
from ansible_collections.stratus.compute.plugins.plugin_utils.catalog import Catalog, host_states
from ansible_collections.stratus.compute.plugins.plugin_utils.ipam import allocate_ip
from ansible_collections.stratus.compute.plugins.plugin_utils.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import (
    claims, instance_actions, instances, volumes,
)

GiB, MiB = bdmlib.GiB, bdmlib.MiB
POLICY = "os_compute_api:servers:%s"


def sanitize_hostname(name: str) -> str:
    """Nova's sanitize_hostname: lower case, [ _.] to '-', only [a-z0-9-], at most 63."""
    host = re.sub(r"[ _.]", "-", name.lower())
    host = re.sub(r"[^\w-]+", "", host, flags=re.ASCII)
    return host[:63].strip("-.")


class Decision(t.NamedTuple):
    """Everything the checks resolved, ready for the locked transaction."""

    names: list[str]
    min_count: int
    max_count: int
    flavor: dict[str, t.Any]
    image: t.Optional[dict[str, t.Any]]
    boot_volume: bool
    bdms: list[dict[str, t.Any]]
    networks: list[dict[str, t.Any]]
    fixed_ips: list[t.Optional[str]]
    keypair: t.Optional[dict[str, t.Any]]
    zone: t.Optional[str]
    forced_host: t.Optional[str]
    requested_host: t.Optional[str]
    group: t.Optional[dict[str, t.Any]]
    limits: quota.Limits
    fingerprint: dict[str, t.Any]


class CreateResult(t.NamedTuple):
    changed: bool
    servers: list[dict[str, t.Any]]
    hosts: list[str]
    explain: t.Optional[dict[str, t.Any]] = None


class StoreSources:
    """What BDM validation looks up: catalog images and volume types, store volumes.

    Inside the create transaction it reads on that connection; before it (the boot volume
    of a volume-backed server) it opens a short one of its own.
    """

    def __init__(self, catalog: Catalog, context: Caller, conn: t.Optional[Connection] = None,
                 db_url: t.Optional[str] = None) -> None:
        self.catalog, self.context, self.conn, self.db_url = catalog, context, conn, db_url

    def image(self, image_id: str) -> t.Optional[dict[str, t.Any]]:
        return self.catalog.find_image(image_id)

    def volume(self, volume_id: str) -> t.Optional[dict[str, t.Any]]:
        if self.conn is None:
            with store.transaction(self.db_url) as conn:
                return StoreSources(self.catalog, self.context, conn).volume(volume_id)
        row = self.conn.execute(sa.select(volumes).where(volumes.c.id == volume_id, volumes.c.deleted == "")).first()
        if row is None or (row.project_id != self.context.project_id and not self.context.is_admin):
            return None
        return {"id": row.id, "size_gb": row.size_gb, "status": row.status, "host": row.host, "bootable": True}

    def volume_type(self, name_or_id: str) -> t.Optional[str]:
        return self.catalog.volume_type(name_or_id)


# --- the API layer (servers.py:create) ------------------------------------------------------------------

def parse_availability_zone(value: t.Optional[str]) -> tuple[t.Optional[str], t.Optional[str], t.Optional[str]]:
    """`az`, `az:host`, `az:host:node`, `az::node` -> (zone, host, node)."""
    if not value:
        return None, None, None
    parts = value.split(":")
    if len(parts) > 3:
        raise StratusError("InvalidInput", "Invalid input received: Unable to parse availability_zone",
                           "availability_zone")
    zone = parts[0] or None
    host = parts[1] if len(parts) > 1 and parts[1] else None
    node = parts[2] if len(parts) > 2 and parts[2] else None
    return zone, host, node


# The most servers one request may name. Nova's schema has no maximum and its quota cuts max_count
# down; here the names name-1..name-N are listed before the quota is counted, so an unbounded
# max_count (10**12 passes the schema) would exhaust the controller's memory first.
MAX_COUNT = 1000


def _counts(req: t.Mapping[str, t.Any]) -> tuple[int, int]:
    min_count = int(req.get("min_count") or 1)
    max_count = int(req.get("max_count") or min_count)
    if min_count > max_count:
        raise StratusError("InvalidRequest", "min_count must be <= max_count", "min_count")
    if min_count > MAX_COUNT:
        raise StratusError("InvalidRequest", "Invalid input for field/attribute min_count. Value: %d. "
                           "At most %d servers per request" % (min_count, MAX_COUNT), "min_count")
    # max_count is "at most": as many as allowed between min and max are made, so the cap only narrows it
    return min_count, min(max_count, MAX_COUNT)


def _requested_networks(req: t.Mapping[str, t.Any]) -> t.Union[str, list[dict[str, t.Any]]]:
    """servers.py _get_requested_networks: port and fixed IP rules."""
    nets = req.get("networks")
    if nets is None:
        return "auto"
    if isinstance(nets, str):
        return nets
    ports: set[str] = set()
    for i, net in enumerate(nets):
        port, fixed_ip = net.get("port"), net.get("fixed_ip")
        if port:
            if port in ports:
                raise StratusError("InvalidRequest", "Port ID '%s' was specified twice: you cannot attach a port "
                                   "multiple times." % port, "networks[%d].port" % i)
            if fixed_ip:
                raise StratusError("InvalidRequest", "Specified Fixed IP '%s' cannot be used with port '%s': the "
                                   "two cannot be specified together." % (fixed_ip, port), "networks[%d]" % i)
            ports.add(port)
        elif not net.get("uuid") and not net.get("name"):
            raise StratusError("InvalidRequest", "Bad network format: missing 'uuid'", "networks[%d].uuid" % i)
    return list(nets)


def _resolve_networks(catalog: Catalog, context: Caller, requested: t.Union[str, list[dict[str, t.Any]]]
                      ) -> tuple[list[dict[str, t.Any]], list[t.Optional[str]]]:
    if requested == "none":
        return [], []
    visible = catalog.visible_networks(context.project_id, context.is_admin)
    if requested == "auto":
        if not visible:
            raise StratusError("UnableToAutoAllocateNetwork", "Unable to automatically allocate a network for "
                               "project %s" % context.project_id, "networks")
        if len(visible) > 1:
            raise StratusError("NetworkAmbiguous", "More than one possible network found. Specify network ID(s) to "
                               "select which one(s) to connect to.", "networks")
        return [catalog.network(visible[0]["id"])], [None]
    networks, fixed = [], []
    for i, item in enumerate(requested):
        if item.get("port"):
            # libvirt networks have no pre-created ports to attach
            raise StratusError("PortNotFound", "Port %s could not be found." % item["port"], "networks[%d].port" % i)
        ref = item.get("uuid") or item.get("name")
        net = catalog.network(ref, "networks[%d]" % i)
        if not (net["shared"] or context.is_admin or net["project_id"] == context.project_id):
            raise StratusError("NetworkNotFound", "Network %s could not be found." % ref, "networks[%d]" % i)
        if net["external"] and not context.can("network:attach_external_network", context.target()):
            raise StratusError("ExternalNetworkAttachForbidden", "It is not allowed to create an interface on "
                               "external network %s" % net["id"], "networks[%d]" % i)
        networks.append(net)
        fixed.append(item.get("fixed_ip"))
    return networks, fixed


def decide(req: t.Mapping[str, t.Any], context: Caller, catalog: Catalog, task_vars: t.Mapping[str, t.Any],
           hypervisors: list[str], hostvars: t.Mapping[str, t.Any], db_url: t.Optional[str]) -> Decision:
    """Every check that needs no lock, in Nova's order; returns what the transaction needs."""
    name = str(req["name"])
    min_count, max_count = _counts(req)
    zone_req = req.get("availability_zone")
    context.authorize(POLICY % "create", context.target(availability_zone=zone_req))
    if req.get("trusted_image_certificates"):
        context.authorize(POLICY % "create:trusted_certs", context.target(availability_zone=zone_req))
    zone, forced_host, forced_node = parse_availability_zone(zone_req)
    if forced_host or forced_node:
        context.authorize(POLICY % "create:forced_host", context.target(availability_zone=zone_req),
                          "availability_zone")
    requested_host = req.get("host") or req.get("hypervisor_hostname")
    if requested_host:
        context.authorize("compute:servers:create:requested_destination", context.target(), "host")
        if forced_host or forced_node:
            raise StratusError("InvalidRequest", "One mechanism with host and/or hypervisor_hostname and another "
                               "mechanism with zone:host:node are mutually exclusive.", "host")
    image_ref = req.get("image")
    raw_bdms = list(req.get("block_device_mapping_v2") or [])
    bdms = [bdmlib.from_api(raw, image_ref is not None, i) for i, raw in enumerate(raw_bdms)]
    if bdms:
        context.authorize(POLICY % "create:attach_volume", context.target(), "block_device_mapping_v2")
    if image_ref in (None, "") and not bdms:
        raise StratusError("InvalidRequest", "Missing imageRef attribute", "image")
    requested_nets = _requested_networks(req)
    if requested_nets != "none":
        context.authorize(POLICY % "create:attach_network", context.target(), "networks")
    flavor = catalog.flavor(req["flavor"], context.project_id, context.is_admin)

    # --- compute API create: multi-instance rules, AZ ----------------------------------------------------
    if max_count > 1 and isinstance(requested_nets, list):
        if any(n.get("fixed_ip") for n in requested_nets):
            raise StratusError("InvalidFixedIpAndMaxCountRequest", "Failed to launch instances: max_count cannot "
                               "be greater than 1 if an fixed_ip is specified.", "max_count")
        if any(n.get("port") for n in requested_nets):
            raise StratusError("MultiplePortsNotApplicable", "Failed to launch instances: Unable to launch multiple "
                               "instances with a single configured port ID. Please launch your instance one by one "
                               "with different ports.", "max_count")
    if max_count > 1 and req.get("hostname"):
        raise StratusError("AmbiguousHostnameForMultipleInstances", "Unable to allocate a single hostname to "
                           "multiple instances", "hostname")
    states = {h: (hostvars.get(h) or {}) for h in hypervisors}
    if zone and not forced_host and not forced_node:
        # a host's zone is its own variable or that of an aggregate it is in (Nova's AZ aggregates)
        zones = {s.availability_zone or "nova" for s in host_states(hypervisors, hostvars, catalog, {})
                 if not s.service.get("disabled")}
        if zone not in zones:
            raise StratusError("InvalidRequest", "The requested availability zone is not available",
                               "availability_zone")
    if requested_host and requested_host not in states:
        raise StratusError("ComputeHostNotFound", "Compute host %s could not be found." % requested_host, "host")

    # --- _create_instance: image, base options, BDM transform, quota of metadata and files -------------
    if image_ref:
        image: t.Optional[dict[str, t.Any]] = catalog.image(image_ref)
        image_id: t.Optional[str] = image["id"]
    else:  # volume-backed: the image (if any) comes from the root mapping
        image_id = None
        image = bdmlib.boot_image_metadata(bdms, StoreSources(catalog, context, db_url=db_url))
    if flavor["disabled"]:
        raise StratusError("FlavorNotFound", "Flavor %s could not be found." % flavor["id"], "flavor")
    networks, fixed = _resolve_networks(catalog, context, requested_nets)
    ipam.check_fixed_ips(networks, fixed)
    keypair = catalog.keypair(context.user_id, req["key_name"]) if req.get("key_name") else None
    limits = quota.Limits(task_vars.get("stratus_quotas"), context.project_id, context.user_id)
    quota.check_key_pairs(limits, len(catalog.keypairs.get(context.user_id) or []), context.user_id)
    bdms = bdmlib.check_and_transform(bdms, image_id, image, flavor, min_count, max_count)
    quota.check_metadata(limits, req.get("metadata"))
    quota.check_injected_files(limits, req.get("personality"))
    _detect_nonbootable_image(image_id, image)
    root = bdmlib.root_bdm(bdms)
    _validate_flavor_image(context, flavor, image, root)
    group = None
    hint_group = (req.get("scheduler_hints") or {}).get("group")
    if hint_group:
        group = catalog.server_group(str(hint_group), context.project_id, context.is_admin)
        quota.check_server_groups(limits, sum(1 for g in catalog.server_groups
                                              if g.get("project_id") == context.project_id))
    names = [name] if max_count == 1 else ["%s-%d" % (name, i + 1) for i in range(max_count)]
    # What cannot change on an existing server in place, resolved (a flavor named by name or by
    # id is the same flavor); metadata, tags and description are updated instead.
    fingerprint = {
        "flavor": flavor["id"], "image": image_id, "networks": [[n["id"], ip] for n, ip in zip(networks, fixed)],
        "block_device_mapping_v2": [{k: v for k, v in sorted(b.items()) if v is not None} for b in raw_bdms],
        "key_name": req.get("key_name"), "user_data": req.get("user_data"),
        "personality": req.get("personality") or None, "config_drive": schema.as_bool(req.get("config_drive")),
        "availability_zone": zone_req, "scheduler_hints": req.get("scheduler_hints") or None,
        "hostname": req.get("hostname"),
    }
    return Decision(names, min_count, max_count, flavor, image, root is not None and bdmlib.is_volume(root), bdms,
                    networks, fixed, keypair, zone, forced_host or forced_node, requested_host, group, limits,
                    fingerprint)


def _detect_nonbootable_image(image_id: t.Optional[str], image: t.Optional[t.Mapping[str, t.Any]]) -> None:
    """Nova's _detect_nonbootable_image_from_properties: an image uploaded from an encrypted volume
    (``cinder_encryption_key_id``) cannot be booted directly; a volume made from it can."""
    if image_id and image and (image.get("properties") or {}).get("cinder_encryption_key_id"):
        raise StratusError("ImageUnacceptable", "Image %s is unacceptable: Direct booting of an image uploaded "
                           "from an encrypted volume is unsupported." % image_id, "image")


def _validate_flavor_image(context: Caller, flavor: t.Mapping[str, t.Any],
                           image: t.Optional[t.Mapping[str, t.Any]], root: t.Optional[t.Mapping[str, t.Any]]) -> None:
    """Nova's _validate_flavor_image (status) and _validate_flavor_image_nostatus."""
    if not image:
        return
    if image.get("status", "active") != "active":
        raise StratusError("ImageNotActive", "Image %s is not active." % image.get("id"), "image")
    option = (image.get("properties") or {}).get("img_config_drive", "optional")
    if option not in ("optional", "mandatory"):
        raise StratusError("InvalidImageConfigDrive", "Image's config drive option '%s' is invalid" % option, "image")
    if flavor["ram"] < int(image.get("min_ram") or 0):
        raise StratusError("FlavorMemoryTooSmall", "Flavor's memory is too small for requested image.", "flavor")
    min_disk = int(image.get("min_disk") or 0) * GiB
    size = int(image.get("size") or 0)
    if root is not None and bdmlib.is_volume(root):
        if root.get("volume_size") is not None and min_disk > int(root["volume_size"]) * GiB:
            raise StratusError("VolumeSmallerThanMinDisk", "Volume is smaller than the minimum size specified in "
                               "image metadata. Volume size is %d bytes, minimum size is %d bytes."
                               % (int(root["volume_size"]) * GiB, min_disk), "block_device_mapping_v2")
        return
    dest = int(flavor["disk"]) * GiB
    if dest:
        if size > dest:
            raise StratusError("FlavorDiskSmallerThanImage", "Flavor's disk is too small for requested image. "
                               "Flavor disk is %d bytes, image is %d bytes." % (dest, size), "flavor")
        if min_disk > dest:
            raise StratusError("FlavorDiskSmallerThanMinDisk", "Flavor's disk is smaller than the minimum size "
                               "specified in image metadata. Flavor disk is %d bytes, minimum size is %d bytes."
                               % (dest, min_disk), "flavor")
    elif not context.can(POLICY % "create:zero_disk_flavor", context.target()):
        raise StratusError("BootFromVolumeRequiredForZeroDiskFlavor", "Only volume-backed servers are allowed for "
                           "flavors with zero disk.", "flavor")


# --- the transaction ------------------------------------------------------------------------------------

def _live(conn: Connection, project_id: str, names: list[str]) -> list[t.Any]:
    return list(conn.execute(sa.select(instances).where(
        instances.c.project_id == project_id, instances.c.deleted == "", instances.c.name.in_(names))
        .order_by(instances.c.launch_index, instances.c.name)))


def _how_many(conn: Connection, d: Decision, context: Caller, existing: int, missing: int) -> int:
    """Instance quota for what is still missing; a request already met (>= min_count) never fails on it."""
    if not missing:
        return 0
    need = max(0, d.min_count - existing)
    if need:
        return quota.check_num_instances(conn, d.limits, context.project_id, context.user_id, d.flavor,
                                         need, missing)
    try:
        return quota.check_num_instances(conn, d.limits, context.project_id, context.user_id, d.flavor,
                                         1, missing)
    except StratusError:
        return 0


def record_refusal(db_url: t.Optional[str], context_ids: tuple[str, str], name: t.Optional[str],
                   request_id: str, exc: StratusError, action: str = "create") -> None:
    """A refused request leaves exactly one trace: an action-log entry that says why."""
    project_id, user_id = context_ids
    try:
        with store.transaction(db_url) as conn:
            now = lifecycle.now()
            conn.execute(instance_actions.insert().values(
                instance_uuid="", action=action, request_id=request_id, project_id=project_id, user_id=user_id,
                start_time=now, finish_time=now, message=exc.message[:4000], instance_name=name,
                error_code=exc.code))
    except StratusError:
        pass  # the store itself is what failed; the user sees the original error


def create(req: dict[str, t.Any], context: Caller, task_vars: dict[str, t.Any],
           hypervisors: list[str], hostvars: t.Mapping[str, t.Any], db_url: t.Optional[str],
           check_mode: bool, request_id: str, raw_vars: t.Optional[t.Mapping[str, t.Any]] = None) -> CreateResult:
    catalog = Catalog(task_vars, raw_vars)
    d = decide(req, context, catalog, task_vars, hypervisors, hostvars, db_url)
    with store.transaction(db_url, locked=not check_mode) as conn:
        existing = {row.name: row for row in _live(conn, context.project_id, d.names)}
        replaced: list[tuple[t.Any, list[str]]] = []
        for row in existing.values():
            if row.task_state == "deleting":
                raise StratusError("InstanceInvalidState", "Server %s is being deleted; finish the delete "
                                   "(run it again) before creating it anew" % row.name, "name")
            stored = row.request or {}
            differs = sorted(k for k, v in d.fingerprint.items() if stored.get(k) != v)
            if differs and not schema.as_bool(req.get("recreate")):
                raise StratusError("Conflict", "Server %s exists and differs in fields that cannot change in "
                                   "place: %s (recreate: true replaces it)" % (row.name, ", ".join(differs)),
                                   differs[0])
            if differs:
                context.authorize(POLICY % "delete", {"project_id": row.project_id, "user_id": row.user_id})
                replaced.append((row, differs))
        # Check mode plays the replacement inside a savepoint it rolls back: quota and
        # scheduling then see the store as the real run would.
        savepoint = conn.begin_nested() if replaced and check_mode else None
        for row, differs in replaced:
            _replace(conn, row, differs, context, request_id)
            del existing[row.name]
        missing = [n for n in d.names if n not in existing]
        changed = False
        explain: t.Optional[dict[str, t.Any]] = None
        planned: list[dict[str, t.Any]] = []
        if missing:
            allowed = _how_many(conn, d, context, len(existing), len(missing))
            missing = missing[:allowed]
            ipam.check_addresses(conn, d.networks, d.fixed_ips, len(missing))
        if missing:
            sources = StoreSources(catalog, context, conn)
            image_id = d.image["id"] if d.image and not d.boot_volume else None
            bdms = bdmlib.validate(d.bdms, d.flavor, image_id, sources,
                                   int(task_vars.get("stratus_max_local_block_devices", 3)))
            bdms = bdmlib.assign_device_names(bdms)
            if d.group:
                quota.check_server_group_members(conn, d.limits, d.group["id"], context.user_id, len(missing))
            volume_hosts = sorted({b["volume_host"] for b in bdms if b.get("volume_host")})
            force = [d.forced_host] if d.forced_host else []
            if volume_hosts:
                # a local volume can only be attached on the host whose pool holds it
                if len(volume_hosts) > 1 or (force and force != volume_hosts):
                    raise StratusError("NoValidHost", "No valid host was found. The requested volumes are on "
                                       "different hosts: %s" % ", ".join(volume_hosts), "block_device_mapping_v2")
            root_gb = 0 if d.boot_volume else d.flavor["disk"]
            group = None
            if d.group:
                members = host_usage.group_members(conn, d.group["id"])
                group = dict(d.group, members=[u for u, _h in members],
                             hosts=sorted({h for _u, h in members if h}))
            spec = RequestSpec(flavor={"name": d.flavor["name"], "vcpus": d.flavor["vcpus"],
                                       "memory_mb": d.flavor["ram"], "root_gb": root_gb,
                                       "ephemeral_gb": d.flavor["ephemeral"], "swap": d.flavor["swap"],
                                       "extra_specs": dict(d.flavor.get("extra_specs") or {})},
                               num_instances=len(missing), image=d.image or {}, availability_zone=d.zone,
                               scheduler_hints=dict(req.get("scheduler_hints") or {}), instance_group=group,
                               force_hosts=force, project_id=context.project_id,
                               requested_networks=[n["id"] for n in d.networks])
            candidates = volume_hosts or ([d.requested_host] if d.requested_host else hypervisors)
            states = host_states(candidates, hostvars, catalog, host_usage.usage(conn))
            uuids = [str(uuidlib.uuid4()) for _name in missing]
            scheduler = FilterScheduler(SchedulerConfig.from_dict(task_vars.get("stratus_scheduler")))
            explain = {} if schema.as_bool(req.get("explain")) else None
            try:
                selections = scheduler.select_destinations(states, spec, uuids, explain=explain)
            except StratusError as exc:
                if explain is not None and getattr(exc, "explain", None) is None:
                    exc.explain = explain  # type: ignore[attr-defined]  # "why NoValidHost?" goes with the error
                raise
            if check_mode:
                if savepoint is not None:
                    savepoint.rollback()
                planned = [{"name": n, "host": s.host, "alternates": s.alternates, "vm_state": "building",
                            "task_state": "scheduling", "flavor": d.flavor["name"],
                            "block_devices": [{"device_name": b["device_name"], "source_type": b["source_type"],
                                               "destination_type": b["destination_type"],
                                               "size": b.get("volume_size")} for b in bdms]}
                           for n, s in zip(missing, selections)]
                replacing = [dict(server_view(r), task_state="deleting", replaced_because=f) for r, f in replaced]
                return CreateResult(True, planned + [server_view(r) for r in existing.values()] + replacing, [],
                                    explain)
            rng = random.Random()
            first_index = len(existing)
            for offset, (name, uuid, sel) in enumerate(zip(missing, uuids, selections)):
                _insert_instance(conn, req, context, d, bdms, name, uuid, sel, first_index + offset, spec, rng,
                                 request_id, 1 if force else scheduler.config.max_attempts)
            # Nova's recheck after the claim (delta 0: are we over now?)
            quota.check_num_instances(conn, d.limits, context.project_id, context.user_id, d.flavor, 0, 0,
                                      orig_num_req=len(missing))
            changed = True
        if savepoint is not None:
            savepoint.rollback()
        elif replaced:
            changed = True
        rows = _live(conn, context.project_id, d.names)
        for row in rows:
            if row.name in existing and (row.metadata != dict(req.get("metadata") or {})
                                         or row.tags != list(req.get("tags") or [])
                                         or row.description != req.get("description")):
                if not check_mode:
                    conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
                        metadata=dict(req.get("metadata") or {}), tags=list(req.get("tags") or []),
                        description=req.get("description"), updated_at=lifecycle.now()))
                changed = True
        if changed and not check_mode:
            rows = _live(conn, context.project_id, d.names)
    hosts = sorted({r.host for r in rows if r.host and r.vm_state in ("building", "active")})
    return CreateResult(changed, [server_view(r) for r in rows], hosts, explain)


def _replace(conn: Connection, row: t.Any, differs: list[str], context: Caller, request_id: str) -> None:
    """recreate: the old server is deleted now and its host cleaned before the new one is built there.

    Its resources stay counted on its host as a leftover until the compute_cleanup step has run;
    its addresses are handed on (the clean-up runs before any build on that host, and libvirt
    refuses a DHCP host entry for an address another entry still holds).
    """
    lifecycle.start_action(conn, row.uuid, "delete", request_id, context.project_id, context.user_id,
                           "replaced (recreate): %s differ" % ", ".join(differs))
    if row.host:
        lifecycle.record_leftover(conn, row.host, row, "replaced by recreate (%s differ)" % ", ".join(differs),
                                  keep_addresses=False)
    lifecycle.mark_deleted(conn, row.uuid)


# --- the build plan -------------------------------------------------------------------------------------

def _block_devices(uuid: str, bdms: list[dict[str, t.Any]], flavor: t.Mapping[str, t.Any],
                   image: t.Optional[t.Mapping[str, t.Any]]) -> list[dict[str, t.Any]]:
    """What the block device step builds on the host, one entry per mapping, in device order."""
    devs = []
    eph = 0
    for b in sorted(bdms, key=lambda x: (len(x["device_name"]), x["device_name"])):
        dev = {"device_name": bdmlib.strip_dev(b["device_name"]), "bus": b.get("disk_bus") or "virtio",
               "device_type": b.get("device_type") or "disk", "format": "qcow2",
               "boot_index": b.get("boot_index"), "delete_on_termination": bool(b.get("delete_on_termination")),
               "tag": b.get("tag"), "guest_format": b.get("guest_format")}
        if b["source_type"] == "image" and b["destination_type"] == "local":
            dev.update(name="%s-disk" % uuid, kind="image", image_id=b["image_id"],
                       base_format=(image or {}).get("disk_format", "qcow2"), size_bytes=int(flavor["disk"]) * GiB,
                       delete_on_termination=True)
        elif b["source_type"] == "blank" and b["destination_type"] == "local":
            if bdmlib.is_swap(b):
                dev.update(name="%s-disk.swap" % uuid, kind="blank", size_bytes=int(b["volume_size"]) * MiB)
            else:
                dev.update(name="%s-disk.eph%d" % (uuid, eph), kind="blank", size_bytes=int(b["volume_size"]) * GiB)
                eph += 1
            dev["delete_on_termination"] = True
        elif b["source_type"] == "volume":
            dev.update(name="volume-%s" % b["volume_id"], kind="volume", volume_id=b["volume_id"],
                       size_bytes=int(b["volume_size"] or 0) * GiB)
        else:  # image or blank into a new volume: created with the server, kept unless delete_on_termination
            dev.update(name="volume-%s" % b["new_volume_id"], kind="new_volume", volume_id=b["new_volume_id"],
                       image_id=b.get("image_id"), base_format=(image or {}).get("disk_format", "qcow2"),
                       size_bytes=int(b["volume_size"]) * GiB)
        devs.append(dev)
    return devs


def _config_drive(inst: dict[str, t.Any], nics: list[dict[str, t.Any]], req: t.Mapping[str, t.Any],
                  keypair: t.Optional[dict[str, t.Any]], devices: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    meta_data = {
        "uuid": inst["uuid"], "name": inst["name"], "hostname": inst["hostname"],
        "availability_zone": inst["availability_zone"] or "nova", "project_id": inst["project_id"],
        "launch_index": inst["launch_index"], "meta": dict(req.get("metadata") or {}),
        "devices": [{"type": "disk", "bus": d["bus"], "address": d["device_name"], "tags": [d["tag"]]}
                    for d in devices if d.get("tag")],
        "public_keys": {keypair["name"]: keypair["public_key"]} if keypair else {},
        "keys": [{"name": keypair["name"], "type": keypair["type"], "data": keypair["public_key"]}]
        if keypair else [],
    }
    if req.get("admin_pass"):
        meta_data["admin_pass"] = req["admin_pass"]
    links, networks = [], []
    for i, nic in enumerate(nics):
        links.append({"id": "tap%d" % i, "type": "phy", "ethernet_mac_address": nic["mac"], "mtu": 1500})
        networks.append({"id": "network%d" % i, "type": "ipv4_dhcp", "link": "tap%d" % i,
                         "network_id": nic["network_id"]})
    return {"meta_data": meta_data, "network_data": {"links": links, "networks": networks, "services": []},
            "user_data": req.get("user_data"), "files": list(req.get("personality") or [])}


def _addresses(nics: list[dict[str, t.Any]]) -> dict[str, list[dict[str, str]]]:
    """Per network name, every NIC's address and MAC (two NICs may share a network)."""
    out: dict[str, list[dict[str, str]]] = {}
    for nic in nics:
        out.setdefault(nic["network_name"], []).append({"addr": nic["ip"], "mac": nic["mac"]})
    return out


def server_view(row: t.Any) -> dict[str, t.Any]:
    plan = row.plan or {}
    return {
        "id": row.uuid, "name": row.name, "project_id": row.project_id, "user_id": row.user_id,
        "host": row.host, "availability_zone": row.availability_zone, "flavor": row.flavor,
        "image": row.image_id, "vm_state": row.vm_state, "task_state": row.task_state,
        "power_state": row.power_state, "fault": row.fault, "metadata": row.metadata,
        "tags": row.tags, "description": row.description,
        "addresses": _addresses(plan.get("nics", [])),
        "block_devices": [{"device_name": b.get("device_name"), "kind": b.get("kind"),
                           "size_bytes": b.get("size_bytes"), "volume_id": b.get("volume_id")}
                          for b in plan.get("block_devices", [])],
        "server_group": getattr(row, "server_group_id", None),
        "status": {"active": "ACTIVE", "building": "BUILD", "error": "ERROR", "deleted": "DELETED"}
        .get(row.vm_state, row.vm_state.upper()),
    }


def _insert_instance(conn: Connection, req: t.Mapping[str, t.Any], context: Caller, d: Decision,
                     bdms: list[dict[str, t.Any]], name: str, uuid: str, sel: t.Any, index: int, spec: RequestSpec,
                     rng: random.Random, request_id: str, max_attempts: int) -> None:
    now = lifecycle.now()
    hostname = req.get("hostname") or sanitize_hostname(name) or "server-%s" % uuid
    inst = {"uuid": uuid, "name": name, "hostname": hostname, "project_id": context.project_id,
            "user_id": context.user_id, "availability_zone": d.zone, "launch_index": index}
    conn.execute(instances.insert().values(
        uuid=uuid, project_id=context.project_id, user_id=context.user_id, name=name, hostname=hostname,
        host=sel.host, availability_zone=d.zone, flavor=d.flavor, image_id=(d.image or {}).get("id"),
        request=d.fingerprint, vm_state="building", task_state="scheduling",
        metadata=dict(req.get("metadata") or {}), tags=list(req.get("tags") or []),
        description=req.get("description"), launch_index=index, attempts=1, created_at=now, updated_at=now,
        server_group_id=d.group["id"] if d.group else None))
    conn.execute(claims.insert().values(instance_uuid=uuid, host=sel.host, project_id=context.project_id,
                                        vcpus=spec.vcpus, memory_mb=spec.memory_mb, disk_gb=spec.disk_gb,
                                        created_at=now))
    own = []
    for b in bdms:
        b = dict(b)
        if b["destination_type"] == "volume" and b["source_type"] in ("image", "blank"):
            b["new_volume_id"] = str(uuidlib.uuid4())
            conn.execute(volumes.insert().values(
                id=b["new_volume_id"], name="%s-%s" % (name, bdmlib.strip_dev(b["device_name"])),
                project_id=context.project_id, host=sel.host, instance_uuid=uuid, size_gb=int(b["volume_size"]),
                device_name=b["device_name"], source_type=b["source_type"],
                delete_on_termination=bool(b.get("delete_on_termination")), status="reserved", created_at=now))
        elif b["source_type"] == "volume":
            conn.execute(volumes.update().where(volumes.c.id == b["volume_id"]).values(
                status="reserved", instance_uuid=uuid, device_name=b["device_name"],
                delete_on_termination=bool(b.get("delete_on_termination"))))
        own.append(b)
    nics = []
    for vif, (net, ip) in enumerate(zip(d.networks, d.fixed_ips)):
        alloc = allocate_ip(conn, net, uuid, hostname, ip, vif, rng, avoid={f for f in d.fixed_ips if f})
        nics.append({"network_id": net["id"], "network_name": net["name"], "libvirt_network": net["libvirt_name"],
                     "mac": alloc["mac"], "ip": alloc["address"], "hostname": hostname})
    devices = _block_devices(uuid, own, d.flavor, d.image)
    plan = {
        **inst, "domain_name": "instance-%s" % uuid, "flavor": d.flavor,
        "image": {k: d.image.get(k) for k in ("id", "name", "file", "disk_format")} if d.image else None,
        "nics": nics, "networks": d.networks, "alternates": sel.alternates, "max_attempts": max_attempts,
        "block_devices": devices,
        "config_drive": (_config_drive(inst, nics, req, d.keypair, devices)
                         if schema.as_bool(req.get("config_drive")) else None),
        "server_group": d.group, "created_at": now.isoformat(),
    }
    conn.execute(instances.update().where(instances.c.uuid == uuid).values(plan=plan))
    lifecycle.start_action(conn, uuid, "create", request_id, context.project_id, context.user_id)
    lifecycle.record_event(conn, uuid, "conductor_schedule_and_build_instances", sel.host, "Success",
                           "scheduled on %s (alternates: %s)" % (sel.host, ", ".join(sel.alternates) or "none"))


# --- delete (Nova's compute API _delete, then the hypervisor walk backwards) -----------------------------

def delete(req: t.Mapping[str, t.Any], context: Caller, db_url: t.Optional[str], check_mode: bool,
           request_id: str) -> CreateResult:
    """Start deleting the servers of a request; a server that never reached a host goes at once.

    Any vm_state may be deleted (ERROR included), as in Nova; a server already being deleted
    is handed to the walk again, so an interrupted delete resumes. What is gone reports no change.
    """
    _min_count, max_count = _counts(req)
    name = str(req["name"])
    names = [name] if max_count == 1 else ["%s-%d" % (name, i + 1) for i in range(max_count)]
    with store.transaction(db_url, locked=not check_mode) as conn:
        rows = _live(conn, context.project_id, names)
        for row in rows:
            context.authorize(POLICY % "delete", {"project_id": row.project_id, "user_id": row.user_id})
        if check_mode or not rows:
            return CreateResult(bool(rows), [dict(server_view(r), task_state="deleting") for r in rows], [])
        hosts = set()
        for row in rows:
            if row.task_state != "deleting":
                lifecycle.start_delete(conn, row.uuid, request_id, context.project_id, context.user_id)
            if row.host:
                hosts.add(row.host)
            else:  # never placed: nothing on any host (Nova's local delete)
                lifecycle.mark_deleted(conn, row.uuid)
        rows = list(conn.execute(sa.select(instances).where(instances.c.uuid.in_([r.uuid for r in rows]))))
    return CreateResult(True, [server_view(r) for r in rows], sorted(hosts))
