"""DHCP host entries as files in the network's dnsmasq hosts directory: what is written, what is
read back, when dnsmasq is signalled, and what may never reach a dhcp-host line."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import typing as t
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.compute import network
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from wait_helpers import wait_until

SPEC = {"libvirt_name": "stratus-demo", "cidr": "10.240.0.0/24", "gateway": "10.240.0.1", "bridge": "stx-demo",
        "dhcp": True}
MAC = "52:54:00:aa:bb:01"


class FakeNetwork:
    def __init__(self, xml: str) -> None:
        self.xml = xml
        self.updates: list[tuple[int, str]] = []

    def XMLDesc(self, flags: int = 0) -> str:  # noqa: N802  (libvirt's name)
        return self.xml

    def isActive(self) -> bool:  # noqa: N802
        return True

    def bridgeName(self) -> str:  # noqa: N802
        return SPEC["bridge"]

    def update(self, command: int, section: int, index: int, xml: str, flags: int) -> None:
        self.updates.append((command, xml))


class FakeConn:
    def __init__(self, net: FakeNetwork) -> None:
        self.net = net

    def networkLookupByName(self, name: str) -> FakeNetwork:  # noqa: N802
        return self.net


@pytest.fixture()
def hosts_dir(tmp_path: Path) -> Path:
    return tmp_path / "stratus-demo.hostsdir"


# Takes SIGHUP and SIGUSR1 one at a time with sigwait (no handler runs inside another) and writes each
# down. Its own text never says dnsmasq: only the name given as its argument may.
FAKE = """
import os, signal
log = open(os.environ["FAKE_SIGNAL_LOG"], "a", buffering=1)
taken = {signal.SIGHUP, signal.SIGUSR1}
signal.pthread_sigmask(signal.SIG_BLOCK, taken)
log.write("ready\\n")
while True:
    log.write(signal.Signals(signal.sigwait(taken)).name + "\\n")
