"""`stratus api`'s quota sets, hypervisors, compute services, host aggregates and instance actions (Nova's
os-quota-sets, os-hypervisors, os-services, os-aggregates, os-instance-actions), each a thin route over the
collection's own views and conductor code, so the API says what `stratus quota show`, `stratus hypervisor
list|disable|enable|down|up` and `server show`'s action log say.

Quotas are the inventory's (stratus_quotas): the API shows them and refuses to change them."""
from __future__ import annotations

import datetime as dt
import re
import typing as t

from stratus_cli.api import errors, identity
from stratus_cli.api import resource_views as rviews
from stratus_cli.api.collection import ensure_importable
from stratus_cli.api.edge import Answer, Call, endpoint, get
from stratus_cli.api.errors import ApiError

from starlette.routing import Route

ensure_importable()
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import views as compute_views  # noqa: E402
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.quota import Limits  # noqa: E402
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import services  # noqa: E402
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import compute_services  # noqa: E402

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
# user ids as the Caller takes them (compute_api/caller.py)
USER_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,254}")
QUOTAS_IN_INVENTORY = ("Quotas are set in the inventory (stratus_quotas) and read when `stratus api` starts; "
                       "the API does not change them.")


def _path(call: Call, name: str) -> str:
    return str(call.request.path_params[name])


# --- quota sets -----------------------------------------------------------------------------------------

def _quota_project(call: Call, action: str) -> str:
    """The path's project, once policy lets the caller see it (another project's: admin) and it exists."""
    project = _path(call, "tenant_id")
    call.caller.authorize("os_compute_api:os-quota-sets:%s" % action, {"project_id": project}, "tenant_id")
    try:
        found = identity.find_project(call.conn, project).id == project
    except identity.IdentityError:
        found = False
    if not found:
        raise ApiError(400, "Project ID %s is not a valid project." % errors.shown(project))
    return project


def _quota_user(call: Call) -> t.Optional[str]:
    user = call.query.get("user_id")
    if user is not None and not USER_ID_RE.fullmatch(user):
        raise ApiError(400, "Invalid input for query parameters user_id.")
    return user


def quota_show(call: Call) -> Answer:
    project = _quota_project(call, "show")
    limits = Limits(call.cloud.quotas, project, _quota_user(call) or "")
    return rviews.quota_set(project, limits.__getitem__, call.version)


def quota_detail(call: Call) -> Answer:
    project = _quota_project(call, "detail")
    user = _quota_user(call)
    detail = compute_views.quota_set(call.conn, call.cloud.quotas, call.cloud.catalog, project, user)
    limits = Limits(call.cloud.quotas, project, user or "")
    return rviews.quota_set_detail(project, detail, limits.__getitem__, call.version)


def quota_defaults(call: Call) -> Answer:
    project = _quota_project(call, "defaults")
    return rviews.quota_set(project, Limits(call.cloud.quotas, "", "").__getitem__, call.version)


def _quota_refused(action: str) -> t.Callable[[Call], Answer]:
    """PUT (update) and DELETE (revert to defaults): Nova's admin rule first, then 501: the inventory decides."""
    def route(call: Call) -> Answer:
        call.caller.authorize("os_compute_api:os-quota-sets:%s" % action,
                              {"project_id": _path(call, "tenant_id")}, "tenant_id")
        raise ApiError(501, QUOTAS_IN_INVENTORY)
    return route


def _network_quota(call: Call, defaults: bool = False) -> tuple[str, dict[str, int], dict[str, int]]:
    """Neutron's quota of the path's project (Neutron's get_quota rule): limits and use. Stratus enforces
    none of them (the catalog's networks are the operator's): -1, but floating IPs and security groups as
    stratus_quotas says (as Nova's 2.1 quota set shows them); use: the project's own networks and subnets and
    its live servers' ports."""
    project = _path(call, "project_id")
    call.caller.authorize("get_quota", {"project_id": project, "tenant_id": project}, "project_id")
    limits = Limits(call.cloud.quotas, "" if defaults else project, "")
    limit = dict.fromkeys(rviews.NETWORK_QUOTAS, -1)
    limit.update(floatingip=limits["floating_ips"], security_group=limits["security_groups"],
                 security_group_rule=limits["security_group_rules"])
    owned = sum(1 for n in call.cloud.catalog.networks if n.get("project_id") == project)
    ports = sum(len(nics) for row in compute_views.visible_servers(call.conn, project)
                for nics in compute_views.server_view(row)["addresses"].values())
    used = dict(dict.fromkeys(rviews.NETWORK_QUOTAS, 0), network=owned, subnet=owned, port=ports)
    return project, limit, used


