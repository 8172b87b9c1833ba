# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The block device step on a hypervisor: pools, cached bases, overlays, blanks, config drives.

All disks are libvirt storage volumes in two directory pools: ``stratus-base``
holds one cached copy of each image (the playbook copies it there only when
its checksum changed), ``stratus-instances`` holds the per-instance volumes.
A root disk is a qcow2 overlay whose backing file is the cached base, as in
Nova's libvirt image backend; a config drive is a content-addressed ISO.
"""
from __future__ import annotations

import base64
import os
import typing as t
import xml.etree.ElementTree as ET

from ansible_collections.stratus.compute.plugins.module_utils.compute.libvirt_conn import libvirt, error_text
from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BlockDevice
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

BASE_POOL = "stratus-base"
INSTANCE_POOL = "stratus-instances"
# Volumes outlive their server (unless delete_on_termination): a pool of their own, beside the
# instance pool, so deleting a server's disks never has to tell volumes from disks by name.
VOLUME_POOL = "stratus-volumes"


def volume_pool_path(instance_pool_path: str) -> str:
    """The volume pool's directory: ``volumes`` beside the instance pool's."""
    return os.path.join(os.path.dirname(instance_pool_path.rstrip("/")), "volumes")


def pool_xml(name: str, path: str) -> str:
    root = ET.Element("pool", type="dir")
    ET.SubElement(root, "name").text = name
    target = ET.SubElement(root, "target")
    ET.SubElement(target, "path").text = path
    return ET.tostring(root, encoding="unicode")


def ensure_pool(conn: t.Any, name: str, path: str) -> tuple[t.Any, bool]:
    changed = False
    try:
        try:
            pool = conn.storagePoolLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:
                raise
            os.makedirs(path, mode=0o711, exist_ok=True)
            pool = conn.storagePoolDefineXML(pool_xml(name, path), 0)
            changed = True
        if not pool.isActive():
            pool.create(0)
            changed = True
        if not pool.autostart():
            pool.setAutostart(1)
            changed = True
        pool.refresh(0)
    except libvirt.libvirtError as exc:
        raise StratusError("BuildAbortException", "storage pool %s: %s" % (name, error_text(exc)))
    return pool, changed


def pool_path(pool: t.Any) -> str:
    return ET.fromstring(pool.XMLDesc(0)).findtext("./target/path") or ""


def _lookup_vol(pool: t.Any, name: str) -> t.Optional[t.Any]:
    try:
        return pool.storageVolLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
            return None
        raise


def volume_xml(name: str, size_bytes: int, fmt: str,
               backing_path: t.Optional[str] = None, backing_format: t.Optional[str] = None) -> str:
    root = ET.Element("volume")
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "capacity", unit="bytes").text = str(int(size_bytes))
    target = ET.SubElement(root, "target")
    ET.SubElement(target, "format", type=fmt)
    if backing_path:
        backing = ET.SubElement(root, "backingStore")
        ET.SubElement(backing, "path").text = backing_path
        ET.SubElement(backing, "format", type=backing_format or "qcow2")
    return ET.tostring(root, encoding="unicode")


def _backing_path(vol: t.Any) -> t.Optional[str]:
    return ET.fromstring(vol.XMLDesc(0)).findtext("./backingStore/path")


def ensure_overlay(pool: t.Any, base_pool: t.Any, dev: BlockDevice) -> tuple[str, bool]:
    """The root disk: a qcow2 overlay on the cached base image, at least the base's size."""
    base = _lookup_vol(base_pool, dev.image_id)
    if base is None:
        raise StratusError("BuildAbortException",
                           "image %s is not in the base pool of this host" % dev.image_id, "image")
    base_size = base.info()[1]
    size = max(dev.size_bytes, base_size)
    vol = _lookup_vol(pool, dev.name)
    if vol is not None:
        if _backing_path(vol) != base.path():
            raise StratusError("Conflict", "volume %s exists with another backing file" % dev.name,
                               "block_device_mapping_v2")
        return vol.path(), False
    xml = volume_xml(dev.name, size, "qcow2", base.path(), dev.base_format or "qcow2")
    vol = pool.createXML(xml, 0)
    return vol.path(), True


def ensure_image_volume(pool: t.Any, base_pool: t.Any, dev: BlockDevice) -> tuple[str, bool]:
    """A volume made from an image (boot from volume): a full copy of the cached base, not an
    overlay, so it stays usable when the base is replaced; grown to the requested size."""
    vol = _lookup_vol(pool, dev.name)
    if vol is not None:
        return vol.path(), False
    base = _lookup_vol(base_pool, dev.image_id)
    if base is None:
        raise StratusError("BuildAbortException",
                           "image %s is not in the base pool of this host" % dev.image_id, "image")
    size = max(dev.size_bytes, base.info()[1])
    vol = pool.createXMLFrom(volume_xml(dev.name, size, "qcow2"), base, 0)
    if vol.info()[1] < size:
        vol.resize(size, 0)
    return vol.path(), True


def existing_volume(pool: t.Any, dev: BlockDevice) -> str:
    """A volume that exists before the server (kept by an earlier one): attached as it is."""
    vol = _lookup_vol(pool, dev.name)
    if vol is None:
        raise StratusError("VolumeNotFound", "Volume %s could not be found on this host." % dev.volume_id,
                           "block_device_mapping_v2")
    return vol.path()


def ensure_blank(pool: t.Any, dev: BlockDevice) -> tuple[str, bool]:
    """An empty disk: ephemeral, swap or a blank volume (qcow2, allocated on write)."""
    vol = _lookup_vol(pool, dev.name)
    if vol is not None:
        return vol.path(), False
    vol = pool.createXML(volume_xml(dev.name, dev.size_bytes, "qcow2"), 0)
    return vol.path(), True


def ensure_file_volume(conn: t.Any, pool: t.Any, name: str, data: bytes) -> tuple[str, bool]:
    """A raw volume with exactly these bytes (config drives), uploaded through libvirt."""
    vol = _lookup_vol(pool, name)
    if vol is not None and vol.info()[1] == len(data):
        return vol.path(), False
    if vol is not None:
        vol.delete(0)
    vol = pool.createXML(volume_xml(name, len(data), "raw"), 0)
    stream = conn.newStream(0)
    try:
        vol.upload(stream, 0, len(data), 0)
        stream.send(data)
        stream.finish()
    except libvirt.libvirtError:
        stream.abort()
        vol.delete(0)
        raise
    return vol.path(), True


def delete_volume(pool: t.Any, name: str) -> bool:
    vol = _lookup_vol(pool, name)
    if vol is None:
        return False
    vol.delete(0)
    return True


def volumes_with_prefix(pool: t.Any, prefix: str) -> list[str]:
    pool.refresh(0)
    return sorted(n for n in pool.listVolumes() if n.startswith(prefix))


def decode_user_data(value: t.Optional[str]) -> t.Optional[bytes]:
    if value is None:
        return None
    return base64.b64decode(value)
