# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Block device mappings: Nova's v2 rules, in Nova's order, with Nova's error names.

Three stages, as in Nova:

* ``from_api``: per entry, the format rules of ``BlockDeviceDict`` (API layer);
* ``check_and_transform``: the image root, the flavor's ephemeral and swap disks,
  and the multi-create rule (compute API, before quota);
* ``validate``: boot sequence, sources, sizes against the flavor, the local
  disk limit (compute API, per instance, after quota);

then ``assign_device_names`` fills in the names Nova's libvirt driver would default
(root ``vda``; then image, ephemerals, swap, volumes, each the next free letter).
"""
from __future__ import annotations

import re
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import schema

GiB = 1024 ** 3
MiB = 1024 ** 2

# BlockDeviceDict's fields (API names) and the ones Nova derives from them.
API_FIELDS = frozenset((
    "source_type", "destination_type", "guest_format", "device_type", "disk_bus", "boot_index",
    "device_name", "delete_on_termination", "snapshot_id", "volume_id", "volume_size", "image_id",
    "no_device", "connection_info", "tag", "volume_type", "uuid", "virtual_name",
))
DISK_BUSES = frozenset(("fdc", "ide", "sata", "scsi", "usb", "virtio", "xen", "lxc", "uml"))
DEFAULT_ROOT_DEVICE = "vda"
_DEVICE_RE = re.compile(r"/dev/x?[a-z]?d?([a-z]+)[0-9]*")  # fullmatch: `$` takes a final newline


def invalid(details: str, field: t.Optional[str], code: str = "InvalidBDMFormat") -> StratusError:
    return StratusError(code, "Block Device Mapping is Invalid: %s" % details, field)


def _int_or_none(value: t.Any) -> t.Optional[int]:
    if value is None or value == "":
        return None
    return int(value)


def strip_dev(name: t.Optional[str]) -> t.Optional[str]:
    return name[len("/dev/"):] if name and name.startswith("/dev/") else name


def prepend_dev(name: t.Optional[str]) -> t.Optional[str]:
    return name if not name or name.startswith("/dev/") else "/dev/" + name


def is_swap(bdm: t.Mapping[str, t.Any]) -> bool:
    return (bdm.get("source_type") == "blank" and bdm.get("destination_type") == "local"
            and bdm.get("guest_format") == "swap")


def is_ephemeral(bdm: t.Mapping[str, t.Any]) -> bool:
    return (bdm.get("source_type") == "blank" and bdm.get("destination_type") == "local"
            and bdm.get("guest_format") != "swap")


def is_volume(bdm: t.Mapping[str, t.Any]) -> bool:
    return bdm.get("destination_type") == "volume"


def root_bdm(bdms: t.Iterable[t.Mapping[str, t.Any]]) -> t.Optional[t.Mapping[str, t.Any]]:
    for bdm in bdms:
        if bdm.get("boot_index") == 0:
            return bdm
    return None


def generate_device_letter(index: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa, 701 -> zz (base 26 without a zero digit)."""
    letters = ""
    index += 1
    while index > 0:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return letters


def device_letters(name: str) -> t.Optional[str]:
    match = _DEVICE_RE.fullmatch(prepend_dev(name) or "")
    return match.group(1) if match else None


# --- stage 1: the API's BlockDeviceDict.from_api + _validate -------------------------------------------

def from_api(raw: t.Mapping[str, t.Any], image_specified: bool, index: int) -> dict[str, t.Any]:
    """One schema-valid v2 entry -> a normalised mapping, or InvalidBDMFormat (Nova's from_api)."""
    where = "block_device_mapping_v2[%d]" % index
    bdm = dict(raw)
    if not schema.as_bool(bdm.get("no_device") or False):
        _required(bdm, where)
        source, device_uuid = bdm.get("source_type"), bdm.get("uuid")
        dest, volume_type = bdm.get("destination_type"), bdm.get("volume_type")
        if source == "blank" and device_uuid:
            raise invalid("Invalid device UUID.", where + ".uuid")
        if source != "blank":
            if not device_uuid:
                raise invalid("Missing device UUID.", where + ".uuid")
            bdm["%s_id" % source] = device_uuid
        if source == "image" and dest == "local":
            boot_index = bdm.get("boot_index")
            try:
                boot_index = -1 if boot_index is None else int(boot_index)
            except ValueError:
                raise invalid("Boot index is invalid.", where + ".boot_index")
            if not (image_specified and boot_index == 0):
                raise invalid("Mapping image to local is not supported.", where + ".destination_type")
        if dest == "local" and volume_type:
            raise invalid("Specifying a volume_type with destination_type=local is not supported.",
                          where + ".volume_type")
        if source == "volume" and volume_type:
            raise invalid("Specifying volume type to existing volume is not supported.", where + ".volume_type")
        bdm.pop("uuid", None)
    return _validate_fields(bdm, where)


