"""`stratus api`'s application and its first routes: Keystone v3's token routes, Nova's version discovery,
flavors, limits and availability zones, Glance's images and Neutron's networks and subnets (read only). Other
route modules (servers.py, ...) each give a ``ROUTES`` list that ``build_app`` serves beside these. Each route
is thin: the edge (edge.py ``endpoint``) reads and checks the request, takes the caller from the token, opens
one store transaction and maps every refusal to its service's error body; the route says what to answer.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import typing as t

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from stratus_cli.api import admin, errors, identity, keypairs, resources, server_groups, servers, views
from stratus_cli.api.cloud import Cloud
from stratus_cli.api.edge import CONFIG_ENV, LOG, LOG_FORMAT, STORE_ENV, Answer, Call, Config, MarkupSafeJSON, endpoint, get
from stratus_cli.api.errors import ApiError
from stratus_cli.dashboard import routes as dashboard

__all__ = ["CONFIG_ENV", "STORE_ENV", "Config", "build_app", "create_app"]


# --- identity (Keystone v3) -----------------------------------------------------------------------------

def identity_version(call: Call) -> Answer:
    return views.identity_version(call.base)


def _mapping(value: t.Any, field: str) -> dict[str, t.Any]:
    if not isinstance(value, dict):
        raise ApiError(400, "Invalid input for field '%s': expected an object." % field)
    return value


def _domain_is_default(domain: t.Any) -> bool:
    if domain is None:
        return True
    domain = _mapping(domain, "domain")
    return domain.get("id", identity.DOMAIN["id"]) == identity.DOMAIN["id"] and \
        domain.get("name", identity.DOMAIN["name"]) == identity.DOMAIN["name"]


def _password_user(call: Call, ident: dict[str, t.Any]) -> tuple[t.Any, t.Optional[str]]:
    """The password method's user, authenticated (argon2, outside any store transaction: it is slow by design,
    and SQLite's write lock would make every other request wait for it), or 401; the refusal is logged without
    the password. With it, the password when the stored hash wants a rehash."""
    password_part = _mapping(ident.get("password"), "auth.identity.password")
    user_part = _mapping(password_part.get("user"), "auth.identity.password.user")
    password = user_part.get("password")
    if not isinstance(password, str) or not password or len(password) > identity.MAX_PASSWORD:
        raise ApiError(400, "Invalid input for field 'auth.identity.password.user.password'.")
    user_row = None
    if _domain_is_default(user_part.get("domain")):
        with call.cloud.transaction() as conn:
            user_row = identity.user_by_name_or_none(conn, user_part.get("id"), user_part.get("name"))
    try:
        rehash = identity.verify_password(user_row, password)
    except identity.IdentityError:
        # the name only when it follows the rules (it is the client's text); never the password
        named = user_part.get("name") or user_part.get("id")
        LOG.info("token refused: bad credentials for user %s", errors.shown(named) if isinstance(named, str) else "-")
        raise
    return user_row, password if rehash else None


def _token_user(conn: t.Any, ident: dict[str, t.Any]) -> tuple[t.Any, dt.datetime]:
    """The token method's user (a valid token of theirs) and that token's expiry, which a new one never passes."""
    secret = _mapping(ident.get("token"), "auth.identity.token").get("id")
    try:
        old = identity.validate_token(conn, secret if isinstance(secret, str) else None)
    except identity.IdentityError:
        LOG.info("token refused: the token method with an invalid token")
        raise
    return identity.find_user(conn, old.user["id"]), old.expires_at


def _scoped_project(conn: t.Any, auth_part: dict[str, t.Any], user_row: t.Any) -> t.Any:
    scope = auth_part.get("scope")
    project_part = _mapping(_mapping(scope, "auth.scope").get("project"), "auth.scope.project") \
        if scope is not None else None
    if project_part is None:
        # Keystone scopes a request without a scope to the user's default project, when it has one
        if user_row.default_project_id is None:
            raise ApiError(400, "Stratus issues project-scoped tokens only: give auth.scope.project.")
        project_part = {"id": user_row.default_project_id}
    try:
        if project_part.get("id") is not None:
            project_row = identity.find_project(conn, project_part["id"])
            found = project_row.id == project_part["id"]
        else:
            project_row = identity.find_project(conn, project_part.get("name"))
            found = project_row.name == project_part.get("name") and _domain_is_default(project_part.get("domain"))
    except identity.IdentityError:
        found = False
    if not found:
        LOG.info("token refused: user %s, no such project", user_row.name)
        raise ApiError(401, errors.AUTH_REQUIRED)
    return project_row


def issue_token(call: Call) -> Answer:
    """POST /v3/auth/tokens: the password method (or the token method, to rescope a valid token), scoped to a
    project (by id, or by name in the Default domain)."""
    auth_part = _mapping(_mapping(call.body, "body").get("auth"), "auth")
    ident = _mapping(auth_part.get("identity"), "auth.identity")
    ttl = dt.timedelta(seconds=call.config.token_ttl_seconds)
    rehash: t.Optional[str] = None
    if ident.get("methods") == ["password"]:
        user_row, rehash = _password_user(call, ident)
        expires = None
    elif ident.get("methods") == ["token"]:
        with call.cloud.transaction() as conn:
            user_row, expires = _token_user(conn, ident)
    else:
        raise ApiError(401, "Stratus authenticates with the password or the token method only.")
    if expires is not None:
        ttl = min(ttl, expires - identity.now())
    with call.cloud.transaction() as conn:  # short: the checks are done
        if rehash is not None:
            identity.rehash_password(conn, user_row, rehash)
        project_row = _scoped_project(conn, auth_part, user_row)
        token = identity.issue_token(conn, user_row, project_row, ttl=ttl)
    LOG.info("token issued: user %s, project %s, roles %s", user_row.name, project_row.name, ",".join(token.roles))
    return 201, views.token_body(token, call.base), {"X-Subject-Token": str(token.secret)}


def auth_projects(call: Call) -> Answer:
    """GET /v3/auth/projects: the projects the token's user has a role on (Keystone's; the dashboard's project
    switcher)."""
    mine = {r["project_id"] for r in identity.list_roles(call.conn, user=call.caller.user_id)}
    return {"projects": [dict(p, links={"self": "%s/v3/projects/%s" % (call.base, p["id"])})
                         for p in identity.list_projects(call.conn) if p["id"] in mine and p["enabled"]],
            "links": {"self": call.base + "/v3/auth/projects", "previous": None, "next": None}}


def _subject(call: Call) -> tuple[str, identity.Token]:
    """The X-Subject-Token, valid, that the caller may see: its own, or any for an admin."""
    secret = call.request.headers.get("x-subject-token") or ""
    try:
        subject = identity.validate_token(call.conn, secret)
    except identity.IdentityError:
        raise ApiError(404, "Could not find token.")
    if subject.user["id"] != call.caller.user_id and not call.caller.is_admin:
        raise ApiError(403, "You are not authorized to perform the requested action: identity:validate_token.")
    return secret, subject


def validate_token(call: Call) -> Answer:
    secret, subject = _subject(call)
    return 200, views.token_body(subject, call.base), {"X-Subject-Token": secret}


def revoke_token(call: Call) -> Answer:
    secret, subject = _subject(call)
    identity.revoke_token(call.conn, secret)
    LOG.info("token revoked: user %s, project %s", subject.user["name"], subject.project["name"])
    return 204, None, {}


# --- compute (Nova v2.1) --------------------------------------------------------------------------------

def compute_versions(call: Call) -> Answer:
    return {"versions": [views.compute_version(call.base)]}


def compute_version(call: Call) -> Answer:
    return {"version": views.compute_version(call.base)}


def _is_public(call: Call) -> t.Optional[bool]:
    value = call.query.get("is_public", "true").lower()
    if value in ("none", "all"):
        return None
    if value in ("true", "t", "1", "yes", "y", "on"):
        return True
    if value in ("false", "f", "0", "no", "n", "off"):
        return False
    raise ApiError(400, "Invalid is_public filter [%s]" % errors.shown(value[:64]))


def _int_filter(call: Call, name: str) -> t.Optional[int]:
    value = call.query.get(name)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 12:
        raise ApiError(400, "Invalid %s filter [%s]" % (name, errors.shown(value[:64])))
    return int(value)


def _flavors(call: Call) -> list[dict[str, t.Any]]:
    min_ram, min_disk = _int_filter(call, "minRam"), _int_filter(call, "minDisk")
    return [f for f in call.cloud.flavors(call.caller, _is_public(call))
            if (min_ram is None or int(f["ram"]) >= min_ram) and (min_disk is None or int(f.get("disk", 0)) >= min_disk)]


def flavor_list(call: Call) -> Answer:
    return {"flavors": [views.flavor_brief(f, call.base, call.version) for f in _flavors(call)]}


def flavor_detail_list(call: Call) -> Answer:
    specs = call.cloud.may_read_extra_specs(call.caller)
    return {"flavors": [views.flavor_detail(f, call.base, call.version, specs) for f in _flavors(call)]}


def flavor_show(call: Call) -> Answer:
    flavor = call.cloud.flavor(call.caller, call.request.path_params["flavor_id"])
    return {"flavor": views.flavor_detail(flavor, call.base, call.version, call.cloud.may_read_extra_specs(call.caller))}


def extra_specs(call: Call) -> Answer:
    flavor = call.cloud.flavor(call.caller, call.request.path_params["flavor_id"])
    call.caller.authorize("os_compute_api:os-flavor-extra-specs:index")
    return {"extra_specs": views.extra_spec_values(flavor)}


def extra_spec(call: Call) -> Answer:
    flavor = call.cloud.flavor(call.caller, call.request.path_params["flavor_id"])
    call.caller.authorize("os_compute_api:os-flavor-extra-specs:show")
    key = call.request.path_params["key"]
    specs = views.extra_spec_values(flavor)
    if key not in specs:
        raise ApiError(404, "Flavor %s has no extra specs with key %s." % (flavor["id"], errors.shown(key)))
    return {key: specs[key]}


def limits(call: Call) -> Answer:
    project = call.query.get("tenant_id")
    quota, deprecated = call.cloud.limits(call.conn, call.caller, project)
    return views.limits(quota, deprecated, call.version)


def availability_zones(call: Call) -> Answer:
    call.caller.authorize("os_compute_api:os-availability-zone:list")
    return views.availability_zones(call.cloud.zones, detail=False)


def availability_zones_detail(call: Call) -> Answer:
    call.caller.authorize("os_compute_api:os-availability-zone:detail")
    return views.availability_zones(call.cloud.zones, detail=True)


# --- image (Glance v2) and network (Neutron v2.0), read only --------------------------------------------

PAGING = ("limit", "marker", "sort", "sort_key", "sort_dir", "fields", "page_reverse")


def _text(value: t.Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _filtered(items: list[dict[str, t.Any]], query: t.Any) -> list[dict[str, t.Any]]:
    """Equality filters on the body's fields (a repeated key: any of its values); paging keys are left out."""
    out = items
    for key in {k for k in query.keys() if k not in PAGING}:
        wanted = set(query.getlist(key))
        out = [i for i in out if key not in i or _text(i[key]) in wanted]
    return out


