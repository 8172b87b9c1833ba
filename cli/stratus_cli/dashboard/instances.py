"""The Instances pages: Horizon's table of the project's servers (filter, sort, paging, a tbody that refreshes
itself while builds and actions walk their task states), each server's detail (overview, addresses, the action
log with its events, a failed build's fault) and the row actions (stop, start, reboot, hard reboot, delete,
confirm or revert a resize). Everything comes from the API (GET /v2.1/servers/detail and friends at 2.61) and
every action goes through it (POST /v2.1/servers/{id}/action, DELETE /v2.1/servers/{id}), so its policy and
Nova's state checks decide; the buttons offered per state are a hint from the same rules. The detail also has
the day-2 changes that take a parameter (rebuild from an image, resize to a flavor; an admin's cold and live
migration and evacuation to an optional host), each a small form whose refusal shows at its field."""
from __future__ import annotations

import re
import typing as t
import urllib.parse

from starlette.requests import Request
from starlette.routing import Route

from stratus_cli.api.collection import ensure_importable
from stratus_cli.dashboard.client import Api, Refusal
from stratus_cli.dashboard.pages import Page, form_page, page, redirect
from stratus_cli.dashboard.session import FormRefused, Session, one

ensure_importable()
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.server_actions import (  # noqa: E402
    ACTIONS as RULES,
)

PAGE_SIZE = 50  # rows per page: one servers/detail call of this limit (Horizon's pages are 20)
# The table's sortable columns and Nova's sort_key of each; host is an admin's key (the API's 403 otherwise).
SORTS = {"name": "display_name", "status": "vm_state", "task": "task_state", "power": "power_state",
         "az": "availability_zone", "key": "key_name", "host": "host", "age": "created_at"}
ADMIN_SORTS = ("host",)
# The API's statuses of a Stratus server (compute_api/views.py server_status), for the status filter.
STATUSES = ("ACTIVE", "BUILD", "ERROR", "SHUTOFF", "REBOOT", "HARD_REBOOT", "REBUILD", "RESIZE", "VERIFY_RESIZE",
            "REVERT_RESIZE", "MIGRATING")
# A server in one of these (or with any task_state) is changing: the table polls while one is shown.
TRANSITIONAL = ("BUILD", "REBOOT", "HARD_REBOOT", "REBUILD", "RESIZE", "REVERT_RESIZE", "MIGRATING")
# nova/compute/power_state.py, as Horizon words them
POWER = {0: "NOSTATE", 1: "Running", 3: "Paused", 4: "Shutdown", 6: "Crashed", 7: "Suspended"}
_SERVER_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


class Action(t.NamedTuple):
    """A row action: its button, the API's body (None: DELETE), the collection's rule that says from which
    states Nova takes it (None: any but a delete under way), its question and the notice after it."""

    label: str
    body: t.Optional[dict[str, t.Any]]
    rule: t.Optional[str]
    question: str
    notice: str
    danger: bool = False


ACTIONS: dict[str, Action] = {
    "start": Action("Start", {"os-start": None}, "start", "Start instance %s?", "Start requested."),
    "stop": Action("Stop", {"os-stop": None}, "stop", "Stop instance %s?", "Stop requested."),
    "reboot": Action("Reboot", {"reboot": {"type": "SOFT"}}, "reboot", "Reboot instance %s (soft)?",
                     "Soft reboot requested."),
    "hard-reboot": Action("Hard reboot", {"reboot": {"type": "HARD"}}, "reboot_hard",
                          "Hard reboot instance %s? Its guest gets no chance to shut down.", "Hard reboot requested.",
                          danger=True),
    "confirm-resize": Action("Confirm resize", {"confirmResize": None}, "confirm_resize",
                             "Confirm the resize of %s? The old copy is removed.", "Resize confirmed."),
    "revert-resize": Action("Revert resize", {"revertResize": None}, "revert_resize",
                            "Revert the resize of %s to its old flavor?", "Resize revert requested."),
    "delete": Action("Delete", None, None, "Delete instance %s? This cannot be undone.", "Delete requested.",
                     danger=True),
}


