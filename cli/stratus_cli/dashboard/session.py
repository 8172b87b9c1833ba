"""Who is looking: the session cookie holds the user's API token (HttpOnly, SameSite=Strict, Path=/dashboard,
Secure over HTTPS), which the API validates on every page, as Horizon keeps the Keystone token in its session.
Every form that changes something carries a CSRF token bound to the session (an HMAC of its token, which a
page on another site can neither read nor compute); the login form, before any session, a double-submit
token in a cookie of its own. Forms are read here, within a size limit, as plain urlencoded text."""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import typing as t
import urllib.parse

from starlette.requests import Request
from starlette.responses import Response

from stratus_cli.api.edge import BodyRefused, limited_body
from stratus_cli.dashboard.client import call

COOKIE = "stratus_session"
LOGIN_COOKIE = "stratus_login"
PATH = "/dashboard"
CSRF_FIELD = "csrf_token"
MAX_FORM = 131072  # a form's body: user data (Nova's 64 KiB, base64) and a key fit
_CSRF_LABEL = b"stratus-dashboard-csrf-v1"


class FormRefused(Exception):
    """A form that cannot be taken: too large, not a form, or without its CSRF token (status, message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclasses.dataclass
class Session:
    """A valid token's user, project and roles, as the API's token validation answers them."""

    token: str
    user_id: str
    user_name: str
    project_id: str
    project_name: str
    roles: list[str]
    expires_at: str

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)

    @property
    def shows_admin(self) -> bool:
        """Whether the admin pages are offered: a hint for the menu only. The API's policy decides every call,
        so an admin page opened by a member is the API's 403."""
        return "admin" in self.roles


def csrf_for(secret: str) -> str:
    return hmac.new(secret.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(COOKIE, token, max_age=max_age, path=PATH, secure=secure(request), httponly=True,
                        samesite="strict")


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path=PATH, secure=secure(request), httponly=True, samesite="strict")


def clear_login_csrf(response: Response, request: Request) -> None:
    """A login form's token serves one login: the next login form gets a new one."""
    response.delete_cookie(LOGIN_COOKIE, path=PATH, secure=secure(request), httponly=True, samesite="strict")


def cookie_token(request: Request) -> t.Optional[str]:
    """The session cookie's token when it could be one (the API decides whether it is valid), else None."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 256 or not token.isprintable():
        return None
    return token


def login_csrf(request: Request) -> tuple[str, bool]:
    """The login form's double-submit token: the cookie's when it has a sound one, else a new one (True: the
    response must set it, set_login_csrf)."""
    current_value = request.cookies.get(LOGIN_COOKIE, "")
    if len(current_value) == 43 and all(c.isalnum() or c in "-_" for c in current_value):
        return current_value, False
    return secrets.token_urlsafe(32), True


def set_login_csrf(response: Response, request: Request, value: str) -> None:
    response.set_cookie(LOGIN_COOKIE, value, max_age=3600, path=PATH, secure=secure(request), httponly=True,
                        samesite="strict")


def check_login_csrf(request: Request, form: t.Mapping[str, list[str]]) -> None:
    """The login form's token equals its cookie's (a page on another site can set neither), else 403."""
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    given = one(form, CSRF_FIELD)
    if not cookie or not given or not hmac.compare_digest(given.encode(), cookie.encode()):
        raise FormRefused(403, "The login form's CSRF token is missing or wrong: reload the page and try again.")


async def current(request: Request) -> t.Optional[Session]:
    """The session of this request's cookie, validated by the API now; None without one or when it is no
    longer valid (expired, revoked, the user's role gone)."""
    token = cookie_token(request)
    if token is None:
        return None
    reply = await call(request, "GET", "/v3/auth/tokens", token, headers={"x-subject-token": token})
    if reply.status != 200:
        return None
    body = reply.body["token"]
    return Session(token, body["user"]["id"], body["user"]["name"], body["project"]["id"],
                   body["project"]["name"], sorted(r["name"] for r in body["roles"]), body["expires_at"])


async def read_form(request: Request) -> dict[str, list[str]]:
    """The urlencoded form of a POST, each field's values in order; FormRefused past MAX_FORM or not a form."""
    try:
        raw = await limited_body(request, MAX_FORM, "application/x-www-form-urlencoded")
    except BodyRefused as exc:
        raise FormRefused(exc.status, "The form is too large." if exc.status == 413 else
                          "This page takes a form (application/x-www-form-urlencoded).")
    try:
        text = raw.decode("utf-8")
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=500,
                                       errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise FormRefused(400, "The form could not be read.")
    if any("\x00" in k + v for k, v in pairs):
        raise FormRefused(400, "The form holds a NUL character.")
    form: dict[str, list[str]] = {}
    for key, value in pairs:
        form.setdefault(key, []).append(value)
    return form


def one(form: t.Mapping[str, list[str]], name: str, default: str = "") -> str:
    values = form.get(name) or [default]
    return values[0]


def check_csrf(form: t.Mapping[str, list[str]], expected: str) -> None:
    """The form's CSRF token is the session's (constant-time), else 403 and nothing is done."""
    given = one(form, CSRF_FIELD)
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise FormRefused(403, "The form's CSRF token is missing or wrong: reload the page and try again.")


def refused_login(status: int, message: str) -> str:
    """One message for every bad credential (which part was wrong is not told)."""
    if status in (400, 401):
        return "The user name, the password or the project is wrong."
    return message
