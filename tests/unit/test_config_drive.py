from __future__ import annotations

import hashlib
import io
import json
import sys
import time

import pycdlib
import pytest

from ansible_collections.stratus.compute.plugins.module_utils.compute import config_drive as cd

META = {
    "uuid": "6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11",
    "name": "web-1",
    "hostname": "web-1",
    "availability_zone": "nova",
    "project_id": "p1",
    "launch_index": 0,
    "public_keys": {"lab": "ssh-ed25519 AAAAC3Nza lab@stratus"},
    "keys": [{"name": "lab", "type": "ssh", "data": "ssh-ed25519 AAAAC3Nza lab@stratus"}],
    "meta": {"role": "web", "name": "not-the-server"},
    "devices": [],
}
NETWORK = {"links": [{"id": "tap0", "type": "phy", "ethernet_mac_address": "fa:16:3e:00:00:01"}],
           "networks": [{"id": "net0", "link": "tap0", "type": "ipv4_dhcp"}], "services": []}
USER_DATA = b"#cloud-config\npackages: [nginx]\n\x00\xff binary is fine\n"
VERSIONS = ("latest", cd.DATED_VERSION)


def _open(data: bytes) -> pycdlib.PyCdlib:
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    return iso


def _read(iso: pycdlib.PyCdlib, **path: str) -> bytes:
    out = io.BytesIO()
    iso.get_file_from_iso_fp(out, **path)
    return out.getvalue()


def _rr_names(iso: pycdlib.PyCdlib, path: str) -> set[str]:
    return {c.rock_ridge.name().decode() for c in iso.list_children(rr_path=path)
            if not (c.is_dot() or c.is_dotdot())}


def test_same_inputs_give_identical_bytes_whatever_the_clock_and_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    first = cd.build_config_drive(META, NETWORK, USER_DATA, {"x": 1})
    # A later wall clock and another time zone must not change a single byte.
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        second = cd.build_config_drive(dict(reversed(list(META.items()))), NETWORK, USER_DATA, {"x": 1})
    finally:
        monkeypatch.undo()
        time.tzset()
    assert first == second


def test_different_inputs_give_different_bytes() -> None:
    assert cd.build_config_drive(META) != cd.build_config_drive(dict(META, name="web-2"))
    assert cd.build_config_drive(META, user_data=b"a") != cd.build_config_drive(META, user_data=b"b")


def test_label_rock_ridge_and_joliet() -> None:
    iso = _open(cd.build_config_drive(META))
    try:
        assert iso.pvd.volume_identifier.rstrip(b" ") == b"config-2"
        assert iso.has_rock_ridge()
        assert iso.has_joliet()
    finally:
        iso.close()


def test_all_files_present_in_latest_and_dated_version() -> None:
    iso = _open(cd.build_config_drive(META, NETWORK, USER_DATA, {"vendor": "stratus"}))
    try:
        assert _rr_names(iso, "/openstack") == {"latest", cd.DATED_VERSION}
        for version in VERSIONS:
            base = "/openstack/%s/" % version
            assert _rr_names(iso, base.rstrip("/")) == {
                "meta_data.json", "network_data.json", "user_data", "vendor_data.json"}
            meta = _read(iso, rr_path=base + "meta_data.json")
            assert json.loads(meta) == META
            assert meta == cd.serialize_json(META)
            assert json.loads(_read(iso, rr_path=base + "network_data.json")) == NETWORK
            assert _read(iso, rr_path=base + "user_data") == USER_DATA
            assert json.loads(_read(iso, rr_path=base + "vendor_data.json")) == {"vendor": "stratus"}
            # Joliet readers (Windows) see the same names and content.
            assert _read(iso, joliet_path=base + "user_data") == USER_DATA
        # Plain ISO9660 readers get upper-case d-character names.
        assert json.loads(_read(iso, iso_path="/OPENSTACK/LATEST/META_DATA.JSON;1")) == META
    finally:
        iso.close()


