"""A dropped DHCP host entry's lease is released (dhcp_release <bridge> <ip> <mac>), after the entry
is gone and dnsmasq was signalled; the command line holds nothing but checked values, and a release
that cannot be done fails the instance with a clear error, not a traceback."""
from __future__ import annotations

import os
import typing as t
from pathlib import Path

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.compute import network, steps
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

from test_network_hosts_dir import MAC, SPEC, FakeConn, FakeNetwork

UUID = "6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11"
BRIDGE = SPEC["bridge"]


@pytest.fixture()
def events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One log of what happened, in order: entry files seen by each release, SIGHUPs, releases."""
    log = tmp_path / "events"
    log.write_text("")

    def hup(name: str, pid_dir: str) -> bool:
        with log.open("a") as fp:
            fp.write("hup %s\n" % name)
        return True

    monkeypatch.setattr(network, "signal_dnsmasq", hup)
    return log


def fake_tool(tmp_path: Path, events: Path, exit_code: int = 0, name: str = "dhcp_release") -> Path:
    """A dhcp_release that logs its arguments and the entry files it still sees, then exits."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    tool = bindir / name
    tool.write_text("#!/bin/sh\necho \"release $* entries=$(ls %s 2>/dev/null | tr '\\n' ' ')\" >> %s\n"
                    "[ %d -eq 0 ] || echo 'cannot setup interface: No such device' >&2\nexit %d\n"
                    % (tmp_path / "stratus-demo.hostsdir", events, exit_code, exit_code))
    tool.chmod(0o755)
    return tool


def book_with_entry(tmp_path: Path, pid_dir: t.Optional[str] = "pids") -> network.DhcpHostBook:
    hosts_dir = tmp_path / "stratus-demo.hostsdir"
    hosts_dir.mkdir(exist_ok=True)
    net = FakeNetwork(network.network_xml(SPEC, str(hosts_dir)))
    book = network.DhcpHostBook(FakeConn(net), str(tmp_path / pid_dir) if pid_dir else None)
    book.ensure("stratus-demo", MAC, "10.240.0.5", "web-1")
    return network.DhcpHostBook(FakeConn(net), str(tmp_path / pid_dir) if pid_dir else None)


def test_the_command_is_the_tool_the_bridge_the_address_and_the_mac() -> None:
    assert network.release_command("/usr/bin/dhcp_release", "stx-demo", "10.240.0.5", MAC.upper()) == \
        ["/usr/bin/dhcp_release", "stx-demo", "10.240.0.5", MAC]


@pytest.mark.parametrize("interface, ip, mac, field", [
    ("stx-demo; reboot", "10.240.0.5", MAC, "bridge"),
    ("-i", "10.240.0.5", MAC, "bridge"),
    ("stx-demo\n", "10.240.0.5", MAC, "bridge"),
    ("a-bridge-name-too-long", "10.240.0.5", MAC, "bridge"),
    ("", "10.240.0.5", MAC, "bridge"),
    ("stx-demo", "10.240.0.5 10.240.0.6", MAC, "ip"),
    ("stx-demo", "10.240.0.5\n", MAC, "ip"),
    ("stx-demo", "fd00::5", MAC, "ip"),
    ("stx-demo", "10.240.0.5", MAC + "\n", "mac"),
    ("stx-demo", "10.240.0.5", "52:54:00:aa:bb:01 --help", "mac"),
])
def test_every_value_is_checked_whole_before_it_reaches_the_command(interface: str, ip: str, mac: str,
                                                                    field: str) -> None:
    with pytest.raises(StratusError) as info:
        network.release_command("/usr/bin/dhcp_release", interface, ip, mac)
    assert (info.value.code, info.value.field) == ("InvalidRequest", field)


def test_a_mac_or_hostname_with_a_trailing_newline_never_reaches_a_dhcp_host_line(tmp_path: Path) -> None:
    book = book_with_entry(tmp_path)
    for mac, hostname in ((MAC + "\n", "web-1"), ("52:54:00:aa:bb:02", "web-2\n")):
        with pytest.raises(StratusError):
            book.ensure("stratus-demo", mac, "10.240.0.6", hostname)


def test_delete_removes_the_entry_signals_then_releases(tmp_path: Path, events: Path) -> None:
    book = book_with_entry(tmp_path)
    assert book.remove("stratus-demo", MAC, "10.240.0.5", UUID) is True
    book.reload()
    assert book.release(str(fake_tool(tmp_path, events))) == {}
    assert events.read_text().splitlines() == ["hup stratus-demo", "release %s 10.240.0.5 %s entries=" % (BRIDGE, MAC)]


