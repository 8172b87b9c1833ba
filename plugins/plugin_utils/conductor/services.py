# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A hypervisor taken out of scheduling and put back (Nova's os-services update: disable with a
reason, enable): the servers on it stay; no new one lands there until it is enabled again. Or forced
down (Nova's force_down) so that its servers may be evacuated."""
from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import schema
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import compute_services
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

POLICY = "os_compute_api:os-services:update"


class ServiceResult(t.NamedTuple):
    changed: bool
    service: dict[str, t.Any]


def service_view(host: str, row: t.Any) -> dict[str, t.Any]:
    """A host's compute service as the operator left it (row None: never changed, enabled and up)."""
    disabled = bool(row is not None and row.disabled)
    return {"host": host, "binary": "nova-compute", "status": "disabled" if disabled else "enabled",
            "disabled_reason": row.disabled_reason if disabled else None,
            "forced_down": bool(row is not None and row.forced_down),
            "updated_at": row.updated_at.isoformat() if row is not None and row.updated_at else None,
            "updated_by": row.updated_by if row is not None else None}


def _check_host(caller: Caller, hypervisors: t.Sequence[str], host: str) -> None:
    caller.authorize(POLICY, field="host")
    if host not in hypervisors:
        raise StratusError("ComputeHostNotFound", "Compute host %s could not be found." % host, "host")


def _check_reason(disabled: bool, reason: t.Optional[str]) -> None:
    if reason is not None and not disabled:
        raise StratusError("InvalidRequest", "a reason goes with disabling only", "reason")
    if reason is not None and (not isinstance(reason, str) or not schema.REASON.fullmatch(reason)):
        raise StratusError("InvalidRequest", "the reason must be one line of 1 to 255 printable characters", "reason")


def _service_unchanged(row: t.Any, disabled: bool, reason: t.Optional[str]) -> bool:
    now_disabled = bool(row is not None and row.disabled)
    same_reason = not disabled or reason is None or (row is not None and row.disabled_reason == reason)
    return now_disabled == disabled and same_reason


def update_service(conn: Connection, caller: Caller, hypervisors: t.Sequence[str], host: str,
                   disabled: t.Optional[bool], reason: t.Optional[str], down: t.Optional[bool]) -> ServiceResult:
    """In the caller's transaction (the API's): disable (with a reason) or enable, and/or force down or up,
    one hypervisor, as set_host_service and set_host_down do; all checked before anything is written."""
    _check_host(caller, hypervisors, host)
    if disabled is not None:
        _check_reason(disabled, reason)
    elif reason is not None:
        raise StratusError("InvalidRequest", "a reason goes with disabling only", "reason")
    store.lock(conn)
    row = compute_services.service_row(conn, host)
    changed = False
    if disabled is not None and not _service_unchanged(row, disabled, reason):
        compute_services.set_service(conn, host, disabled, reason, caller.user_id)
        changed = True
    if down is not None and bool(row is not None and row.forced_down) != down:
        compute_services.set_forced_down(conn, host, down, caller.user_id)
        changed = True
    return ServiceResult(changed, service_view(host, compute_services.service_row(conn, host)))


def set_host_service(caller: Caller, hypervisors: t.Sequence[str], host: str, disabled: bool,
                     reason: t.Optional[str], db_url: t.Optional[str], check_mode: bool) -> ServiceResult:
    """Disable (with an optional reason) or enable one hypervisor of the inventory; idempotent."""
    _check_host(caller, hypervisors, host)
    _check_reason(disabled, reason)
    with store.transaction(db_url, locked=not check_mode) as conn:
        row = compute_services.service_row(conn, host)
        if _service_unchanged(row, disabled, reason):
            return ServiceResult(False, service_view(host, row))
        if check_mode:
            view = service_view(host, row)
            view.update(status="disabled" if disabled else "enabled", disabled_reason=reason if disabled else None)
            return ServiceResult(True, view)
        compute_services.set_service(conn, host, disabled, reason, caller.user_id)
        return ServiceResult(True, service_view(host, compute_services.service_row(conn, host)))


def set_host_down(caller: Caller, hypervisors: t.Sequence[str], host: str, down: bool, db_url: t.Optional[str],
                  check_mode: bool) -> ServiceResult:
    """Nova's force_down: the operator says a host is down (after fencing it), so evacuate may move its
    servers, and the scheduler leaves it out; or up again. Idempotent."""
    _check_host(caller, hypervisors, host)
    with store.transaction(db_url, locked=not check_mode) as conn:
        row = compute_services.service_row(conn, host)
        if bool(row is not None and row.forced_down) == down:
            return ServiceResult(False, service_view(host, row))
        if check_mode:
            return ServiceResult(True, dict(service_view(host, row), forced_down=down))
        compute_services.set_forced_down(conn, host, down, caller.user_id)
        return ServiceResult(True, service_view(host, compute_services.service_row(conn, host)))
