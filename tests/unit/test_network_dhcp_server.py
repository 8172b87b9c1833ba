"""The network step notices a dead dnsmasq: it makes libvirt start it again, or fails the build honestly."""
from __future__ import annotations

import os
import signal
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


class LibvirtNetwork(FakeNetwork):
    """libvirt's own test of its dnsmasq (networkRefreshDhcpDaemon): alive when kill(pid, 0) succeeds
    on the PID it keeps, which it does for a zombie and for a PID another process holds now. Then
    the update only signals that PID (recorded here, not sent) and starts nothing."""

    def __init__(self, pid_dir: Path, restarts_with: int, kept_pid: int) -> None:
        super().__init__(pid_dir, restarts_with)
        self.kept_pid, self.signalled = kept_pid, []

    def update(self, command: int, section: int, index: int, xml: str, flags: int) -> None:
        self.updates.append((command, section, xml, flags))
        try:
            os.kill(self.kept_pid, 0)
        except ProcessLookupError:
            (self.pid_dir / "stratus-demo.pid").write_text("%d\n" % self.restarts_with)
            self.kept_pid = self.restarts_with
            return
        self.signalled.append(self.kept_pid)


@pytest.fixture()
def killed_dnsmasq() -> t.Iterator[subprocess.Popen]:
    """A dnsmasq SIGKILLed and not reaped yet: a zombie until its parent (here this test) waits for it."""
    proc = subprocess.Popen(["dnsmasq", "600"], executable="/bin/sleep")
    proc.kill()
    wait_until(lambda: Path("/proc/%d/stat" % proc.pid).read_text().rpartition(")")[2].split()[0] == "Z",
               "the killed dnsmasq to be a zombie")
    try:
        yield proc
    finally:
        proc.wait()


def test_a_killed_dnsmasq_not_yet_reaped_is_waited_out_before_libvirt_is_asked(
        tmp_path: Path, fake_dnsmasq: subprocess.Popen, killed_dnsmasq: subprocess.Popen) -> None:
    (tmp_path / "stratus-demo.pid").write_text(str(killed_dnsmasq.pid))
    net = LibvirtNetwork(tmp_path, fake_dnsmasq.pid, killed_dnsmasq.pid)
    # init reaps it a moment later (every 2 s in the lab's container)
    reaper = threading.Timer(0.5, killed_dnsmasq.wait)
    reaper.start()
    try:
        assert network.ensure_dhcp_server(net, SPEC, str(tmp_path), wait=20) is True
    finally:
        reaper.join()
    assert net.signalled == [] and len(net.updates) == 1
    assert network.dnsmasq_pid("stratus-demo", str(tmp_path)) == fake_dnsmasq.pid


def test_a_killed_dnsmasq_never_reaped_fails_the_step_without_asking_libvirt(
        tmp_path: Path, killed_dnsmasq: subprocess.Popen) -> None:
    (tmp_path / "stratus-demo.pid").write_text(str(killed_dnsmasq.pid))
    net = LibvirtNetwork(tmp_path, 1, killed_dnsmasq.pid)
    with pytest.raises(StratusError) as err:
        network.ensure_dhcp_server(net, SPEC, str(tmp_path), wait=0.3)
    assert err.value.code == "BuildAbortException" and "not reaped" in err.value.message
    assert net.updates == []


def test_a_dead_dnsmasqs_pid_held_by_another_program_is_not_signalled(tmp_path: Path) -> None:
    with subprocess.Popen(["/bin/sleep", "600"]) as other:
        try:
            (tmp_path / "stratus-demo.pid").write_text(str(other.pid))
            net = LibvirtNetwork(tmp_path, 1, other.pid)
            with pytest.raises(StratusError) as err:
                network.ensure_dhcp_server(net, SPEC, str(tmp_path), wait=20)
            assert err.value.code == "BuildAbortException" and "another process" in err.value.message
            assert net.updates == [] and other.poll() is None
        finally:
            other.send_signal(signal.SIGKILL)


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
