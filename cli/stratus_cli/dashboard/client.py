"""The dashboard's way to the API: a request to `stratus api`'s own ASGI application, in process, with the
session's token in X-Auth-Token, as novaclient would send it over HTTP. No route is called as a function, so
the edge (authentication, the microversion, the body's limits, one error mapping) is the API's, unchanged."""
from __future__ import annotations

import dataclasses
import json
import typing as t
import urllib.parse

from starlette.requests import Request

# The newest microversion the dashboard reads (server_views.py's bodies up to it: tags, host status, ...)
COMPUTE_VERSION = "2.61"


@dataclasses.dataclass
class Reply:
    status: int
    body: t.Any
    headers: dict[str, str]


class Refusal(Exception):
    """The API refused: its status, its message and, when the refusal names one, the request field at fault."""

    def __init__(self, status: int, message: str, field: t.Optional[str] = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def fault(body: t.Any) -> tuple[str, t.Optional[str]]:
    """The message (and field) of any service's error body: Nova's {"badRequest": {...}}, Keystone's
    {"error": {...}}, Neutron's {"NeutronError": {...}}, Glance's flat one, Ironic's {"error_message": "<JSON>"}."""
    if isinstance(body, dict) and isinstance(body.get("error_message"), str):  # Ironic's: JSON in a string
        try:
            ironic = json.loads(body["error_message"])
        except ValueError:
            ironic = None
        body = {"fault": {"message": ironic.get("faultstring")}} if isinstance(ironic, dict) else None
    if isinstance(body, dict):
        inner = next(iter(body.values()), None) if len(body) == 1 else body
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            field = inner.get("field")
            return inner["message"], field if isinstance(field, str) else None
    return "The request was refused.", None


async def call(request: Request, method: str, path: str, token: t.Optional[str] = None, body: t.Any = None,
               query: t.Optional[t.Mapping[str, t.Any]] = None, version: str = COMPUTE_VERSION,
               headers: t.Optional[t.Mapping[str, str]] = None) -> Reply:
    """One API request through the application that serves this page; every status comes back as a Reply."""
    raw = json.dumps(body).encode() if body is not None else b""
    sent = {"content-type": "application/json", "accept": "application/json",
            "openstack-api-version": "compute " + version, "host": request.headers.get("host", "localhost")}
    if token:
        sent["x-auth-token"] = token
    sent.update(headers or {})
    query_string = urllib.parse.urlencode(list(query.items()) if query else [], doseq=True)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": request.url.scheme, "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": query_string.encode(), "server": request.scope.get("server"),
             "client": request.scope.get("client"),
             "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in sent.items()]}
    if raw:
        scope["headers"].append((b"content-length", str(len(raw)).encode()))
    messages: list[dict[str, t.Any]] = []
    delivered = False

    async def receive() -> dict[str, t.Any]:
        nonlocal delivered
        if delivered:  # the body is read whole once; after that, only a disconnect would come
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, t.Any]) -> None:
        messages.append(message)

    await request.app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    data = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    try:
        decoded: t.Any = json.loads(data) if data else None
    except ValueError:
        decoded = data.decode("utf-8", "replace")
    return Reply(start["status"], decoded, {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]})


class Api:
    """The API as one session's token sees it: 2xx bodies back, a Refusal for anything else."""

    def __init__(self, request: Request, token: str) -> None:
        self.request, self.token = request, token

    async def send(self, method: str, path: str, body: t.Any = None, **kw: t.Any) -> Reply:
        reply = await call(self.request, method, path, self.token, body, **kw)
        if reply.status >= 400:
            message, field = fault(reply.body)
            raise Refusal(reply.status, message, field)
        return reply

    async def get(self, path: str, **kw: t.Any) -> t.Any:
        return (await self.send("GET", path, **kw)).body

    async def post(self, path: str, body: t.Any, **kw: t.Any) -> Reply:
        return await self.send("POST", path, body, **kw)

    async def put(self, path: str, body: t.Any, **kw: t.Any) -> Reply:
        return await self.send("PUT", path, body, **kw)

    async def delete(self, path: str, **kw: t.Any) -> Reply:
        return await self.send("DELETE", path, **kw)
