"""Nova's servers routes: create, list, detail, show and delete, through the collection's own pipeline.

A create is decided here, synchronously, by the same code as the server module (conductor/create.py: the
request's schema, policy, quota, block device mapping, scheduling and the claim in one locked store
transaction), so a refusal comes back at once with Nova's status and body and leaves only its action-log
entry; an accepted request answers 202 with the new server's id, and its build runs as provision.yml through
ansible-runner (runs.py), which finds the servers already claimed and builds them. A delete is Nova's
``_delete`` the same way (conductor/delete.py), then the hypervisor steps walk back in a run of its own.
"""
from __future__ import annotations

import re
import typing as t
import uuid
from urllib.parse import urlencode

from starlette.routing import Route

from stratus_cli.api import console, runs, server_views
from stratus_cli.api.edge import Answer, Call, endpoint, get
from stratus_cli.api.errors import ApiError, shown
from stratus_cli.api.server_views import Seen

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import checks, schema, views
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.action_requests import (
    ActionContext, record_action,
)
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.create import create_servers, record_refusal
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.delete import delete_servers
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import compute_services
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances, volumes

import sqlalchemy as sa

# The create body's fields (nova/api/openstack/compute/schemas/servers.py) by the microversion that brings
# (or, for personality, drops) them, and the request field each becomes (schemas/server.json).
_CREATE_FIELDS: dict[str, tuple[str, tuple[int, int], tuple[int, int]]] = {
    "name": ("name", (2, 1), (9, 0)), "flavorRef": ("flavor", (2, 1), (9, 0)),
    "imageRef": ("image", (2, 1), (9, 0)), "networks": ("networks", (2, 1), (9, 0)),
    "block_device_mapping_v2": ("block_device_mapping_v2", (2, 1), (9, 0)),
    "min_count": ("min_count", (2, 1), (9, 0)), "max_count": ("max_count", (2, 1), (9, 0)),
    "availability_zone": ("availability_zone", (2, 1), (9, 0)), "key_name": ("key_name", (2, 1), (9, 0)),
    "user_data": ("user_data", (2, 1), (9, 0)), "metadata": ("metadata", (2, 1), (9, 0)),
    "config_drive": ("config_drive", (2, 1), (9, 0)), "security_groups": ("security_groups", (2, 1), (9, 0)),
    "adminPass": ("admin_pass", (2, 1), (9, 0)), "personality": ("personality", (2, 1), (2, 57)),
    "description": ("description", (2, 19), (9, 0)), "tags": ("tags", (2, 52), (9, 0)),
}
_HINTS = ("os:scheduler_hints", "OS-SCH-HNT:scheduler_hints")
_COUNT = re.compile(r"[1-9][0-9]{0,3}")
# A name filter is a regular expression in Nova; here of name characters, anchors and simple wildcards only,
# so that no pattern can make a worker backtrack for long (no groups, no alternation, no classes).
_NAME_FILTER = re.compile(r"[A-Za-z0-9 _.@:*+?^$-]{1,255}")


# --- the request -----------------------------------------------------------------------------------------

def _mapping(value: t.Any, field: str) -> dict[str, t.Any]:
    if not isinstance(value, dict):
        raise ApiError(400, "Invalid input for field/attribute %s. Value: %s. %s is not of type 'object'"
                       % (field, shown(repr(value)[:64]), shown(repr(value)[:64])))
    return value


def _ref(value: t.Any, field: str) -> str:
    """flavorRef / imageRef: an id, or a link whose last segment is the id (as Nova accepts)."""
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value).strip() == "":
        raise ApiError(400, "Invalid input for field/attribute %s." % field)
    return str(value).rstrip("/").rsplit("/", 1)[-1]


def _count(value: t.Any, field: str) -> int:
    if isinstance(value, bool) or not (isinstance(value, int) or isinstance(value, str) and _COUNT.fullmatch(value)):
        raise ApiError(400, "Invalid input for field/attribute %s. Value: %s." % (field, shown(str(value)[:32])))
    return int(value)


