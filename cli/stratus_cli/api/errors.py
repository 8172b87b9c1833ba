"""The one error mapping at the edge of `stratus api`: every refusal becomes the body its service's clients
expect (Keystone's, Nova's, Neutron's, Glance's), with its status; nothing else ever reaches a client (no
traceback, no exception text of a bug)."""
from __future__ import annotations

import json
import typing as t

from stratus_cli.api.collection import ensure_importable

ensure_importable()
from ansible_collections.stratus.compute.plugins.module_utils.errors import HTTP_STATUS, StratusError  # noqa: E402

# nova/api/openstack/wsgi.py's Fault names; any other status is a computeFault
NOVA_FAULTS = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 405: "badMethod",
               409: "conflictingRequest", 413: "overLimit", 415: "badMediaType", 429: "overLimit",
               501: "notImplemented", 503: "serviceUnavailable"}
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          406: "Not Acceptable", 409: "Conflict", 413: "Request Entity Too Large", 415: "Unsupported Media Type",
          500: "Internal Server Error"}
AUTH_REQUIRED = "The request you have made requires authentication."
SERVICES = ("identity", "compute", "image", "network", "baremetal")


class ApiError(Exception):
    """A refusal at the API: status, message and, for Neutron, the error type (NetworkNotFound, ...)."""

    def __init__(self, status: int, message: str, kind: t.Optional[str] = None,
                 headers: t.Optional[dict[str, str]] = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind
        self.headers = dict(headers or {})


def shown(text: str) -> str:
    """A client's text in a message: as given when it is short, printable and has no markup."""
    return text if len(text) <= 255 and text.isprintable() and "<" not in text else "<invalid>"


def from_stratus(exc: StratusError) -> ApiError:
    """A pipeline refusal with Nova's status for its exception name."""
    return ApiError(HTTP_STATUS.get(exc.code, 500), exc.message, exc.code)


def service_of(path: str) -> str:
    """Whose error body a path gets: /v3 is Keystone's, /image Glance's, /network Neutron's, the rest Nova's."""
    for prefix, service in (("/v3", "identity"), ("/image", "image"), ("/network", "network"),
                            ("/baremetal", "baremetal")):
        if path == prefix or path.startswith(prefix + "/"):
            return service
    return "compute"


def body(service: str, err: ApiError) -> dict[str, t.Any]:
    if service == "identity" or err.status == 401:
        # keystonemiddleware answers 401 for every service with Keystone's body
        return {"error": {"code": err.status, "title": TITLES.get(err.status, "Error"), "message": err.message}}
    if service == "network":
        return {"NeutronError": {"type": err.kind or TITLES.get(err.status, "Error").replace(" ", ""),
                                 "message": err.message, "detail": ""}}
    if service == "baremetal":  # Ironic's: its fault as a JSON string
        return {"error_message": json.dumps({"faultstring": err.message, "debuginfo": None,
                                             "faultcode": "Client" if err.status < 500 else "Server"})}
    if service == "image":
        return {"code": err.status, "title": TITLES.get(err.status, "Error"), "message": err.message}
    return {NOVA_FAULTS.get(err.status, "computeFault"): {"code": err.status, "message": err.message}}


def unauthorized(base_url: str) -> ApiError:
    return ApiError(401, AUTH_REQUIRED, "Unauthorized",
                    headers={"WWW-Authenticate": 'Keystone uri="%s/v3"' % base_url.rstrip("/")})


def internal() -> ApiError:
    return ApiError(500, "Unexpected API Error. Please report this at the Stratus project's issue tracker and "
                         "attach the server's log if possible.")