class Change(t.NamedTuple):
    """A day-2 action of the detail page that takes one parameter: its button, the form's field (image, flavor
    or host; a host may be left to the scheduler), the API's body for the chosen value, the collection's rule of
    the states Nova takes it from, whether it is an admin's (a hint: the API's policy decides), whether it is
    only offered while the server's host is down (evacuate), its question and the notice after it."""

    label: str
    field: str
    body: t.Callable[[str], dict[str, t.Any]]
    rule: str
    admin: bool
    question: str
    notice: str
    host_down: bool = False
    danger: bool = False


# The bodies cli/stratus_cli/api/servers.py _ACTIONS takes at the client's microversion (2.61: a migrate's host
# is 2.56+, a live migration's block_migration "auto" 2.25+, an evacuate's host without onSharedStorage 2.14+).
CHANGES: dict[str, Change] = {
    "rebuild": Change("Rebuild", "image", lambda image: {"rebuild": {"imageRef": image}}, "rebuild", False,
                      "Rebuild instance %s from the chosen image? Its root disk is replaced.", "Rebuild requested.",
                      danger=True),
    "resize": Change("Resize", "flavor", lambda flavor: {"resize": {"flavorRef": flavor}}, "resize", False,
                     "Resize instance %s to the chosen flavor?",
                     "Resize requested: confirm or revert it once the instance waits in VERIFY_RESIZE."),
    "migrate": Change("Migrate", "host", lambda host: {"migrate": {"host": host} if host else None}, "migrate", True,
                      "Migrate instance %s (cold: it is shut down while its disks are copied)?",
                      "Migration requested: confirm or revert it once the instance waits in VERIFY_RESIZE."),
    "live-migrate": Change("Live migrate", "host",
                           lambda host: {"os-migrateLive": {"host": host or None, "block_migration": "auto"}},
                           "live_migrate", True, "Live migrate instance %s while it runs?",
                           "Live migration requested."),
    "evacuate": Change("Evacuate", "host", lambda host: {"evacuate": {"host": host} if host else {}}, "evacuate",
                       True, "Evacuate instance %s? It is rebuilt on another host from its image.",
                       "Evacuation requested.", host_down=True, danger=True),
}
FIELD_LABELS = {"image": "Image", "flavor": "New flavor", "host": "Target host"}


def _fits(rule_name: str, server: t.Mapping[str, t.Any]) -> bool:
    rule = RULES[rule_name]
    return (server.get("OS-EXT-STS:vm_state") in rule.vm_states
            and server.get("OS-EXT-STS:task_state") in rule.task_states)


def offered_changes(server: t.Mapping[str, t.Any], admin: bool) -> list[str]:
    """The day-2 changes that fit the server's state (the same rules as the row actions); an admin's only for an
    admin, an evacuation only while the host is down (host_status, an admin's field: DOWN or UNKNOWN)."""
    return [name for name, change in CHANGES.items()
            if _fits(change.rule, server) and (admin or not change.admin)
            and (not change.host_down or server.get("host_status") in ("DOWN", "UNKNOWN"))]


