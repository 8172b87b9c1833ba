"""The dashboard's routes: log in and out, the project switcher and the overview, mounted by `stratus api`
under /dashboard beside its static files. Each page asks the API (client.py) and renders a template."""
from __future__ import annotations

import datetime as dt
import typing as t
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from stratus_cli.dashboard import admin, console, instances, keypairs, launch
from stratus_cli.dashboard.client import Api, Refusal, call, fault
from stratus_cli.dashboard.pages import Page, _error, form_page, page, redirect, render
from stratus_cli.dashboard.session import (FormRefused, Session, check_login_csrf, clear_login_csrf, clear_session,
                                           cookie_token, current, login_csrf, one, read_form, refused_login,
                                           set_login_csrf, set_session)

STATIC = Path(__file__).parent / "static"


class _Static(StaticFiles):
    """The dashboard's own files, each only ever what its type says (nosniff), as the pages are."""

    def file_response(self, *args: t.Any, **kwargs: t.Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _local(target: str) -> str:
    """Where a login may send the browser next: a dashboard page of this site, nothing else."""
    if target.startswith("/dashboard/") and "//" not in target and "\\" not in target and target.isprintable():
        return target
    return "/dashboard/"


def _lifetime(reply_body: dict[str, t.Any]) -> int:
    """The session cookie lives as long as its token."""
    expires = dt.datetime.fromisoformat(reply_body["token"]["expires_at"].replace("Z", "+00:00"))
    return max(60, int((expires - dt.datetime.now(dt.timezone.utc)).total_seconds()))


async def login(request: Request) -> Response:
    """GET: the form (a session goes on to the overview). POST: a token from the API for the user and the
    project (left blank: the user's default project), set as the session cookie."""
    csrf, new = login_csrf(request)
    if request.method == "GET":
        if await current(request) is not None:
            return redirect("/dashboard/")
        response = render(request, "login.html", None, next=_local(request.query_params.get("next", "")),
                          login_csrf=csrf, error=None, username="", project="")
        if new:
            set_login_csrf(response, request, csrf)
        return response
    try:
        form = await read_form(request)
        check_login_csrf(request, form)
    except FormRefused as exc:
        return _error(request, None, exc.status, exc.message)
    username, password, project = one(form, "username").strip(), one(form, "password"), one(form, "project").strip()
    auth: dict[str, t.Any] = {"identity": {"methods": ["password"], "password": {"user": {
        "name": username, "domain": {"id": "default"}, "password": password}}}}
    if project:
        auth["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
    reply = await call(request, "POST", "/v3/auth/tokens", body={"auth": auth})
    if reply.status != 201:
        message, _field = fault(reply.body)
        return render(request, "login.html", None, status=401 if reply.status in (400, 401) else reply.status,
                      next=_local(one(form, "next")), login_csrf=csrf, error=refused_login(reply.status, message),
                      username=username, project=project)
    response = redirect(_local(one(form, "next")))
    set_session(response, request, reply.headers["x-subject-token"], _lifetime(reply.body))
    clear_login_csrf(response, request)
    previous = cookie_token(request)
    if previous is not None:
        # the browser's former session (or one an attacker planted in it) ends with this login: its token is
        # revoked, not left valid until it expires (an answer other than 204 means it was not valid anyway)
        await call(request, "DELETE", "/v3/auth/tokens", previous, headers={"x-subject-token": previous})
    return response


async def _logout(request: Request, session: Session, api: Api, form: dict[str, list[str]]) -> Page:
    await api.delete("/v3/auth/tokens", headers={"x-subject-token": session.token})
    response = redirect("/dashboard/login")
    clear_session(response, request)
    return Page(response=response)


async def _projects(request: Request, session: Session, api: Api) -> Page:
    projects = (await api.get("/v3/auth/projects"))["projects"]
    return Page("projects.html", {"projects": projects})


async def _switch(request: Request, session: Session, api: Api, form: dict[str, list[str]]) -> Page:
    """A token for another of the user's projects (Keystone's token method: no password again); the old
    token is revoked."""
    wanted = one(form, "project_id")
    try:
        reply = await api.post("/v3/auth/tokens", {"auth": {
            "identity": {"methods": ["token"], "token": {"id": session.token}},
            "scope": {"project": {"id": wanted}}}})
    except Refusal as exc:
        # Keystone's 401 here is about the project asked for (no role on it, no such project), not the session
        # (checked just before): a 403 on this page, the session kept, not the login page
        if exc.status == 401:
            raise FormRefused(403, "You have no role on that project.")
        raise
    await api.delete("/v3/auth/tokens", headers={"x-subject-token": session.token})
    response = redirect("/dashboard/")
    set_session(response, request, reply.headers["x-subject-token"], _lifetime(reply.body))
    return Page(response=response)


def _usage(limits: dict[str, t.Any], keypairs: int) -> list[dict[str, t.Any]]:
    """Horizon's overview charts: what the project uses of each quota (-1: unlimited)."""
    absolute = limits["limits"]["absolute"]
    return [
        {"label": "Instances", "used": absolute.get("totalInstancesUsed", 0),
         "limit": absolute.get("maxTotalInstances", -1), "unit": ""},
        {"label": "VCPUs", "used": absolute.get("totalCoresUsed", 0), "limit": absolute.get("maxTotalCores", -1),
         "unit": ""},
        {"label": "RAM", "used": absolute.get("totalRAMUsed", 0), "limit": absolute.get("maxTotalRAMSize", -1),
         "unit": "MB"},
        {"label": "Key pairs", "used": keypairs, "limit": absolute.get("maxTotalKeypairs", -1), "unit": ""},
        {"label": "Server groups", "used": absolute.get("totalServerGroupsUsed", 0),
         "limit": absolute.get("maxServerGroups", -1), "unit": ""},
    ]


async def _overview(request: Request, session: Session, api: Api) -> Page:
    limits = await api.get("/v2.1/limits")
    keypairs = await api.get("/v2.1/os-keypairs")
    return Page("overview.html", {"usage": _usage(limits, len(keypairs.get("keypairs", [])))})


def not_found(request: Request, status: int) -> Response:
    """The dashboard's own page for a path it does not serve (the API answers JSON for its own paths)."""
    return _error(request, None, status, "There is no such page." if status == 404 else "Not allowed here.")


async def _root(request: Request) -> Response:
    return redirect("/dashboard/")


def browser_wants_dashboard(request: Request) -> bool:
    """A browser opening the API's root (it asks for HTML, not JSON) is sent to the dashboard; OpenStack's
    clients ask for JSON there (version discovery) and get it."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


ROUTES = [
    Route("/dashboard", _root, methods=["GET"]),
    Mount("/dashboard", routes=[
        Route("/", page(_overview), methods=["GET"]),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", form_page(_logout), methods=["POST"]),
        Route("/projects", page(_projects), methods=["GET"]),
        Route("/projects/switch", form_page(_switch), methods=["POST"]),
        Mount("/static", app=_Static(directory=str(STATIC)), name="static"),
    ] + admin.ROUTES + console.ROUTES + instances.ROUTES + launch.ROUTES + keypairs.ROUTES),
]