def network_quota(call: Call) -> Answer:
    _project, limit, _used = _network_quota(call)
    return {"quota": limit}


def network_quota_defaults(call: Call) -> Answer:
    _project, limit, _used = _network_quota(call, defaults=True)
    return {"quota": limit}


def network_quota_details(call: Call) -> Answer:
    _project, limit, used = _network_quota(call)
    return {"quota": {k: {"limit": limit[k], "used": used[k], "reserved": 0} for k in rviews.NETWORK_QUOTAS}}


# --- hypervisors and host aggregates --------------------------------------------------------------------

def _hypervisors(call: Call) -> list[dict[str, t.Any]]:
    return compute_views.hypervisor_views(call.conn, list(call.config.hypervisors), call.config.hostvars,
                                          call.cloud.catalog)


def _servers_on(call: Call, host: str) -> list[dict[str, str]]:
    return [{"name": r.name, "uuid": r.uuid} for r in compute_views.visible_servers(call.conn, None) if r.host == host]


def _with_servers(call: Call) -> bool:
    value = call.query.get("with_servers", "false").lower()
    if call.version < (2, 53) or value in ("false", "0", "no", "off", "f", "n"):
        return False
    if value in ("true", "1", "yes", "on", "t", "y"):
        return True
    raise ApiError(400, "Invalid input for query parameters with_servers.")


def _limit(call: Call) -> t.Optional[int]:
    value = call.query.get("limit")
    if value is None:
        return None
    if not value.isdigit() or len(value) > 9:
        raise ApiError(400, "Invalid input for query parameters limit.")
    return int(value)


def _page(items: list[dict[str, t.Any]], ident: t.Callable[[dict[str, t.Any]], str], limit: t.Optional[int],
          marker: t.Optional[str], unknown_marker: str) -> tuple[list[dict[str, t.Any]], t.Optional[str]]:
    """The items after the marker (an item's id; 400 when none has it), at most limit of them, and the marker
    of the next page when there is one."""
    if marker is not None:
        ids = [ident(i) for i in items]
        if marker not in ids:
            raise ApiError(400, unknown_marker % errors.shown(marker))
        items = items[ids.index(marker) + 1:]
    if limit is None or len(items) <= limit:
        return items, None
    if limit == 0:
        return [], None
    return items[:limit], ident(items[limit - 1])


def _hypervisor_page(call: Call, items: list[dict[str, t.Any]], route: str) -> dict[str, t.Any]:
    """Nova's hypervisor list: ?hypervisor_hostname_pattern (2.53), ?limit and ?marker (2.33; the marker an
    id), hypervisors_links when a page is full."""
    pattern = call.query.get("hypervisor_hostname_pattern") if call.version >= (2, 53) else None
    limit = _limit(call) if call.version >= (2, 33) else None
    marker = call.query.get("marker") if call.version >= (2, 33) else None
    if pattern is not None:
        if limit is not None or marker is not None:
            raise ApiError(400, "Paging over hypervisors with the hypervisor_hostname_pattern query parameter is "
                                "not supported.")
        items = [i for i in items if pattern in i["hypervisor_hostname"]]
        if not items:
            raise ApiError(404, "No hypervisor matching '%s' could be found." % errors.shown(pattern))
    page, following = _page(items, lambda i: str(i["id"]), limit, marker, "marker [%s] not found")
    out: dict[str, t.Any] = {"hypervisors": page}
    if following is not None:
        out["hypervisors_links"] = [{"rel": "next", "href": "%s/v2.1/%s?limit=%s&marker=%s" % (
            call.base, route, limit, following)}]
    return out


def _listed(call: Call, detail: bool) -> list[dict[str, t.Any]]:
    servers = _with_servers(call)
    out = []
    for hv in _hypervisors(call):
        item = rviews.hypervisor_detail(hv, call.version) if detail else rviews.hypervisor_brief(hv, call.version)
        if servers:
            item["servers"] = _servers_on(call, hv["hypervisor_hostname"])
        out.append(item)
    return out


def hypervisor_list(call: Call) -> Answer:
    call.caller.authorize("os_compute_api:os-hypervisors:list")
    return _hypervisor_page(call, _listed(call, detail=False), "os-hypervisors")


