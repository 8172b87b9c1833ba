"""Nova's server bodies (api-ref "Servers (servers)", microversions 2.1 to the API's maximum) from the state
store's instance rows. Pure functions of a row and what the caller may see: no request, no store, no policy
decision (the route says whether the caller is an admin and may read extra specs)."""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import typing as t

from stratus_cli.api.collection import ensure_importable

ensure_importable()
from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import Nic  # noqa: E402
from ansible_collections.stratus.compute.plugins.module_utils.errors import HTTP_STATUS  # noqa: E402
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.views import server_status  # noqa: E402

# nova/compute/power_state.py
POWER_STATES = {"nostate": 0, "running": 1, "paused": 3, "shutdown": 4, "crashed": 6, "suspended": 7}
# Nova shows progress for these statuses only (nova/api/openstack/compute/views/servers.py)
PROGRESS_STATUSES = ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING")


def _time(value: t.Optional[dt.datetime]) -> t.Optional[str]:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _usage_time(value: t.Optional[dt.datetime]) -> t.Optional[str]:
    """OS-SRV-USG's times: no zone, microseconds (as Nova's)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def links(base: str, collection: str, ident: str) -> list[dict[str, str]]:
    return [{"rel": "self", "href": "%s/v2.1/%s/%s" % (base, collection, ident)},
            {"rel": "bookmark", "href": "%s/%s/%s" % (base, collection, ident)}]


def host_id(project_id: str, host: t.Optional[str]) -> str:
    """Nova's hostId: the host hashed with the project, so projects cannot compare hosts."""
    return hashlib.sha224((project_id + host).encode("utf-8")).hexdigest() if host else ""


def brief(row: t.Any, base: str) -> dict[str, t.Any]:
    return {"id": row.uuid, "name": row.name, "links": links(base, "servers", row.uuid)}


class PlanShown(t.NamedTuple):
    """What a server's body shows of its stored build plan."""

    nics: list[t.Any]
    domain_name: str


def plan_shown(plan: t.Any, uuid: str) -> PlanShown:
    """The NICs (each read by the plan's own Nic rules) and the domain name of a stored plan; the rest of the
    plan (disks, networks, config drive) is not read: read_plan checks and copies all of it, which was two
    thirds of GET /servers/detail's time with 1,000 servers (docs/api.md, Benchmarks)."""
    plan = plan if isinstance(plan, dict) else {}
    nics = plan.get("nics")
    return PlanShown([Nic.from_dict(nic, "plan.nics[%d]" % i) for i, nic in enumerate(nics)]
                     if isinstance(nics, list) else [],
                     plan.get("domain_name") or "instance-%s" % uuid)


def _addresses(plan: PlanShown) -> dict[str, list[dict[str, t.Any]]]:
    out: dict[str, list[dict[str, t.Any]]] = {}
    for nic in plan.nics:
        version = ipaddress.ip_address(nic.ip).version if nic.ip else 4
        out.setdefault(nic.network_name, []).append({"version": version, "addr": nic.ip, "OS-EXT-IPS:type": "fixed",
                                                     "OS-EXT-IPS-MAC:mac_addr": nic.mac})
    return out


def _flavor(flavor: t.Mapping[str, t.Any], base: str, version: tuple[int, int],
            may_read_extra_specs: bool) -> dict[str, t.Any]:
    if version < (2, 47):
        return {"id": str(flavor["id"]), "links": [{"rel": "bookmark", "href": "%s/flavors/%s" % (base, flavor["id"])}]}
    body = {"vcpus": int(flavor["vcpus"]), "ram": int(flavor["ram"]), "disk": int(flavor.get("disk", 0)),
            "ephemeral": int(flavor.get("ephemeral", 0)), "swap": int(flavor.get("swap", 0) or 0),
            "original_name": flavor["name"]}
    if may_read_extra_specs:
        body["extra_specs"] = {str(k): str(v) for k, v in (flavor.get("extra_specs") or {}).items()}
    return body


def _image(image_id: t.Optional[str], base: str) -> t.Union[str, dict[str, t.Any]]:
    if not image_id:
        return ""  # booted from a volume
    return {"id": image_id, "links": [{"rel": "bookmark", "href": "%s/images/%s" % (base, image_id)}]}


def _fault(fault: t.Any, when: t.Optional[dt.datetime], is_admin: bool) -> t.Optional[dict[str, t.Any]]:
    if not isinstance(fault, dict):
        return None
    code = fault.get("code")
    body = {"code": HTTP_STATUS.get(str(code), 500) if not isinstance(code, int) else code,
            "created": _time(when), "message": str(fault.get("message") or code or "")}
    if is_admin:
        body["details"] = str(fault.get("details") or "")
    return body


class Seen(t.NamedTuple):
    """What this caller may see of servers, decided once per request by the route (policy)."""

    is_admin: bool
    extra_specs: bool
    version: tuple[int, int]
    base: str


