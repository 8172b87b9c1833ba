"""How every dashboard page is served: the session first (no session: the login page), the page's own work
through the API, then its template. One error mapping for all of them: an API refusal becomes a page with its
status and message, a refused form its 4xx, a bug a 500 page and one log line, never a traceback."""
from __future__ import annotations

import datetime as dt
import logging
import typing as t
import urllib.parse

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from stratus_cli.dashboard.client import Api, Refusal
from stratus_cli.dashboard.session import FormRefused, Session, check_csrf, current, read_form, secure

LOG = logging.getLogger("stratus.dashboard")
# No inline script or style: the page runs only the dashboard's own static files.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
                               "object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
ENV = jinja2.Environment(loader=jinja2.PackageLoader("stratus_cli.dashboard", "templates"),
                         autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                         undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _age(stamp: t.Optional[str]) -> str:
    """'3 min' for an ISO time (the API's created, updated, ...), '' when there is none."""
    if not stamp:
        return ""
    try:
        then = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return ""
    seconds = max(0, int((dt.datetime.now(dt.timezone.utc) - then).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return "%d %s" % (seconds // size, unit)
    return "%d s" % seconds


ENV.filters["age"] = _age


class Page(t.NamedTuple):
    """What a page handler answers: a template and its values, or a response of its own (a redirect)."""

    template: t.Optional[str] = None
    values: dict[str, t.Any] = {}
    status: int = 200
    response: t.Optional[Response] = None


def render(request: Request, template: str, session: t.Optional[Session], status: int = 200,
           **values: t.Any) -> HTMLResponse:
    html = ENV.get_template(template).render(request=request, session=session, path=request.url.path,
                                             **values)
    # over HTTPS, browsers are told to come back only over HTTPS (the session cookie is Secure there)
    headers = dict(HEADERS, **{"Strict-Transport-Security": "max-age=31536000"}) if secure(request) else HEADERS
    return HTMLResponse(html, status_code=status, headers=headers)


def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303, headers={"Cache-Control": "no-store"})


def to_login(request: Request) -> RedirectResponse:
    wanted = request.url.path + ("?" + request.url.query if request.url.query else "")
    return redirect("/dashboard/login?" + urllib.parse.urlencode({"next": wanted}))


Handler = t.Callable[[Request, Session, Api], t.Awaitable[Page]]
FormHandler = t.Callable[[Request, Session, Api, dict[str, list[str]]], t.Awaitable[Page]]


def _error(request: Request, session: t.Optional[Session], status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", session, status=status, status_code=status, message=message)


async def _serve(request: Request, work: t.Callable[[Session, Api], t.Awaitable[Page]]) -> Response:
    session = None
    try:
        session = await current(request)
        if session is None:
            return to_login(request) if request.method == "GET" else _error(
                request, None, 401, "Your session has ended: log in again.")
        page = await work(session, Api(request, session.token))
        if page.response is not None:
            return page.response
        assert page.template is not None
        return render(request, page.template, session, status=page.status, **page.values)
    except Refusal as exc:
        if exc.status == 401:
            return to_login(request)
        return _error(request, session, exc.status, exc.message)
    except FormRefused as exc:
        return _error(request, session, exc.status, exc.message)
    except Exception as exc:  # a bug: a plain 500 page and one log line, never a traceback
        LOG.error("internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return _error(request, session, 500, "Something went wrong on the server; its log says what.")


def page(handler: Handler) -> t.Callable[[Request], t.Awaitable[Response]]:
    """A GET page: the session's, or the login page."""
    async def endpoint(request: Request) -> Response:
        return await _serve(request, lambda session, api: handler(request, session, api))
    return endpoint


def form_page(handler: FormHandler) -> t.Callable[[Request], t.Awaitable[Response]]:
    """A POST: the session's, its form read and its CSRF token checked before the handler runs."""
    async def endpoint(request: Request) -> Response:
        async def work(session: Session, api: Api) -> Page:
            form = await read_form(request)
            check_csrf(form, session.csrf)
            return await handler(request, session, api, form)
        return await _serve(request, work)
    return endpoint