def hypervisor_detail_list(call: Call) -> Answer:
    call.caller.authorize("os_compute_api:os-hypervisors:list-detail")
    return _hypervisor_page(call, _listed(call, detail=True), "os-hypervisors/detail")


def _hypervisor(call: Call) -> dict[str, t.Any]:
    """The hypervisor the path names by id: a UUID from 2.53 (else 400), an integer before (else 404)."""
    wanted = _path(call, "hypervisor_id")
    if call.version >= rviews.UUID_IDS and not UUID_RE.fullmatch(wanted):
        raise ApiError(400, "Invalid uuid %s" % errors.shown(wanted))
    for hv in _hypervisors(call):
        if str(rviews.object_id("hypervisor", hv["hypervisor_hostname"], call.version)) == wanted.lower():
            return hv
    raise ApiError(404, "Hypervisor with ID %s could not be found." % errors.shown(wanted))


def hypervisor_show(call: Call) -> Answer:
    call.caller.authorize("os_compute_api:os-hypervisors:show")
    hv = _hypervisor(call)
    item = rviews.hypervisor_detail(hv, call.version)
    if _with_servers(call):
        item["servers"] = _servers_on(call, hv["hypervisor_hostname"])
    return {"hypervisor": item}


def hypervisor_uptime(call: Call) -> Answer:
    """Nova's answer for a driver without uptime (the openstack command shows the hypervisor without it)."""
    call.caller.authorize("os_compute_api:os-hypervisors:uptime")
    _hypervisor(call)
    raise ApiError(501, "Virt driver does not implement uptime function.")


def hypervisor_statistics(call: Call) -> Answer:
    call.caller.authorize("os_compute_api:os-hypervisors:statistics")
    return rviews.hypervisor_statistics([rviews.hypervisor_detail(hv, call.version) for hv in _hypervisors(call)])


def _matching(call: Call, rule: str) -> list[dict[str, t.Any]]:
    """Before 2.53 (from 2.53: ?hypervisor_hostname_pattern and ?with_servers): the hypervisors whose name
    holds the path's pattern, or 404."""
    if call.version >= rviews.UUID_IDS:
        raise ApiError(404, "The resource could not be found.")
    call.caller.authorize(rule)
    pattern = _path(call, "pattern")
    found = [hv for hv in _hypervisors(call) if pattern in hv["hypervisor_hostname"]]
    if not found:
        raise ApiError(404, "No hypervisor matching '%s' could be found." % errors.shown(pattern))
    return found


def hypervisor_search(call: Call) -> Answer:
    found = _matching(call, "os_compute_api:os-hypervisors:search")
    return {"hypervisors": [rviews.hypervisor_brief(hv, call.version) for hv in found]}


def hypervisor_servers(call: Call) -> Answer:
    found = _matching(call, "os_compute_api:os-hypervisors:servers")
    return {"hypervisors": [dict(rviews.hypervisor_brief(hv, call.version),
                                 servers=_servers_on(call, hv["hypervisor_hostname"])) for hv in found]}


def aggregate_list(call: Call) -> Answer:
    """The catalog's host aggregates with their hosts (the aggregate's own list and the hosts naming it)."""
    call.caller.authorize("os_compute_api:os-aggregates:index")
    hvs = _hypervisors(call)
    named = [a["name"] for a in call.cloud.catalog.host_aggregates]
    named += sorted({n for hv in hvs for n in hv["aggregates"]} - set(named))
    by_name = {a["name"]: a for a in call.cloud.catalog.host_aggregates}
    return {"aggregates": [rviews.aggregate(
        by_name.get(name) or {"name": name}, [hv["hypervisor_hostname"] for hv in hvs if name in hv["aggregates"]],
        call.version) for name in named]}


# --- compute services -----------------------------------------------------------------------------------

def _services(call: Call) -> list[dict[str, t.Any]]:
    return [rviews.compute_service(hv, services.service_view(hv["hypervisor_hostname"], compute_services.service_row(
        call.conn, hv["hypervisor_hostname"])), call.version) for hv in _hypervisors(call)]


def service_list(call: Call) -> Answer:
    """One nova-compute per hypervisor of the inventory; ?host= and ?binary= filter."""
    call.caller.authorize("os_compute_api:os-services:list")
    out = _services(call)
    for key in ("host", "binary"):
        if call.query.get(key) is not None:
            out = [s for s in out if s[key] == call.query.get(key)]
    return {"services": out}


SERVICE_FIELDS = {"status", "disabled_reason", "forced_down"}