def detail(row: t.Any, seen: Seen, volumes: t.Sequence[t.Any] = (),
           host_status: t.Optional[str] = None) -> dict[str, t.Any]:
    """One server as `GET /servers/{id}` and `/servers/detail` answer it at ``seen.version``."""
    plan = plan_shown(row.plan, row.uuid)
    request = row.request if isinstance(row.request, dict) else {}
    status = server_status(row.vm_state, row.task_state)
    version = seen.version
    body: dict[str, t.Any] = {
        "id": row.uuid, "name": row.name, "status": status, "tenant_id": row.project_id, "user_id": row.user_id,
        "metadata": dict(row.metadata or {}), "hostId": host_id(row.project_id, row.host),
        "image": _image(row.image_id, seen.base),
        "flavor": _flavor(row.flavor, seen.base, version, seen.extra_specs),
        "created": _time(row.created_at), "updated": _time(row.updated_at or row.created_at),
        "addresses": _addresses(plan), "accessIPv4": "", "accessIPv6": "",
        "links": links(seen.base, "servers", row.uuid),
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": row.availability_zone or "",
        "config_drive": "True" if request.get("config_drive") else "",
        "key_name": request.get("key_name"),
        "OS-SRV-USG:launched_at": _usage_time(row.launched_at),
        "OS-SRV-USG:terminated_at": _usage_time(row.deleted_at),
        "OS-EXT-STS:task_state": row.task_state, "OS-EXT-STS:vm_state": row.vm_state,
        "OS-EXT-STS:power_state": POWER_STATES.get(row.power_state or "nostate", 0),
        "security_groups": [{"name": name} for name in (getattr(plan, "security_groups", None) or ["default"])],
        "os-extended-volumes:volumes_attached": [
            dict({"id": v.id},
                 **({"delete_on_termination": bool(v.delete_on_termination)} if version >= (2, 3) else {}))
            for v in volumes],
    }
    if status in PROGRESS_STATUSES:
        body["progress"] = 100 if status == "ACTIVE" else 0
    fault = _fault(row.fault, row.updated_at, seen.is_admin)
    if fault is not None and status in ("ERROR", "DELETED"):
        body["fault"] = fault
    if seen.is_admin:
        body.update({"OS-EXT-SRV-ATTR:host": row.host, "OS-EXT-SRV-ATTR:hypervisor_hostname": row.host,
                     "OS-EXT-SRV-ATTR:instance_name": plan.domain_name})
        if version >= (2, 3):
            body.update({"OS-EXT-SRV-ATTR:reservation_id": "", "OS-EXT-SRV-ATTR:launch_index": row.launch_index,
                         "OS-EXT-SRV-ATTR:hostname": row.hostname, "OS-EXT-SRV-ATTR:kernel_id": "",
                         "OS-EXT-SRV-ATTR:ramdisk_id": "", "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                         # user data is a secret in Stratus: never shown back, not even to an admin
                         "OS-EXT-SRV-ATTR:user_data": None})
        if version >= (2, 16):
            body["host_status"] = host_status or ""
    if version >= (2, 9):
        body["locked"] = False
    if version >= (2, 19):
        body["description"] = row.description
    if version >= (2, 26):
        body["tags"] = list(row.tags or [])
    return body


def explained(verdicts: t.Mapping[str, t.Mapping[str, t.Any]], placements: list[tuple[str, str]],
              error: t.Any, count: int, project_id: str, full: bool, error_field: t.Optional[str]) -> dict[str, t.Any]:
    """os-stratus-explain's body: per host (of the first instance) whether it passed the filters, the filter
    that left it out, its weight and whether a server would go there (chosen), in the weighed order (best
    first, then the hosts left out). ``full`` (the :hosts rule,
    admin): host names, each filter's reason and each weigher's part; otherwise each host is Nova's hostId
    for the project and neither reasons nor parts are shown, as a member sees no hypervisor."""
    def name(host: str) -> str:
        return host if full else host_id(project_id, host)

    chosen = {host for _server, host in placements}
    hosts = []
    for host, verdict in verdicts.items():
        passed = not verdict.get("rejected_by")
        entry: dict[str, t.Any] = {"host": name(host), "passed": passed, "rejected_by": verdict.get("rejected_by"),
                                   "weight": verdict.get("weight") if passed else None, "chosen": host in chosen}
        if full:
            entry["reason"] = verdict.get("reason")
            entry["weights"] = dict(verdict.get("weights") or {}) if passed else {}
        hosts.append(entry)
    # best first; among equal weights the host the scheduler took (it picks at random among the best few)
    hosts.sort(key=lambda e: (not e["passed"], -(e["weight"] or 0.0), not e["chosen"], e["host"]))
    return {"scheduled": error is None, "instances": count,
            "placements": [{"name": server, "host": name(host)} for server, host in placements],
            "hosts": hosts,
            "error": None if error is None else {"code": error.code, "message": error.message, "field": error_field}}
