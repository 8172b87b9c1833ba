"""The power step on a hypervisor (module_utils/compute/power.py): stop, start, reboot of libvirt domains."""
from __future__ import annotations

import typing as t

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.compute import power
from ansible_collections.stratus.compute.plugins.module_utils.compute.libvirt_conn import libvirt

UUID = "6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11"
NAME = "instance-%s" % UUID
RUNNING, SHUTOFF, PAUSED = libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_PAUSED


def libvirt_error(code: int, message: str, source: int = 0) -> Exception:
    exc = libvirt.libvirtError(message)
    exc.err = (code, source, message, 2, None, None, None, 0, 0)
    return exc


class FakeClock:
    """Time that passes only when slept: a test of a 60 s timeout takes no time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert 0 < seconds <= power.POLL_INTERVAL  # polls, never one long sleep
        self.now += seconds


class FakeDomain:
    """A libvirt domain whose guest shuts down ``acpi_delay`` seconds after the ACPI request (None: never)."""

    def __init__(self, clock: FakeClock, state: int = RUNNING, acpi_delay: t.Optional[float] = 3.0,
                 uuid: str = UUID) -> None:
        self.clock = clock
        self._state = state
        self.acpi_delay = acpi_delay
        self.uuid = uuid
        self.calls: list[tuple[str, float]] = []
        self.off_at: t.Optional[float] = None

    def state(self) -> list[int]:
        if self.off_at is not None and self.clock() >= self.off_at:
            self._state, self.off_at = SHUTOFF, None
        return [self._state, 0]

    def UUIDString(self) -> str:  # noqa: N802  (libvirt's names)
        return self.uuid

    def shutdown(self) -> None:
        self.calls.append(("shutdown", self.clock()))
        if self.state()[0] == SHUTOFF:
            raise libvirt_error(libvirt.VIR_ERR_OPERATION_INVALID, "domain is not running")
        if self.acpi_delay is not None and self.off_at is None:
            self.off_at = self.clock() + self.acpi_delay

    def destroy(self) -> None:
        self.calls.append(("destroy", self.clock()))
        self._state, self.off_at = SHUTOFF, None

    def create(self) -> None:
        self.calls.append(("create", self.clock()))
        if self.state()[0] != SHUTOFF:
            raise libvirt_error(libvirt.VIR_ERR_OPERATION_INVALID, "domain is already running")
        self._state = RUNNING

    def did(self) -> list[str]:
        return [name for name, _at in self.calls]


class FakeConn:
    def __init__(self, domains: dict[str, FakeDomain]) -> None:
        self.domains = domains

    def lookupByName(self, name: str) -> FakeDomain:  # noqa: N802
        if name not in self.domains:
            raise libvirt_error(libvirt.VIR_ERR_NO_DOMAIN, "Domain not found: no domain with matching name '%s'" % name)
        return self.domains[name]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def run(monkeypatch: pytest.MonkeyPatch, clock: FakeClock, dom: t.Optional[FakeDomain], action: str,
        check_mode: bool = False, **options: t.Any) -> dict[str, t.Any]:
    """The module's work on one domain named NAME (None: no such domain); returns its result entry."""
    conn = FakeConn({NAME: dom} if dom else {})
    monkeypatch.setattr(power, "connect", lambda uri: conn)
    params = dict({"uri": "test:///fake", "timeout": 60, "retry_interval": 10, "parallel": 4,
                   "instances": [{"uuid": UUID, "domain_name": NAME, "action": action}]}, **options)
    result = power.run_power(params, check_mode=check_mode, clock=clock, sleep=clock.sleep)
    entry = result["instances"][UUID]
    assert result["changed"] == entry["changed"]
    return entry


def test_stop_of_a_guest_that_obeys_acpi_waits_until_it_is_off(monkeypatch, clock):
    dom = FakeDomain(clock, acpi_delay=3.0)
    assert run(monkeypatch, clock, dom, "stop") == {"ok": True, "changed": True, "forced": False,
                                                    "power_state": "shutdown"}
    assert dom.did() == ["shutdown"]
    assert 3.0 <= clock.now < 3.0 + 2 * power.POLL_INTERVAL  # noticed within a poll or two


def test_stop_of_a_guest_that_ignores_acpi_resends_then_destroys_at_the_timeout(monkeypatch, clock):
    dom = FakeDomain(clock, acpi_delay=None)
    entry = run(monkeypatch, clock, dom, "stop", timeout=30, retry_interval=10)
    assert entry == {"ok": True, "changed": True, "forced": True, "power_state": "shutdown"}
    assert dom.did() == ["shutdown", "shutdown", "shutdown", "destroy"]
    assert [round(at) for _name, at in dom.calls] == [0, 10, 20, 30]


