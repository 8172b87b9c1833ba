# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks of a create: Nova's API and compute API, in Nova's order, before anything is written.

The checks run in Nova's order (nova.md §a.3 and §0): schema (done by the
front end) -> name -> min/max -> policy create -> trusted certs -> AZ
(+forced_host) -> host/node (+requested_destination) -> BDM format
(+attach_volume) -> image presence -> networks (+attach_network) -> flavor ->
multi-instance rules -> AZ exists -> image -> base options (flavor disabled, key
pair) -> BDM transform -> metadata/file quota -> flavor vs image -> server
group. What needs the store's lock (instance quota, BDM validation against
volumes, server group quota, scheduling) runs in the conductor's transaction
(conductor/create.py). Every front end calls ``decide`` the same way.
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
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import parse_availability_zone
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import bdm as bdmlib
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import keypairs, quota, schema, server_groups
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog, flavor_baremetal
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.host_states import host_states
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import ipam
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import volumes

GiB, MiB = bdmlib.GiB, bdmlib.MiB

POLICY = "os_compute_api:servers:%s"


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


class StoreSources:
    """What BDM validation looks up: catalog images and volume types, store volumes.

    Inside the create transaction it reads on that connection; before it (the boot volume
    of a volume-backed server) it opens a short one of its own.
    """

    def __init__(self, catalog: Catalog, caller: Caller, conn: t.Optional[Connection] = None,
                 db_url: t.Optional[str] = None) -> None:
        self.catalog, self.caller, self.conn, self.db_url = catalog, caller, conn, db_url

    def image(self, image_id: str) -> t.Optional[dict[str, t.Any]]:
        return self.catalog.find_image(image_id, self.caller.project_id, self.caller.is_admin)

    def volume(self, volume_id: str) -> t.Optional[dict[str, t.Any]]:
        if self.conn is None:
            with store.transaction(self.db_url) as conn:
                return StoreSources(self.catalog, self.caller, conn).volume(volume_id)
        row = self.conn.execute(sa.select(volumes).where(volumes.c.id == volume_id, volumes.c.deleted == "")).first()
        if row is None or (row.project_id != self.caller.project_id and not self.caller.is_admin):
            return None
        return {"id": row.id, "size_gb": row.size_gb, "status": row.status, "host": row.host, "bootable": True}

    def volume_type(self, name_or_id: str) -> t.Optional[str]:
        return self.catalog.volume_type(name_or_id)


# --- the API layer (servers.py:create) ------------------------------------------------------------------

# The most servers one request may name. Nova's schema has no maximum and its quota cuts max_count
# down; here the names name-1..name-N are listed before the quota is counted, so an unbounded
# max_count (10**12 passes the schema) would exhaust the controller's memory first.
MAX_COUNT = 1000


def counts(req: t.Mapping[str, t.Any]) -> tuple[int, int]:
    min_count = int(req.get("min_count") or 1)
    max_count = int(req.get("max_count") or min_count)
    if min_count > max_count:
        raise StratusError("InvalidRequest", "min_count must be <= max_count", "min_count")
    if min_count > MAX_COUNT:
        raise StratusError("InvalidRequest", "Invalid input for field/attribute min_count. Value: %d. "
                           "At most %d servers per request" % (min_count, MAX_COUNT), "min_count")
    # max_count is "at most": as many as allowed between min and max are made, so the cap only narrows it
    return min_count, min(max_count, MAX_COUNT)


def server_names(name: str, max_count: int) -> list[str]:
    """The names a request gives its servers: the name itself, or name-1..name-N (Nova's multi-create)."""
    return [name] if max_count == 1 else ["%s-%d" % (name, i + 1) for i in range(max_count)]


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


