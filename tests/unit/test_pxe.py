"""PXE boot of a bare-metal node (module_utils/baremetal/pxe.py): the TFTP root's files, read back (the
config drive cpio with the newc reader and with cpio(1) when it is installed), the iPXE scripts, same
bytes on a rerun, bad input refused before anything is written, clean. The kernel and ramdisk are
made-up bytes of the right shape; tests/e2e/test_lab_baremetal.py boots a real pair by PXE."""
from __future__ import annotations

import gzip
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import pxe
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.newc import NewcArchive, read_newc
from ansible_collections.stratus.compute.plugins.module_utils.compute import config_drive as cd
from ansible_collections.stratus.compute.plugins.module_utils.compute import network
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

UUID = "3f6c2a1e-9b7d-4c55-8e21-0a1b2c3d4e5f"
UUID2 = "8a0d3c52-1b1e-4f0e-9a77-5c0b6d2e4f10"
MAC = "52:54:00:b0:03:01"
MAC2 = "52:54:00:b0:04:01"
META = {"uuid": UUID, "name": "bm-3", "hostname": "bm-3", "public_keys": {"lab": "ssh-ed25519 AAAAC3Nza lab@stratus"}}
NETWORK = {"links": [], "networks": [], "services": []}
USER_DATA = b"#!/bin/sh\necho hello\n\x00\xff"
FILES = [("/etc/motd", b"welcome\n")]
CMDLINE = "console=ttyS0 quiet"


@pytest.fixture(name="parts")
def fixture_parts(tmp_path: Path) -> dict[str, str]:
    """A bzImage-shaped kernel ("HdrS" at 0x202), a gzip'd cpio ramdisk, an empty TFTP root."""
    paths = {"kernel": tmp_path / "vmlinuz", "ramdisk": tmp_path / "initrd", "root": tmp_path / "tftp"}
    paths["kernel"].write_bytes(os.urandom(0x202) + b"HdrS" + os.urandom(8192))
    paths["ramdisk"].write_bytes(gzip.compress(b"070701" + b"0" * 200, mtime=0))
    paths["root"].mkdir()
    return {name: str(path) for name, path in paths.items()}


def prepare(parts: dict[str, str], **overrides: object) -> pxe.PxeBoot:
    args: dict[str, object] = {
        "tftp_root": parts["root"], "mac": MAC, "instance_uuid": UUID, "kernel": parts["kernel"],
        "ramdisk": parts["ramdisk"], "meta_data": META, "network_data": NETWORK, "user_data": USER_DATA,
        "files": FILES, "kernel_cmdline": CMDLINE}
    args.update(overrides)
    return pxe.prepare_pxe(**args)  # type: ignore[arg-type]


def tree(root: str) -> dict[str, tuple[int, bytes | None]]:
    """Every path below root (relative) -> (mode, content or None for a directory)."""
    found: dict[str, tuple[int, bytes | None]] = {}
    for path in sorted(Path(root).rglob("*")):
        mode = stat.S_IMODE(path.lstat().st_mode)
        found[str(path.relative_to(root))] = (mode, None if path.is_dir() else path.read_bytes())
    return found


def sha256(path: str) -> str:
    return pxe._sha256_of(path, "x")  # pylint: disable=protected-access


def test_prepare_writes_the_images_the_config_cpio_and_the_node_script(parts):
    boot = prepare(parts)
    assert boot.changed
    kernel, ramdisk = "images/" + sha256(parts["kernel"]), "images/" + sha256(parts["ramdisk"])
    cpio = f"instances/{UUID}/config-2.cpio"
    assert boot.script == os.path.join(parts["root"], "pxe/52-54-00-b0-03-01.ipxe")
    assert boot.files == tuple(os.path.join(parts["root"], n) for n in ("pxe/52-54-00-b0-03-01.ipxe", kernel, ramdisk, cpio))
    assert Path(boot.script).read_text() == (
        "#!ipxe\n"
        f"# Stratus: instance {UUID}\n"
        f"kernel /{kernel} console=ttyS0 quiet\n"
        f"initrd /{ramdisk}\n"
        f"initrd /{cpio}\n"
        "boot\n")
    found = tree(parts["root"])
    assert found[kernel] == (0o640, Path(parts["kernel"]).read_bytes())
    assert found[ramdisk] == (0o640, Path(parts["ramdisk"]).read_bytes())
    for directory in ("pxe", "images", "instances", f"instances/{UUID}"):
        assert found[directory] == (0o750, None)
    # the lock file is a dot name (never asked for by a script), root's only
    assert found[pxe.LOCK_FILE][0] == 0o600
    assert not [name for name in found if name.endswith(".tmp")]


