"""End-to-end test of the lab's bare-metal nodes (stratus_lab.baremetal): a BMC namespace with its own
libvirtd, blank nodes, sushy-tools' Redfish emulator, virtualbmc and the deploy-media server, driven by
the real clients (sushy, pyghmi) and the project's Redfish and IPMI drivers: a node boots the deploy
medium (module_utils/baremetal/deploy_medium.py) of a made-up instance from virtual media, as Ironic's
ramdisk deploy does, another boots the same image and instance data by PXE from the node network's
TFTP (module_utils/baremetal/pxe.py), and each gets its address from the node network's DHCP entry. Traffic goes to the
lab's BMC address and the lab's node network only.

Its own prefix, subnet and state dir (no other test uses stxm / 10.244). Needs root.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import pycdlib
import pytest
import sushy
from pyghmi import exceptions as ipmi_exceptions
from pyghmi.ipmi import command as ipmi_command
from pyghmi.ipmi.private import session as ipmi_session

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import deploy_medium, pxe
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import POWER_OFF, BMCAccess
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.drivers import driver_for
from ansible_collections.stratus.compute.plugins.module_utils.compute import network
from ansible_collections.stratus.compute.plugins.module_utils.compute.steps import file_sha256
from stratus_lab.baremetal import NODE_LIBVIRT_NETWORK, BmcHost, bmc_of
from stratus_lab.lab import load_lab, pid_alive
from stratus_lab.machine import lab_links, lab_netns, netns_pids
from stratus_lab.paths import ROOT
from stratus_lab.session import lab_command
from wait_helpers import wait_until  # tests/wait_helpers.py

STATE = Path("/tmp/stratus-lab-bm-test")
PREFIX = "stxm"
SUBNET = "10.244"
BMC_NETNS = f"{PREFIX}-bmc"
BMC_ADDR = f"{SUBNET}.250.2"
MEDIA_URL = f"http://{BMC_ADDR}:8080"
# The first Redfish GET of a System can take ~60 s on 2 cores (libvirtd probing QEMU); far above it.
FIRST_ANSWER_S = 240.0
POWER_S = 120.0
# A node booting its deploy medium under TCG: ISOLINUX, the kernel, its DHCP, ~25 s; far above that.
BOOT_S = 900.0
# node2's address on the node network baremetal (10.241.0.0/24), as the store's IPAM would give it
NODE2_IP = "10.241.0.12"
NODE1_IP = "10.241.0.11"
IMAGES = ROOT / "build" / "images"

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(shutil.which("/usr/sbin/libvirtd") is None, reason="libvirtd not installed"),
]


def lab(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(lab_command(*args, state=STATE), capture_output=True, text=True, timeout=600,
                          check=False)
    if check:
        assert proc.returncode == 0, f"stratus_lab {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def up() -> str:
    return lab("up", "--hypervisors", "1", "--baremetal", "2", "--prefix", PREFIX, "--subnet-base", SUBNET).stdout


def status() -> dict:
    return json.loads(lab("status", "--json").stdout)


@pytest.fixture(scope="module")
def lab_up() -> Iterator[str]:
    lab("down")  # leftovers of an interrupted earlier run
    out = up()
    yield out
    lab("down", check=False)


def lab_json() -> dict:
    return json.loads((STATE / "lab.json").read_text())


def node(name: str) -> dict:
    return next(n for n in lab_json()["nodes"] if n["name"] == name)


def password(record: dict) -> str:
    return Path(record["password_file"]).read_text().strip()


def redfish(record: dict, secret: str | None = None) -> sushy.Sushy:
    auth = sushy.auth.BasicAuth(username=record["username"], password=secret or password(record))
    return sushy.Sushy(f"{record['redfish_address']}/redfish/v1", auth=auth)


def redfish_system(record: dict) -> sushy.resources.system.system.System:
    """The node's System, once the emulator answers (its first answer is the slow one)."""
    def answer() -> sushy.resources.system.system.System | None:
        try:
            return redfish(record).get_system(record["redfish_path"])
        except sushy.exceptions.ConnectionError:
            return None
    return wait_until(answer, f"the Redfish emulator to answer for {record['name']}", timeout=FIRST_ANSWER_S,
                      interval=1)