def server_request(body: t.Any, version: tuple[int, int], force_config_drive: bool) -> dict[str, t.Any]:
    """Nova's create body as the collection's request (schemas/server.json), checked by its schema; unknown
    fields (or ones of other microversions) are Nova's 400, as its schemas have no additional properties."""
    body = _mapping(body, "body")
    extra = sorted(k for k in body if k != "server" and k not in _HINTS)
    if extra:
        raise ApiError(400, "Additional properties are not allowed (%s was unexpected)" % shown(", ".join(extra)[:128]))
    if "server" not in body:
        raise ApiError(400, "Invalid input for field/attribute server. 'server' is a required property")
    server = _mapping(body["server"], "server")
    unknown = sorted(k for k in server if k not in _CREATE_FIELDS or not
                     _CREATE_FIELDS[k][1] <= version < _CREATE_FIELDS[k][2])
    if unknown:
        raise ApiError(400, "Invalid input for field/attribute server. Additional properties are not allowed "
                            "(%s was unexpected)" % shown(", ".join(unknown)[:128]))
    for required in ("name", "flavorRef") + (("networks",) if version >= (2, 37) else ()):
        if required not in server:
            raise ApiError(400, "Invalid input for field/attribute server. '%s' is a required property" % required)
    request: dict[str, t.Any] = {}
    for key, value in server.items():
        field = _CREATE_FIELDS[key][0]
        if key == "flavorRef":
            value = _ref(value, key)
        elif key == "imageRef":
            if value in ("", None):
                continue  # booted from a volume (a block_device_mapping_v2 entry with boot_index 0)
            value = _ref(value, key)
        elif key in ("min_count", "max_count"):
            value = _count(value, key)
        request[field] = value
    hints = [body[k] for k in _HINTS if k in body]
    if hints:
        request["scheduler_hints"] = _mapping(hints[0], _HINTS[0])
    if request.get("config_drive") in (None, ""):
        request["config_drive"] = force_config_drive
    schema.validate_request(request)
    return request


# --- who sees what ---------------------------------------------------------------------------------------

def _seen(call: Call) -> Seen:
    return Seen(call.caller.is_admin, call.cloud.may_read_extra_specs(call.caller), call.version or (2, 1),
                call.base)


def _visible_row(conn: t.Any, call: Call, server_id: str) -> t.Any:
    """The live server with this id that the caller may see; any other (another project's, deleted, none) is
    Nova's 404: existence is not disclosed."""
    project = None if call.caller.is_admin else call.caller.project_id
    rows = views.visible_servers(conn, project, uuids=[server_id]) if len(server_id) <= 36 else []
    if not rows:
        raise ApiError(404, "Instance %s could not be found." % shown(server_id))
    row = rows[0]
    call.caller.authorize("os_compute_api:servers:show", {"project_id": row.project_id, "user_id": row.user_id})
    return row


def _volumes(conn: t.Any, uuids: list[str]) -> dict[str, list[t.Any]]:
    out: dict[str, list[t.Any]] = {u: [] for u in uuids}
    if uuids:
        for vol in conn.execute(sa.select(volumes).where(volumes.c.instance_uuid.in_(uuids)).order_by(volumes.c.id)):
            out.setdefault(vol.instance_uuid, []).append(vol)
    return out


def _host_status(conn: t.Any) -> t.Callable[[t.Optional[str]], str]:
    """Nova's host_status (2.16): the compute service's state as the store has it."""
    down, disabled = compute_services.forced_down_hosts(conn), compute_services.disabled_hosts(conn)

    def of(host: t.Optional[str]) -> str:
        if not host:
            return ""
        return "DOWN" if host in down else "MAINTENANCE" if host in disabled else "UP"
    return of


def _details(conn: t.Any, call: Call, rows: list[t.Any]) -> list[dict[str, t.Any]]:
    seen = _seen(call)
    vols = _volumes(conn, [r.uuid for r in rows])
    status_of = _host_status(conn) if seen.is_admin and seen.version >= (2, 16) else (lambda _h: "")
    return [server_views.detail(r, seen, vols.get(r.uuid, ()), status_of(r.host)) for r in rows]


# --- list ------------------------------------------------------------------------------------------------

def _flag(value: t.Optional[str]) -> bool:
    return value is not None and value.lower() not in ("0", "false", "f", "no", "n", "off")


# The columns a list's filters and sort keys read. A row's build plan, fault, metadata and tags are most of its
# bytes and JSON: read for 1,000 servers to show a page of 50, they were most of a paged list's time, so a
# list reads these columns and the detail then reads its page's rows whole (_page_rows).
_LIST_COLUMNS = tuple(c for c in instances.c if c.name not in ("plan", "fault", "metadata", "tags", "request"))


