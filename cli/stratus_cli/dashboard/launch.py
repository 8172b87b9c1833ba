"""Launch Instance: Horizon's form on one server-rendered page. The page reads its choices from the API
(zones, images, flavors against the quota left, networks, key pairs, server groups); the POST shapes the form
into Nova's create body and sends it to `POST /v2.1/servers`, or, with the "Will it fit?" button, to Stratus's
`POST /v2.1/os-stratus-explain`. The API decides everything: its refusal comes back at the input its `field`
names, with the user's values kept (all but the user data, which is never rendered back)."""
from __future__ import annotations

import base64
import re
import typing as t
import urllib.parse

from starlette.requests import Request
from starlette.routing import Route

from stratus_cli.dashboard.client import Api, Refusal
from stratus_cli.dashboard.pages import Page, form_page, page, redirect
from stratus_cli.dashboard.session import Session, one

Form = t.Mapping[str, list[str]]
# The create body's fields (as the API's refusals name them) and the form input each is shown at; a path
# below one (networks[0].uuid) belongs to its head's input.
FIELD_INPUTS = {"name": "name", "min_count": "count", "max_count": "count", "availability_zone": "availability_zone",
                "imageRef": "image", "flavorRef": "flavor", "networks": "networks", "key_name": "key_name",
                "user_data": "user_data", "metadata": "metadata", "os:scheduler_hints": "server_group"}
# Within the boot volume's mapping: its image, size and delete-on-terminate have inputs of their own
BDM_INPUTS = {"uuid": "image", "volume_size": "volume_size", "delete_on_termination": "delete_on_terminate"}
TEXT_INPUTS = ("name", "count", "availability_zone", "boot_source", "image", "volume_size", "flavor", "key_name",
               "metadata", "server_group")


class Shaped(t.NamedTuple):
    """The form as Nova's create body, or the inputs that could not be shaped into one (input -> message)."""

    body: dict[str, t.Any]
    errors: dict[str, str]


def input_of(field: t.Optional[str]) -> t.Optional[str]:
    """The form input a refusal's field names (None: the refusal is about the request as a whole)."""
    if not field:
        return None
    head = re.match(r"[^.\[]*", field).group(0)  # type: ignore[union-attr]  # matches every string
    if head == "block_device_mapping_v2":
        leaf = re.split(r"[.\[\]]+", field.rstrip("]"))[-1]
        return BDM_INPUTS.get(leaf, "boot_source")
    return FIELD_INPUTS.get(head)


def _metadata(text: str) -> t.Union[dict[str, str], str]:
    """key=value lines (blank lines skipped) as a dict, or the message for a line that is not one."""
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            return "Line %d is not key=value." % number
        out[key.strip()] = value.strip()
    return out


def shape(form: Form) -> Shaped:
    """Nova's create body from the form. Only what cannot be sent as the API's types is refused here (a count
    that is no whole number, a metadata line without =); every rule is the API's."""
    errors: dict[str, str] = {}
    server: dict[str, t.Any] = {"name": one(form, "name").strip(), "flavorRef": one(form, "flavor")}
    count = one(form, "count", "1").strip() or "1"
    if count.isdigit() and len(count) <= 6 and int(count) >= 1:
        server["min_count"] = server["max_count"] = int(count)
    else:
        errors["count"] = "Enter a whole number, 1 or more."
    image = one(form, "image")
    if one(form, "boot_source", "image") == "volume":
        size = one(form, "volume_size").strip()
        server["imageRef"] = ""
        server["block_device_mapping_v2"] = [{
            "boot_index": 0, "uuid": image, "source_type": "image", "destination_type": "volume",
            "volume_size": int(size) if size.isdigit() and len(size) <= 9 else size,
            "delete_on_termination": one(form, "delete_on_terminate") == "on"}]
    else:
        server["imageRef"] = image
    networks = [n for n in form.get("networks", []) if n]
    # none chosen: Nova's "auto" (the one network the project may use; the API says when there are several)
    server["networks"] = [{"uuid": n} for n in networks] if networks else "auto"
    for key in ("availability_zone", "key_name"):
        if one(form, key):
            server[key] = one(form, key)
    user_data = one(form, "user_data")
    if user_data:
        server["user_data"] = base64.b64encode(user_data.encode("utf-8")).decode("ascii")
    metadata = _metadata(one(form, "metadata"))
    if isinstance(metadata, str):
        errors["metadata"] = metadata
    elif metadata:
        server["metadata"] = metadata
    body: dict[str, t.Any] = {"server": server}
    if one(form, "server_group"):
        body["os:scheduler_hints"] = {"group": one(form, "server_group")}
    return Shaped(body, errors)


def _kept(form: Form) -> dict[str, t.Any]:
    """The values shown again after a refusal or an explain: all the user gave but the user data."""
    values: dict[str, t.Any] = {k: one(form, k) for k in TEXT_INPUTS}
    values["networks"] = list(form.get("networks", []))
    values["delete_on_terminate"] = one(form, "delete_on_terminate") == "on"
    values["count"] = values["count"] or "1"
    values["boot_source"] = values["boot_source"] or "image"
    return values


