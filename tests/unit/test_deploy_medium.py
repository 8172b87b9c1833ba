"""The bare-metal deploy medium (module_utils/baremetal/deploy_medium.py): a bootable config-2 ISO, read
back with pycdlib. The kernel, ramdisk and ISOLINUX files are made-up bytes of the right shape (one test
uses the system's ISOLINUX when it is installed); tests/e2e/test_lab_baremetal.py boots a real one."""
from __future__ import annotations

import gzip
import io
import os
import stat
import time
from pathlib import Path

import pycdlib
import pytest

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import deploy_medium as dm
from ansible_collections.stratus.compute.plugins.module_utils.compute import config_drive as cd
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

UUID = "3f6c2a1e-9b7d-4c55-8e21-0a1b2c3d4e5f"
META = {"uuid": UUID, "name": "bm-1", "hostname": "bm-1",
        "public_keys": {"lab": "ssh-ed25519 AAAAC3Nza lab@stratus"}}
NETWORK = {"links": [{"id": "tap0", "type": "phy", "ethernet_mac_address": "52:54:00:b0:01:01"}],
           "networks": [{"id": "network0", "type": "ipv4_dhcp", "link": "tap0"}], "services": []}
USER_DATA = b"#!/bin/sh\necho hello\n\x00\xff"
FILES = [("/etc/motd", b"welcome\n")]
CMDLINE = "console=ttyS0 quiet"


@pytest.fixture(name="parts")
def fixture_parts(tmp_path: Path) -> dict[str, str]:
    """A bzImage-shaped kernel, a gzip'd cpio ramdisk and stand-ins for isolinux.bin and ldlinux.c32."""
    kernel = bytearray(os.urandom(16384))
    kernel[0x202:0x206] = b"HdrS"
    ramdisk = gzip.compress(b"070701" + b"0" * 200, mtime=0)
    made = {"kernel": bytes(kernel), "ramdisk": ramdisk, "isolinux.bin": os.urandom(4096), "ldlinux.c32": os.urandom(8192)}
    src = tmp_path / "src"
    src.mkdir()
    for name, content in made.items():
        (src / name).write_bytes(content)
    (tmp_path / "media").mkdir()
    return {name: str(src / name) for name in made} | {"media": str(tmp_path / "media")}


def build(parts: dict[str, str], name: str = UUID + ".iso", **overrides: object) -> dm.DeployMedium:
    args: dict[str, object] = {
        "dest": os.path.join(parts["media"], name), "kernel": parts["kernel"], "ramdisk": parts["ramdisk"],
        "meta_data": META, "network_data": NETWORK, "user_data": USER_DATA, "files": FILES,
        "kernel_cmdline": CMDLINE, "boot_loader": (parts["isolinux.bin"], parts["ldlinux.c32"])}
    args.update(overrides)
    return dm.build_deploy_medium(**args)  # type: ignore[arg-type]


def opened(path: str) -> pycdlib.PyCdlib:
    iso = pycdlib.PyCdlib()
    iso.open(path)
    return iso


def read(iso: pycdlib.PyCdlib, rr_path: str) -> bytes:
    out = io.BytesIO()
    iso.get_file_from_iso_fp(out, rr_path=rr_path)
    return out.getvalue()


def rr_files(iso: pycdlib.PyCdlib, top: str) -> dict[str, bytes]:
    """Every file under top (Rock Ridge paths) with its content."""
    found = {}
    for dirname, _dirs, files in iso.walk(rr_path=top):
        for name in files:
            path = "%s/%s" % (dirname.rstrip("/"), name)
            found[path] = read(iso, path)
    return found