def _resolve_networks(catalog: Catalog, caller: Caller, requested: t.Union[str, list[dict[str, t.Any]]],
                      virtual: bool = True) -> tuple[list[dict[str, t.Any]], list[t.Optional[str]]]:
    if requested == "none":
        return [], []
    visible = catalog.visible_networks(caller.project_id, caller.is_admin)
    if requested == "auto" and virtual:
        # a network no hypervisor has (`hypervisors: []`, a bare-metal node network) cannot take a virtual NIC
        visible = [n for n in visible if n.get("hypervisors", "all") != []]
    if requested == "auto":
        if not visible:
            raise StratusError("UnableToAutoAllocateNetwork", "Unable to automatically allocate a network for "
                               "project %s" % caller.project_id, "networks")
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
        if not (net["shared"] or caller.is_admin or net["project_id"] == caller.project_id):
            raise StratusError("NetworkNotFound", "Network %s could not be found." % ref, "networks[%d]" % i)
        if net["external"] and not caller.can("network:attach_external_network", caller.target()):
            raise StratusError("ExternalNetworkAttachForbidden", "It is not allowed to create an interface on "
                               "external network %s" % net["id"], "networks[%d]" % i)
        networks.append(net)
        fixed.append(item.get("fixed_ip"))
    return networks, fixed


def zone_hosts(hypervisors: list[str], hostvars: t.Mapping[str, t.Any], catalog: Catalog,
               nodes: t.Iterable[str]) -> dict[str, list[str]]:
    """The availability zones a request may name (and os-availability-zone lists), each with its hosts."""
    zones: dict[str, list[str]] = {}
    # a host's zone is its own variable or that of an aggregate it is in (Nova's AZ aggregates)
    for state in host_states(hypervisors, hostvars, catalog, {}):
        if not state.service.get("disabled"):
            zones.setdefault(state.availability_zone or "nova", []).append(state.host)
    # a node's zone (its stratus_bm_availability_zone, else the default) exists too: whether a node of
    # the flavor's class is there is the node scheduler's to say, node by node
    for node in nodes:
        zones.setdefault(str((hostvars.get(node) or {}).get("stratus_bm_availability_zone") or "nova"), []).append(node)
    return zones