def test_a_rerun_whose_entry_is_gone_releases_again(tmp_path: Path, events: Path) -> None:
    """Killed between the unlink and the release (or the release failed): the rerun still releases."""
    book = book_with_entry(tmp_path)
    book.remove("stratus-demo", MAC, "10.240.0.5", UUID)
    again = network.DhcpHostBook(book.conn, book.pid_dir)
    assert again.remove("stratus-demo", MAC, "10.240.0.5", UUID) is False
    again.reload()
    assert again.release(str(fake_tool(tmp_path, events))) == {}
    assert events.read_text().splitlines()[-1] == "release %s 10.240.0.5 %s entries=" % (BRIDGE, MAC)


def test_an_entry_replaced_by_a_new_mac_has_its_lease_released(tmp_path: Path, events: Path) -> None:
    book = book_with_entry(tmp_path)
    assert book.ensure("stratus-demo", "52:54:00:aa:bb:09", "10.240.0.5", "web-9", UUID) is True
    book.reload()
    assert book.release(str(fake_tool(tmp_path, events))) == {}
    assert events.read_text().splitlines()[-1] == "release %s 10.240.0.5 %s entries=52-54-00-aa-bb-09 " % (BRIDGE, MAC)


def test_nothing_to_release_through_a_remote_uri(tmp_path: Path, events: Path) -> None:
    net = FakeNetwork(network.network_xml(SPEC))
    book = network.DhcpHostBook(FakeConn(net), None)
    book.remove("stratus-demo", MAC, "10.240.0.5", UUID)
    assert book.release(str(fake_tool(tmp_path, events))) == {}
    assert "release" not in events.read_text()


def test_a_missing_tool_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network, "DHCP_RELEASE_DIRS", (str(tmp_path),))
    assert network.find_dhcp_release() is None
    with pytest.raises(StratusError) as info:
        network.release_lease(BRIDGE, "10.240.0.5", MAC)
    assert "dnsmasq-utils" in info.value.message and MAC in info.value.message


def run_delete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tool_dir: Path) -> dict[str, t.Any]:
    """The network step's delete for one instance, against the fake network, with `tool_dir` as the
    only place dhcp_release may be."""
    book = book_with_entry(tmp_path)
    monkeypatch.setattr(steps, "connect", lambda uri: book.conn)
    monkeypatch.setattr(network, "DNSMASQ_PID_DIR", book.pid_dir)
    monkeypatch.setattr(network, "DHCP_RELEASE_DIRS", (str(tool_dir),))
    inst = {"uuid": UUID, "nics": [{"libvirt_network": "stratus-demo", "mac": MAC, "ip": "10.240.0.5",
                                    "network_id": "n1"}]}
    return steps.run_network({"uri": "qemu:///system", "state": "absent", "instances": [inst]})


def test_a_delete_whose_lease_cannot_be_released_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               events: Path) -> None:
    empty = tmp_path / "no-tools"
    empty.mkdir()
    result = run_delete(tmp_path, monkeypatch, empty)
    one = result["instances"][UUID]
    assert one["ok"] is False and "exception" not in one
    assert one["error"]["code"] == "BuildAbortException"
    assert "dhcp_release is not installed" in one["error"]["message"] and "dnsmasq-utils" in one["error"]["message"]
    assert not (tmp_path / "stratus-demo.hostsdir" / "52-54-00-aa-bb-01").exists()  # the entry went all the same
    assert events.read_text() == "hup stratus-demo\n"


def test_a_failing_release_names_the_lease_and_the_tool_s_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                events: Path) -> None:
    tool = fake_tool(tmp_path, events, exit_code=1)
    one = run_delete(tmp_path, monkeypatch, tool.parent)["instances"][UUID]
    assert one["ok"] is False
    assert "%s (10.240.0.5) on %s" % (MAC, BRIDGE) in one["error"]["message"]
    assert "exited 1: cannot setup interface" in one["error"]["message"]


def test_a_delete_releases_through_the_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, events: Path) -> None:
    tool = fake_tool(tmp_path, events)
    one = run_delete(tmp_path, monkeypatch, tool.parent)["instances"][UUID]
    assert one == {"ok": True, "changed": True}
    assert events.read_text().splitlines() == ["hup stratus-demo", "release %s 10.240.0.5 %s entries=" % (BRIDGE, MAC)]
    assert os.access(tool, os.X_OK)
