"""The Redfish driver against a real Redfish service: sushy-tools' emulator with its fake driver.

The emulator (sushy-tools, pinned with the lab's BMCs) listens on 127.0.0.1 only, with HTTP basic
auth, and keeps its state in a temporary directory; it is started and stopped (by its PID) here.
sushy-tools is pinned in setup/requirements.txt, so a missing sushy-emulator (.venv/bin, the PATH,
or STRATUS_SUSHY_EMULATOR) fails the test rather than skipping it.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import typing as t
import urllib.request
from pathlib import Path

import pytest

from wait_helpers import wait_until  # tests/wait_helpers.py

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import (
    POWER_OFF, POWER_ON, BMCAccess,
)
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.drivers import driver_for
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

SYSTEM_UUID = "27946b59-9e44-4fa7-8e91-f3527a1ef094"
MAC = "52:54:00:5e:00:01"
PASSWORD = "Emul-S3cret-41"
# its bcrypt hash (cost 4) for the emulator's htpasswd: a test password, made with bcrypt.hashpw
PASSWORD_HASH = "$2b$04$72vW0nTpgLDMgevcXMqRdOtbrTLf0Jgt/E90XQpCWaptpWYtmjeim"


def emulator_command() -> t.Optional[str]:
    for candidate in (os.environ.get("STRATUS_SUSHY_EMULATOR"),
                      str(Path(sys.executable).parent / "sushy-emulator"), shutil.which("sushy-emulator")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[str]:
    """The emulator's base URL; it runs for this module's tests."""
    command = emulator_command()
    if command is None:
        pytest.fail("no sushy-emulator: sushy-tools is pinned in setup/requirements.txt (run make setup)")
    work = tmp_path_factory.mktemp("sushy-emulator")
    (work / "htpasswd").write_text("admin:%s\n" % PASSWORD_HASH)
    (work / "emulator.conf").write_text(
        "SUSHY_EMULATOR_FAKE_DRIVER = True\n"
        "SUSHY_EMULATOR_STATE_DIR = %r\n"
        "SUSHY_EMULATOR_AUTH_FILE = %r\n"
        "SUSHY_EMULATOR_FAKE_SYSTEMS = [{'uuid': %r, 'name': 'node-1', 'power_state': 'Off',\n"
        "    'external_notifier': False, 'nics': [{'mac': %r, 'ip': '127.0.0.9'}]}]\n"
        % (str(work / "state"), str(work / "htpasswd"), SYSTEM_UUID, MAC))
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    with open(work / "emulator.log", "w") as log:
        process = subprocess.Popen([command, "--config", str(work / "emulator.conf"), "-i", "127.0.0.1",
                                    "-p", str(port)], stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        wait_until(lambda: _answers(url + "/redfish/v1/"), "the emulator answers on %s" % url)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def iso_url(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[str]:
    """A small 'ISO' served over HTTP on 127.0.0.1 (the emulator downloads what it inserts)."""
    root = tmp_path_factory.mktemp("iso")
    (root / "deploy.iso").write_bytes(b"\0" * 65536)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d/deploy.iso" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def access(url: str, password: str = PASSWORD, system: str = SYSTEM_UUID) -> BMCAccess:
    return BMCAccess(node="node-1", address=url, username="admin", password=password,
                     system_id="/redfish/v1/Systems/%s" % system, timeout=30)


def test_verify_power_and_boot_device(emulator: str) -> None:
    driver = driver_for("redfish", access(emulator))
    assert driver.verify() == POWER_OFF
    driver.set_boot_device("cdrom", once=True)
    driver.power_on()
    driver.wait_for_power(POWER_ON, timeout=60, interval=0.5)  # the fake BMC applies it 1..11 s later
    driver.power_on()  # again: nothing
    driver.power_off()
    driver.wait_for_power(POWER_OFF, timeout=60, interval=0.5)


def test_inventory_reports_the_nic(emulator: str) -> None:
    inventory = driver_for("redfish", access(emulator)).read_inventory()
    assert MAC in inventory.macs


def test_virtual_media_insert_and_eject(emulator: str, iso_url: str) -> None:
    driver = driver_for("redfish", access(emulator))
    driver.insert_media(iso_url)
    driver.insert_media(iso_url)  # the same medium again: nothing
    driver.eject_media()
    driver.eject_media()


def test_wrong_password_is_auth_failed_and_not_shown(emulator: str) -> None:
    with pytest.raises(StratusError) as err:
        driver_for("redfish", access(emulator, password="wrong-" + PASSWORD)).verify()
    assert (err.value.code, err.value.field) == ("BMCAuthFailed", "hostvars[node-1].stratus_bm_password")
    assert PASSWORD not in str(err.value)


def test_unknown_system_names_the_system_id(emulator: str) -> None:
    with pytest.raises(StratusError) as err:
        driver_for("redfish", access(emulator, system="no-such-node")).verify()
    assert (err.value.code, err.value.field) == ("BMCError", "hostvars[node-1].stratus_bm_system_id")


def test_nothing_listening_is_unreachable() -> None:
    with pytest.raises(StratusError) as err:
        driver_for("redfish", access("http://127.0.0.1:%d" % free_port())).verify()
    assert (err.value.code, err.value.field) == ("BMCUnreachable", "hostvars[node-1].stratus_bm_address")