def decide(req: t.Mapping[str, t.Any], caller: Caller, catalog: Catalog, task_vars: t.Mapping[str, t.Any],
           hypervisors: list[str], hostvars: t.Mapping[str, t.Any], db_url: t.Optional[str],
           nodes: t.Sequence[str] = ()) -> Decision:
    """Every check that needs no lock, in Nova's order; returns what the transaction needs.

    ``nodes`` are the inventory's bare-metal nodes: their zones exist too, and a request may name one as its host.
    """
    name = str(req["name"])
    min_count, max_count = counts(req)
    zone_req = req.get("availability_zone")
    caller.authorize(POLICY % "create", caller.target(availability_zone=zone_req))
    if req.get("trusted_image_certificates"):
        caller.authorize(POLICY % "create:trusted_certs", caller.target(availability_zone=zone_req))
    zone, forced_host, forced_node = parse_availability_zone(zone_req)
    if forced_host or forced_node:
        caller.authorize(POLICY % "create:forced_host", caller.target(availability_zone=zone_req),
                         "availability_zone")
    requested_host = req.get("host") or req.get("hypervisor_hostname")
    if requested_host:
        caller.authorize("compute:servers:create:requested_destination", caller.target(), "host")
        if forced_host or forced_node:
            raise StratusError("InvalidRequest", "One mechanism with host and/or hypervisor_hostname and another "
                               "mechanism with zone:host:node are mutually exclusive.", "host")
    image_ref = req.get("image")
    raw_bdms = list(req.get("block_device_mapping_v2") or [])
    bdms = [bdmlib.from_api(raw, image_ref is not None, i) for i, raw in enumerate(raw_bdms)]
    if bdms:
        caller.authorize(POLICY % "create:attach_volume", caller.target(), "block_device_mapping_v2")
    if image_ref in (None, "") and not bdms:
        raise StratusError("InvalidRequest", "Missing imageRef attribute", "image")
    requested_nets = _requested_networks(req)
    if requested_nets != "none":
        caller.authorize(POLICY % "create:attach_network", caller.target(), "networks")
    flavor = catalog.flavor(req["flavor"], caller.project_id, caller.is_admin)

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
        if zone not in zone_hosts(hypervisors, hostvars, catalog, nodes):
            raise StratusError("InvalidRequest", "The requested availability zone is not available",
                               "availability_zone")
    if requested_host and requested_host not in states and requested_host not in nodes:
        raise StratusError("ComputeHostNotFound", "Compute host %s could not be found." % requested_host, "host")

    # --- _create_instance: image, base options, BDM transform, quota of metadata and files -------------
    if image_ref:
        image: t.Optional[dict[str, t.Any]] = catalog.image(image_ref, caller.project_id, caller.is_admin)
        image_id: t.Optional[str] = image["id"]
    else:  # volume-backed: the image (if any) comes from the root mapping
        image_id = None
        image = bdmlib.boot_image_metadata(bdms, StoreSources(catalog, caller, db_url=db_url))
    if flavor["disabled"]:
        raise StratusError("FlavorNotFound", "Flavor %s could not be found." % flavor["id"], "flavor")
    networks, fixed = _resolve_networks(catalog, caller, requested_nets, flavor_baremetal(flavor) is None)
    ipam.check_fixed_ips(networks, fixed)
    # the catalog's key pair, else the user's in the store (compute_api/keypairs.py: the catalog wins)
    keypair = keypairs.for_server(catalog, db_url, caller.user_id, str(req["key_name"])) if req.get("key_name") else None
    limits = quota.Limits(task_vars.get("stratus_quotas"), caller.project_id, caller.user_id)
    quota.check_key_pairs(limits, len(catalog.keypairs.get(caller.user_id) or []), caller.user_id)
    bdms = bdmlib.check_and_transform(bdms, image_id, image, flavor, min_count, max_count)
    if flavor_baremetal(flavor) is not None:
        _check_baremetal_bdms(bdms)
    quota.check_metadata(limits, req.get("metadata"))
    quota.check_injected_files(limits, req.get("personality"))
    _detect_nonbootable_image(image_id, image)
    root = bdmlib.root_bdm(bdms)
    validate_flavor_image(caller, flavor, image, root)
    group = None
    hint_group = (req.get("scheduler_hints") or {}).get("group")
    if hint_group:
        group = server_groups.for_server(catalog, db_url, str(hint_group), caller)
        quota.check_server_groups(limits, sum(1 for g in catalog.server_groups
                                              if g.get("project_id") == caller.project_id))
    names = server_names(name, max_count)
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


def _check_baremetal_bdms(bdms: list[dict[str, t.Any]]) -> None:
    """A bare-metal server is deployed onto its node's own disks: the store's volumes live in hypervisors'
    pools, which no node can attach."""
    if any(bdmlib.is_volume(bdm) for bdm in bdms):
        raise StratusError("InvalidBDM", "Block Device Mapping is Invalid: a bare-metal flavor deploys onto the "
                           "node's own disk; volumes (destination_type volume) live in hypervisors' pools and "
                           "cannot be attached to a node", "block_device_mapping_v2")


def _detect_nonbootable_image(image_id: t.Optional[str], image: t.Optional[t.Mapping[str, t.Any]]) -> None:
    """Nova's _detect_nonbootable_image_from_properties: an image uploaded from an encrypted volume
    (``cinder_encryption_key_id``) cannot be booted directly; a volume made from it can."""
    if image_id and image and (image.get("properties") or {}).get("cinder_encryption_key_id"):
        raise StratusError("ImageUnacceptable", "Image %s is unacceptable: Direct booting of an image uploaded "
                           "from an encrypted volume is unsupported." % image_id, "image")


def validate_flavor_image(caller: Caller, flavor: t.Mapping[str, t.Any],
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
    elif not caller.can(POLICY % "create:zero_disk_flavor", caller.target()):
        raise StratusError("BootFromVolumeRequiredForZeroDiskFlavor", "Only volume-backed servers are allowed for "
                           "flavors with zero disk.", "flavor")