def _page_rows(conn: t.Any, rows: list[t.Any]) -> list[t.Any]:
    """The whole rows of a list's page, in its order."""
    whole: dict[str, t.Any] = {}
    for start in range(0, len(rows), 500):  # within any backend's bound parameters
        uuids = [r.uuid for r in rows[start:start + 500]]
        whole.update((r.uuid, r) for r in views.visible_servers(conn, None, uuids=uuids))
    return [whole[r.uuid] for r in rows]


def _listed(call: Call, whole: bool = False) -> tuple[list[t.Any], t.Optional[str]]:
    """The rows of GET /servers[/detail] after Nova's filters, sorting (newest first unless sort_key says) and
    paging, and the next page's marker when a limit cut it; of _LIST_COLUMNS only unless `whole`."""
    query = call.query
    all_projects = _flag(query.get("all_tenants")) or "all_tenants" in query and query.get("all_tenants") == ""
    # Nova's _get_servers: all_tenants needs the get_all_tenants rule (admin), else 403, never a silent own-project list
    project = views.visible_project(call.caller, all_projects, strict=True)
    wanted_project = query.get("project_id") or query.get("tenant_id")
    if wanted_project is not None and project is None:
        project = wanted_project
    columns = None if whole else _LIST_COLUMNS + ((instances.c.request,) if "key_name" in query.getlist("sort_key")
                                                  else ())
    rows = views.visible_servers(call.conn, project, columns=columns)
    name = query.get("name")
    if name is not None:
        if not _NAME_FILTER.fullmatch(name):
            raise ApiError(400, "Invalid filter name [%s]: Stratus matches names with letters, digits, ' _.@:-' and "
                                "the wildcards . * + ? ^ $" % shown(name[:64]))
        try:
            pattern = re.compile(name)
        except re.error:
            raise ApiError(400, "Invalid filter name [%s]: not a regular expression" % shown(name[:64]))
        rows = [r for r in rows if pattern.search(r.name)]
    for key, wanted_of in (("status", lambda r: server_views.server_status(r.vm_state, r.task_state)),
                           ("flavor", lambda r: str(r.flavor.get("id"))), ("image", lambda r: r.image_id or ""),
                           ("availability_zone", lambda r: r.availability_zone or "")):
        value = query.get(key)
        if value is not None:
            rows = [r for r in rows if wanted_of(r) == (value.upper() if key == "status" else value)]
    host = query.get("host")
    if host is not None and call.caller.is_admin:  # an admin's filter; Nova ignores it for others
        rows = [r for r in rows if r.host == host]
    rows = _sorted(call, rows)
    marker = query.get("marker")
    if marker is not None:
        ids = [r.uuid for r in rows]
        if marker not in ids:
            raise ApiError(400, "marker [%s] not found" % shown(marker[:64]))
        rows = rows[ids.index(marker) + 1:]
    limit = query.get("limit")
    if limit is not None:
        if not limit.isdigit() or len(limit) > 6:
            raise ApiError(400, "Invalid input for query parameters limit. Value: %s." % shown(limit[:32]))
        if int(limit) < len(rows):
            rows = rows[:int(limit)]
            return rows, rows[-1].uuid if rows else None
    return rows, None


# Nova's sort keys (nova/api/openstack/compute/schemas/servers.py VALID_SORT_KEYS) that a Stratus row has, and
# their values; host and node are an admin's (Nova's 403 for others). A NULL sorts first, as in Nova's SQL.
_SORT_KEYS: dict[str, t.Callable[[t.Any], t.Any]] = {
    "display_name": lambda r: r.name, "created_at": lambda r: r.created_at,
    "updated_at": lambda r: r.updated_at or r.created_at, "launched_at": lambda r: r.launched_at,
    "vm_state": lambda r: r.vm_state, "task_state": lambda r: r.task_state,
    "power_state": lambda r: server_views.POWER_STATES.get(r.power_state or "nostate", 0),
    "availability_zone": lambda r: r.availability_zone, "host": lambda r: r.host, "node": lambda r: r.host,
    "uuid": lambda r: r.uuid, "hostname": lambda r: r.hostname, "launch_index": lambda r: r.launch_index,
    "image_ref": lambda r: r.image_id, "instance_type_id": lambda r: str(r.flavor.get("id")),
    "key_name": lambda r: (r.request if isinstance(r.request, dict) else {}).get("key_name"),
    "project_id": lambda r: r.project_id, "user_id": lambda r: r.user_id,
    "display_description": lambda r: r.description,
}