def power_state_is(system: sushy.resources.system.system.System, state: str) -> bool:
    system.refresh()
    return system.power_state == state


@pytest.fixture
def ipmi_suite3(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyghmi 1.6.19's client offers SHA-256 (cipher suite 17) first and does not check what the BMC
    answers; virtualbmc's BMC (pyghmi's own server) always answers suite 3 (SHA-1), and the client then
    fails in RAKP2 (struct.error). Start with SHA-1, as `ipmitool -C 3` would."""
    original = ipmi_session.Session._initsession  # pylint: disable=protected-access

    def sha1_first(self: ipmi_session.Session) -> None:
        original(self)
        self.attemptedhash = 1

    monkeypatch.setattr(ipmi_session.Session, "_initsession", sha1_first)


def ipmi(record: dict, secret: str | None = None) -> ipmi_command.Command:
    return ipmi_command.Command(bmc=record["ipmi_address"], port=record["ipmi_port"],
                                userid=record["username"], password=secret or password(record))


def test_nodes_recorded_without_their_password(lab_up):
    data = json.loads((STATE / "lab.json").read_text())
    assert [n["name"] for n in data["nodes"]] == ["node1", "node2"]
    secret = password(data["nodes"][0])
    assert len(secret) >= 16
    for index, record in enumerate(data["nodes"]):
        assert record["redfish_address"] == f"http://{BMC_ADDR}:8000"
        assert record["redfish_path"] == f"/redfish/v1/Systems/{record['redfish_system_id']}"
        assert (record["ipmi_address"], record["ipmi_port"]) == (BMC_ADDR, 623 + index)
        assert [nic["network"] for nic in record["nics"]] == ["baremetal"]
        assert all(len(nic["mac"].split(":")) == 6 for nic in record["nics"])
    # secrets: 0600 files; never in lab.json, the output of up or status, nor a daemon's log
    bmc_dir = STATE / "bmc"
    for secret_file in [bmc_dir / "password", bmc_dir / "htpasswd", bmc_dir / "vbmc" / "node1" / "config"]:
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600, secret_file
    shown = [(STATE / "lab.json").read_text(), lab_up, lab("status").stdout, lab("status", "--json").stdout]
    shown += [log.read_text() for log in (bmc_dir / "logs").glob("*.log")]
    assert not any(secret in text for text in shown)


def test_status_shows_the_bmc_and_its_nodes(lab_up):
    st = status()
    assert st["up"] is True
    bmc = st["bmc"]
    assert (bmc["namespace"], bmc["address"]) == (BMC_NETNS, BMC_ADDR)
    bmc_pids = netns_pids(BMC_NETNS)
    for daemon in ("libvirtd", "sushy-emulator", "vbmcd"):
        assert bmc["pids"][daemon]["alive"] and bmc["pids"][daemon]["pid"] in bmc_pids
    assert [n["name"] for n in bmc["nodes"]] == ["node1", "node2"]
    text = lab("status").stdout
    assert f"ipmi {BMC_ADDR}:624" in text and "node2" in text


def test_up_twice_changes_nothing(lab_up):
    before = status()
    out = up()
    assert "nothing changed" in out, out
    assert status()["bmc"]["pids"] == before["bmc"]["pids"]


def test_redfish_power_boot_device_and_virtual_media(lab_up):
    record = node("node1")
    system = redfish_system(record)
    assert system.power_state == sushy.PowerState.OFF
    system.reset_system(sushy.ResetType.ON)
    wait_until(lambda: power_state_is(system, sushy.PowerState.ON), "node1 on (Redfish)", timeout=POWER_S)
    system.reset_system(sushy.ResetType.FORCE_OFF)
    wait_until(lambda: power_state_is(system, sushy.PowerState.OFF), "node1 off (Redfish)", timeout=POWER_S)

    system.set_system_boot_options(sushy.BootSource.CD, enabled=sushy.BootSourceOverrideEnabled.ONCE)
    system.refresh()
    # the libvirt driver of sushy-tools 2.2.0 keeps the device but reports (and makes) it Continuous
    assert system.boot.target == sushy.BootSource.CD

    iso = make_iso(Path(lab_json()["media_dir"]) / "tiny.iso")
    cd = system.virtual_media.get_member(f"{record['redfish_path']}/VirtualMedia/Cd")
    cd.insert_media(f"{MEDIA_URL}/{iso.name}", inserted=True, write_protected=True)
    cd.refresh()
    assert cd.inserted and cd.image == f"{MEDIA_URL}/{iso.name}"
    volumes = list((STATE / "bmc" / "vmedia").iterdir())
    assert [v.stat().st_size for v in volumes] == [iso.stat().st_size]
    cd.eject_media()
    cd.refresh()
    assert not cd.inserted
    iso.unlink()


def make_iso(path: Path) -> Path:
    iso = pycdlib.PyCdlib()
    iso.new(joliet=3, vol_ident="STXLAB")
    content = b"stratus lab virtual media\n"
    iso.add_fp(io.BytesIO(content), len(content), "/HELLO.TXT;1", joliet_path="/hello.txt")
    iso.write(str(path))
    iso.close()
    return path


def http_status(url: str, method: str = "GET") -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_media_server_serves_the_media_directory_only(lab_up):
    data = lab_json()
    media = Path(data["media_dir"])
    assert (data["media_url"], media) == (MEDIA_URL, STATE / "bmc" / "media")
    assert stat.S_IMODE(media.stat().st_mode) == 0o700
    assert status()["bmc"]["pids"]["media-server"]["pid"] in netns_pids(BMC_NETNS)
    (media / "m.iso").write_bytes(b"medium")
    (media / ".m.iso.x.tmp").write_bytes(b"half")
    (media / "sub").mkdir()
    (media / "sub" / "n.iso").write_bytes(b"n")
    try:
        with urllib.request.urlopen(f"{MEDIA_URL}/m.iso", timeout=30) as answer:
            assert answer.read() == b"medium"
        assert http_status(f"{MEDIA_URL}/m.iso", "HEAD") == 200
        for path in ("/", "/.m.iso.x.tmp", "/sub", "/sub/n.iso", "/../lab.json", "/missing.iso"):
            assert http_status(MEDIA_URL + path) == 404, path
        assert http_status(f"{MEDIA_URL}/m.iso", "PUT") == 501
    finally:
        shutil.rmtree(media / "sub")
        for name in ("m.iso", ".m.iso.x.tmp"):
            (media / name).unlink()


def test_ipmi_power(lab_up, ipmi_suite3):  # pylint: disable=unused-argument
    record = node("node2")
    bmc = ipmi(record)
    assert bmc.get_power()["powerstate"] == "off"
    assert bmc.set_power("on", wait=POWER_S)["powerstate"] == "on"
    # the same node seen through Redfish: both BMCs drive one libvirt domain
    assert power_state_is(redfish_system(record), sushy.PowerState.ON)
    assert bmc.set_power("off", wait=POWER_S)["powerstate"] == "off"


def test_wrong_password_is_refused(lab_up, ipmi_suite3):  # pylint: disable=unused-argument
    record = node("node1")
    redfish_system(record)  # the emulator is up: what follows is about the password only
    with pytest.raises(sushy.exceptions.AccessError):
        redfish(record, secret="not-the-password").get_system(record["redfish_path"])
    with pytest.raises(ipmi_exceptions.IpmiException, match="(?i)password"):
        ipmi(record, secret="not-the-password").get_power()


def boot_files() -> tuple[str, str, str]:
    """The lab image's kernel, initramfs and kernel command line (lab/image/build.py, `make image`)."""
    manifest = json.loads((IMAGES / "manifest.json").read_text())
    files = {entry["kind"]: str(IMAGES / entry["file"]) for entry in manifest.get("boot_files", [])}
    assert set(files) == {"kernel", "ramdisk"}, f"{IMAGES} has no kernel and initramfs: run make image"
    return files["kernel"], files["ramdisk"], manifest["kernel_cmdline"]