def _fields(items: list[dict[str, t.Any]], query: t.Any) -> list[dict[str, t.Any]]:
    fields = query.getlist("fields")
    return [{k: v for k, v in i.items() if k in fields} for i in items] if fields else items


def image_versions(call: Call) -> Answer:
    return views.image_versions(call.base)


def image_list(call: Call) -> Answer:
    images = _filtered([views.image(i) for i in call.cloud.images(call.caller)], call.query)
    return {"images": images, "schema": "/v2/schemas/images", "first": "/v2/images"}


def image_show(call: Call) -> Answer:
    wanted = call.request.path_params["image_id"]
    for item in call.cloud.images(call.caller):
        if str(item["id"]) == wanted:
            return views.image(item)
    raise ApiError(404, "No image found with ID %s" % errors.shown(wanted))


def network_versions(call: Call) -> Answer:
    return views.network_versions(call.base)


def _neutron_list(view: t.Callable[[dict[str, t.Any]], dict[str, t.Any]],
                  plural: str) -> t.Callable[[Call], Answer]:
    """GET /v2.0/<plural>: a view of each network the caller may see (a catalog network has one subnet)."""
    def route(call: Call) -> Answer:
        items = _filtered([view(n) for n in call.cloud.networks(call.caller)], call.query)
        return {plural: _fields(items, call.query)}
    return route