def _sorted(call: Call, rows: list[t.Any]) -> list[t.Any]:
    """Nova's sort_key/sort_dir (repeatable, paired in order): a direction missing takes the first one's (or
    desc); created_at and the uuid end every order (Nova's default keys), so paging by marker is stable."""
    keys, dirs = call.query.getlist("sort_key"), call.query.getlist("sort_dir")
    for key in keys:
        if key not in _SORT_KEYS:
            raise ApiError(400, "Invalid input for query parameters sort_key. Value: %s." % shown(key[:64]))
        if key in ("host", "node") and not call.caller.is_admin:
            raise ApiError(403, "Only administrators can sort servers by %s" % key)
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise ApiError(400, "Unknown sort direction, must be 'desc' or 'asc'")
    default = dirs[0] if dirs else "desc"
    order = [(k, dirs[i] if i < len(dirs) else default) for i, k in enumerate(keys)]
    order += [(k, default) for k in ("created_at", "uuid") if k not in keys]
    for key, direction in reversed(order):  # stable sorts, the last key first
        rows.sort(key=_sort_value(_SORT_KEYS[key]), reverse=direction == "desc")
    return rows


def _sort_value(value_of: t.Callable[[t.Any], t.Any]) -> t.Callable[[t.Any], tuple[bool, t.Any]]:
    def key(row: t.Any) -> tuple[bool, t.Any]:
        value = value_of(row)
        return value is not None, value
    return key


def _page_links(call: Call, path: str, next_marker: t.Optional[str]) -> dict[str, t.Any]:
    if next_marker is None:
        return {}
    params = [(k, v) for k, v in call.query.multi_items() if k != "marker"] + [("marker", next_marker)]
    return {"servers_links": [{"rel": "next", "href": "%s/v2.1/%s?%s" % (call.base, path, urlencode(params))}]}


def server_list(call: Call) -> Answer:
    rows, next_marker = _listed(call)
    return dict({"servers": [server_views.brief(r, call.base) for r in rows]},
                **_page_links(call, "servers", next_marker))


def server_detail_list(call: Call) -> Answer:
    call.caller.authorize("os_compute_api:servers:detail")
    paged = "limit" in call.query  # a page: its rows read whole after the list's columns chose them
    rows, next_marker = _listed(call, whole=not paged)
    return dict({"servers": _details(call.conn, call, _page_rows(call.conn, rows) if paged else rows)},
                **_page_links(call, "servers/detail", next_marker))


def server_show(call: Call) -> Answer:
    row = _visible_row(call.conn, call, call.request.path_params["server_id"])
    return {"server": _details(call.conn, call, [row])[0]}


# --- create and delete -----------------------------------------------------------------------------------

def server_create(call: Call) -> Answer:
    """POST /servers: decided and claimed now (refusals at once); built by provision.yml in a run of its own."""
    cloud, config = call.cloud, call.config
    request = server_request(call.body, call.version or (2, 1),
                             schema.as_bool(config.variables.get("stratus_force_config_drive", True)))
    _min_count, max_count = checks.counts(request)
    names = checks.server_names(str(request["name"]), max_count)
    with cloud.transaction() as conn:
        taken = views.live_servers(conn, call.caller.project_id, names)
    if taken:
        # Stratus keeps a project's server names unique: a name is how its declarative requests find a server
        raise ApiError(409, "Server name %s is in use in project %s; Stratus keeps server names unique per project"
                       % (shown(taken[0].name), call.caller.project_id))
    request_id = "req-" + str(uuid.uuid4())
    try:
        outcome = create_servers(request, call.caller, config.variables, config.hypervisors, config.hostvars,
                                 config.store_url, False, request_id, config.variables, config.baremetal_nodes)
    except StratusError as exc:
        if exc.code != "InvalidCatalog":
            record_refusal(config.store_url, (call.caller.project_id, call.caller.user_id), request.get("name"),
                           request_id, exc)
        raise
    created = [s for s in outcome.servers if s.get("vm_state") == "building"]
    if not outcome.changed or not created:  # another request took the name between the check and the claim
        raise ApiError(409, "Server name %s is in use in project %s" % (shown(names[0]), call.caller.project_id))
    runs.launch(config.inventories, config.store_url, call.caller, "provision.yml", {"stratus_servers": [request]},
                "build of %s (%s)" % (", ".join(s["name"] for s in created), request_id))
    first = sorted(created, key=lambda s: s["name"])[0]
    body = {"id": first["id"], "links": server_views.links(call.base, "servers", first["id"]),
            "OS-DCF:diskConfig": "MANUAL",
            "security_groups": [{"name": g["name"] if isinstance(g, dict) else g}
                                for g in (request.get("security_groups") or [{"name": "default"}])]}
    return 202, {"server": body}, {"Location": body["links"][0]["href"], "x-openstack-request-id": request_id}