# Where a mapping of each source may go; the first is what a mapping that names no destination gets.
# An image or a blank disk may become a local disk or a new volume, so it must say which: Nova's
# later stages leave such a mapping out of the server without a word.
DESTINATIONS: dict[str, tuple[str, ...]] = {
    "volume": ("volume",), "snapshot": ("volume",), "image": ("local", "volume"), "blank": ("local", "volume"),
}


def _required(bdm: dict[str, t.Any], where: str) -> None:
    """The fields a mapping must have before its other rules mean anything (Nova's "Some required
    fields are missing", naming them): ``source_type``, and ``destination_type`` where the source
    leaves it open (a volume or snapshot source goes to a volume); a destination the source
    cannot go to is refused."""
    source, dest = bdm.get("source_type"), bdm.get("destination_type")
    sources = ", ".join(sorted(DESTINATIONS))
    if source in (None, ""):
        raise invalid("Some required fields are missing: source_type (one of %s)." % sources, where + ".source_type")
    if source not in DESTINATIONS:
        raise invalid("Invalid source_type %s (one of %s)." % (source, sources), where + ".source_type")
    choices = DESTINATIONS[source]
    if dest in (None, ""):
        if len(choices) > 1:
            raise invalid("Some required fields are missing: destination_type (%s for a source_type %s)."
                          % (" or ".join(choices), source), where + ".destination_type")
        bdm["destination_type"] = choices[0]
    elif dest not in choices:
        raise invalid("Mapping %s to %s is not supported." % (source, dest), where + ".destination_type")


def _validate_fields(bdm: dict[str, t.Any], where: str) -> dict[str, t.Any]:
    """BlockDeviceDict._validate: known fields, required source, names, sizes, boot index."""
    unknown = sorted(set(bdm) - API_FIELDS)
    if unknown:
        raise invalid("Following fields are invalid: %s" % ", ".join(unknown), "%s.%s" % (where, unknown[0]))
    out = {k: bdm.get(k) for k in API_FIELDS if k != "uuid"}
    out["delete_on_termination"] = schema.as_bool(bdm.get("delete_on_termination", False))
    if schema.as_bool(bdm.get("no_device") or False):
        out["no_device"] = True
        return out
    _required(bdm, where)
    out["destination_type"] = bdm.get("destination_type")
    name = bdm.get("device_name")
    if name is not None:
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise invalid("Device name empty or too long.", where + ".device_name")
        if " " in name:
            raise invalid("Device name contains spaces.", where + ".device_name")
        out["device_name"] = prepend_dev(name)
    size = bdm.get("volume_size")
    if size:
        try:
            out["volume_size"] = int(size)
            if isinstance(size, float) or out["volume_size"] < 0:
                raise ValueError(size)
        except (TypeError, ValueError):
            raise invalid("Invalid volume_size.", where + ".volume_size")
    else:
        out["volume_size"] = None
    boot_index = bdm.get("boot_index")
    try:
        out["boot_index"] = _int_or_none(boot_index)
    except (TypeError, ValueError):
        raise invalid("Boot index is invalid.", where + ".boot_index")
    return out


# --- stage 2: compute API _check_and_transform_bdm ------------------------------------------------------

def image_root(image_id: str) -> dict[str, t.Any]:
    """create_image_bdm: the image as the local root disk."""
    return {"source_type": "image", "destination_type": "local", "image_id": image_id, "boot_index": 0,
            "device_type": "disk", "delete_on_termination": True, "volume_size": None, "device_name": None,
            "guest_format": None, "disk_bus": None, "tag": None, "volume_type": None, "volume_id": None,
            "snapshot_id": None}


def blank_local(size: int, guest_format: t.Optional[str] = None) -> dict[str, t.Any]:
    """create_blank_bdm: a flavor-defined ephemeral (GiB) or swap (MiB) disk."""
    return {"source_type": "blank", "destination_type": "local", "boot_index": -1, "device_type": "disk",
            "delete_on_termination": True, "volume_size": size, "guest_format": guest_format,
            "device_name": None, "disk_bus": None, "tag": None, "volume_type": None, "image_id": None,
            "volume_id": None, "snapshot_id": None}


