"""Block device mapping rules in isolation: format, transform, validation, device names."""
from __future__ import annotations

import typing as t

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import bdm

FLAVOR = {"vcpus": 1, "ram": 512, "disk": 1, "ephemeral": 2, "swap": 512}
IMG = "155d900f-4e14-4e4c-a73d-069cbf4541e6"


class Sources:
    def __init__(self, volumes: t.Optional[dict[str, dict[str, t.Any]]] = None) -> None:
        self.volumes = volumes or {}

    def image(self, image_id: str) -> t.Optional[dict[str, t.Any]]:
        return {"id": IMG, "status": "active"} if image_id == IMG else None

    def volume(self, volume_id: str) -> t.Optional[dict[str, t.Any]]:
        return self.volumes.get(volume_id)

    def volume_type(self, name: str) -> t.Optional[str]:
        return "fast" if name == "fast" else None


def test_device_letters_are_base26_without_zero() -> None:
    assert [bdm.generate_device_letter(i) for i in (0, 25, 26, 27, 701, 702)] == ["a", "z", "aa", "ab", "zz", "aaa"]


def test_default_names_follow_novas_order() -> None:
    mappings = bdm.check_and_transform([], IMG, {"properties": {}}, FLAVOR, 1, 1)
    named = bdm.assign_device_names(bdm.validate(mappings, FLAVOR, IMG, Sources()))
    assert [(m["source_type"], m.get("guest_format"), m["device_name"]) for m in named] == [
        ("image", None, "/dev/vda"), ("blank", None, "/dev/vdb"), ("blank", "swap", "/dev/vdc")]
    assert named[1]["volume_size"] == 2 and named[2]["volume_size"] == 512


def test_requested_names_are_kept_in_the_root_prefix() -> None:
    raw = [{"source_type": "image", "uuid": IMG, "destination_type": "local", "boot_index": 0},
           {"source_type": "blank", "destination_type": "local", "device_name": "/dev/sdd", "volume_size": 1}]
    mappings = [bdm.from_api(r, True, i) for i, r in enumerate(raw)]
    mappings = bdm.check_and_transform(mappings, IMG, None, FLAVOR, 1, 1)
    named = bdm.assign_device_names(bdm.validate(mappings, FLAVOR, IMG, Sources()))
    assert sorted(m["device_name"] for m in named) == ["/dev/vda", "/dev/vdb", "/dev/vdd"]


def test_duplicate_device_name_is_refused() -> None:
    mappings = [dict(bdm.image_root(IMG), device_name="/dev/vda"),
                dict(bdm.blank_local(1), device_name="/dev/sda")]
    with pytest.raises(StratusError) as err:
        bdm.assign_device_names(mappings)
    assert err.value.code == "DevicePathInUse"


def test_in_use_volume_is_invalid_and_available_one_takes_its_size() -> None:
    vol = "5d1b9a1e-0000-4000-8000-000000000001"
    raw = {"source_type": "volume", "uuid": vol, "destination_type": "volume", "boot_index": 0}
    mapping = bdm.from_api(raw, False, 0)
    with pytest.raises(StratusError) as err:
        bdm.validate([mapping], FLAVOR, None, Sources({vol: {"status": "in-use", "size_gb": 3}}))
    assert err.value.code == "InvalidVolume" and "in-use" in err.value.message
    out = bdm.validate([mapping], FLAVOR, None, Sources({vol: {"status": "available", "size_gb": 3, "host": "hv2"}}))
    assert out[0]["volume_size"] == 3 and out[0]["volume_host"] == "hv2"


def test_unknown_field_and_boot_index_strings() -> None:
    with pytest.raises(StratusError) as err:
        bdm._validate_fields({"source_type": "blank", "bogus": 1}, "block_device_mapping_v2[0]")
    assert err.value.code == "InvalidBDMFormat" and "bogus" in err.value.message
    out = bdm.from_api({"source_type": "blank", "destination_type": "local", "boot_index": "-1",
                        "delete_on_termination": "1"}, True, 0)
    assert out["boot_index"] == -1 and out["delete_on_termination"] is True


def test_locals_limit_can_be_unlimited_or_zero() -> None:
    mappings = bdm.check_and_transform([], IMG, None, FLAVOR, 1, 1)
    assert len(bdm.validate(mappings, FLAVOR, IMG, Sources(), max_local_block_devices=-1)) == 3
    with pytest.raises(StratusError) as err:
        bdm.validate(mappings, FLAVOR, IMG, Sources(), max_local_block_devices=0)
    assert err.value.code == "InvalidBDMLocalsLimit"


@pytest.mark.parametrize("raw, field, words", [
    # with a uuid, Nova's from_api made a field "None_id" of it and answered "Following fields are invalid"
    ({"uuid": IMG, "destination_type": "volume", "volume_size": 1}, "source_type",
     "Some required fields are missing: source_type"),
    ({"destination_type": "local"}, "source_type", "Some required fields are missing: source_type"),
    ({"source_type": "", "uuid": IMG}, "source_type", "Some required fields are missing: source_type"),
    ({"source_type": "cd", "uuid": IMG}, "source_type", "Invalid source_type cd"),
    ({"source_type": "blank", "volume_size": 1}, "destination_type",
     "Some required fields are missing: destination_type (local or volume for a source_type blank)"),
    ({"source_type": "image", "uuid": IMG, "boot_index": 0, "destination_type": None}, "destination_type",
     "Some required fields are missing: destination_type"),
    ({"source_type": "volume", "uuid": IMG, "destination_type": "local"}, "destination_type",
     "Mapping volume to local is not supported."),
])
def test_missing_or_impossible_source_and_destination_are_named(
        raw: dict[str, t.Any], field: str, words: str) -> None:
    with pytest.raises(StratusError) as err:
        bdm.from_api(raw, True, 2)
    assert err.value.code == "InvalidBDMFormat"
    assert err.value.field == "block_device_mapping_v2[2].%s" % field
    assert err.value.message.startswith("Block Device Mapping is Invalid: " + words)
    assert "None" not in err.value.message


def test_a_volume_source_without_destination_goes_to_a_volume() -> None:
    vol = "5d1b9a1e-0000-4000-8000-000000000001"
    for source in ("volume", "snapshot"):
        out = bdm.from_api({"source_type": source, "uuid": vol}, False, 0)
        assert out["destination_type"] == "volume" and out["%s_id" % source] == vol
    assert bdm.from_api({"no_device": True}, True, 0)["no_device"] is True


def test_device_names_match_whole() -> None:
    assert bdm.device_letters("/dev/vdb") == "b" and bdm.device_letters("sdaa1") == "aa"
    assert bdm.device_letters("/dev/vdb\n") is None  # `$` matched before the newline