def server_delete(call: Call) -> Answer:
    """DELETE /servers/{id}: Nova's _delete now (a server that never reached a host is gone at once); the
    hypervisor's steps walk back in a run of their own."""
    config = call.config
    with call.cloud.transaction() as conn:
        row = _visible_row(conn, call, call.request.path_params["server_id"])
    if row.project_id != call.caller.project_id:
        # the collection's requests name servers within the caller's project
        raise ApiError(403, "Stratus deletes a server with a token of its own project (%s)" % row.project_id)
    request = {"name": row.name, "state": "absent"}
    request_id = "req-" + str(uuid.uuid4())
    outcome = delete_servers(request, call.caller, config.store_url, False, request_id)
    if outcome.hosts:
        runs.launch(config.inventories, config.store_url, call.caller, "provision.yml",
                    {"stratus_servers": [request]}, "delete of %s (%s)" % (row.name, request_id))
    return 204, None, {"x-openstack-request-id": request_id}


# --- actions (POST /servers/{id}/action) ------------------------------------------------------------------

# Nova's action bodies: the key, the collection's action, the fields its value may have (None: no value), the
# microversions that allow each field, and the status Nova answers on success.
_ALL = ((2, 1), (9, 0))
_ACTIONS: dict[str, tuple[str, t.Optional[dict[str, tuple[tuple[int, int], tuple[int, int]]]], int]] = {
    "os-stop": ("stop", None, 202),
    "os-start": ("start", None, 202),
    "reboot": ("reboot", {"type": _ALL}, 202),
    "rebuild": ("rebuild", {"imageRef": _ALL, "OS-DCF:diskConfig": _ALL}, 202),
    "resize": ("resize", {"flavorRef": _ALL, "OS-DCF:diskConfig": _ALL}, 202),
    "confirmResize": ("confirm_resize", None, 204),
    "revertResize": ("revert_resize", None, 202),
    "migrate": ("migrate", {"host": ((2, 56), (9, 0))}, 202),
    "os-migrateLive": ("live_migrate", {"host": _ALL, "block_migration": _ALL, "disk_over_commit": ((2, 1), (2, 25)),
                                        "force": ((2, 30), (2, 68))}, 202),
    "evacuate": ("evacuate", {"host": _ALL, "onSharedStorage": ((2, 1), (2, 14)), "adminPass": _ALL,
                              "force": ((2, 29), (2, 68))}, 200),
}