def _service_update_body(call: Call) -> tuple[t.Optional[bool], t.Optional[str], t.Optional[bool]]:
    """2.53's body: status (enabled, disabled), disabled_reason (with disabled), forced_down; nothing else."""
    body = call.body
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid input for field/attribute body: expected an object.")
    unknown = sorted(set(body) - SERVICE_FIELDS)
    if unknown:
        raise ApiError(400, "Additional properties are not allowed (%s was unexpected)"
                       % ", ".join(repr(errors.shown(str(k))) for k in unknown[:3]))
    status, reason, down = body.get("status"), body.get("disabled_reason"), body.get("forced_down")
    if status is not None and status not in ("enabled", "disabled"):
        raise ApiError(400, "Invalid input for field/attribute status. Value: must be enabled or disabled.")
    if "forced_down" in body and not isinstance(down, bool):
        raise ApiError(400, "Invalid input for field/attribute forced_down. Value: must be a boolean.")
    if "disabled_reason" in body and status != "disabled":
        raise ApiError(400, "Specifying 'disabled_reason' with status other than 'disabled' is invalid.")
    if reason is not None and (not isinstance(reason, str) or not 1 <= len(reason) <= 255):
        raise ApiError(400, "Invalid input for field/attribute disabled_reason. Value: 1 to 255 characters.")
    if status is None and down is None:
        raise ApiError(400, "No updates were requested. Fields 'status' or 'forced_down' should be specified.")
    return (None if status is None else status == "disabled"), reason, down


def service_update(call: Call) -> Answer:
    """PUT /os-services/{id} (2.53): the conductor's update, as `stratus hypervisor disable|enable|down|up`."""
    wanted = _path(call, "service_id")
    if call.version < rviews.UUID_IDS:
        return _legacy_service_action(call, wanted)
    call.caller.authorize("os_compute_api:os-services:update")
    disabled, reason, down = _service_update_body(call)
    if not UUID_RE.fullmatch(wanted):
        raise ApiError(400, "Invalid uuid %s" % errors.shown(wanted))
    hosts = [h for h in call.config.hypervisors if rviews.derived_uuid("service", h) == wanted.lower()]
    if not hosts:
        raise ApiError(404, "Service %s could not be found." % errors.shown(wanted))
    services.update_service(call.conn, call.caller, list(call.config.hypervisors), hosts[0], disabled, reason, down)
    return {"service": next(s for s in _services(call) if s["host"] == hosts[0])}


# Before 2.53: PUT /os-services/<action> with the host and binary in the body, and the fields each takes.
LEGACY_ACTIONS = {"enable": ("host", "binary"), "disable": ("host", "binary"),
                  "disable-log-reason": ("host", "binary", "disabled_reason"),
                  "force-down": ("host", "binary", "forced_down")}


def _legacy_service_action(call: Call, action: str) -> Answer:
    """Nova's os-services actions below 2.53 (force-down from 2.11), through the same conductor update; the
    answer names the host and binary with what changed."""
    if action not in LEGACY_ACTIONS or (action == "force-down" and call.version < (2, 11)):
        raise ApiError(404, "Unknown action")
    call.caller.authorize("os_compute_api:os-services:update")
    fields = LEGACY_ACTIONS[action]
    body = call.body if isinstance(call.body, dict) else {}
    if set(body) != set(fields) or not all(isinstance(body[k], str) for k in ("host", "binary")):
        raise ApiError(400, "Invalid input for field/attribute body: %s give %s, nothing else."
                       % (action, ", ".join(fields)))
    if body["binary"] != "nova-compute" or body["host"] not in call.config.hypervisors:
        raise ApiError(404, "Unknown service")
    if action == "force-down":
        if not isinstance(body["forced_down"], bool):
            raise ApiError(400, "Invalid input for field/attribute forced_down. Value: must be a boolean.")
        change: tuple[t.Optional[bool], t.Optional[str], t.Optional[bool]] = (None, None, body["forced_down"])
    else:
        change = (action != "enable", body.get("disabled_reason"), None)
    services.update_service(call.conn, call.caller, list(call.config.hypervisors), body["host"], *change)
    out = {k: body[k] for k in fields}
    if action != "force-down":
        out["status"] = "enabled" if action == "enable" else "disabled"
    return {"service": out}


# --- instance actions -----------------------------------------------------------------------------------