def _defaults() -> dict[str, t.Any]:
    return {"name": "", "count": "1", "availability_zone": "", "boot_source": "image", "image": "",
            "volume_size": "1", "delete_on_terminate": True, "flavor": "", "networks": [], "key_name": "",
            "metadata": "", "server_group": ""}


def _left(absolute: t.Mapping[str, t.Any], limit: str, used: str) -> t.Optional[int]:
    """What a quota leaves (None: unlimited)."""
    maximum = int(absolute.get(limit, -1))
    return None if maximum < 0 else max(0, maximum - int(absolute.get(used, 0)))


def _flavor_rows(flavors: list[dict[str, t.Any]], room: dict[str, t.Optional[int]],
                 count: int) -> list[dict[str, t.Any]]:
    """Each flavor with whether `count` of it fit in the quota left, and which quota it would break."""
    rows = []
    for flavor in sorted(flavors, key=lambda f: (f["vcpus"], f["ram"], f["disk"], f["name"])):
        short = [label for label, need, have in (
            ("instances", count, room["instances"]), ("vCPUs", flavor["vcpus"] * count, room["cores"]),
            ("RAM", flavor["ram"] * count, room["ram"])) if have is not None and need > have]
        rows.append(dict(flavor, fits=not short, short=short))
    return rows


async def _choices(api: Api, count: int) -> dict[str, t.Any]:
    """The form's choices, each from the API as this session's token sees it."""
    absolute = (await api.get("/v2.1/limits"))["limits"]["absolute"]
    room = {"instances": _left(absolute, "maxTotalInstances", "totalInstancesUsed"),
            "cores": _left(absolute, "maxTotalCores", "totalCoresUsed"),
            "ram": _left(absolute, "maxTotalRAMSize", "totalRAMUsed")}
    zones = (await api.get("/v2.1/os-availability-zone"))["availabilityZoneInfo"]
    images = (await api.get("/image/v2/images"))["images"]
    pairs = [k["keypair"] for k in (await api.get("/v2.1/os-keypairs"))["keypairs"]]
    groups = (await api.get("/v2.1/os-server-groups"))["server_groups"]
    # the selects' (value, text) options
    options = {"zones": [(z["zoneName"], z["zoneName"]) for z in zones
                         if (z.get("zoneState") or {}).get("available", True)],
               "images": sorted(((i["id"], i.get("name") or i["id"]) for i in images), key=lambda o: o[1]),
               "keypairs": sorted((p["name"], p["name"]) for p in pairs),
               "server_groups": sorted(((g["id"], g.get("name") or g["id"]) for g in groups), key=lambda o: o[1])}
    return {"room": room, "options": options,
            "flavors": _flavor_rows((await api.get("/v2.1/flavors/detail"))["flavors"], room, count),
            "networks": sorted((await api.get("/network/v2.0/networks"))["networks"],
                               key=lambda n: n.get("name") or "")}


def _count_of(values: t.Mapping[str, t.Any]) -> int:
    count = str(values.get("count") or "1")
    return int(count) if count.isdigit() and 1 <= len(count) <= 4 and int(count) >= 1 else 1


async def _form(api: Api, values: dict[str, t.Any], status: int = 200, errors: t.Optional[dict[str, str]] = None,
                refused: t.Optional[str] = None, explain: t.Optional[dict[str, t.Any]] = None,
                user_data_dropped: bool = False, launched: t.Optional[dict[str, t.Any]] = None) -> Page:
    choices = await _choices(api, _count_of(values))
    return Page("launch.html", dict(choices, values=values, errors=errors or {}, refused=refused, explain=explain,
                                    user_data_dropped=user_data_dropped, launched=launched), status)


async def _launch_page(request: Request, session: Session, api: Api) -> Page:
    launched = None
    server_id = request.query_params.get("launched", "")
    if server_id:
        try:
            launched = (await api.get("/v2.1/servers/" + urllib.parse.quote(server_id, safe="")))["server"]
        except Refusal:
            launched = None  # not this project's (or gone): no notice, and nothing of it shown
    return await _form(api, _defaults(), launched=launched)


async def _launch(request: Request, session: Session, api: Api, form: Form) -> Page:
    """Create (or, with the explain button, ask where it would go); a refusal is the form again, its message
    at the input it names, the values kept but the user data."""
    values = _kept(form)
    dropped = bool(one(form, "user_data"))
    shaped = shape(form)
    if shaped.errors:
        return await _form(api, values, 400, shaped.errors, "Correct the marked fields.", user_data_dropped=dropped)
    explaining = "explain" in form
    try:
        reply = await api.post("/v2.1/os-stratus-explain" if explaining else "/v2.1/servers", shaped.body)
    except Refusal as exc:
        if exc.status == 401:
            raise
        at = input_of(exc.field)
        return await _form(api, values, exc.status, {at: exc.message} if at else {},
                           None if at else exc.message, user_data_dropped=dropped)
    if explaining:
        return await _form(api, values, explain=reply.body["explain"], user_data_dropped=dropped)
    return Page(response=redirect("/dashboard/launch?" + urllib.parse.urlencode(
        {"launched": reply.body["server"]["id"]})))


ROUTES = [
    Route("/launch", page(_launch_page), methods=["GET"]),
    Route("/launch", form_page(_launch), methods=["POST"]),
]