def action_args(body: t.Any, version: tuple[int, int]) -> tuple[dict[str, t.Any], int]:
    """Nova's action body as the server_action module's arguments, and the status of its success."""
    body = _mapping(body, "body")
    if len(body) != 1 or next(iter(body)) not in _ACTIONS:
        raise ApiError(400, "There is no such action: %s" % shown(", ".join(sorted(body))[:128] or "(none)"))
    key, value = next(iter(body.items()))
    action, fields, status = _ACTIONS[key]
    if fields is None:
        if value is not None:
            raise ApiError(400, "Invalid input for field/attribute %s. Value: %s. It must be null"
                           % (key, shown(repr(value)[:64])))
        return {"action": action}, status
    value = {} if value is None and key == "migrate" else _mapping(value, key)
    unknown = sorted(f for f in value if f not in fields or not fields[f][0] <= version < fields[f][1])
    if unknown:
        raise ApiError(400, "Invalid input for field/attribute %s. Additional properties are not allowed (%s was "
                            "unexpected)" % (key, shown(", ".join(unknown)[:128])))
    args: dict[str, t.Any] = {"action": action}
    if key == "reboot":
        kind = value.get("type")
        if not isinstance(kind, str) or kind.upper() not in ("SOFT", "HARD"):
            raise ApiError(400, "Invalid input for field/attribute type. Value: %s. It must be SOFT or HARD"
                           % shown(str(kind)[:32]))
        args["reboot_type"] = kind.lower()
    elif key == "rebuild":
        if "imageRef" not in value:
            raise ApiError(400, "Invalid input for field/attribute rebuild. 'imageRef' is a required property")
        args["image"] = _ref(value["imageRef"], "imageRef")
    elif key == "resize":
        if "flavorRef" not in value:
            raise ApiError(400, "Invalid input for field/attribute resize. 'flavorRef' is a required property")
        args["flavor"] = _ref(value["flavorRef"], "flavorRef")
    elif key in ("migrate", "os-migrateLive", "evacuate"):
        host = value.get("host")
        if host is not None:
            if not isinstance(host, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,255}", host):
                raise ApiError(400, "Invalid input for field/attribute host. Value: %s." % shown(str(host)[:64]))
            args["host"] = host
        if value.get("force") is not None:
            if not isinstance(value["force"], bool):
                raise ApiError(400, "Invalid input for field/attribute force. Value: %s. It must be a boolean"
                               % shown(str(value["force"])[:32]))
            args["force"] = value["force"]
        if key == "evacuate" and value.get("adminPass") is not None:
            raise ApiError(400, "Stratus's evacuate rebuilds from the server's own plan: adminPass is not taken")
    return args, status


def server_action(call: Call) -> Answer:
    """POST /servers/{id}/action: checked and recorded now (InstanceInvalidState is 409 at once, nothing
    changed); the hypervisor steps run as playbooks/action_steps_for.yml in a run of its own."""
    if console.is_console_request(call.body):  # a read, waited for (console.py)
        return console.console_output(call, _visible_row)
    config = call.config
    args, status = action_args(call.body, call.version or (2, 1))
    with call.cloud.transaction() as conn:
        row = _visible_row(conn, call, call.request.path_params["server_id"])
    variables = config.variables
    ctx = ActionContext(call.caller, call.cloud.catalog, SchedulerConfig.from_dict(variables.get("stratus_scheduler")),
                        list(config.hypervisors), config.hostvars, config.store_url,
                        quotas=variables.get("stratus_quotas"),
                        allow_resize_to_same_host=schema.as_bool(variables.get("stratus_allow_resize_to_same_host")))
    request_id = "req-" + str(uuid.uuid4())
    result = record_action(dict(args, server=row.uuid), ctx, request_id)
    if not result["changed"]:
        # the module's idempotence (a stop of a stopped server changes nothing) is Nova's 409 at its API
        raise ApiError(409, "Cannot '%s' instance %s while it is in vm_state %s"
                       % (args["action"], row.uuid, result["server"].get("vm_state")))
    if result["server_uuids"]:
        runs.launch(config.inventories, config.store_url, call.caller, "action_steps_for.yml",
                    {"stratus_recorded_actions": [result]}, "%s of %s (%s)" % (args["action"], row.name, request_id))
    headers = {"x-openstack-request-id": request_id}
    if args["action"] == "rebuild":  # Nova answers a rebuild with the server as it now is
        with call.cloud.transaction() as conn:
            rows = views.visible_servers(conn, None, uuids=[row.uuid])
            return status, {"server": _details(conn, call, rows)[0]}, headers
    if status == 200 and (call.version or (2, 1)) < (2, 14):
        return 200, {"adminPass": None}, headers
    return status, None, headers


ROUTES = [
    get("/v2.1/servers", server_list, versioned=True),
    get("/v2.1/servers/detail", server_detail_list, versioned=True),
    get("/v2.1/servers/{server_id}", server_show, versioned=True),
    Route("/v2.1/servers", endpoint(server_create, versioned=True, takes_body=True, transaction=False),
          methods=["POST"]),
    Route("/v2.1/servers/{server_id}", endpoint(server_delete, versioned=True, transaction=False),
          methods=["DELETE"]),
    Route("/v2.1/servers/{server_id}/action", endpoint(server_action, versioned=True, takes_body=True,
                                                       transaction=False), methods=["POST"]),
]