def test_stop_of_a_stopped_domain_changes_nothing(monkeypatch, clock):
    dom = FakeDomain(clock, state=SHUTOFF)
    assert run(monkeypatch, clock, dom, "stop") == {"ok": True, "changed": False, "power_state": "shutdown"}
    assert dom.did() == []


def test_stop_with_timeout_0_destroys_at_once(monkeypatch, clock):
    dom = FakeDomain(clock)
    assert run(monkeypatch, clock, dom, "stop", timeout=0)["forced"] is True
    assert dom.did() == ["destroy"] and clock.now == 0


def test_start_creates_a_stopped_domain_and_leaves_a_running_one(monkeypatch, clock):
    stopped = FakeDomain(clock, state=SHUTOFF)
    assert run(monkeypatch, clock, stopped, "start") == {"ok": True, "changed": True, "power_state": "running"}
    assert stopped.did() == ["create"]
    running = FakeDomain(clock)
    assert run(monkeypatch, clock, running, "start") == {"ok": True, "changed": False, "power_state": "running"}
    assert running.did() == []


def test_start_of_a_paused_domain_is_refused(monkeypatch, clock):
    entry = run(monkeypatch, clock, FakeDomain(clock, state=PAUSED), "start")
    assert entry["error"]["code"] == "InstanceInvalidState" and "paused" in entry["error"]["message"]


def test_soft_reboot_shuts_down_cleanly_then_creates(monkeypatch, clock):
    dom = FakeDomain(clock, acpi_delay=2.0)
    assert run(monkeypatch, clock, dom, "reboot_soft") == {"ok": True, "changed": True, "hard_fallback": False,
                                                           "power_state": "running"}
    assert dom.did() == ["shutdown", "create"]


def test_soft_reboot_of_a_guest_that_ignores_acpi_falls_back_to_hard(monkeypatch, clock):
    dom = FakeDomain(clock, acpi_delay=None)
    entry = run(monkeypatch, clock, dom, "reboot_soft", timeout=5, retry_interval=10)
    assert entry == {"ok": True, "changed": True, "hard_fallback": True, "power_state": "running"}
    assert dom.did() == ["shutdown", "destroy", "create"]
    assert round(clock.now) == 5


def test_soft_reboot_of_a_stopped_domain_is_refused_and_changes_nothing(monkeypatch, clock):
    dom = FakeDomain(clock, state=SHUTOFF)
    entry = run(monkeypatch, clock, dom, "reboot_soft")
    assert entry["ok"] is False and entry["changed"] is False
    assert entry["error"]["code"] == "InstanceInvalidState" and "needs a running server" in entry["error"]["message"]
    assert dom.did() == []


@pytest.mark.parametrize("state, did", [(RUNNING, ["destroy", "create"]), (SHUTOFF, ["create"]),
                                        (PAUSED, ["destroy", "create"])])
def test_hard_reboot_destroys_unless_off_then_creates(monkeypatch, clock, state, did):
    dom = FakeDomain(clock, state=state)
    assert run(monkeypatch, clock, dom, "reboot_hard") == {"ok": True, "changed": True, "power_state": "running"}
    assert dom.did() == did


def test_a_missing_domain_is_instance_not_found_naming_it(monkeypatch, clock):
    entry = run(monkeypatch, clock, None, "stop")
    assert entry["ok"] is False
    assert entry["error"]["code"] == "InstanceNotFound" and NAME in entry["error"]["message"]


def test_a_domain_of_that_name_with_another_uuid_is_not_the_instance_s(monkeypatch, clock):
    dom = FakeDomain(clock, uuid="00000000-0000-4000-8000-000000000000")
    entry = run(monkeypatch, clock, dom, "reboot_hard")
    assert entry["error"]["code"] == "InstanceNotFound" and dom.did() == []


@pytest.mark.parametrize("name", ["test", "instance-%s\n" % UUID, "instance-%s" % UUID.upper(),
                                  "instance-00000000-0000-4000-8000-000000000000"])
def test_a_domain_name_that_is_not_instance_uuid_is_refused(monkeypatch, clock, name):
    monkeypatch.setattr(power, "connect", lambda uri: FakeConn({}))
    params = {"uri": "test:///fake", "timeout": 60, "retry_interval": 10, "parallel": 1,
              "instances": [{"uuid": UUID, "domain_name": name, "action": "stop"}]}
    entry = power.run_power(params)["instances"][UUID]
    assert entry["error"]["code"] == "InvalidRequest" and entry["error"]["field"] == "instances.domain_name"


@pytest.mark.parametrize("state, action, changed", [
    (RUNNING, "stop", True), (SHUTOFF, "stop", False), (SHUTOFF, "start", True), (RUNNING, "start", False),
    (RUNNING, "reboot_soft", True), (SHUTOFF, "reboot_hard", True),
])
def test_check_mode_says_what_would_change_and_changes_nothing(monkeypatch, clock, state, action, changed):
    dom = FakeDomain(clock, state=state)
    entry = run(monkeypatch, clock, dom, action, check_mode=True)
    assert entry == {"ok": True, "changed": changed, "power_state": power.power_state(dom)}
    assert dom.did() == [] and dom.state()[0] == state