def check_and_transform(bdms: list[dict[str, t.Any]], image_id: t.Optional[str], image: t.Optional[dict[str, t.Any]],
                        flavor: t.Mapping[str, t.Any], min_count: int, max_count: int) -> list[dict[str, t.Any]]:
    """Merge the request's mappings with the image root and the flavor's disks (Nova's order)."""
    root_name = strip_dev((image or {}).get("properties", {}).get("root_device_name")) or DEFAULT_ROOT_DEVICE
    if image_id:
        for i, bdm in enumerate(bdms):
            if is_volume(bdm) and strip_dev(bdm.get("device_name")) == root_name:
                raise StratusError("InvalidRequest", "The volume cannot be assigned the same device name as the "
                                   "root device %s" % root_name, "block_device_mapping_v2[%d].device_name" % i)
    mappings = [b for b in bdms if not b.get("no_device")]
    if not bdms and image_id:
        # no v2 mappings: Nova's legacy path puts the image in as the root disk
        mappings = [image_root(image_id)]
    if max(min_count, max_count) > 1 and any(b.get("source_type") == "volume" for b in mappings):
        raise StratusError("InvalidRequest", "Cannot attach one or more volumes to multiple instances",
                           "block_device_mapping_v2")
    if flavor.get("ephemeral") and not any(is_ephemeral(b) for b in mappings):
        mappings.append(blank_local(int(flavor["ephemeral"])))
    if flavor.get("swap") and not any(is_swap(b) for b in mappings):
        mappings.append(blank_local(int(flavor["swap"]), "swap"))
    return mappings


# --- stage 3: compute API _validate_bdm -----------------------------------------------------------------

class Sources(t.Protocol):
    """What validate() looks up: catalog images and volume types, store volumes."""

    def image(self, image_id: str) -> t.Optional[dict[str, t.Any]]: ...

    def volume(self, volume_id: str) -> t.Optional[dict[str, t.Any]]: ...

    def volume_type(self, name_or_id: str) -> t.Optional[str]: ...


def validate(bdms: list[dict[str, t.Any]], flavor: t.Mapping[str, t.Any], instance_image: t.Optional[str],
             sources: Sources, max_local_block_devices: int = 3) -> list[dict[str, t.Any]]:
    """Nova's _validate_bdm; returns the mappings with sizes set (_bdm_validate_set_size_and_instance)."""
    boot = sorted(b["boot_index"] for b in bdms if b.get("boot_index") is not None and b["boot_index"] >= 0)
    if not boot or any(i != v for i, v in enumerate(boot)):
        raise invalid("Boot sequence for the instance and image/block device mapping combination is not valid.",
                      "block_device_mapping_v2", "InvalidBDMBootSequence")
    out = []
    for i, src in enumerate(bdms):
        bdm = dict(src)
        where = "block_device_mapping_v2[%d]" % i
        if bdm.get("volume_type"):
            found = sources.volume_type(bdm["volume_type"])
            if found is None:
                raise StratusError("VolumeTypeNotFound", "Volume type %s could not be found." % bdm["volume_type"],
                                   where + ".volume_type")
            bdm["volume_type"] = found
        if bdm.get("image_id") is not None:
            if bdm["image_id"] != instance_image and sources.image(bdm["image_id"]) is None:
                raise invalid("failed to get image %s." % bdm["image_id"], where + ".uuid", "InvalidBDMImage")
            if bdm.get("source_type") == "image" and is_volume(bdm) and not bdm.get("volume_size"):
                raise StratusError("InvalidBDM", "Images with destination_type 'volume' need to have a non-zero "
                                   "size specified", where + ".volume_size")
        elif bdm.get("volume_id") is not None:
            volume = sources.volume(bdm["volume_id"])
            if volume is None:
                raise invalid("failed to get volume %s." % bdm["volume_id"], where + ".uuid", "InvalidBDMVolume")
            if volume.get("status") != "available":
                raise StratusError("InvalidVolume", "Invalid volume: volume %s status must be 'available', but it is "
                                   "'%s'" % (bdm["volume_id"], volume.get("status")), where + ".uuid")
            bdm["volume_size"] = volume.get("size_gb")
            bdm["volume_host"] = volume.get("host")
        elif bdm.get("snapshot_id") is not None:
            # there is no snapshot service behind libvirt pools (yet): every id is unknown
            raise invalid("failed to get snapshot %s." % bdm["snapshot_id"], where + ".uuid", "InvalidBDMSnapshot")
        elif bdm.get("source_type") == "blank" and is_volume(bdm) and not bdm.get("volume_size"):
            raise StratusError("InvalidBDM", "Blank volumes (source: 'blank', dest: 'volume') need to have "
                               "non-zero size", where + ".volume_size")
        if bdm.get("disk_bus") and bdm["disk_bus"] not in DISK_BUSES:
            # Nova's InvalidBDMDiskBus has no text of its own (a typo in its class), so the parent's shows
            raise StratusError("InvalidBDMDiskBus", "Block Device Mapping is Invalid.", where + ".disk_bus")
        out.append(bdm)
    ephemeral_gb = int(flavor.get("ephemeral") or 0)
    if sum(b.get("volume_size") or ephemeral_gb for b in out if is_ephemeral(b)) > ephemeral_gb:
        raise StratusError("InvalidBDMEphemeralSize", "Ephemeral disks requested are larger than the instance type "
                           "allows. If no size is given in one block device mapping, flavor ephemeral size will be "
                           "used.", "block_device_mapping_v2")
    swaps = [b for b in out if is_swap(b)]
    if len(swaps) > 1:
        raise invalid("More than one swap drive requested.", "block_device_mapping_v2")
    if swaps and (swaps[0].get("volume_size") or 0) > int(flavor.get("swap") or 0):
        raise StratusError("InvalidBDMSwapSize", "Swap drive requested is larger than instance type allows.",
                           "block_device_mapping_v2")
    if max_local_block_devices >= 0 and \
            sum(1 for b in out if b.get("destination_type") == "local") > max_local_block_devices:
        raise invalid("You specified more local devices than the limit allows", "block_device_mapping_v2",
                      "InvalidBDMLocalsLimit")
    for bdm in out:  # _volume_size: blank local disks without a size take the flavor's
        if bdm.get("source_type") == "blank" and bdm.get("destination_type") == "local" and not bdm.get("volume_size"):
            bdm["volume_size"] = int(flavor.get("swap") or 0) if is_swap(bdm) else ephemeral_gb
    return out