def test_the_config_cpio_holds_the_config_drive_tree_under_stratus_config_2(parts):
    prepare(parts)
    data = Path(parts["root"], f"instances/{UUID}/config-2.cpio").read_bytes()
    entries = {name: (mode, content) for name, mode, content in read_newc(data)}
    expected = cd.config_drive_tree(META, NETWORK, USER_DATA, None, FILES)
    assert list(entries) == ["stratus", "stratus/config-2"] + ["stratus/config-2/" + "/".join(p) for p, _content in expected]
    for parts_, content in expected:
        mode, got = entries["stratus/config-2/" + "/".join(parts_)]
        if content is None:
            assert mode == stat.S_IFDIR | 0o700
        else:
            assert (mode, got) == (stat.S_IFREG | 0o600, content)
    assert entries["stratus/config-2/openstack/latest/user_data"][1] == USER_DATA
    assert len(data) % 4 == 0  # Linux reads the next initrd at a 4-byte boundary


@pytest.mark.skipif(shutil.which("cpio") is None, reason="cpio(1) not installed")
def test_cpio_reads_the_config_cpio_back(parts, tmp_path):
    prepare(parts)
    out = tmp_path / "out"
    out.mkdir()
    with open(Path(parts["root"], f"instances/{UUID}/config-2.cpio"), "rb") as archive:
        subprocess.run(["cpio", "-i", "-d", "--quiet", "--no-absolute-filenames"], stdin=archive, cwd=out, check=True)
    assert (out / "stratus/config-2/openstack/latest/user_data").read_bytes() == USER_DATA
    assert b'"uuid": "%s"' % UUID.encode() in (out / "stratus/config-2/openstack/latest/meta_data.json").read_bytes()


def test_the_global_script_chains_by_mac(parts):
    assert pxe.write_boot_script(parts["root"])
    assert not pxe.write_boot_script(parts["root"])
    text = Path(parts["root"], pxe.BOOT_SCRIPT).read_text()
    assert text.startswith("#!ipxe\n")
    assert "chain pxe/${mac:hexhyp}.ipxe || exit\n" in text
    assert pxe.node_script_name(MAC) == "pxe/52-54-00-b0-03-01.ipxe"


def test_a_rerun_writes_nothing_and_the_bytes_are_the_same(parts):
    prepare(parts)
    before = tree(parts["root"])
    inodes = {p: os.stat(os.path.join(parts["root"], p)).st_ino for p in before}
    again = prepare(parts)
    assert not again.changed
    assert tree(parts["root"]) == before
    assert {p: os.stat(os.path.join(parts["root"], p)).st_ino for p in before} == inodes
    assert pxe.config_cpio(META, NETWORK, USER_DATA, None, FILES) == pxe.config_cpio(META, NETWORK, USER_DATA, None, FILES)


def test_new_user_data_rewrites_the_cpio_only(parts):
    prepare(parts)
    before = tree(parts["root"])
    assert prepare(parts, user_data=b"other").changed
    after = tree(parts["root"])
    assert {p for p in after if after[p] != before[p]} == {f"instances/{UUID}/config-2.cpio"}


def test_mode_0600_and_a_group(parts):
    gid = os.getgid()
    prepare(parts, mode=0o600, group=gid)
    for name, (mode, content) in tree(parts["root"]).items():
        if name != pxe.LOCK_FILE:
            assert mode == (0o700 if content is None else 0o600), name
            assert os.stat(os.path.join(parts["root"], name)).st_gid == gid


@pytest.mark.parametrize("field, overrides", [
    ("tftp_root", {"tftp_root": "relative/tftp"}),
    ("tftp_root", {"tftp_root": "/srv/tftp\n"}),
    ("tftp_root", {"tftp_root": "/srv/../etc"}),
    ("tftp_root", {"tftp_root": "/no/such/dir"}),
    ("mac", {"mac": "52:54:00:B0:03:01"}),
    ("mac", {"mac": "52:54:00:b0:03:01\n"}),
    ("mac", {"mac": "../../etc/passwd"}),
    ("instance_uuid", {"instance_uuid": UUID.upper()}),
    ("instance_uuid", {"instance_uuid": "../" + UUID}),
    ("mode", {"mode": 0o644}),
    ("group", {"group": -1}),
    ("group", {"group": "dip"}),
    ("kernel_cmdline", {"kernel_cmdline": "console=ttyS0 ${root}"}),
    ("kernel_cmdline", {"kernel_cmdline": "console=ttyS0\nshell"}),
    ("kernel_cmdline", {"kernel_cmdline": "a || shell"}),
    ("kernel_cmdline", {"kernel_cmdline": "x" * 1025}),
    ("kernel", {"kernel": "/no/such/vmlinuz"}),
    ("ramdisk", {"ramdisk": "/no/such/initrd"}),
    ("config_drive", {"meta_data": "not a dict"}),
    ("config_drive", {"user_data": 42}),
])
def test_bad_input_is_refused_before_anything_is_written(parts, field, overrides):
    with pytest.raises(StratusError) as err:
        prepare(parts, **overrides)
    assert err.value.field == field
    assert os.listdir(parts["root"]) == []


