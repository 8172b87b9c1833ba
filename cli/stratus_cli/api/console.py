"""Nova's os-getConsoleOutput server action: `POST /v2.1/servers/{id}/action {"os-getConsoleOutput": {"length":
N}}` answers `{"output": "..."}`, the tail of the server's serial console log. The log is on the server's
hypervisor (compute/domain.py's CONSOLE_DIR/<uuid>.console.log), which the API reaches only through Ansible:
a run of playbooks/console_output.yml on that host (runs.read_console), waited for, whose tasks are no_log.
Policy: Nova's os_compute_api:os-console-output (the server's project's members, or admin)."""
from __future__ import annotations

import re
import typing as t

from stratus_cli.api import runs
from stratus_cli.api.collection import ensure_importable
from stratus_cli.api.edge import Answer, Call
from stratus_cli.api.errors import ApiError, shown

ensure_importable()
from ansible_collections.stratus.compute.plugins.module_utils.compute.steps import CONSOLE_MAX_LINES  # noqa: E402
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import views as compute_views  # noqa: E402

ACTION = "os-getConsoleOutput"
_LENGTH = re.compile(r"-?[0-9]{1,6}")
# Nova's console_output.py: the control characters XML cannot carry are removed (tab, LF and CR stay)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def is_console_request(body: t.Any) -> bool:
    return isinstance(body, dict) and set(body) == {ACTION}


def _length(value: t.Any) -> int:
    """Nova's schema: {"length": integer or digits, -1 or more, or null} and nothing else; -1 or null: all
    that fits (the log's last 100 KiB). More lines than the module reads: refused."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ApiError(400, "Invalid input for field/attribute %s. Value: must be an object." % ACTION)
    unknown = sorted(k for k in value if k != "length")
    if unknown:
        raise ApiError(400, "Invalid input for field/attribute %s. Additional properties are not allowed (%s was "
                            "unexpected)" % (ACTION, shown(", ".join(map(str, unknown))[:128])))
    length = value.get("length")
    if length is None:
        return -1
    if isinstance(length, bool) or not isinstance(length, (int, str)) or not _LENGTH.fullmatch(str(length)) \
            or not -1 <= int(length) <= CONSOLE_MAX_LINES:
        raise ApiError(400, "Invalid input for field/attribute length. Value: %s. It must be an integer from -1 to "
                            "%d" % (shown(str(length)[:32]), CONSOLE_MAX_LINES))
    return int(length)


def console_output(call: Call, visible_row: t.Callable[[t.Any, Call, str], t.Any]) -> Answer:
    """The server the caller may see (else 404), Nova's rule, a host that is up (else 409), then the run."""
    config = call.config
    lines = _length(call.body[ACTION])
    with call.cloud.transaction(read_only=True) as conn:  # checks only; no lock is held during the run
        row = visible_row(conn, call, call.request.path_params["server_id"])
        call.caller.authorize("os_compute_api:os-console-output", {"project_id": row.project_id,
                                                                   "user_id": row.user_id})
        if not row.host:
            raise ApiError(409, "Instance %s is not ready: it has no host yet, so it has no console log." % row.uuid)
        if row.host not in config.hypervisors:
            raise ApiError(409, "Instance %s is on %s, which is not a hypervisor: Stratus has no console log "
                                "for it." % (row.uuid, row.host))
        (host,) = compute_views.hypervisor_views(conn, [row.host], config.hostvars, call.cloud.catalog)
    if host["state"] != "up":
        raise ApiError(409, "The compute service of host %s is down: the console log of instance %s cannot be read "
                            "now." % (row.host, row.uuid))
    try:
        text = runs.read_console(config.inventories, config.store_url, call.caller, row.host, row.uuid, lines)
    except runs.ConsoleUnavailable as exc:
        raise ApiError(409, str(exc))
    return {"output": _CONTROL.sub("", text or "")}
