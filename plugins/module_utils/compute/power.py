# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The power step on a hypervisor: stop, start and reboot libvirt domains, Nova's libvirt driver's way.

- stop: Nova's clean shutdown (``power_off``): ACPI shutdown, re-sent every ``retry_interval``
  seconds (``shutdown_retry_interval``) until the domain is shut off or ``timeout`` seconds
  (``shutdown_timeout``) have passed, then destroy; a timeout of 0 destroys at once (force stop).
- start: create the domain and wait until it runs.
- reboot_soft: the clean shutdown, falling back to destroy (hard) when it times out, then create.
- reboot_hard: destroy if running, then create.

Each waits by polling the domain's state against a deadline. Standard library and libvirt-python only.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import re
import time
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.compute.common import host_lock
from ansible_collections.stratus.compute.plugins.module_utils.compute.libvirt_conn import (
    connect, error_text, is_no_domain, libvirt,
)
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result

ACTIONS = ("stop", "start", "reboot_soft", "reboot_hard")
POLL_INTERVAL = 0.2
# How long a created domain may take to report running (libvirt's create returns once QEMU runs it).
START_TIMEOUT = 60.0
# The rule domain names follow (Nova's instance_name_template, plan.BuildPlan): instance-<uuid>.
DOMAIN_NAME_RE = re.compile(r"instance-(?P<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")

# Mirrored by the module's DOCUMENTATION (plugins/modules/compute_power.py).
POWER_ARG_SPEC: dict[str, t.Any] = {
    "uri": {"type": "str", "default": "qemu:///system"},
    "instances": {"type": "list", "elements": "dict", "default": [], "options": {
        "uuid": {"type": "str", "required": True},
        "domain_name": {"type": "str", "required": True},
        "action": {"type": "str", "required": True, "choices": list(ACTIONS)},
    }},
    "timeout": {"type": "int", "default": 60},
    "retry_interval": {"type": "int", "default": 10},
    "parallel": {"type": "int", "default": 4},
    # the action plugin's (it reads the host's servers from the store); the module ignores them
    "run_uuids": {"type": "list", "elements": "str"},
    "db_url": {"type": "str", "no_log": True},
}


@dataclasses.dataclass(frozen=True)
class Waiting:
    """How long to wait for a clean shutdown, and the clock it is measured with (tests pass a fake one)."""

    timeout: float = 60.0
    retry_interval: float = 10.0
    clock: t.Callable[[], float] = time.monotonic
    sleep: t.Callable[[float], None] = time.sleep

    def until(self, done: t.Callable[[], bool], deadline: float) -> bool:
        """Poll ``done`` until it is true (True) or the deadline passes (False)."""
        while True:
            if done():
                return True
            now = self.clock()
            if now >= deadline:
                return False
            self.sleep(min(POLL_INTERVAL, deadline - now))


def power_state(dom: t.Any) -> str:
    """The domain's power state by Nova's name, as the state store keeps it (nova.virt.libvirt.guest)."""
    names = {
        libvirt.VIR_DOMAIN_NOSTATE: "nostate", libvirt.VIR_DOMAIN_RUNNING: "running",
        # blocked is a running guest with idle vCPUs; shutdown (in progress) counts as down, as in Nova
        libvirt.VIR_DOMAIN_BLOCKED: "running", libvirt.VIR_DOMAIN_PAUSED: "paused",
        libvirt.VIR_DOMAIN_SHUTDOWN: "shutdown", libvirt.VIR_DOMAIN_SHUTOFF: "shutdown",
        libvirt.VIR_DOMAIN_CRASHED: "crashed", libvirt.VIR_DOMAIN_PMSUSPENDED: "suspended",
    }
    return names.get(dom.state()[0], "nostate")


def is_off(dom: t.Any) -> bool:
    return dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF


def is_running(dom: t.Any) -> bool:
    return dom.state()[0] in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED)


def connection_lost(exc: Exception) -> bool:
    """Whether a libvirt error means the connection broke (Nova's libvirt host test), not the domain's fault."""
    code, source = exc.get_error_code(), exc.get_error_domain()
    if code in (libvirt.VIR_ERR_NO_CONNECT, libvirt.VIR_ERR_INVALID_CONN):
        return True
    return code in (libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_ERR_INTERNAL_ERROR) and \
        source in (libvirt.VIR_FROM_REMOTE, libvirt.VIR_FROM_RPC)


@contextlib.contextmanager
def failing_as(code: str, domain_name: str, doing: str) -> t.Iterator[None]:
    """A libvirt error inside is ``code`` (the power-off or power-on failure), unless it says the
    domain is gone or the connection broke."""
    try:
        yield
    except libvirt.libvirtError as exc:
        if is_no_domain(exc):
            raise StratusError("InstanceNotFound", "domain %s does not exist on this hypervisor" % domain_name) from None
        if connection_lost(exc):
            code = "HypervisorUnavailable"
        raise StratusError(code, "%s domain %s failed: %s" % (doing, domain_name, error_text(exc))) from None


