# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The conductor's create: quota, schedule and claim in one locked transaction of the state store.

The request has passed the API checks (compute_api/checks.py ``decide``). Everything that
writes happens in one locked transaction, so a refused request leaves nothing behind but its
action-log entry, and two runs cannot both take the last unit of quota, of a host or of an
address pool. Each new instance gets its row, its claim, its volumes, its addresses and its
build plan (build_plan.py); the hypervisor steps build it from there.
"""
from __future__ import annotations

import random
import typing as t
import uuid as uuidlib

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import Nic
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.hostname import hostname_from_name
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.scheduler import (
    FilterScheduler, NodeScheduler, SchedulerConfig,
)
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import bdm as bdmlib
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import quota, schema, views
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.baremetal_nodes import BaremetalNode
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog, flavor_baremetal
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.checks import (
    POLICY, Decision, StoreSources, decide,
)
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.host_states import host_states
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import in_place, lifecycle
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.build_plan import build_plan
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import node_schedule
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.node_schedule import NodeFleet
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import host_usage, ipam
from ansible_collections.stratus.compute.plugins.plugin_utils.resources.ipam import allocate_ip
from ansible_collections.stratus.compute.plugins.plugin_utils.resources.node_events import Who
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import (
    claims, instance_actions, instances, volumes,
)


class CreateResult(t.NamedTuple):
    changed: bool
    servers: list[dict[str, t.Any]]
    hosts: list[str]
    explain: t.Optional[dict[str, t.Any]] = None
    # existing servers whose opted-in flavor or image differs from the request (in_place.update_of)
    updates: list[dict[str, t.Any]] = []


# --- the transaction ------------------------------------------------------------------------------------


def _how_many(conn: Connection, decision: Decision, caller: Caller, existing: int, missing: int) -> int:
    """Instance quota for what is still missing; a request already met (>= min_count) never fails on it."""
    if not missing:
        return 0
    need = max(0, decision.min_count - existing)
    if need:
        return quota.check_num_instances(conn, decision.limits, caller.project_id, caller.user_id, decision.flavor,
                                         need, missing)
    try:
        return quota.check_num_instances(conn, decision.limits, caller.project_id, caller.user_id, decision.flavor,
                                         1, missing)
    except StratusError:
        return 0


def record_refusal(db_url: t.Optional[str], caller_ids: tuple[str, str], name: t.Optional[str],
                   request_id: str, exc: StratusError, action: str = "create") -> None:
    """A refused request leaves exactly one trace: an action-log entry that says why."""
    project_id, user_id = caller_ids
    try:
        with store.transaction(db_url) as conn:
            now = lifecycle.now()
            conn.execute(instance_actions.insert().values(
                instance_uuid="", action=action, request_id=request_id, project_id=project_id, user_id=user_id,
                start_time=now, finish_time=now, message=exc.message[:4000], instance_name=name,
                error_code=exc.code))
    except StratusError:
        pass  # the store itself is what failed; the user sees the original error


def create_servers(request: dict[str, t.Any], caller: Caller, task_vars: dict[str, t.Any],
                   hypervisors: list[str], hostvars: t.Mapping[str, t.Any], db_url: t.Optional[str],
                   check_mode: bool, request_id: str, raw_vars: t.Optional[t.Mapping[str, t.Any]] = None,
                   nodes: t.Sequence[str] = ()) -> CreateResult:
    """Create the servers of a request; ``nodes`` are the inventory's bare-metal nodes (node_states.node_names)."""
    catalog = Catalog(task_vars, raw_vars)
    decision = decide(request, caller, catalog, task_vars, hypervisors, hostvars, db_url, nodes)
    baremetal = flavor_baremetal(decision.flavor)
    # a bare-metal deploy boots the image's kernel and ramdisk (Ironic's kernel_id / ramdisk_id)
    boot_files = node_schedule.boot_files(catalog, decision.image) if baremetal is not None else None
    with store.transaction(db_url, locked=not check_mode) as conn:
        existing = {row.name: row for row in views.live_servers(conn, caller.project_id, decision.names)}
        replaced: list[tuple[t.Any, list[str]]] = []
        in_place_fields = in_place.opted_fields(request)
        updates: list[dict[str, t.Any]] = []
        changed = False
        for row in existing.values():
            if row.task_state == "deleting":
                raise StratusError("InstanceInvalidState", "Server %s is being deleted; finish the delete "
                                   "(run it again) before creating it anew" % row.name, "name")
            stored = row.request or {}
            differs = sorted(k for k, v in decision.fingerprint.items() if stored.get(k) != v)
            fixed = [k for k in differs if k not in in_place_fields]
            if fixed and not schema.as_bool(request.get("recreate")):
                raise StratusError("Conflict", "Server %s exists and differs in fields that cannot change in "
                                   "place: %s (recreate: true replaces it%s)"
                                   % (row.name, ", ".join(fixed), in_place.opt_in_hint(fixed)), fixed[0])
            if fixed:
                caller.authorize(POLICY % "delete", {"project_id": row.project_id, "user_id": row.user_id})
                replaced.append((row, differs))
                continue
            if in_place_fields:
                update = in_place.update_of(conn, row, str(decision.flavor["id"]), decision.fingerprint["image"],
                                            in_place_fields)
                if update is not None:
                    updates.append(update)
                    changed = True
            if differs:  # opted-in fields only: the request now says what the server is to be
                if not check_mode:
                    conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
                        request=dict(stored, **{k: decision.fingerprint[k] for k in differs})))
                changed = True
        # Check mode plays the replacement inside a savepoint it rolls back: quota and
        # scheduling then see the store as the real run would.
        savepoint = conn.begin_nested() if replaced and check_mode else None
        for row, differs in replaced:
            _replace(conn, row, differs, caller, request_id)
            del existing[row.name]
        missing = [n for n in decision.names if n not in existing]
        explain: t.Optional[dict[str, t.Any]] = None
        planned: list[dict[str, t.Any]] = []
        if missing:
            allowed = _how_many(conn, decision, caller, len(existing), len(missing))
            missing = missing[:allowed]
            ipam.check_addresses(conn, decision.networks, decision.fixed_ips, len(missing))
        if missing:
            sources = StoreSources(catalog, caller, conn)
            image_id = decision.image["id"] if decision.image and not decision.boot_volume else None
            bdms = bdmlib.validate(decision.bdms, decision.flavor, image_id, sources,
                                   int(task_vars.get("stratus_max_local_block_devices", 3)))
            bdms = bdmlib.assign_device_names(bdms)
            if decision.group:
                quota.check_server_group_members(conn, decision.limits, decision.group["id"], caller.user_id, len(missing))
            volume_hosts = sorted({b["volume_host"] for b in bdms if b.get("volume_host")})
            force = [decision.forced_host] if decision.forced_host else []
            if volume_hosts:
                # a local volume can only be attached on the host whose pool holds it
                if len(volume_hosts) > 1 or (force and force != volume_hosts):
                    raise StratusError("NoValidHost", "No valid host was found. The requested volumes are on "
                                       "different hosts: %s" % ", ".join(volume_hosts), "block_device_mapping_v2")
            root_gb = 0 if decision.boot_volume else decision.flavor["disk"]
            group = None
            if decision.group:
                members = host_usage.group_members(conn, decision.group["id"])
                group = dict(decision.group, members=[u for u, _h in members],
                             hosts=sorted({h for _u, h in members if h}))
            spec = RequestSpec(flavor={"name": decision.flavor["name"], "vcpus": decision.flavor["vcpus"],
                                       "memory_mb": decision.flavor["ram"], "root_gb": root_gb,
                                       "ephemeral_gb": decision.flavor["ephemeral"], "swap": decision.flavor["swap"],
                                       "extra_specs": dict(decision.flavor.get("extra_specs") or {})},
                               num_instances=len(missing), image=decision.image or {}, availability_zone=decision.zone,
                               scheduler_hints=dict(request.get("scheduler_hints") or {}), instance_group=group,
                               force_hosts=force, project_id=caller.project_id,
                               requested_networks=[n["id"] for n in decision.networks])
            uuids = [str(uuidlib.uuid4()) for _name in missing]
            config = SchedulerConfig.from_dict(task_vars.get("stratus_scheduler"))
            explain = {} if schema.as_bool(request.get("explain")) else None
            fleet: t.Optional[NodeFleet] = None
            if baremetal is not None or (nodes and not hypervisors):
                # a bare-metal flavor goes to a node; a virtual one on a fleet of nodes only is told why not
                fleet = NodeFleet.read(conn, nodes, hypervisors, hostvars, catalog, decision.requested_host)
                scheduler: FilterScheduler = NodeScheduler(config)
                states: t.Sequence[HostState] = fleet.states
            else:
                if decision.requested_host in nodes:
                    raise StratusError("NoValidHost", "No valid host was found. Flavor %s is a virtual flavor; the "
                                       "requested host %s is a bare-metal node"
                                       % (decision.flavor["name"], decision.requested_host), "host")
                candidates = volume_hosts or ([decision.requested_host] if decision.requested_host else hypervisors)
                states = host_states(candidates, hostvars, catalog, host_usage.usage(conn))
                scheduler = FilterScheduler(config)
            try:
                selections = scheduler.select_destinations(states, spec, uuids, explain=explain)
            except StratusError as exc:
                if explain is not None and getattr(exc, "explain", None) is None:
                    exc.explain = explain  # type: ignore[attr-defined]  # "why NoValidHost?" goes with the error
                if fleet is not None and exc.code == "NoValidHost":
                    raise fleet.no_valid_host(exc, decision.flavor, baremetal)
                raise
            if check_mode:
                if savepoint is not None:
                    savepoint.rollback()
                planned = [{"name": n, "host": s.host, "alternates": s.alternates, "vm_state": "building",
                            "task_state": "scheduling", "flavor": decision.flavor["name"],
                            "block_devices": [{"device_name": b["device_name"], "source_type": b["source_type"],
                                               "destination_type": b["destination_type"],
                                               "size": b.get("volume_size")} for b in bdms]}
                           for n, s in zip(missing, selections)]
                replacing = [dict(views.server_view(r), task_state="deleting", replaced_because=f) for r, f in replaced]
                return CreateResult(True, planned + [views.server_view(r) for r in existing.values()] + replacing, [],
                                    explain, updates)
            rng = random.Random()
            first_index = len(existing)
            for offset, (name, uuid, sel) in enumerate(zip(missing, uuids, selections)):
                node = fleet.claim(conn, sel.host, uuid, Who.of(caller, request_id)) \
                    if fleet is not None else None
                _insert_instance(conn, request, caller, decision, bdms, name, uuid, sel, first_index + offset, spec, rng,
                                 request_id, 1 if force else scheduler.config.max_attempts, node, boot_files)
            # Nova's recheck after the claim (delta 0: are we over now?)
            quota.check_num_instances(conn, decision.limits, caller.project_id, caller.user_id, decision.flavor, 0, 0,
                                      orig_num_req=len(missing))
            changed = True
        if savepoint is not None:
            savepoint.rollback()
        elif replaced:
            changed = True
        rows = views.live_servers(conn, caller.project_id, decision.names)
        for row in rows:
            if row.name in existing and (row.metadata != dict(request.get("metadata") or {})
                                         or row.tags != list(request.get("tags") or [])
                                         or row.description != request.get("description")):
                if not check_mode:
                    conn.execute(instances.update().where(instances.c.uuid == row.uuid).values(
                        metadata=dict(request.get("metadata") or {}), tags=list(request.get("tags") or []),
                        description=request.get("description"), updated_at=lifecycle.now()))
                changed = True
        if changed and not check_mode:
            rows = views.live_servers(conn, caller.project_id, decision.names)
    hosts = sorted({r.host for r in rows if r.host and r.vm_state in ("building", "active")})
    return CreateResult(changed, [views.server_view(r) for r in rows], hosts, explain, updates)