def test_check_mode_refuses_what_the_action_would_refuse(monkeypatch, clock):
    entry = run(monkeypatch, clock, FakeDomain(clock, state=SHUTOFF), "reboot_soft", check_mode=True)
    assert entry["error"]["code"] == "InstanceInvalidState"


def test_a_libvirt_failure_is_the_action_s_error_and_a_broken_connection_the_hypervisor_s(monkeypatch, clock):
    class Refusing(FakeDomain):
        def create(self) -> None:
            raise libvirt_error(libvirt.VIR_ERR_INTERNAL_ERROR, "qemu unexpectedly closed the monitor")

    entry = run(monkeypatch, clock, Refusing(clock, state=SHUTOFF), "start")
    assert entry["error"]["code"] == "InstancePowerOnFailure" and "closed the monitor" in entry["error"]["message"]
    assert entry["changed"] is False and entry["power_state"] == "shutdown"
    # half way: destroyed, then not created; the entry says so
    entry = run(monkeypatch, clock, Refusing(clock), "reboot_hard")
    assert entry["error"]["code"] == "InstancePowerOnFailure"
    assert entry["changed"] is True and entry["power_state"] == "shutdown"

    class Unreachable(FakeDomain):
        def destroy(self) -> None:
            raise libvirt_error(libvirt.VIR_ERR_SYSTEM_ERROR, "End of file while reading data", libvirt.VIR_FROM_RPC)

    entry = run(monkeypatch, clock, Unreachable(clock), "stop", timeout=0)
    assert entry["error"]["code"] == "HypervisorUnavailable"


def test_a_guest_that_stops_just_before_the_destroy_is_stopped_not_failed(monkeypatch, clock):
    class StopsByItself(FakeDomain):
        def destroy(self) -> None:
            self._state = SHUTOFF
            raise libvirt_error(libvirt.VIR_ERR_OPERATION_INVALID, "domain is not running")

    assert run(monkeypatch, clock, StopsByItself(clock, acpi_delay=None), "stop", timeout=1)["forced"] is True


def test_one_call_handles_each_instance_alone_and_refuses_a_repeated_one(monkeypatch, clock):
    other = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
    domains = {NAME: FakeDomain(clock, state=SHUTOFF), "instance-" + other: FakeDomain(clock, uuid=other)}
    monkeypatch.setattr(power, "connect", lambda uri: FakeConn(domains))
    params = {"uri": "test:///fake", "timeout": 60, "retry_interval": 10, "parallel": 2, "instances": [
        {"uuid": UUID, "domain_name": NAME, "action": "reboot_soft"},
        {"uuid": other, "domain_name": "instance-" + other, "action": "reboot_hard"}]}
    result = power.run_power(params)
    assert result["changed"] is True
    assert result["instances"][UUID]["error"]["code"] == "InstanceInvalidState"
    assert result["instances"][other] == {"ok": True, "changed": True, "power_state": "running"}
    with pytest.raises(power.StratusError, match="named more than once"):
        power.run_power(dict(params, instances=params["instances"] * 2))


def test_with_libvirt_s_test_driver():
    """libvirt's own test driver (test:///default, kept per process while a connection is open)."""
    keep = libvirt.open("test:///default")
    uuid = "5d3c1b2a-0f9e-4d8c-b7a6-958473625140"
    name = "instance-" + uuid
    dom = keep.defineXML("<domain type='test'><name>%s</name><uuid>%s</uuid><memory>65536</memory>"
                         "<os><type>hvm</type></os></domain>" % (name, uuid))
    try:
        def act(action: str, **options: t.Any) -> dict[str, t.Any]:
            params = dict({"uri": "test:///default", "timeout": 5, "retry_interval": 1, "parallel": 4,
                           "instances": [{"uuid": uuid, "domain_name": name, "action": action}]}, **options)
            return power.run_power(params)["instances"][uuid]

        assert act("start") == {"ok": True, "changed": True, "power_state": "running"}
        assert act("start")["changed"] is False
        assert act("reboot_soft") == {"ok": True, "changed": True, "hard_fallback": False, "power_state": "running"}
        assert act("reboot_hard") == {"ok": True, "changed": True, "power_state": "running"}
        assert act("stop") == {"ok": True, "changed": True, "forced": False, "power_state": "shutdown"}
        assert act("stop")["changed"] is False
        assert act("reboot_soft")["error"]["code"] == "InstanceInvalidState"
        assert act("start")["power_state"] == "running"
        assert act("stop", timeout=0)["forced"] is True
        assert dom.state()[0] == SHUTOFF
    finally:
        dom.undefine()
        keep.close()