def vmedia_volumes(bmc: BmcHost) -> list[str]:
    """The volumes of the BMC's pool vmedia ("<name> <path>" lines; this virsh has no vol-list --name)."""
    return [line.split()[0] for line in bmc.virsh("vol-list", "--pool", "vmedia").stdout.splitlines() if line.strip()]


def test_a_redfish_node_boots_its_deploy_medium(lab_up):
    """Ironic's ramdisk deploy through virtual media, with the project's Redfish driver: a DHCP entry for
    the node's MAC, the medium in the lab's media directory, inserted by URL, boot from CD once, power on;
    the node's console shows the config drive's name and uuid and the entry's address. Then off, ejected,
    the entry gone."""
    record = node("node2")
    instance, name = str(uuid.uuid4()), "bm-e2e"
    user_data = b"#!/bin/sh\necho deployed by stratus\n"
    public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIStratusLabDeployMedium e2e@stratus"
    kernel, ramdisk, cmdline = boot_files()
    dest = os.path.join(lab_json()["media_dir"], deploy_medium.medium_name(instance))
    medium = deploy_medium.build_deploy_medium(
        dest, kernel, ramdisk, {"uuid": instance, "name": name, "hostname": name, "public_keys": {"e2e": public_key}},
        network_data={"links": [], "networks": [], "services": []}, user_data=user_data, kernel_cmdline=cmdline)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o640
    url = f"{MEDIA_URL}/{os.path.basename(dest)}"
    driver = driver_for("redfish", BMCAccess(node=record["name"], address=record["redfish_address"],
                                             username=record["username"], password=password(record),
                                             system_id=record["redfish_path"], timeout=int(FIRST_ANSWER_S)))
    driver.power_off(force=True)  # whatever an earlier test left
    driver.wait_for_power(POWER_OFF, timeout=POWER_S)
    console = Path(record["console_log"])
    bmc = bmc_of(load_lab(STATE))
    mac = record["nics"][0]["mac"]
    dhcp = network.DirHostEntries(str(bmc.node_dhcp_hosts))
    dhcp.add(mac, NODE2_IP, name)
    started = time.monotonic()
    driver.insert_media(url)
    driver.set_boot_device("cdrom", once=True)
    driver.power_on()
    ready = f"STRATUS-GUEST ready name={name} uuid={instance} ip={NODE2_IP}"
    wait_until(lambda: ready in console.read_text(errors="replace"), f"{record['name']} to boot its medium",
               timeout=BOOT_S, interval=1)
    print(f"\n{record['name']}: deploy medium ({medium.size} bytes) booted to ready in "
          f"{time.monotonic() - started:.0f} s")
    text = console.read_text(errors="replace")
    assert (f"STRATUS-GUEST user_data bytes={len(user_data)} sha256={hashlib.sha256(user_data).hexdigest()}"
            in text)
    assert f"STRATUS-GUEST public_key name=e2e sha256={hashlib.sha256(public_key.encode()).hexdigest()}" in text

    driver.power_off(force=True)
    driver.wait_for_power(POWER_OFF, timeout=POWER_S)
    driver.eject_media()
    driver.eject_media()  # nothing inserted: nothing to do
    assert not redfish_system(record).virtual_media.get_member(f"{record['redfish_path']}/VirtualMedia/Cd").inserted
    # sushy-tools' libvirt driver keeps its upload of the medium (user data and all) as a volume of the pool
    # vmedia after the eject, named <file name, '.' as '-'>-<System id>.img (the next insert of that name
    # replaces it). The lab's BMC drops it with virsh, in the BMC namespace; `down` removes the pool.
    copy = f"{os.path.basename(dest).replace('.', '-')}-{record['redfish_system_id']}.img"
    assert copy in vmedia_volumes(bmc)
    assert file_sha256(str(STATE / "bmc" / "vmedia" / copy)) == medium.sha256
    bmc.virsh("vol-delete", "--pool", "vmedia", copy)
    assert copy not in vmedia_volumes(bmc)
    os.unlink(dest)
    # the DHCP entry goes (dnsmasq forgets it on SIGHUP; the deploy's delete also releases the lease)
    dhcp.delete(mac, NODE2_IP)
    assert network.signal_dnsmasq(NODE_LIBVIRT_NETWORK, str(bmc.root / "run" / "libvirt" / "network"))
    assert network.DirHostEntries(str(bmc.node_dhcp_hosts)).entries() == {}
    # sushy-emulator's state and downloads stay in the lab's directory (`down` removes them)
    assert (STATE / "bmc" / "sushy-state" / "vmedia.sqlite").exists()
    assert not any(path.is_file() for path in (STATE / "bmc" / "tmp").rglob("*"))