def _replace(conn: Connection, row: t.Any, differs: list[str], caller: Caller, request_id: str) -> None:
    """recreate: the old server is deleted now and its host cleaned before the new one is built there.

    Its resources stay counted on its host as a leftover until the compute_cleanup step has run;
    its addresses are handed on (the clean-up runs before any build on that host, and libvirt
    refuses a DHCP host entry for an address another entry still holds).
    """
    lifecycle.start_action(conn, row.uuid, "delete", request_id, caller.project_id, caller.user_id,
                           "replaced (recreate): %s differ" % ", ".join(differs))
    if row.host:
        lifecycle.record_leftover(conn, row.host, row, "replaced by recreate (%s differ)" % ", ".join(differs),
                                  keep_addresses=False)
    lifecycle.mark_deleted(conn, row.uuid)


def _insert_instance(conn: Connection, request: t.Mapping[str, t.Any], caller: Caller, decision: Decision,
                     bdms: list[dict[str, t.Any]], name: str, uuid: str, sel: t.Any, index: int, spec: RequestSpec,
                     rng: random.Random, request_id: str, max_attempts: int,
                     node: t.Optional[BaremetalNode] = None,
                     boot_files: t.Optional[dict[str, t.Optional[str]]] = None) -> None:
    """One new instance: its row, claim, volumes, addresses, plan. On a bare-metal ``node`` the claim
    row records the node whole (what the node is, not what the flavor says: nothing else can use it),
    and each address goes with the node's own NIC on that network."""
    now = lifecycle.now()
    sizes = (spec.vcpus, spec.memory_mb, spec.disk_gb)
    if node is not None:
        sizes = (node.cpus, node.memory_mb, node.local_gb)
    hostname = request.get("hostname") or hostname_from_name(name) or "server-%s" % uuid
    conn.execute(instances.insert().values(
        uuid=uuid, project_id=caller.project_id, user_id=caller.user_id, name=name, hostname=hostname,
        host=sel.host, availability_zone=decision.zone, flavor=decision.flavor,
        image_id=(decision.image or {}).get("id"), request=decision.fingerprint, vm_state="building",
        task_state="scheduling", metadata=dict(request.get("metadata") or {}), tags=list(request.get("tags") or []),
        description=request.get("description"), launch_index=index, attempts=1, created_at=now, updated_at=now,
        server_group_id=decision.group["id"] if decision.group else None))
    conn.execute(claims.insert().values(instance_uuid=uuid, host=sel.host, project_id=caller.project_id,
                                        vcpus=sizes[0], memory_mb=sizes[1], disk_gb=sizes[2], created_at=now))
    own = []
    for bdm in bdms:
        bdm = dict(bdm)
        if bdm["destination_type"] == "volume" and bdm["source_type"] in ("image", "blank"):
            bdm["new_volume_id"] = str(uuidlib.uuid4())
            conn.execute(volumes.insert().values(
                id=bdm["new_volume_id"], name="%s-%s" % (name, bdmlib.strip_dev(bdm["device_name"])),
                project_id=caller.project_id, host=sel.host, instance_uuid=uuid, size_gb=int(bdm["volume_size"]),
                device_name=bdm["device_name"], source_type=bdm["source_type"],
                delete_on_termination=bool(bdm.get("delete_on_termination")), status="reserved", created_at=now))
        elif bdm["source_type"] == "volume":
            conn.execute(volumes.update().where(volumes.c.id == bdm["volume_id"]).values(
                status="reserved", instance_uuid=uuid, device_name=bdm["device_name"],
                delete_on_termination=bool(bdm.get("delete_on_termination"))))
        own.append(bdm)
    nics = []
    for vif, (net, ip) in enumerate(zip(decision.networks, decision.fixed_ips)):
        alloc = allocate_ip(conn, net, uuid, hostname, ip, vif, rng, avoid={f for f in decision.fixed_ips if f},
                            mac=node_schedule.node_mac(node, net) if node is not None else None)
        nics.append(Nic(network_id=net["id"], network_name=net["name"], libvirt_network=net["libvirt_name"],
                        mac=alloc["mac"], ip=alloc["address"], hostname=hostname))
    plan = build_plan(request, decision, uuid=uuid, name=name, hostname=hostname, project_id=caller.project_id,
                      user_id=caller.user_id, launch_index=index, bdms=own, nics=nics,
                      alternates=sel.alternates, max_attempts=max_attempts, created_at=now, boot_files=boot_files)
    conn.execute(instances.update().where(instances.c.uuid == uuid).values(plan=plan.to_dict()))
    lifecycle.start_action(conn, uuid, "create", request_id, caller.project_id, caller.user_id)
    lifecycle.record_event(conn, uuid, "conductor_schedule_and_build_instances", sel.host, "Success",
                           "scheduled on %s (alternates: %s)" % (sel.host, ", ".join(sel.alternates) or "none"))