def _neutron_show(view: t.Callable[[dict[str, t.Any]], dict[str, t.Any]], singular: str,
                  label: str) -> t.Callable[[Call], Answer]:
    """GET /v2.0/<plural>/<id>: one of them by id, or Neutron's <Label>NotFound."""
    def route(call: Call) -> Answer:
        wanted = call.request.path_params["ident"]
        for net in call.cloud.networks(call.caller):
            item = view(net)
            if item["id"] == wanted:
                return {singular: item}
        raise ApiError(404, "%s %s could not be found." % (label, errors.shown(wanted)), label + "NotFound")
    return route


# --- the application ------------------------------------------------------------------------------------

_compute_versions = endpoint(compute_versions, authenticated=False, read_only=True)


async def root(request: Request) -> Response:
    """GET /: Nova's version discovery for clients; a browser (it asks for HTML) goes to the dashboard."""
    if dashboard.browser_wants_dashboard(request):
        return RedirectResponse("/dashboard/", status_code=303)
    return await _compute_versions(request)


ROUTES = [
    Route("/", root, methods=["GET"]),
    get("/v2.1", compute_version, authenticated=False),
    get("/v2.1/", compute_version, authenticated=False),
    get("/v2.1/flavors", flavor_list, versioned=True),
    get("/v2.1/flavors/detail", flavor_detail_list, versioned=True),
    get("/v2.1/flavors/{flavor_id}", flavor_show, versioned=True),
    get("/v2.1/flavors/{flavor_id}/os-extra_specs", extra_specs, versioned=True),
    get("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", extra_spec, versioned=True),
    get("/v2.1/limits", limits, versioned=True),
    get("/v2.1/os-availability-zone", availability_zones, versioned=True),
    get("/v2.1/os-availability-zone/detail", availability_zones_detail, versioned=True),
    get("/v3", identity_version, authenticated=False),
    get("/v3/", identity_version, authenticated=False),
    Route("/v3/auth/tokens", endpoint(issue_token, authenticated=False, takes_body=True, transaction=False),
          methods=["POST"]),
    Route("/v3/auth/tokens", endpoint(validate_token, read_only=True), methods=["GET"]),  # and HEAD too
    Route("/v3/auth/tokens", endpoint(revoke_token), methods=["DELETE"]),
    get("/v3/auth/projects", auth_projects),
    get("/image", image_versions, authenticated=False),
    get("/image/", image_versions, authenticated=False),
    get("/image/v2/images", image_list),
    get("/image/v2/images/{image_id}", image_show),
    get("/network", network_versions, authenticated=False),
    get("/network/", network_versions, authenticated=False),
    get("/network/v2.0/networks", _neutron_list(views.network, "networks")),
    get("/network/v2.0/networks/{ident}", _neutron_show(views.network, "network", "Network")),
    get("/network/v2.0/subnets", _neutron_list(views.subnet, "subnets")),
    get("/network/v2.0/subnets/{ident}", _neutron_show(views.subnet, "subnet", "Subnet")),
]