def test_a_bootable_config_2_volume_with_the_image_and_the_config_drive(parts):
    medium = build(parts)
    assert medium.changed and medium.path.endswith(UUID + ".iso")
    assert medium.size == os.path.getsize(medium.path)
    iso = opened(medium.path)
    try:
        assert iso.pvd.volume_identifier.rstrip(b" ") == b"config-2"
        assert iso.has_rock_ridge() and iso.has_joliet()
        # El Torito: x86, no emulation, 4 sectors loaded, the entry is isolinux.bin
        catalog = iso.eltorito_boot_catalog
        assert catalog is not None
        assert catalog.validation_entry.platform_id == 0
        entry = catalog.initial_entry
        assert (entry.boot_indicator, entry.boot_media_type, entry.sector_count) == (0x88, 0, 4)
        assert entry.load_rba == iso.get_record(rr_path="/isolinux/isolinux.bin").extent_location()
        boot = read(iso, "/isolinux/isolinux.bin")
        original = Path(parts["isolinux.bin"]).read_bytes()
        # the boot info table (bytes 8..63) is patched in, as isolinux.bin needs; the rest is the file
        assert boot[:8] == original[:8] and boot[64:] == original[64:] and boot[8:64] != original[8:64]
        assert read(iso, "/isolinux/ldlinux.c32") == Path(parts["ldlinux.c32"]).read_bytes()
        assert read(iso, "/vmlinuz") == Path(parts["kernel"]).read_bytes()
        assert read(iso, "/initrd") == Path(parts["ramdisk"]).read_bytes()
        cfg = read(iso, "/isolinux/isolinux.cfg").decode()
        assert "LINUX /vmlinuz\n" in cfg and "INITRD /initrd\n" in cfg and f"APPEND {CMDLINE}\n" in cfg
        # the config drive: the very files of the hypervisor's config drive, in the same place
        drive = pycdlib.PyCdlib()
        drive.open_fp(io.BytesIO(cd.build_config_drive(META, NETWORK, USER_DATA, files=FILES)))
        try:
            assert rr_files(iso, "/openstack") == rr_files(drive, "/openstack")
        finally:
            drive.close()
        assert read(iso, "/openstack/latest/meta_data.json") == cd.serialize_json(
            dict(META, files=[{"path": "/etc/motd", "content_path": "/content/0000"}]))
        assert read(iso, "/openstack/latest/user_data") == USER_DATA
    finally:
        iso.close()


def test_same_inputs_same_bytes_and_a_rerun_writes_nothing(parts, monkeypatch):
    first = build(parts)
    data = Path(first.path).read_bytes()
    before = os.stat(first.path)
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        again = build(parts)
        elsewhere = build(parts, name="copy.iso")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert not again.changed and again.sha256 == first.sha256
    assert os.stat(first.path).st_mtime_ns == before.st_mtime_ns and os.stat(first.path).st_ino == before.st_ino
    assert Path(elsewhere.path).read_bytes() == data
    # another instance's data: other bytes, replaced in place (a new file renamed over the old)
    changed = build(parts, meta_data=dict(META, name="bm-2"))
    assert changed.changed and changed.sha256 != first.sha256
    assert sorted(os.listdir(parts["media"])) == [UUID + ".iso", "copy.iso"]  # no temporary file left


@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_the_medium_is_readable_by_its_owner_and_group_only(parts, mode):
    old = os.umask(0)
    try:
        medium = build(parts, mode=mode)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(medium.path).st_mode) == mode
    # a changed mode is a change, even with the same bytes
    other = 0o600 if mode == 0o640 else 0o640
    assert build(parts, mode=other).changed
    assert stat.S_IMODE(os.stat(medium.path).st_mode) == other


@pytest.mark.parametrize("name", ["", "a b.iso", "x.img", ".hidden.iso", "a/b.iso", "x" * 126 + ".iso", "é.iso"])
def test_a_bad_file_name_is_refused(parts, name):
    dest = os.path.join(parts["media"], name) if name else ""
    with pytest.raises(StratusError) as info:
        build(parts, dest=dest)
    assert (info.value.code, info.value.field) == ("InvalidRequest", "dest")


def refused(parts: dict[str, str], **overrides: object) -> StratusError:
    with pytest.raises(StratusError) as info:
        build(parts, **overrides)
    assert os.listdir(parts["media"]) == [], "nothing is written for bad input"
    return info.value


