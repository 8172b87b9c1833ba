"""The edge of every `stratus api` route: the one place where a request becomes a ``Call`` (authenticated, its
microversion negotiated, its JSON body read within the limit, in one store transaction) and every refusal or
bug becomes its service's error body (errors.py). Route modules (app.py, servers.py, ...) say what to answer.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import typing as t

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stratus_cli.api import auth, errors, identity, microversion
from stratus_cli.api.cloud import Cloud
from stratus_cli.api.errors import ApiError

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

LOG = logging.getLogger("stratus.api")
LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
CONFIG_ENV, STORE_ENV = "STRATUS_API_CONFIG", "STRATUS_API_STORE_URL"
# Keystone's max_request_body_size default; the token request is the only body this increment takes.
MAX_BODY = 114688


@dataclasses.dataclass
class Config:
    """What each worker needs: the store, the inventory's catalog as read at start, the public URL, and the
    inventory sources the builds and actions run on (runs.py)."""

    store_url: str
    variables: dict[str, t.Any]
    inventories: list[str] = dataclasses.field(default_factory=list)
    hypervisors: list[str] = dataclasses.field(default_factory=list)
    baremetal_nodes: list[str] = dataclasses.field(default_factory=list)
    hostvars: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    public_url: t.Optional[str] = None
    token_ttl_seconds: int = int(identity.DEFAULT_TOKEN_TTL.total_seconds())
    max_body: int = MAX_BODY


@dataclasses.dataclass
class Call:
    """One request as a route sees it: already authenticated, its body parsed, in a store transaction."""

    request: Request
    cloud: Cloud
    config: Config
    base: str
    conn: t.Any
    token: t.Optional[identity.Token]
    caller: t.Any
    version: t.Optional[tuple[int, int]]
    body: t.Any

    @property
    def query(self) -> t.Any:
        return self.request.query_params


Answer = t.Union[dict[str, t.Any], tuple[int, t.Optional[dict[str, t.Any]], dict[str, str]]]


def _base(request: Request, config: Config) -> str:
    return (config.public_url or str(request.base_url)).rstrip("/")


class MarkupSafeJSON(JSONResponse):
    """JSON whose <, > and & are \\u escapes (as Go's encoding/json writes them): a JSON parser reads the same
    text, and a client's text a message repeats (a flavorRef of markup, say) is never markup in the bytes,
    whatever reads them. Outside strings JSON has none of the three, so the bytes can be replaced as they are."""

    def render(self, content: t.Any) -> bytes:
        return super().render(content).replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


def _response(status: int, body: t.Optional[dict[str, t.Any]], headers: dict[str, str]) -> Response:
    if body is None:
        return Response(status_code=status, headers=headers)
    return MarkupSafeJSON(body, status_code=status, headers=headers)


class BodyRefused(Exception):
    """A request body not taken: 413 past its limit (nothing past it is read), 415 not of the media type."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


async def limited_body(request: Request, limit: int, media_type: str) -> bytes:
    """The request's body of ``media_type``, read whole within ``limit`` bytes, or BodyRefused (the API's JSON
    bodies and the dashboard's forms alike)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyRefused(413)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != media_type:
        raise BodyRefused(415)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyRefused(413)
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: Request, limit: int) -> t.Any:
    """The request's JSON object: 413 past the limit (read no further), 415 when not JSON, 400 when malformed."""
    try:
        raw = await limited_body(request, limit, "application/json")
    except BodyRefused as exc:
        raise ApiError(exc.status, "Request is too large." if exc.status == 413 else
                       "The request body must be JSON (Content-Type: application/json).")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested past the parser's depth
        raise ApiError(400, "Malformed request body: not JSON.")


def endpoint(route: t.Callable[[Call], Answer], authenticated: bool = True, versioned: bool = False,
             takes_body: bool = False, transaction: bool = True,
             read_only: bool = False) -> t.Callable[[Request], t.Awaitable[Response]]:
    """The edge of one route: the one place where a request becomes a Call and every failure its error body.

    ``transaction=False``: the route calls the collection's conductor, which opens (and locks) its own store
    transactions; the token is then read in a transaction of its own, ended before the route runs, and the
    route gets no ``conn`` (SQLite's write lock is taken at BEGIN: two in one thread would wait forever).
    ``read_only``: the route only shows the store, in a read transaction (store.read_transaction: on SQLite it
    takes no write lock, so a page of a thousand servers holds up no build)."""

    async def handle(request: Request) -> Response:
        config: Config = request.app.state.config
        cloud: Cloud = request.app.state.cloud
        service = errors.service_of(request.url.path)
        base = _base(request, config)
        version: t.Optional[tuple[int, int]] = None
        try:
            version = microversion.negotiate(request.headers) if versioned else None
            body = await _json_body(request, config.max_body) if takes_body else None
            status, payload, headers = await run_in_threadpool(_run, route, request, cloud, config, base,
                                                               authenticated, version, body, transaction, read_only)
        except ApiError as exc:
            status, payload, headers = exc.status, errors.body(service, exc), exc.headers
        except Exception as exc:  # a bug: the client gets Nova's 500 body, the log one line, never a traceback
            LOG.error("internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
            err = errors.internal()
            status, payload, headers = err.status, errors.body(service, err), {}
        if version is not None:
            headers = dict(headers, **microversion.response_headers(version))
        return _response(status, payload, headers)

    return handle


def _run(route: t.Callable[[Call], Answer], request: Request, cloud: Cloud, config: Config, base: str,
         authenticated: bool, version: t.Optional[tuple[int, int]], body: t.Any,
         transaction: bool = True, read_only: bool = False) -> tuple[int, t.Optional[dict[str, t.Any]], dict[str, str]]:
    """The route in one store transaction (worker thread); refusals as ApiError, nothing written on one."""
    try:
        token = caller = None
        if transaction:
            with cloud.transaction(read_only) as conn:
                if authenticated:
                    token = auth.token_of(conn, request.headers.get("x-auth-token"), base)
                    caller = auth.caller_of(cloud, token)
                refuse_nul(request, body)
                answer = route(Call(request, cloud, config, base, conn, token, caller, version, body))
        else:
            if authenticated:
                with cloud.transaction(read_only=True) as conn:
                    token = auth.token_of(conn, request.headers.get("x-auth-token"), base)
                    caller = auth.caller_of(cloud, token)
            refuse_nul(request, body)
            answer = route(Call(request, cloud, config, base, None, token, caller, version, body))
    except identity.IdentityError as exc:
        raise ApiError(exc.status, exc.message)
    except StratusError as exc:
        raise errors.from_stratus(exc)
    if isinstance(answer, dict):
        return 200, answer, {}
    return answer


def refuse_nul(request: Request, body: t.Any) -> None:
    """No store keeps a NUL in text (PostgreSQL refuses it: a DataError, a 500), so an id with one names nothing
    (404) and a query or body value with one is bad input (400), before any of it reaches a query."""
    if any("\x00" in value for value in request.path_params.values()):
        raise ApiError(404, "The resource could not be found.")
    if any("\x00" in key + value for key, value in request.query_params.multi_items()):
        raise ApiError(400, "Invalid input: a query parameter holds a NUL character.")
    try:
        if _holds_nul(body):
            raise ApiError(400, "Invalid input: the request body holds a NUL character.")
    except RecursionError:
        raise ApiError(400, "Malformed request body: nested too deep.")


def _holds_nul(value: t.Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def get(path: str, route: t.Callable[[Call], Answer], **kw: t.Any) -> Route:
    """A GET route: it only shows the store, so in a read transaction unless told otherwise."""
    return Route(path, endpoint(route, **dict({"read_only": True}, **kw)), methods=["GET"])