def _server(call: Call) -> t.Any:
    """The server of the path: a uuid the caller may see (admin: any project's), deleted ones too from 2.21
    (Nova's read_deleted); any other is 404 (Nova hides existence)."""
    ref = _path(call, "server_id")
    rows = []
    if UUID_RE.fullmatch(ref):
        project = compute_views.visible_project(call.caller, all_projects=True, strict=False)
        rows = compute_views.visible_servers(call.conn, project, uuids=[ref.lower()],
                                             with_deleted=call.version >= (2, 21))
    if not rows:
        raise ApiError(404, "Instance %s could not be found." % errors.shown(ref))
    return rows[0]


def _actions(call: Call, row: t.Any, rule: str) -> list[dict[str, t.Any]]:
    """The server's actions, newest first, once policy lets the caller read them."""
    call.caller.authorize(rule, {"project_id": row.project_id, "user_id": row.user_id}, "server_id")
    return list(reversed(compute_views.instance_actions_by_uuid(call.conn, [row.uuid])[row.uuid]))


def _since(call: Call) -> t.Optional[str]:
    value = call.query.get("changes-since")
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "Invalid input for query parameters changes-since.")
    return rviews.nova_time(parsed.isoformat())


def instance_action_list(call: Call) -> Answer:
    row = _server(call)
    items = [rviews.instance_action(a, call.version) for a in _actions(call, row, "os_compute_api:os-instance-"
                                                                                  "actions:list")]
    if call.version < (2, 58):
        return {"instanceActions": items}
    since, limit, marker = _since(call), _limit(call), call.query.get("marker")
    if since is not None:
        items = [a for a in items if (a["updated_at"] or "") >= since]
    page, following = _page(items, lambda a: str(a["request_id"]), limit, marker, "Marker %s could not be found.")
    out: dict[str, t.Any] = {"instanceActions": page}
    if following is not None:
        out["links"] = [{"rel": "next", "href": "%s/v2.1/servers/%s/os-instance-actions?limit=%s&marker=%s" % (
            call.base, row.uuid, limit, following)}]
    return out


def instance_action_show(call: Call) -> Answer:
    row = _server(call)
    wanted = _path(call, "request_id")
    for action in _actions(call, row, "os_compute_api:os-instance-actions:show"):
        if action["request_id"] == wanted:
            events = call.caller.can("os_compute_api:os-instance-actions:events",
                                     {"project_id": row.project_id, "user_id": row.user_id})
            return {"instanceAction": rviews.instance_action_detail(action, call.version, events)}
    raise ApiError(404, "Action for request_id %s on instance %s not found" % (errors.shown(wanted), row.uuid))


ROUTES = [
    get("/v2.1/os-quota-sets/{tenant_id}", quota_show, versioned=True),
    get("/v2.1/os-quota-sets/{tenant_id}/detail", quota_detail, versioned=True),
    get("/v2.1/os-quota-sets/{tenant_id}/defaults", quota_defaults, versioned=True),
    Route("/v2.1/os-quota-sets/{tenant_id}", endpoint(_quota_refused("update"), versioned=True), methods=["PUT"]),
    Route("/v2.1/os-quota-sets/{tenant_id}", endpoint(_quota_refused("delete"), versioned=True), methods=["DELETE"]),
    get("/network/v2.0/quotas/{project_id}", network_quota),
    get("/network/v2.0/quotas/{project_id}/details", network_quota_details),
    get("/network/v2.0/quotas/{project_id}/default", network_quota_defaults),
    get("/v2.1/os-hypervisors", hypervisor_list, versioned=True),
    get("/v2.1/os-hypervisors/detail", hypervisor_detail_list, versioned=True),
    get("/v2.1/os-hypervisors/statistics", hypervisor_statistics, versioned=True),
    get("/v2.1/os-hypervisors/{hypervisor_id}", hypervisor_show, versioned=True),
    get("/v2.1/os-hypervisors/{hypervisor_id}/uptime", hypervisor_uptime, versioned=True),
    get("/v2.1/os-hypervisors/{pattern}/search", hypervisor_search, versioned=True),
    get("/v2.1/os-hypervisors/{pattern}/servers", hypervisor_servers, versioned=True),
    get("/v2.1/os-aggregates", aggregate_list, versioned=True),
    get("/v2.1/os-services", service_list, versioned=True),
    Route("/v2.1/os-services/{service_id}", endpoint(service_update, versioned=True, takes_body=True),
          methods=["PUT"]),
    get("/v2.1/servers/{server_id}/os-instance-actions", instance_action_list, versioned=True),
    get("/v2.1/servers/{server_id}/os-instance-actions/{request_id}", instance_action_show, versioned=True),
]