def send_acpi_shutdown(dom: t.Any) -> bool:
    """Ask the guest to shut down; False when libvirt refuses while the domain still runs."""
    try:
        dom.shutdown()
    except libvirt.libvirtError as exc:
        if is_no_domain(exc) or connection_lost(exc):
            raise
        return is_off(dom)  # it stopped between our look and the request: that is what we wanted
    return True


def clean_shutdown(dom: t.Any, waiting: Waiting) -> bool:
    """Nova's _clean_shutdown: True once the guest shut itself off, False when it did not in time."""
    if waiting.timeout <= 0:
        return False
    deadline = waiting.clock() + waiting.timeout
    while True:
        if not send_acpi_shutdown(dom):
            return False
        # A guest may miss one ACPI event (still booting, a busy handler): send again every retry_interval.
        resend_at = min(waiting.clock() + waiting.retry_interval, deadline)
        if waiting.until(lambda: is_off(dom), resend_at):
            return True
        if waiting.clock() >= deadline:
            return False


def destroy(dom: t.Any) -> None:
    try:
        dom.destroy()
    except libvirt.libvirtError:
        # The guest shut itself off between our look and the destroy: it is off, as wanted.
        if not is_off(dom):
            raise


def power_off(dom: t.Any, waiting: Waiting) -> bool:
    """Nova's power_off: a clean shutdown, or destroy when it does not end in time; True when destroyed."""
    forced = not clean_shutdown(dom, waiting)
    if forced:
        destroy(dom)
    return forced


def create_and_wait(dom: t.Any, domain_name: str, waiting: Waiting) -> None:
    with failing_as("InstancePowerOnFailure", domain_name, "starting"):
        dom.create()
        if not waiting.until(lambda: is_running(dom), waiting.clock() + START_TIMEOUT):
            raise StratusError("InstancePowerOnFailure", "domain %s did not reach running within %ds (it is %s)"
                               % (domain_name, START_TIMEOUT, power_state(dom)))


def stop(dom: t.Any, domain_name: str, waiting: Waiting) -> dict[str, t.Any]:
    with failing_as("InstancePowerOffFailure", domain_name, "stopping"):
        if is_off(dom):
            return {"changed": False, "power_state": power_state(dom)}
        forced = power_off(dom, waiting)
        return {"changed": True, "forced": forced, "power_state": power_state(dom)}


def _refuse_active_not_running(dom: t.Any, domain_name: str, action: str) -> None:
    """A paused (or crashed, suspended) domain that is still active cannot simply be created."""
    if not is_off(dom) and not is_running(dom):
        raise StratusError("InstanceInvalidState", "cannot %s domain %s while it is %s"
                           % (action, domain_name, power_state(dom)))


def start(dom: t.Any, domain_name: str, waiting: Waiting) -> dict[str, t.Any]:
    with failing_as("InstancePowerOnFailure", domain_name, "starting"):
        if is_running(dom):
            return {"changed": False, "power_state": power_state(dom)}
        _refuse_active_not_running(dom, domain_name, "start")
    create_and_wait(dom, domain_name, waiting)
    return {"changed": True, "power_state": power_state(dom)}


def _refuse_soft_reboot_unless_running(dom: t.Any, domain_name: str) -> None:
    if not is_running(dom):
        raise StratusError("InstanceInvalidState", "cannot soft reboot domain %s while it is %s: a soft reboot "
                           "needs a running server" % (domain_name, power_state(dom)))


def reboot_soft(dom: t.Any, domain_name: str, waiting: Waiting) -> dict[str, t.Any]:
    """Nova's libvirt soft reboot: a clean shutdown, hard when the guest does not stop in time, then create."""
    with failing_as("InstancePowerOffFailure", domain_name, "rebooting"):
        _refuse_soft_reboot_unless_running(dom, domain_name)
        hard_fallback = power_off(dom, waiting)
    create_and_wait(dom, domain_name, waiting)
    return {"changed": True, "hard_fallback": hard_fallback, "power_state": power_state(dom)}


def reboot_hard(dom: t.Any, domain_name: str, waiting: Waiting) -> dict[str, t.Any]:
    """Destroy whatever state the domain is in (Nova's cure for a stuck guest), then create."""
    with failing_as("InstancePowerOffFailure", domain_name, "rebooting"):
        if not is_off(dom):
            destroy(dom)
    create_and_wait(dom, domain_name, waiting)
    return {"changed": True, "power_state": power_state(dom)}


POWER_ACTIONS: dict[str, t.Callable[[t.Any, str, Waiting], dict[str, t.Any]]] = {
    "stop": stop, "start": start, "reboot_soft": reboot_soft, "reboot_hard": reboot_hard,
}
# The error of a libvirt failure before an action changed anything: what its first move would have been.
FIRST_MOVE_FAILURE = {"stop": "InstancePowerOffFailure", "start": "InstancePowerOnFailure",
                      "reboot_soft": "InstancePowerOffFailure", "reboot_hard": "InstancePowerOffFailure"}