def boot_image_metadata(bdms: list[dict[str, t.Any]], sources: Sources) -> t.Optional[dict[str, t.Any]]:
    """get_bdm_image_metadata: the image a volume-backed server boots from, if any.

    Raises Nova's InvalidBDMImage / InvalidBDMVolume / InvalidBDMSnapshot /
    InvalidBDMVolumeNotBootable for a root mapping whose source cannot be used.
    """
    root = root_bdm(bdms)
    if root is None:
        return None
    if root.get("image_id"):
        image = sources.image(root["image_id"])
        if image is None:
            raise invalid("failed to get image %s." % root["image_id"], "block_device_mapping_v2", "InvalidBDMImage")
        return image
    if root.get("snapshot_id"):
        raise invalid("failed to get snapshot %s." % root["snapshot_id"], "block_device_mapping_v2",
                      "InvalidBDMSnapshot")
    if root.get("volume_id"):
        volume = sources.volume(root["volume_id"])
        if volume is None:
            raise invalid("failed to get volume %s." % root["volume_id"], "block_device_mapping_v2",
                          "InvalidBDMVolume")
        if not volume.get("bootable", True):
            raise StratusError("InvalidBDMVolumeNotBootable", "Block Device %s is not bootable." % root["volume_id"],
                               "block_device_mapping_v2")
        meta = dict(volume.get("image_metadata") or {})
        meta.update(status="active", size=int(volume.get("size_gb") or 0) * GiB)
        return meta
    return None


# --- device names ---------------------------------------------------------------------------------------

def assign_device_names(bdms: list[dict[str, t.Any]], root_name: str = DEFAULT_ROOT_DEVICE) -> list[dict[str, t.Any]]:
    """Nova's default_device_names_for_instance: requested names kept (in the root's prefix), the rest
    filled in order image, ephemerals, swap, volumes with the next free letter."""
    prefix = re.sub(r"[a-z]+\Z", "", strip_dev(root_name) or DEFAULT_ROOT_DEVICE) or "vd"
    used: set[str] = set()
    out = [dict(b) for b in bdms]
    for i, bdm in enumerate(out):
        if bdm.get("boot_index") == 0 and not bdm.get("device_name"):
            bdm["device_name"] = "/dev/" + root_name
        if bdm.get("device_name"):
            letters = device_letters(bdm["device_name"])
            if letters is None:
                raise StratusError("InvalidDevicePath", "The supplied device path (%s) is invalid."
                                   % bdm["device_name"], "block_device_mapping_v2[%d].device_name" % i)
            if letters in used:
                raise StratusError("DevicePathInUse", "The supplied device path (/dev/%s%s) is in use."
                                   % (prefix, letters), "block_device_mapping_v2[%d].device_name" % i)
            used.add(letters)
            bdm["device_name"] = "/dev/%s%s" % (prefix, letters)

    def order(b: t.Mapping[str, t.Any]) -> int:
        if b.get("source_type") == "image" and not is_volume(b):
            return 0
        if is_ephemeral(b):
            return 1
        if is_swap(b):
            return 2
        return 3
    nxt = 0
    for bdm in sorted((b for b in out if not b.get("device_name")), key=order):
        while generate_device_letter(nxt) in used:
            nxt += 1
        letters = generate_device_letter(nxt)
        used.add(letters)
        bdm["device_name"] = "/dev/%s%s" % (prefix, letters)
    return out
