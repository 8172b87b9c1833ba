"""The dashboard's Admin pages: hypervisors (usage against capacity, state, status and the enable/disable form
of each compute service, zones and aggregates), every project's instances and the bare-metal nodes. The menu
offers them to admins only (session.shows_admin), but the API's policy decides: a member who opens one gets
the API's 403 as the error page, as for every other call."""
from __future__ import annotations

import typing as t

from starlette.requests import Request
from starlette.routing import Route

from stratus_cli.dashboard.client import Api, Refusal
from stratus_cli.dashboard.pages import Page, form_page, page, redirect
from stratus_cli.dashboard.session import Session, one

# os-hypervisors detail's ids and os-services' update by id need 2.53 (UUIDs); the client reads 2.61.
HYPERVISORS = "/dashboard/admin/hypervisors"


def _hypervisor_rows(details: list[dict[str, t.Any]], capacity: list[dict[str, t.Any]],
                     services: list[dict[str, t.Any]], aggregates: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """One row per hypervisor: its use against the scheduler's capacity ((total - reserved) x ratio, the
    Stratus extension's), its compute service (zone, status, reason, id for the form) and its aggregates."""
    cap_of = {c["hypervisor_hostname"]: c for c in capacity}
    service_of = {s["host"]: s for s in services if s.get("binary") == "nova-compute"}
    rows = []
    for hv in details:
        name = hv["hypervisor_hostname"]
        cap = cap_of.get(name) or {}
        total = cap.get("capacity") or {"vcpus": hv["vcpus"], "memory_mb": hv["memory_mb"], "disk_gb": hv["local_gb"]}
        service = service_of.get(name) or {}
        rows.append({
            "name": name, "state": hv["state"], "status": hv["status"], "running_vms": hv["running_vms"],
            "disabled_reason": service.get("disabled_reason") or hv["service"].get("disabled_reason"),
            "service_id": service.get("id"), "zone": service.get("zone") or "",
            "forced_down": bool(service.get("forced_down")),
            "aggregates": sorted(a["name"] for a in aggregates if name in (a.get("hosts") or [])),
            "bars": [
                {"label": "vCPUs", "used": hv["vcpus_used"], "total": total["vcpus"], "unit": "",
                 "raw": hv["vcpus"], "ratio": cap.get("cpu_allocation_ratio")},
                {"label": "RAM", "used": hv["memory_mb_used"], "total": total["memory_mb"], "unit": "MB",
                 "raw": hv["memory_mb"], "ratio": cap.get("ram_allocation_ratio")},
                {"label": "Disk", "used": hv["local_gb_used"], "total": total["disk_gb"], "unit": "GB",
                 "raw": hv["local_gb"], "ratio": cap.get("disk_allocation_ratio")},
            ],
        })
    return rows


async def _hypervisor_values(api: Api) -> dict[str, t.Any]:
    details = (await api.get("/v2.1/os-hypervisors/detail"))["hypervisors"]
    capacity = (await api.get("/v2.1/os-stratus-hypervisor-capacity"))["hypervisors"]
    services = (await api.get("/v2.1/os-services"))["services"]
    aggregates = (await api.get("/v2.1/os-aggregates"))["aggregates"]
    zones = (await api.get("/v2.1/os-availability-zone/detail"))["availabilityZoneInfo"]
    return {"hypervisors": _hypervisor_rows(details, capacity, services, aggregates), "aggregates": aggregates,
            "zones": [{"name": z["zoneName"], "available": bool((z.get("zoneState") or {}).get("available")),
                       "hosts": sorted(z.get("hosts") or {})} for z in zones],
            "form_error": None}


async def _hypervisors(request: Request, session: Session, api: Api) -> Page:
    return Page("admin_hypervisors.html", await _hypervisor_values(api))


async def _service_update(request: Request, session: Session, api: Api, form: dict[str, list[str]]) -> Page:
    """Enable or disable one compute service (PUT /os-services/{id}, 2.53) with the reason as given: the API
    checks it (1-255 characters); its refusal is shown at that service's reason field, nothing changed."""
    service_id = request.path_params["service_id"]
    action, reason = one(form, "action"), one(form, "reason").strip()
    body: dict[str, t.Any] = {"status": "disabled" if action == "disable" else "enabled"}
    if action not in ("enable", "disable"):
        body = {"status": action}  # the API refuses it with its own message
    if action == "disable" and reason:
        body["disabled_reason"] = reason
    try:
        await api.put("/v2.1/os-services/%s" % service_id, body)
    except Refusal as exc:
        values = await _hypervisor_values(api) if exc.status == 400 else {}
        if not any(hv["service_id"] == service_id for hv in values.get("hypervisors", [])):
            raise  # not one of the page's forms (403, 404, a made-up id): the error page
        values["form_error"] = {"service_id": service_id, "message": exc.message, "reason": reason}
        return Page("admin_hypervisors.html", values, status=400)
    return Page(response=redirect(HYPERVISORS))


def _instance_rows(servers: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    rows = []
    for s in servers:
        flavor = s.get("flavor") or {}
        rows.append({
            "id": s["id"], "name": s["name"], "project": s.get("tenant_id", ""), "host": s.get("OS-EXT-SRV-ATTR:host"),
            "status": s["status"], "task": s.get("OS-EXT-STS:task_state"),
            "power": s.get("OS-EXT-STS:power_state"), "flavor": flavor.get("original_name") or flavor.get("id", ""),
            "zone": s.get("OS-EXT-AZ:availability_zone") or "",
            "addresses": [a["addr"] for nets in (s.get("addresses") or {}).values() for a in nets],
            "created": s.get("created"),
        })
    return rows


POWER_STATES = {0: "NOSTATE", 1: "Running", 3: "Paused", 4: "Shut down", 6: "Crashed", 7: "Suspended"}


async def _instances(request: Request, session: Session, api: Api) -> Page:
    servers = (await api.get("/v2.1/servers/detail", query={"all_tenants": "1"}))["servers"]
    return Page("admin_instances.html", {"instances": _instance_rows(servers), "power_states": POWER_STATES})


async def _nodes(request: Request, session: Session, api: Api) -> Page:
    nodes = (await api.get("/baremetal/v1/nodes"))["nodes"]
    return Page("admin_nodes.html", {"nodes": nodes})


ROUTES = [
    Route("/admin/hypervisors", page(_hypervisors), methods=["GET"]),
    Route("/admin/services/{service_id}", form_page(_service_update), methods=["POST"]),
    Route("/admin/instances", page(_instances), methods=["GET"]),
    Route("/admin/nodes", page(_nodes), methods=["GET"]),
]