def offered(server: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The actions that fit the server's vm_state and task_state (Nova's check_instance_state, from the
    collection's rules); the API checks again, so a race is its 409."""
    out = []
    for name, action in ACTIONS.items():
        if action.rule is None:
            fits = server.get("OS-EXT-STS:task_state") != "deleting"
        else:
            fits = _fits(action.rule, server)
        if fits:
            out.append({"name": name, "label": action.label, "question": action.question % server.get("name"),
                        "danger": action.danger})
    return out


class Listing(t.NamedTuple):
    """The table's query: the name filter, the status filter, the sort column and direction, the page's marker."""

    name: str = ""
    status: str = ""
    sort: str = "age"
    direction: str = "desc"
    marker: str = ""

    def url(self, path: str = "/dashboard/instances") -> str:
        pairs = [("name", self.name), ("status", self.status), ("marker", self.marker)]
        if (self.sort, self.direction) != ("age", "desc"):
            pairs += [("sort", self.sort), ("dir", self.direction)]
        query = urllib.parse.urlencode([(k, v) for k, v in pairs if v])
        return path + ("?" + query if query else "")


def read_listing(request: Request, session: Session) -> tuple[Listing, dict[str, str]]:
    """The query string as the table's Listing; a value outside the fixed lists is dropped with a message at
    its field (the name goes to the API as it is: its rules decide)."""
    q = request.query_params
    errors: dict[str, str] = {}
    status = q.get("status", "")
    if status and status not in STATUSES:
        errors["status"] = "Choose a status from the list."
        status = ""
    sort = q.get("sort", "age")
    if sort not in SORTS or sort in ADMIN_SORTS and not session.shows_admin:
        errors["sort"] = "The table cannot be sorted by that column."
        sort = "age"
    direction = q.get("dir", "desc") if q.get("dir", "desc") in ("asc", "desc") else "desc"
    marker = q.get("marker", "")
    return Listing(q.get("name", "").strip()[:255], status, sort, direction,
                   marker if _SERVER_ID.fullmatch(marker) else ""), errors


def _ips(server: t.Mapping[str, t.Any]) -> list[str]:
    return [a.get("addr") for nets in (server.get("addresses") or {}).values() for a in nets if a.get("addr")]


def _image_id(server: t.Mapping[str, t.Any]) -> str:
    image = server.get("image")
    return str(image.get("id")) if isinstance(image, dict) else ""


def row(server: t.Mapping[str, t.Any], images: t.Mapping[str, str]) -> dict[str, t.Any]:
    """One server as the table shows it."""
    flavor = server.get("flavor") or {}
    image_id = _image_id(server)
    task = server.get("OS-EXT-STS:task_state")
    return {
        "id": server["id"], "name": server["name"], "status": server["status"], "task": task or "",
        "image": images.get(image_id, image_id) if image_id else "(volume)",
        "ips": _ips(server), "flavor": flavor.get("original_name") or flavor.get("id") or "",
        "key_name": server.get("key_name") or "",
        "power": POWER.get(server.get("OS-EXT-STS:power_state", 0), "NOSTATE"),
        "az": server.get("OS-EXT-AZ:availability_zone") or "", "host": server.get("OS-EXT-SRV-ATTR:host") or "",
        "created": server.get("created"), "actions": offered(server),
        "changing": server["status"] in TRANSITIONAL or task is not None,
    }


async def image_names(api: Api) -> dict[str, str]:
    """The names of the images the project may see (Glance's list), by id; a server's image it may no longer
    see shows as its id."""
    return {str(i["id"]): str(i.get("name") or i["id"]) for i in (await api.get("/image/v2/images"))["images"]}


def _next_marker(body: t.Mapping[str, t.Any]) -> str:
    for link in body.get("servers_links") or []:
        if link.get("rel") == "next":
            marker = urllib.parse.parse_qs(urllib.parse.urlsplit(link["href"]).query).get("marker", [""])[0]
            return marker if _SERVER_ID.fullmatch(marker) else ""
    return ""


async def table(request: Request, session: Session, api: Api) -> dict[str, t.Any]:
    """The table's values: one servers/detail call (a page, sorted and filtered by the API) and one image
    list; a refused filter shows its message at its field and an empty table."""
    listing, errors = read_listing(request, session)
    query: dict[str, t.Any] = {"limit": PAGE_SIZE, "sort_key": SORTS[listing.sort], "sort_dir": listing.direction}
    for key, value in (("name", listing.name), ("status", listing.status), ("marker", listing.marker)):
        if value:
            query[key] = value
    servers: list[dict[str, t.Any]] = []
    following = ""
    try:
        body = await api.get("/v2.1/servers/detail", query=query)
        servers, following = body["servers"], _next_marker(body)
    except Refusal as exc:
        if exc.status not in (400, 403):
            raise
        field = "name" if "filter name" in exc.message else "marker" if "marker" in exc.message else "table"
        errors[field] = exc.message
    images = await image_names(api) if servers else {}
    rows = [row(s, images) for s in servers]
    sorts = {}
    for column in SORTS:
        flip = "asc" if listing.sort == column and listing.direction == "desc" else "desc"
        sorts[column] = {"url": listing._replace(sort=column, direction=flip, marker="").url(),
                         "current": listing.direction if listing.sort == column else ""}
    return {"listing": listing, "rows": rows, "errors": errors, "statuses": STATUSES, "sorts": sorts,
            "show_host": session.shows_admin, "changing": any(r["changing"] for r in rows),
            "rows_url": listing.url("/dashboard/instances/rows"), "refresh_url": listing.url(),
            "next_url": listing._replace(marker=following).url() if following else "",
            "first_url": listing._replace(marker="").url() if listing.marker else "",
            "notice": NOTICES.get(request.query_params.get("notice", ""), "")}


NOTICES = {name: action.notice for name, action in ACTIONS.items()}
NOTICES.update({name: change.notice for name, change in CHANGES.items()})


async def _instances(request: Request, session: Session, api: Api) -> Page:
    return Page("instances.html", await table(request, session, api))


async def _rows(request: Request, session: Session, api: Api) -> Page:
    """The table's tbody alone, for instances.js to swap in while servers change."""
    return Page("_instance_rows.html", await table(request, session, api))


def _server_id(request: Request) -> str:
    server_id = request.path_params["server_id"]
    if not _SERVER_ID.fullmatch(server_id):
        raise Refusal(404, "Instance %s could not be found." % server_id[:64])
    return server_id


async def action_log(api: Api, server_id: str) -> list[dict[str, t.Any]]:
    """The server's newest actions with their events (each action's show; the API gives events as policy
    and the microversion allow)."""
    listed = (await api.get("/v2.1/servers/%s/os-instance-actions" % server_id, query={"limit": 20}))
    out = []
    for item in listed["instanceActions"]:
        shown = await api.get("/v2.1/servers/%s/os-instance-actions/%s" % (
            server_id, urllib.parse.quote(str(item["request_id"]), safe="")))
        out.append(shown["instanceAction"])
    return out


async def _options(api: Api, server: t.Mapping[str, t.Any], field: str) -> list[tuple[str, str]]:
    """The values a change's select offers, as (id, name): the images the API lists, its flavors but the current
    one, the hypervisors' hosts but the server's own (os-hypervisors: an admin's; refused, none)."""
    if field == "image":
        return sorted(((i, n) for i, n in (await image_names(api)).items()), key=lambda pair: pair[1])
    if field == "flavor":
        current = (server.get("flavor") or {}).get("original_name")
        return [(str(f["id"]), str(f["name"])) for f in (await api.get("/v2.1/flavors"))["flavors"]
                if f["name"] != current]
    try:
        listed = (await api.get("/v2.1/os-hypervisors"))["hypervisors"]
    except Refusal:
        return []
    own = server.get("OS-EXT-SRV-ATTR:host")
    return [(h, h) for h in sorted(str(hv["hypervisor_hostname"]) for hv in listed) if h != own]


async def change_forms(api: Api, session: Session, server: t.Mapping[str, t.Any],
                       chosen: t.Mapping[str, str]) -> list[dict[str, t.Any]]:
    """The detail's day-2 forms its state offers, each with its options (one API list per kind of field)."""
    names = offered_changes(server, session.shows_admin)
    options = {field: await _options(api, server, field) for field in {CHANGES[n].field for n in names}}
    return [{"name": name, "label": change.label, "field": change.field, "field_label": FIELD_LABELS[change.field],
             "optional": change.field == "host", "options": options[change.field], "chosen": chosen.get(name, ""),
             "question": change.question % server.get("name"), "danger": change.danger}
            for name in names for change in (CHANGES[name],)]


async def detail_values(request: Request, session: Session, api: Api, server_id: str,
                        errors: t.Optional[dict[str, str]] = None,
                        chosen: t.Optional[dict[str, str]] = None) -> dict[str, t.Any]:
    server = (await api.get("/v2.1/servers/" + server_id))["server"]  # another project's: the API's 404
    log = await action_log(api, server_id)
    image_id = _image_id(server)
    images = await image_names(api) if image_id else {}
    return {
        "server": server, "row": row(server, images), "flavor": server.get("flavor") or {},
        "metadata": sorted((server.get("metadata") or {}).items()), "fault": server.get("fault"),
        "addresses": sorted((server.get("addresses") or {}).items()), "log": log,
        "show_host": "OS-EXT-SRV-ATTR:host" in server,
        "changes": await change_forms(api, session, server, chosen or {}), "errors": errors or {},
        "notice": NOTICES.get(request.query_params.get("notice", ""), "")}


async def _detail(request: Request, session: Session, api: Api) -> Page:
    return Page("instance.html", await detail_values(request, session, api, _server_id(request)))


async def _change(request: Request, session: Session, api: Api, form: dict[str, list[str]]) -> Page:
    """A day-2 change through the API (its schema, policy and state checks decide), then the detail with a
    notice of a fixed set; the API's 400, 403 or 409 is the detail again with its message at the form's field."""
    server_id = _server_id(request)
    name = one(form, "action")
    change = CHANGES.get(name)
    if change is None:
        raise FormRefused(400, "There is no such action.")
    value = one(form, change.field).strip()
    try:
        await api.post("/v2.1/servers/%s/action" % server_id, change.body(value))
    except Refusal as exc:
        if exc.status not in (400, 403, 409):
            raise
        values = await detail_values(request, session, api, server_id, {name: exc.message}, {name: value})
        if not any(c["name"] == name for c in values["changes"]):  # no longer offered: its message at the top
            values["errors"]["page"] = exc.message
        return Page("instance.html", values, status=exc.status)
    return Page(response=redirect("/dashboard/instances/%s?%s" % (server_id, urllib.parse.urlencode({"notice": name}))))


async def _act(request: Request, session: Session, api: Api, form: dict[str, list[str]]) -> Page:
    """A row action through the API, then back to the list (or the detail) with a notice of a fixed set; a
    server no longer in a state for it is the API's 409, shown with a way back."""
    server_id = _server_id(request)
    name = one(form, "action")
    action = ACTIONS.get(name)
    if action is None:
        raise FormRefused(400, "There is no such action.")
    path = "/v2.1/servers/" + server_id
    try:
        if action.body is None:
            await api.delete(path)
        else:
            await api.post(path + "/action", action.body)
    except Refusal as exc:
        if exc.status != 409:
            raise
        return Page("instance_refused.html", {"message": exc.message, "server_id": server_id}, status=409)
    to_detail = one(form, "back") == "detail" and name != "delete"
    back = "/dashboard/instances/" + server_id if to_detail else "/dashboard/instances"
    return Page(response=redirect(back + "?" + urllib.parse.urlencode({"notice": name})))


ROUTES = [
    Route("/instances", page(_instances), methods=["GET"]),
    Route("/instances/rows", page(_rows), methods=["GET"]),
    Route("/instances/{server_id}", page(_detail), methods=["GET"]),
    Route("/instances/{server_id}/action", form_page(_act), methods=["POST"]),
    Route("/instances/{server_id}/change", form_page(_change), methods=["POST"]),
]