"""


class FakeProcess:
    """A live process named `name` on its command line that notes the SIGHUPs it takes, and counts
    those sent to it (os.kill, watched through `monkeypatch`)."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        self.log, self.sent, self.markers = tmp_path / ("%s.signals" % name), 0, 0
        # `name` is its argv[0], as a program's own name is (Python runs whatever argv[0] says)
        self.proc = subprocess.Popen([name, "-I", "-S", "-c", FAKE], executable=sys.executable,
                                     env=dict(os.environ, FAKE_SIGNAL_LOG=str(self.log)))
        real_kill = os.kill

        def kill(pid: int, sig: int) -> None:
            if pid == self.proc.pid and sig == signal.SIGHUP:
                self.sent += 1
            real_kill(pid, sig)

        monkeypatch.setattr(os, "kill", kill)
        try:
            wait_until(lambda: self._lines()[:1] == ["ready"], "%s to block its signals" % name)
        except BaseException:
            self.stop()
            raise

    def _lines(self) -> list[str]:
        assert self.proc.poll() is None, "the fake process exited (%s)" % self.proc.returncode
        return self.log.read_text().splitlines() if self.log.exists() else []

    def hups(self) -> int:
        """The SIGHUPs sent so far, once every one of them has been taken (no fixed wait: "none" needs a
        positive signal too). A marker (SIGUSR1) goes now and is waited for: a signal sent before it is
        pending by then, and Linux hands pending signals out lowest number first, so the SIGHUPs written
        down before the marker are all it will ever take of those sent. Two SIGHUPs sent at once may merge
        into one: a test that expects one per step asks after each step."""
        self.markers += 1
        os.kill(self.proc.pid, signal.SIGUSR1)

        def marker_taken() -> t.Optional[list[str]]:
            lines = self._lines()
            return lines if lines.count("SIGUSR1") >= self.markers else None

        lines = wait_until(marker_taken, "the fake process to take marker %d" % self.markers)
        upto = [i for i, line in enumerate(lines) if line == "SIGUSR1"][self.markers - 1]
        taken = lines[:upto].count("SIGHUP")
        assert taken == self.sent, "%d SIGHUP(s) sent, %d taken" % (self.sent, taken)
        return taken

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture()
def dnsmasq(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> t.Iterator[FakeProcess]:
    """A dnsmasq for the network, its pid where libvirt writes it."""
    fake = FakeProcess(tmp_path, monkeypatch, "dnsmasq")
    (tmp_path / "pids").mkdir()
    (tmp_path / "pids" / "stratus-demo.pid").write_text(str(fake.proc.pid))
    try:
        yield fake
    finally:
        fake.stop()


def test_the_network_xml_names_the_hosts_dir_and_it_reads_back(hosts_dir: Path) -> None:
    xml = network.network_xml(SPEC, str(hosts_dir))
    root = ET.fromstring(xml)
    assert root.find("forward") is None
    assert network.hosts_dir_of(xml) == str(hosts_dir)
    assert network.hosts_dir_of(network.network_xml(SPEC)) is None


def test_entries_are_files_dnsmasq_reads_and_a_rerun_changes_nothing(tmp_path: Path, hosts_dir: Path,
                                                                     dnsmasq: FakeProcess) -> None:
    hosts_dir.mkdir()  # as the network step makes it with the network
    net = FakeNetwork(network.network_xml(SPEC, str(hosts_dir)))
    book = network.DhcpHostBook(FakeConn(net), str(tmp_path / "pids"))
    assert book.ensure("stratus-demo", MAC.upper(), "10.240.0.5", "web-1") is True
    assert book.ensure("stratus-demo", "52:54:00:aa:bb:02", "10.240.0.6", "") is True
    book.reload()
    assert (hosts_dir / "52-54-00-aa-bb-01").read_text() == "52:54:00:aa:bb:01,10.240.0.5,web-1\n"
    assert (hosts_dir / "52-54-00-aa-bb-02").read_text() == "52:54:00:aa:bb:02,10.240.0.6\n"
    assert not [p for p in hosts_dir.iterdir() if p.name.startswith(".")]
    assert net.updates == []  # libvirt's XML (and its firewall) untouched
    assert dnsmasq.hups() == 0  # new files: dnsmasq reads them itself

    again = network.DhcpHostBook(FakeConn(net), str(tmp_path / "pids"))
    assert again.ensure("stratus-demo", MAC, "10.240.0.5", "web-1") is False
    again.reload()
    assert dnsmasq.hups() == 0


def test_a_changed_or_removed_entry_signals_dnsmasq_once(tmp_path: Path, hosts_dir: Path,
                                                         dnsmasq: FakeProcess) -> None:
    hosts_dir.mkdir()  # as the network step makes it (a directory made here is signalled for itself)
    net = FakeNetwork(network.network_xml(SPEC, str(hosts_dir)))
    book = network.DhcpHostBook(FakeConn(net), str(tmp_path / "pids"))
    book.ensure("stratus-demo", MAC, "10.240.0.5", "web-1")
    book.ensure("stratus-demo", "52:54:00:aa:bb:02", "10.240.0.6", "web-2")
    book.reload()
    assert dnsmasq.hups() == 0
    book = network.DhcpHostBook(FakeConn(net), str(tmp_path / "pids"))
    # A new MAC taking 10.240.0.5: the stale entry goes, and web-2 is removed.
    assert book.ensure("stratus-demo", "52:54:00:aa:bb:03", "10.240.0.5", "web-3") is True
    assert book.remove("stratus-demo", "52:54:00:aa:bb:02") is True
    assert book.remove("stratus-demo", "52:54:00:aa:bb:02") is False
    book.reload()
    assert sorted(p.name for p in hosts_dir.iterdir()) == ["52-54-00-aa-bb-03"]
    assert dnsmasq.hups() == 1


def test_a_delete_rerun_after_a_kill_still_makes_dnsmasq_forget(tmp_path: Path, hosts_dir: Path,
                                                                dnsmasq: FakeProcess) -> None:
    """The file went but the step was killed before its SIGHUP: the rerun finds nothing to remove
    (no change) and still signals, so dnsmasq does not keep the entry in memory."""
    hosts_dir.mkdir()
    net = FakeNetwork(network.network_xml(SPEC, str(hosts_dir)))
    book = network.DhcpHostBook(FakeConn(net), str(tmp_path / "pids"))
    assert book.remove("stratus-demo", MAC) is False
    book.reload()
    assert dnsmasq.hups() == 1


def test_a_hosts_dir_made_again_is_read_again(tmp_path: Path, hosts_dir: Path, dnsmasq: FakeProcess) -> None:
    """Someone removed the directory: dnsmasq lost its watch on it, so it is signalled to read it."""
    net = FakeNetwork(network.network_xml(SPEC, str(hosts_dir)))
    book = network.DhcpHostBook(FakeConn(net), str(tmp_path / "pids"))
    book.ensure("stratus-demo", MAC, "10.240.0.5", "web-1")
    book.reload()
    assert dnsmasq.hups() == 1


def test_a_network_without_the_option_keeps_entries_in_libvirt_xml(tmp_path: Path) -> None:
    net = FakeNetwork(network.network_xml(SPEC))
    book = network.DhcpHostBook(FakeConn(net), str(tmp_path))
    assert book.ensure("stratus-demo", MAC, "10.240.0.5", "web-1") is True
    assert [c for c, _xml in net.updates] == [network.libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST]
    assert "10.240.0.5" in net.updates[0][1]


@pytest.mark.parametrize("mac, ip, hostname, field", [
    (MAC, "10.240.0.5", "web,set:evil", "hostname"),
    (MAC, "10.240.0.5", "web\ndhcp-option=3,10.0.0.9", "hostname"),
    # the one hostname rule (module_utils/hostname.py); `$` let a final newline through
    (MAC, "10.240.0.5", "web\n", "hostname"),
    (MAC, "10.240.0.5", "a_b", "hostname"),
    (MAC, "10.240.0.5", "..", "hostname"),
    (MAC, "10.240.0.5", "-a", "hostname"),
    (MAC, "10.240.0.5", "a-", "hostname"),
    (MAC, "10.240.0.5", "web.-a", "hostname"),
    (MAC, "10.240.0.5", "a" * 64, "hostname"),
    (MAC, "10.240.0.5", ".".join(["a" * 63] * 4), "hostname"),   # 255 characters
    ("52:54:00:aa:bb", "10.240.0.5", "web", "mac"),
    (MAC + "\n", "10.240.0.5", "web", "mac"),
    (MAC, "10.240.0.5,ignore", "web", "ip"),
])
def test_nothing_but_a_mac_an_address_and_a_name_reaches_a_line(tmp_path: Path, hosts_dir: Path, mac: str, ip: str,
                                                                hostname: str, field: str) -> None:
    net = FakeNetwork(network.network_xml(SPEC, str(hosts_dir)))
    book = network.DhcpHostBook(FakeConn(net), str(tmp_path))
    with pytest.raises(StratusError) as info:
        book.ensure("stratus-demo", mac, ip, hostname)
    assert (info.value.code, info.value.field) == ("InvalidRequest", field)
    assert not hosts_dir.exists() or not list(hosts_dir.iterdir())


def test_a_hosts_dir_network_through_a_remote_uri_is_refused(hosts_dir: Path) -> None:
    net = FakeNetwork(network.network_xml(SPEC, str(hosts_dir)))
    with pytest.raises(StratusError) as info:
        network.DhcpHostBook(FakeConn(net), None).ensure("stratus-demo", MAC, "10.240.0.5", "web-1")
    assert info.value.field == "uri"


def test_signal_goes_only_to_a_dnsmasq(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = FakeProcess(tmp_path, monkeypatch, "sleep")
    try:
        (tmp_path / "stratus-demo.pid").write_text(str(other.proc.pid))
        assert network.signal_dnsmasq("stratus-demo", str(tmp_path)) is False
        assert other.hups() == 0
    finally:
        other.stop()