async def _no_route(request: Request, exc: Exception) -> Response:
    """Starlette's 404 and 405 (no such route, or not this method) in the service's error body."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if request.url.path.startswith("/dashboard/"):
        return dashboard.not_found(request, status)
    message = {404: "The resource could not be found.", 405: "The method is not allowed for this resource."}
    err = ApiError(status, message.get(status, "Unexpected API Error."))
    return MarkupSafeJSON(errors.body(errors.service_of(request.url.path), err), status_code=status)


def build_app(config: Config) -> Starlette:
    app = Starlette(routes=ROUTES + servers.ROUTES + resources.ROUTES + keypairs.ROUTES + server_groups.ROUTES
                    + admin.ROUTES + dashboard.ROUTES,
                    exception_handlers={404: _no_route, 405: _no_route})
    app.state.config = config
    app.state.cloud = Cloud(config.store_url, config.variables, config.hypervisors, config.baremetal_nodes,
                            config.hostvars)
    return app


def create_app() -> Starlette:
    """uvicorn's factory in each worker: the configuration `stratus api` wrote (a 0600 file it names), the
    store's URL from the environment."""
    with open(os.environ[CONFIG_ENV], encoding="utf-8") as handle:
        data = json.load(handle)
    if not logging.getLogger().handlers:  # a worker process of its own (--workers N): stratus.api's lines too
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    return build_app(Config(**dict(data, store_url=data.get("store_url") or os.environ[STORE_ENV])))