def test_bad_input_is_refused_with_its_field_and_writes_nothing(parts, tmp_path):
    not_a_kernel = tmp_path / "not-a-kernel"
    not_a_kernel.write_bytes(b"\x7fELF" + b"\0" * 1000)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    cases = [
        ({"dest": str(tmp_path / "nowhere" / "x.iso")}, "InvalidRequest", "dest"),
        ({"mode": 0o644}, "InvalidRequest", "mode"),
        ({"kernel_cmdline": "console=ttyS0\nAPPEND evil"}, "InvalidRequest", "kernel_cmdline"),
        ({"kernel_cmdline": "a  b"}, "InvalidRequest", "kernel_cmdline"),
        ({"kernel_cmdline": "x" * 1025}, "InvalidRequest", "kernel_cmdline"),
        ({"kernel_cmdline": ""}, "InvalidRequest", "kernel_cmdline"),
        ({"kernel": str(tmp_path / "missing")}, "InvalidRequest", "kernel"),
        ({"kernel": str(tmp_path)}, "InvalidRequest", "kernel"),
        ({"kernel": str(empty)}, "InvalidRequest", "kernel"),
        ({"kernel": str(not_a_kernel)}, "ImageUnacceptable", "kernel"),
        ({"ramdisk": parts["kernel"]}, "ImageUnacceptable", "ramdisk"),
        ({"ramdisk": None}, "InvalidRequest", "ramdisk"),
        ({"boot_loader": (str(tmp_path / "missing"), parts["ldlinux.c32"])}, "InvalidRequest", "boot_loader"),
        ({"meta_data": "not a dict"}, "InvalidRequest", "config_drive"),
        ({"user_data": 42}, "InvalidRequest", "config_drive"),
        ({"files": [("/etc/x", "not bytes")]}, "InvalidRequest", "config_drive"),
    ]
    for overrides, code, field in cases:
        error = refused(parts, **overrides)
        assert (error.code, error.field) == (code, field), overrides


def test_sizes_are_bounded(parts, monkeypatch):
    monkeypatch.setattr(dm, "MAX_KERNEL_BYTES", 1024)
    assert refused(parts).field == "kernel"


def test_without_isolinux_the_error_names_the_packages(monkeypatch, tmp_path):
    monkeypatch.setattr(dm, "BOOT_LOADERS", ((str(tmp_path / "isolinux.bin"), str(tmp_path / "ldlinux.c32")),))
    with pytest.raises(StratusError) as info:
        dm.find_boot_loader()
    assert (info.value.code, info.value.field) == ("InternalError", "boot_loader")
    assert "isolinux syslinux-common" in info.value.message


@pytest.mark.skipif(not any(os.path.isfile(pair[0]) for pair in dm.BOOT_LOADERS), reason="ISOLINUX not installed")
def test_the_system_isolinux_is_found_and_used(parts):
    medium = build(parts, boot_loader=None)
    iso = opened(medium.path)
    try:
        assert read(iso, "/isolinux/ldlinux.c32") == Path(dm.find_boot_loader()[1]).read_bytes()
    finally:
        iso.close()


def test_medium_name():
    assert dm.medium_name(UUID) == UUID + ".iso"
    for bad in (UUID.upper(), "../" + UUID, UUID + "\n", None):
        with pytest.raises(StratusError) as info:
            dm.medium_name(bad)  # type: ignore[arg-type]
        assert info.value.field == "instance_uuid"


def test_a_failed_write_leaves_the_old_medium_and_no_temporary_file(parts, monkeypatch):
    first = build(parts)
    data = Path(first.path).read_bytes()

    def disk_full(out, *_args):  # type: ignore[no-untyped-def]
        out.write(b"half a medium")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dm, "_write_volume", disk_full)
    with pytest.raises(StratusError) as info:
        build(parts, meta_data=dict(META, name="bm-2"))
    assert (info.value.code, info.value.field) == ("InternalError", "dest")
    assert "No space left on device" in info.value.message
    assert os.listdir(parts["media"]) == [UUID + ".iso"] and Path(first.path).read_bytes() == data