def would_change(dom: t.Any, domain_name: str, action: str) -> dict[str, t.Any]:
    """Check mode: what the action would do to the domain as it is now (the same refusals, nothing done)."""
    with failing_as(FIRST_MOVE_FAILURE[action], domain_name, "reading"):
        if action == "stop":
            changed = not is_off(dom)
        elif action == "start":
            changed = not is_running(dom)
            if changed:
                _refuse_active_not_running(dom, domain_name, "start")
        else:
            if action == "reboot_soft":
                _refuse_soft_reboot_unless_running(dom, domain_name)
            changed = True
        return {"changed": changed, "power_state": power_state(dom)}


def find_domain(conn: t.Any, uuid: str, domain_name: str, action: str) -> t.Any:
    """The instance's domain, by the name the rule gives it and with the instance's uuid."""
    match = DOMAIN_NAME_RE.fullmatch(domain_name)
    if not match or match.group("uuid") != uuid:
        raise StratusError("InvalidRequest", "domain name %r is not instance-<uuid> for instance %s"
                           % (domain_name, uuid), "instances.domain_name")
    with failing_as(FIRST_MOVE_FAILURE[action], domain_name, "looking up"):
        dom = conn.lookupByName(domain_name)
        if dom.UUIDString() != uuid:  # a domain of that name that is not this instance's is not its domain
            raise StratusError("InstanceNotFound", "domain %s on this hypervisor has uuid %s, not instance %s's"
                               % (domain_name, dom.UUIDString(), uuid))
    return dom


def _power_state_or_none(dom: t.Any) -> t.Optional[str]:
    try:
        return power_state(dom)
    except libvirt.libvirtError:
        return None


def power_one(conn: t.Any, element: dict[str, t.Any], waiting: Waiting, check_mode: bool) -> dict[str, t.Any]:
    """One element of ``instances``: its result entry, ``ok`` True or an ``error``."""
    try:
        dom = find_domain(conn, element["uuid"], element["domain_name"], element["action"])
    except StratusError as exc:
        return {"ok": False, "changed": False, "error": exc.to_dict()}
    before = _power_state_or_none(dom)
    try:
        if check_mode:
            return dict(would_change(dom, element["domain_name"], element["action"]), ok=True)
        return dict(POWER_ACTIONS[element["action"]](dom, element["domain_name"], waiting), ok=True)
    except StratusError as exc:
        # A reboot can fail half way (destroyed, then not created): say what the domain is now.
        after = _power_state_or_none(dom)
        failed = {"ok": False, "changed": after != before, "error": exc.to_dict()}
        return dict(failed, power_state=after) if after else failed


def _checked_waiting(params: dict[str, t.Any]) -> Waiting:
    if params["timeout"] < 0:
        raise StratusError("InvalidRequest", "timeout must be 0 (destroy at once) or more seconds", "timeout")
    if params["retry_interval"] < 1:
        raise StratusError("InvalidRequest", "retry_interval must be at least 1 second", "retry_interval")
    if params["parallel"] < 1:
        raise StratusError("InvalidRequest", "parallel must be at least 1", "parallel")
    return Waiting(timeout=params["timeout"], retry_interval=params["retry_interval"])


def run_power(params: dict[str, t.Any], check_mode: bool = False, clock: t.Callable[[], float] = time.monotonic,
              sleep: t.Callable[[float], None] = time.sleep) -> dict[str, t.Any]:
    """The module's work: each instance's action, up to ``parallel`` at once (a stop waits for its guest)."""
    waiting = dataclasses.replace(_checked_waiting(params), clock=clock, sleep=sleep)
    elements = params["instances"]
    uuids = [element["uuid"] for element in elements]
    repeated = sorted({uuid for uuid in uuids if uuids.count(uuid) > 1})
    if repeated:  # two actions on one domain at once would race each other
        raise StratusError("InvalidRequest", "instances named more than once: %s" % ", ".join(repeated), "instances")
    if not elements:
        return {"changed": False, "instances": {}}
    conn = connect(params["uri"])
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(params["parallel"], len(elements))) as pool:
        outcomes = list(pool.map(lambda element: power_one(conn, element, waiting, check_mode), elements))
    results = dict(zip(uuids, outcomes))
    return {"changed": any(result["changed"] for result in results.values()), "instances": results}


def run_power_module() -> None:
    """The module's main(): parse, hold the host lock unless in check mode (nothing changes then), report."""
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec=POWER_ARG_SPEC, supports_check_mode=True)
    try:
        if module.check_mode:
            result = run_power(module.params, check_mode=True)
        else:
            with host_lock():
                result = run_power(module.params)
        module.exit_json(**result)
    except StratusError as exc:
        module.exit_json(**error_result(exc))
