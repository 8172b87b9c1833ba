"""The network step notices a dead dnsmasq: it makes libvirt start it again, or fails the build honestly."""
from __future__ import annotations

import subprocess
import threading
import typing as t
from pathlib import Path

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.compute import network
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from wait_helpers import wait_until

SPEC = {"libvirt_name": "stratus-demo", "cidr": "10.240.0.0/24", "gateway": "10.240.0.1", "bridge": "stx-demo",
        "dhcp": True}


@pytest.fixture()
def fake_dnsmasq() -> t.Iterator[subprocess.Popen]:
    """A live process whose command line says dnsmasq (argv[0]), as libvirt's would."""
    proc = subprocess.Popen(["dnsmasq", "600"], executable="/bin/sleep")
    try:
        # Until the child has exec'd, its command line is still the parent's.
        wait_until(lambda: b"dnsmasq" in Path("/proc/%d/cmdline" % proc.pid).read_bytes(), "the fake dnsmasq to exec")
        yield proc
    finally:
        proc.kill()
        proc.wait()


class FakeNetwork:
    """A libvirt network whose live DHCP update (re)starts dnsmasq when `restarts` says so."""

    def __init__(self, pid_dir: Path, restarts_with: t.Optional[int]) -> None:
        self.pid_dir, self.restarts_with, self.updates = pid_dir, restarts_with, []

    def isActive(self) -> bool:  # noqa: N802  (libvirt's name)
        return True

    def update(self, command: int, section: int, index: int, xml: str, flags: int) -> None:
        self.updates.append((command, section, xml, flags))
        if self.restarts_with is not None:
            (self.pid_dir / "stratus-demo.pid").write_text("%d\n" % self.restarts_with)


def dead_pid() -> int:
    proc = subprocess.Popen(["/bin/true"])
    proc.wait()
    return proc.pid


def test_a_running_dnsmasq_is_left_alone(tmp_path: Path, fake_dnsmasq: subprocess.Popen) -> None:
    (tmp_path / "stratus-demo.pid").write_text(str(fake_dnsmasq.pid))
    net = FakeNetwork(tmp_path, None)
    assert network.ensure_dhcp_server(net, SPEC, str(tmp_path)) is False
    assert net.updates == []


def test_a_dead_dnsmasq_is_started_again_by_a_live_update_of_the_placeholder(
        tmp_path: Path, fake_dnsmasq: subprocess.Popen) -> None:
    (tmp_path / "stratus-demo.pid").write_text(str(dead_pid()))
    net = FakeNetwork(tmp_path, fake_dnsmasq.pid)
    assert network.ensure_dhcp_server(net, SPEC, str(tmp_path)) is True
    (command, section, xml, flags), = net.updates
    assert command == network.libvirt.VIR_NETWORK_UPDATE_COMMAND_MODIFY
    assert section == network.libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST
    assert flags & network.libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE
    assert network.PLACEHOLDER_MAC in xml and "10.240.0.254" in xml


class SlowNetwork(FakeNetwork):
    """libvirt's dnsmasq daemonizes and writes its PID file itself: after the update call has returned."""

    def update(self, command: int, section: int, index: int, xml: str, flags: int) -> None:
        self.updates.append((command, section, xml, flags))
        self.writer = threading.Timer(0.5, (self.pid_dir / "stratus-demo.pid").write_text,
                                      ["%d\n" % self.restarts_with])
        self.writer.start()


def test_a_dnsmasq_that_writes_its_pid_file_late_is_waited_for(tmp_path: Path,
                                                               fake_dnsmasq: subprocess.Popen) -> None:
    (tmp_path / "stratus-demo.pid").write_text(str(dead_pid()))
    net = SlowNetwork(tmp_path, fake_dnsmasq.pid)
    try:
        assert network.ensure_dhcp_server(net, SPEC, str(tmp_path)) is True
    finally:
        net.writer.join()


def test_a_dnsmasq_that_does_not_come_back_fails_the_step_with_a_code(tmp_path: Path) -> None:
    (tmp_path / "stratus-demo.pid").write_text(str(dead_pid()))
    with pytest.raises(StratusError) as err:
        # nothing will start it: a short wait proves as much as the default's 30 s
        network.ensure_dhcp_server(FakeNetwork(tmp_path, None), SPEC, str(tmp_path), wait=0.2)
    assert err.value.code == "BuildAbortException" and "dnsmasq" in err.value.message


def test_a_pid_file_naming_another_program_is_not_a_dhcp_server(tmp_path: Path) -> None:
    with subprocess.Popen(["/bin/sleep", "600"]) as other:
        try:
            (tmp_path / "stratus-demo.pid").write_text(str(other.pid))
            assert network.dnsmasq_running("stratus-demo", str(tmp_path)) is False
        finally:
            other.kill()


def test_dnsmasq_as_an_argument_of_another_program_is_not_a_dhcp_server(tmp_path: Path) -> None:
    """Say a program reading dnsmasq's log holds the PID a dead dnsmasq left: its argv[0] says what it is."""
    with subprocess.Popen(["/usr/bin/python3", "-c", "import time; time.sleep(600)", "/var/log/dnsmasq.log"]) as other:
        try:
            wait_until(lambda: b"/var/log/dnsmasq" in Path("/proc/%d/cmdline" % other.pid).read_bytes(), "it to exec")
            (tmp_path / "stratus-demo.pid").write_text(str(other.pid))
            assert network.dnsmasq_running("stratus-demo", str(tmp_path)) is False
        finally:
            other.kill()


@pytest.mark.parametrize("spec, pid_dir", [(dict(SPEC, dhcp=False), "exists"), (SPEC, None), (SPEC, "missing")])
def test_nothing_to_check_without_dhcp_or_a_local_pid_dir(tmp_path: Path, spec: dict, pid_dir: t.Optional[str]) -> None:
    where = {"exists": str(tmp_path), "missing": str(tmp_path / "nope"), None: None}[pid_dir]
    net = FakeNetwork(tmp_path, None)
    assert network.ensure_dhcp_server(net, spec, where) is False
    assert net.updates == []
