"""The console log page of an instance: the tail of its serial console as the API's os-getConsoleOutput
answers it (owner or admin by Nova's policy; another project's server is the API's 404), in a <pre>,
escaped like every value. The length select asks for more lines; the API checks it."""
from __future__ import annotations

import re

from starlette.requests import Request
from starlette.routing import Route

from stratus_cli.dashboard.client import Api, Refusal
from stratus_cli.dashboard.pages import Page, page
from stratus_cli.dashboard.session import Session

LENGTHS = (50, 200, 1000, -1)
DEFAULT_LENGTH = 50
_UUID = re.compile(r"[0-9a-fA-F-]{32,36}")


def _length(value: str) -> int:
    """The select's value; anything else is the default (the page is a read: no error for a bad query)."""
    try:
        wanted = int(value)
    except ValueError:
        return DEFAULT_LENGTH
    return wanted if wanted in LENGTHS else DEFAULT_LENGTH


async def _console(request: Request, session: Session, api: Api) -> Page:
    server_id = request.path_params["server_id"]
    if not _UUID.fullmatch(server_id):  # a server's id, not another route of the API's (servers/detail)
        raise Refusal(404, "There is no such instance.")
    server = (await api.get("/v2.1/servers/%s" % server_id))["server"]  # 404 for another project's
    length = _length(request.query_params.get("length", ""))
    output, error, status = "", None, 200
    try:
        reply = await api.post("/v2.1/servers/%s/action" % server["id"], {"os-getConsoleOutput": {"length": length}})
        output = (reply.body or {}).get("output") or ""
    except Refusal as exc:
        if exc.status != 409:  # 403 (policy) and others: the error page
            raise
        error, status = exc.message, 409  # no host yet, host down: the API's message on the page
    return Page("console.html", {"server": server, "output": output, "error": error, "length": length,
                                 "lengths": LENGTHS}, status=status)


ROUTES = [
    Route("/instances/{server_id}/console", page(_console), methods=["GET"]),
]