def test_optional_files() -> None:
    iso = _open(cd.build_config_drive(META))
    try:
        for version in VERSIONS:
            base = "/openstack/%s" % version
            assert _rr_names(iso, base) == {"meta_data.json", "vendor_data.json"}
            assert _read(iso, rr_path=base + "/vendor_data.json") == b"{}"
    finally:
        iso.close()


def test_json_is_sorted_with_nova_separators() -> None:
    assert cd.serialize_json({"b": [1, 2], "a": {"y": 1, "x": 2}}) == \
        b'{"a": {"x": 2, "y": 1}, "b": [1, 2]}'


def test_digest_helpers() -> None:
    data, digest = cd.build_config_drive_with_digest(META, NETWORK, USER_DATA)
    assert digest == hashlib.sha256(data).hexdigest()
    assert cd.config_drive_digest(META, NETWORK, USER_DATA) == digest
    assert len(data) % 2048 == 0


def test_pycdlib_clock_is_restored() -> None:
    from pycdlib import dates, headervd

    cd.build_config_drive(META)
    assert headervd.time is time
    assert dates.time is time


@pytest.mark.parametrize("args", [
    ("not a dict",),
    (META, ["not", "a", "dict"]),
    (META, None, 123),
    (META, None, None, "vendor"),
])
def test_bad_input_is_rejected(args: tuple) -> None:
    with pytest.raises(cd.ConfigDriveError):
        cd.build_config_drive(*args)


def test_missing_pycdlib_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pycdlib", None)
    with pytest.raises(cd.ConfigDriveError, match="pycdlib"):
        cd.build_config_drive(META)


def test_str_user_data_is_utf8() -> None:
    assert cd.build_config_drive(META, user_data="héllo") == \
        cd.build_config_drive(META, user_data="héllo".encode())


FILES = [("/etc/stratus/injected.conf", b"token = 0b1c\n"), ("/root/.ssh/extra key", b"\x00\xffbinary")]


def test_injected_files_are_written_as_nova_does() -> None:
    """Nova's layout: each content in openstack/content/NNNN, listed in meta_data.json's files."""
    iso = _open(cd.build_config_drive(META, NETWORK, USER_DATA, None, FILES))
    try:
        assert _rr_names(iso, "/openstack") == {"latest", cd.DATED_VERSION, "content"}
        assert _rr_names(iso, "/openstack/content") == {"0000", "0001"}
        assert _read(iso, rr_path="/openstack/content/0000") == FILES[0][1]
        assert _read(iso, rr_path="/openstack/content/0001") == FILES[1][1]
        assert _read(iso, iso_path="/OPENSTACK/CONTENT/0000.;1") == FILES[0][1]
        for version in VERSIONS:
            meta = json.loads(_read(iso, rr_path="/openstack/%s/meta_data.json" % version))
            assert meta["files"] == [{"path": "/etc/stratus/injected.conf", "content_path": "/content/0000"},
                                     {"path": "/root/.ssh/extra key", "content_path": "/content/0001"}]
            assert {k: v for k, v in meta.items() if k != "files"} == META
    finally:
        iso.close()


def test_no_injected_files_no_content_dir_and_no_files_key() -> None:
    assert cd.build_config_drive(META, files=[]) == cd.build_config_drive(META)
    iso = _open(cd.build_config_drive(META))
    try:
        assert "content" not in _rr_names(iso, "/openstack")
        assert "files" not in json.loads(_read(iso, rr_path="/openstack/latest/meta_data.json"))
    finally:
        iso.close()


@pytest.mark.parametrize("files", ["a", [("/a",)], [("/a", "text, not bytes")], [(1, b"x")]])
def test_bad_injected_files_are_rejected(files: object) -> None:
    with pytest.raises(cd.ConfigDriveError):
        cd.build_config_drive(META, files=files)  # type: ignore[arg-type]