def test_an_ipmi_node_boots_by_pxe(lab_up):
    """IPMI has no virtual media: the node boots from the network. The image's kernel and ramdisk and the
    instance's config drive tree (a second initrd) in the node network's TFTP root, the node's iPXE script
    by its MAC, a DHCP entry; with the project's IPMI driver: boot from PXE once, power on; the console shows
    the config drive's name and uuid and the entry's address. Then off, the files and the entry gone."""
    record = node("node1")
    tftp_root = lab_json()["tftp_root"]
    assert tftp_root == str(STATE / "bmc" / "tftp")
    boot_script = Path(tftp_root, pxe.BOOT_SCRIPT)
    gid = boot_script.stat().st_gid  # the group the node network's dnsmasq runs as
    assert stat.S_IMODE(boot_script.stat().st_mode) == 0o640 and gid != 0
    instance, name = str(uuid.uuid4()), "bm-pxe-e2e"
    user_data = b"#!/bin/sh\necho booted by PXE\n"
    kernel, ramdisk, cmdline = boot_files()
    mac = record["nics"][0]["mac"]
    before = sorted(str(path) for path in Path(tftp_root).rglob("*"))
    boot = pxe.prepare_pxe(tftp_root, mac, instance, kernel, ramdisk, {"uuid": instance, "name": name, "hostname": name},
                           network_data={"links": [], "networks": [], "services": []}, user_data=user_data,
                           kernel_cmdline=cmdline, group=gid)
    assert all(stat.S_IMODE(os.stat(path).st_mode) == 0o640 and os.stat(path).st_gid == gid for path in boot.files)
    driver = driver_for("ipmi", BMCAccess(node=record["name"], address=f"{record['ipmi_address']}:{record['ipmi_port']}",
                                          username=record["username"], password=password(record), timeout=60))
    driver.power_off(force=True)  # whatever an earlier test left
    driver.wait_for_power(POWER_OFF, timeout=POWER_S)
    bmc = bmc_of(load_lab(STATE))
    dhcp = network.DirHostEntries(str(bmc.node_dhcp_hosts))
    dhcp.add(mac, NODE1_IP, name)
    console = Path(record["console_log"])
    started = time.monotonic()
    driver.set_boot_device("pxe", once=True)
    driver.power_on()
    ready = f"STRATUS-GUEST ready name={name} uuid={instance} ip={NODE1_IP}"
    wait_until(lambda: ready in console.read_text(errors="replace"), f"{record['name']} to boot by PXE",
               timeout=BOOT_S, interval=1)
    print(f"\n{record['name']}: PXE boot (IPMI) to ready in {time.monotonic() - started:.0f} s")
    assert (f"STRATUS-GUEST user_data bytes={len(user_data)} sha256={hashlib.sha256(user_data).hexdigest()}"
            in console.read_text(errors="replace"))

    driver.power_off(force=True)
    driver.wait_for_power(POWER_OFF, timeout=POWER_S)
    assert pxe.clean_pxe(tftp_root, mac, instance)
    assert not pxe.clean_pxe(tftp_root, mac, instance)  # idempotent
    assert not any(os.path.exists(path) for path in boot.files)
    assert sorted(str(path) for path in Path(tftp_root).rglob("*")) == sorted(
        set(before) | {str(Path(tftp_root, d)) for d in (pxe.NODE_DIR, pxe.IMAGE_DIR, pxe.INSTANCE_DIR, pxe.LOCK_FILE)})
    dhcp.delete(mac, NODE1_IP)
    assert network.signal_dnsmasq(NODE_LIBVIRT_NETWORK, str(bmc.node_dhcp_pid_dir))
    assert mac not in network.DirHostEntries(str(bmc.node_dhcp_hosts)).entries()
    driver.set_boot_device("disk", once=False)


def test_down_leaves_nothing(lab_up):
    bmc_pids = netns_pids(BMC_NETNS)
    assert bmc_pids
    lab("down")
    assert lab_netns(PREFIX) == [] and lab_links(PREFIX) == []
    wait_until(lambda: not any(pid_alive(pid) for pid in bmc_pids), "the BMC namespace's processes to be gone")
    assert not STATE.exists()