def test_a_kernel_or_ramdisk_of_the_wrong_kind_is_refused(parts, tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00" * 1024)
    for field in ("kernel", "ramdisk"):
        with pytest.raises(StratusError) as err:
            prepare(parts, **{field: str(junk)})
        assert (err.value.code, err.value.field) == ("ImageUnacceptable", field)
    assert os.listdir(parts["root"]) == []


def test_clean_removes_what_prepare_wrote_and_is_idempotent(parts):
    pxe.write_boot_script(parts["root"])
    prepare(parts)
    assert pxe.clean_pxe(parts["root"], MAC, UUID)
    assert set(tree(parts["root"])) == {pxe.BOOT_SCRIPT, pxe.LOCK_FILE, "pxe", "images", "instances"}
    assert not pxe.clean_pxe(parts["root"], MAC, UUID)


def test_clean_of_a_node_never_prepared_changes_nothing(parts):
    assert not pxe.clean_pxe(parts["root"], MAC, UUID)
    assert os.listdir(parts["root"]) == [pxe.LOCK_FILE]


def test_clean_keeps_the_images_another_node_boots(parts):
    prepare(parts)
    other = prepare(parts, mac=MAC2, instance_uuid=UUID2, meta_data=dict(META, uuid=UUID2))
    assert pxe.clean_pxe(parts["root"], MAC, UUID)
    assert all(os.path.exists(path) for path in other.files)
    assert pxe.clean_pxe(parts["root"], MAC2, UUID2)
    assert os.listdir(os.path.join(parts["root"], "images")) == []


def test_clean_removes_what_a_killed_write_left(parts):
    prepare(parts)
    leftover = Path(parts["root"], f"instances/{UUID}/.config-2.cpio.abc123.tmp")
    leftover.write_bytes(b"half")
    assert pxe.clean_pxe(parts["root"], MAC, UUID)
    assert not leftover.parent.exists()


@pytest.mark.parametrize("field, args", [
    ("mac", ("52-54-00-b0-03-01", UUID)),
    ("instance_uuid", (MAC, "not-a-uuid")),
])
def test_clean_refuses_bad_names(parts, field, args):
    with pytest.raises(StratusError) as err:
        pxe.clean_pxe(parts["root"], *args)
    assert err.value.field == field


def test_newc_archive_refuses_a_path_twice():
    archive = NewcArchive()
    archive.add_file("a/b", b"x")
    with pytest.raises(ValueError):
        archive.add_file("/a/b/", b"y")
    assert [name for name, _mode, _content in read_newc(archive.to_bytes())] == ["a", "a/b"]


SPEC = {"libvirt_name": "provisioning", "cidr": "10.241.0.0/24", "gateway": "10.241.0.1", "bridge": "bmbr0"}


def test_network_xml_with_tftp_and_a_boot_file():
    xml = network.network_xml(SPEC, "/var/lib/libvirt/dnsmasq/p.hostsdir", tftp_root="/srv/tftp", bootp_file="boot.ipxe")
    assert '<ip address="10.241.0.1" prefix="24"><tftp root="/srv/tftp" /><dhcp>' in xml
    assert '<bootp file="boot.ipxe" /></dhcp>' in xml
    assert "<forward" not in xml
    assert "tftp" not in network.network_xml(SPEC)


@pytest.mark.parametrize("field, kwargs", [
    ("tftp_root", {"tftp_root": "srv/tftp"}),
    ("tftp_root", {"tftp_root": "/srv/tftp' x='"}),
    ("tftp_root", {"tftp_root": "/srv/../etc"}),
    ("tftp_root", {"tftp_root": "/srv/./tftp"}),
    ("tftp_root", {"tftp_root": "/srv/tftp/.."}),
    ("bootp_file", {"tftp_root": "/srv/tftp", "bootp_file": "../boot.ipxe"}),
    ("bootp_file", {"tftp_root": "/srv/tftp", "bootp_file": "boot.ipxe\n"}),
    ("bootp_file", {"bootp_file": "boot.ipxe"}),
])
def test_network_xml_refuses_bad_tftp_settings(field, kwargs):
    with pytest.raises(StratusError) as err:
        network.network_xml(SPEC, **kwargs)
    assert err.value.field == field


def test_a_tftp_root_under_a_hidden_directory_is_a_plain_path(tmp_path):
    """`make demo-baremetal`'s lab lives in the checkout's .lab: its TFTP root is a hidden directory's."""
    root = tmp_path / ".lab" / "bmc" / "tftp"
    root.mkdir(parents=True)
    xml = network.network_xml(SPEC, "/var/lib/libvirt/dnsmasq/p.hostsdir", tftp_root=str(root), bootp_file="boot.ipxe")
    assert "<tftp root=\"%s\"" % root in xml or "<tftp root='%s'" % root in xml
    assert pxe.write_boot_script(str(root))
