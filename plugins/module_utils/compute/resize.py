# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hypervisor half of Nova's resize and cold migration (its libvirt driver's migrate_disk_and_power_off,
finish_migration and finish_revert_migration), on local disks in the ``stratus-instances`` pool.

On the source (``run_resize``):
- ``migrate_disks``: a clean shutdown of the domain (power.py's stop), then each local disk copied to the
  destination's instance pool, and each volume to its ``stratus-volumes`` pool, through a libvirt connection
  to the destination (``dest_uri``): a volume download stream piped into an upload stream, holes kept (sparse
  streams). A same-host resize instead clones each local disk to ``<name>.resize`` beside it (what a revert
  restores; the volumes stay as they are). The source's domain, disks and volumes stay. A failure before
  every disk and volume is copied deletes the partial copies and starts the domain again when it was running
  (``rolled_back``).
- ``drop_copies``: a confirmed same-host resize's ``.resize`` clones deleted.
- ``power_off``: the domain destroyed (a same-host revert, before the old disks come back).

On the destination (``run_finish_resize``):
- ``finish``: the root overlay's backing file pointed at this host's base image (``qemu-img rebase -u``,
  when the base pool paths differ), then grown to the new flavor's size (never shrunk).
- ``restore``: a same-host revert: each ``<name>.resize`` clone back in place of the resized disk.

Standard library and libvirt-python only.
"""
from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import typing as t
import xml.etree.ElementTree as ET

from ansible_collections.stratus.compute.plugins.module_utils.compute import block_device, power
from ansible_collections.stratus.compute.plugins.module_utils.compute.common import host_lock, per_instance
from ansible_collections.stratus.compute.plugins.module_utils.compute.libvirt_conn import (
    connect, error_text, libvirt,
)
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result

COPY_SUFFIX = ".resize"
CHUNK = 4 << 20
# A libvirt URI another hypervisor's libvirtd is reached by: qemu+tcp, qemu+tls or qemu+ssh, a host
# (a name, an IPv4 address or a bracketed IPv6 one, an optional port), /system, no query.
MIGRATION_URI_RE = re.compile(r"qemu\+(tcp|tls|ssh)://([A-Za-z0-9_-]+@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)"
                              r"(:[0-9]{1,5})?/system")
# a disk of a server in the instance pool: <uuid>-disk, <uuid>-disk.eph<N>, <uuid>-disk.swap
DISK_NAME_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-disk(\.eph[0-9]+|\.swap)?")
# a volume in the volume pool: volume-<volume id>
VOLUME_NAME_RE = re.compile(r"volume-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DEFAULT_INSTANCE_POOL_PATH = "/var/lib/libvirt/stratus/instances"

_DISK_OPTIONS: dict[str, t.Any] = {
    "name": {"type": "str", "required": True},
    "size_bytes": {"type": "int", "default": 0},
    "base_path": {"type": "str"},
    "base_format": {"type": "str", "default": "qcow2"},
}
# Mirrored by the DOCUMENTATION of plugins/modules/compute_resize.py and compute_finish_resize.py.
RESIZE_ARG_SPEC: dict[str, t.Any] = {
    "uri": {"type": "str", "default": "qemu:///system"},
    "instance_pool_path": {"type": "path", "default": DEFAULT_INSTANCE_POOL_PATH},
    "instances": {"type": "list", "elements": "dict", "default": [], "options": {
        "uuid": {"type": "str", "required": True},
        "domain_name": {"type": "str", "required": True},
        "op": {"type": "str", "required": True, "choices": ["migrate_disks", "drop_copies", "power_off"]},
        "disks": {"type": "list", "elements": "dict", "default": [], "options": _DISK_OPTIONS},
        "volumes": {"type": "list", "elements": "dict", "default": [], "options": {
            "name": {"type": "str", "required": True}}},
        "dest_uri": {"type": "str"},
        "dest_pool_path": {"type": "path"},
        "restart_on_failure": {"type": "bool", "default": False},
    }},
    "timeout": {"type": "int", "default": 60},
    "retry_interval": {"type": "int", "default": 10},
    # the action plugin's (it reads the host's servers from the store); the module ignores them
    "run_uuids": {"type": "list", "elements": "str"},
    "db_url": {"type": "str", "no_log": True},
}
FINISH_ARG_SPEC: dict[str, t.Any] = {
    "uri": RESIZE_ARG_SPEC["uri"], "instance_pool_path": RESIZE_ARG_SPEC["instance_pool_path"],
    "instances": {"type": "list", "elements": "dict", "default": [], "options": {
        "uuid": {"type": "str", "required": True},
        "op": {"type": "str", "required": True, "choices": ["finish", "restore"]},
        "disks": {"type": "list", "elements": "dict", "default": [], "options": _DISK_OPTIONS},
    }},
    "run_uuids": RESIZE_ARG_SPEC["run_uuids"], "db_url": RESIZE_ARG_SPEC["db_url"],
}


@dataclasses.dataclass(frozen=True)
class Disk:
    """One local disk of a server: its volume name in the instance pool, and for the root overlay its size and
    the base image it backs onto on this host."""

    name: str
    size_bytes: int = 0
    base_path: t.Optional[str] = None
    base_format: str = "qcow2"

    @classmethod
    def of(cls, element: t.Mapping[str, t.Any], uuid: str) -> Disk:
        name = str(element.get("name") or "")
        if not DISK_NAME_RE.fullmatch(name) or not name.startswith(uuid):
            raise StratusError("InvalidRequest", "%r is not a local disk of instance %s" % (name, uuid),
                               "instances.disks.name")
        base = element.get("base_path")
        if base is not None and (not os.path.isabs(base) or "\n" in base):
            raise StratusError("InvalidRequest", "base_path must be an absolute path", "instances.disks.base_path")
        return cls(name, int(element.get("size_bytes") or 0), base, str(element.get("base_format") or "qcow2"))


def volume_name(element: t.Mapping[str, t.Any]) -> str:
    """A volume's name in the volume pool, checked whole (it names a file on both hosts)."""
    name = str(element.get("name") or "")
    if not VOLUME_NAME_RE.fullmatch(name):
        raise StratusError("InvalidRequest", "%r is not a volume's name (volume-<id>)" % name, "instances.volumes.name")
    return name


def checked_uri(uri: t.Optional[str]) -> t.Optional[str]:
    """A destination's stratus_migration_uri, or InvalidRequest (it reaches a command line and a connection)."""
    if uri is None:
        return None
    if not MIGRATION_URI_RE.fullmatch(uri):
        raise StratusError("InvalidRequest", "%r is not a libvirt migration URI (qemu+tcp, qemu+tls or qemu+ssh, a "
                           "host, /system)" % uri, "stratus_migration_uri")
    return uri


# --- the pools --------------------------------------------------------------------------------------------------

def local_pool(conn: t.Any, path: str) -> t.Any:
    pool, _changed = block_device.ensure_pool(conn, block_device.INSTANCE_POOL, path)
    return pool


def remote_pool(conn: t.Any, path: str, name: str = block_device.INSTANCE_POOL) -> t.Any:
    """The destination's pool `name` (its instance pool, or its volume pool), made there (libvirt builds its
    directory) when it has none yet."""
    try:
        try:
            pool = conn.storagePoolLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:
                raise
            pool = conn.storagePoolDefineXML(block_device.pool_xml(name, path), 0)
            pool.build(0)
        if not pool.isActive():
            pool.create(0)
        if not pool.autostart():
            pool.setAutostart(1)
        pool.refresh(0)
    except libvirt.libvirtError as exc:
        raise StratusError("MigrationError", "the destination's storage pool %s: %s"
                           % (name, error_text(exc))) from None
    return pool


def lookup_vol(pool: t.Any, name: str) -> t.Optional[t.Any]:
    try:
        return pool.storageVolLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
            return None
        raise


# --- copying a volume between hypervisors -----------------------------------------------------------------------

def pipe_stream(down: t.Any, up: t.Any, sparse: bool) -> int:
    """Every byte (and, `sparse`, every hole) of the download stream into the upload stream; the bytes sent."""
    sent = 0
    while True:
        data = down.recvFlags(CHUNK, libvirt.VIR_STREAM_RECV_STOP_AT_HOLE) if sparse else down.recv(CHUNK)
        if isinstance(data, int):
            if data != -3:  # -2 (would block) does not happen on a blocking stream
                raise StratusError("MigrationError", "the disk download stream answered %d" % data)
            up.sendHole(down.recvHole(0), 0)
            continue
        if not data:
            return sent
        view = memoryview(data)
        while view:
            count = up.send(bytes(view))
            if count < 0:
                raise StratusError("MigrationError", "the disk upload stream answered %d" % count)
            view = view[count:]
            sent += count


def copy_volume(src_conn: t.Any, src_vol: t.Any, dest_conn: t.Any, dest_pool: t.Any, name: str) -> int:
    """The volume's bytes into a volume of the same name in `dest_pool` (made anew: a copy a killed run left is
    redone); sparse when both ends allow it. Returns the bytes sent."""
    stale = lookup_vol(dest_pool, name)
    if stale is not None:
        stale.delete(0)
    # raw and empty: the upload writes the source's file as it is (a qcow2 header included)
    dest_vol = dest_pool.createXML(block_device.volume_xml(name, 0, "raw"), 0)
    for sparse in (True, False):
        down, up = src_conn.newStream(0), dest_conn.newStream(0)
        try:
            src_vol.download(down, 0, 0, libvirt.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM if sparse else 0)
            dest_vol.upload(up, 0, 0, libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM if sparse else 0)
            sent = pipe_stream(down, up, sparse)
            down.finish()
            up.finish()
            dest_pool.refresh(0)
            return sent
        except libvirt.libvirtError as exc:
            for stream in (down, up):
                try:
                    stream.abort()
                except libvirt.libvirtError:
                    pass
            if not sparse or exc.get_error_code() not in (libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED,
                                                          libvirt.VIR_ERR_NO_SUPPORT):
                raise
    raise StratusError("MigrationError", "copying %s: no stream mode worked" % name)  # not reached


def clone_beside(pool: t.Any, vol: t.Any) -> bool:
    """A same-host resize's copy of a disk, `<name>.resize` in its pool (done once: a rerun finds it)."""
    path = vol.path()
    target = path + COPY_SUFFIX
    if os.path.exists(target):
        return False
    partial = target + ".part"
    # cp keeps holes; the copy goes in place only whole
    subprocess.run(["cp", "--sparse=always", "--", path, partial], check=True, capture_output=True)
    os.replace(partial, target)
    pool.refresh(0)
    return True


# --- the source's ops -------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Source:
    """What the source's ops share: this host's libvirt and pools (instances, volumes), the shutdown waits, the
    destinations' connections (one per URI)."""

    conn: t.Any
    pool: t.Any
    waiting: power.Waiting
    remotes: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    volume_pool: t.Any = None

    def remote(self, uri: str) -> t.Any:
        if uri not in self.remotes:
            try:
                self.remotes[uri] = connect(uri)
            except StratusError as exc:
                raise StratusError("MigrationError", "cannot reach the destination's libvirtd: %s" % exc.message,
                                   "stratus_migration_uri") from None
        return self.remotes[uri]


def migrate_disks(src: Source, element: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    uuid = element["uuid"]
    disks = [Disk.of(d, uuid) for d in element.get("disks") or []]
    # a same-host resize leaves the volumes where they are (the flavor does not size them)
    volumes = [volume_name(v) for v in element.get("volumes") or []] if element.get("dest_uri") is not None else []
    dest_uri = checked_uri(element.get("dest_uri"))
    dom = power.find_domain(src.conn, uuid, element["domain_name"], "stop")
    stopped = power.stop(dom, element["domain_name"], src.waiting)
    copies: list[tuple[t.Any, str]] = []
    dest_pool = None
    try:
        if dest_uri is not None:
            dest_conn = src.remote(dest_uri)
            dest_pool = remote_pool(dest_conn, element.get("dest_pool_path") or DEFAULT_INSTANCE_POOL_PATH)
        sent = 0
        for disk in disks:
            vol = lookup_vol(src.pool, disk.name)
            if vol is None:
                raise StratusError("MigrationError", "disk %s of instance %s is not in this host's pool"
                                   % (disk.name, uuid))
            if dest_uri is None:
                clone_beside(src.pool, vol)
                continue
            copies.append((dest_pool, disk.name))
            sent += copy_volume(src.conn, vol, src.remote(dest_uri), dest_pool, disk.name)
        if volumes:
            dest_path = block_device.volume_pool_path(element.get("dest_pool_path") or DEFAULT_INSTANCE_POOL_PATH)
            dest_volumes = remote_pool(src.remote(str(dest_uri)), dest_path, block_device.VOLUME_POOL)
        for name in volumes:
            vol = lookup_vol(src.volume_pool, name)
            if vol is None:
                raise StratusError("MigrationError", "volume %s of instance %s is not in this host's volume pool"
                                   % (name, uuid))
            copies.append((dest_volumes, name))
            sent += copy_volume(src.conn, vol, src.remote(str(dest_uri)), dest_volumes, name)
    except (StratusError, libvirt.libvirtError, OSError, subprocess.CalledProcessError) as exc:
        _roll_back(dom, element, copies)
        why = exc.message if isinstance(exc, StratusError) else error_text(exc)
        raise StratusError("MigrationError", "copying the disks of instance %s failed: %s (the server is back as it "
                           "was on this host)" % (uuid, why)) from None
    return {"changed": True, "forced": bool(stopped.get("forced")), "copied": [d.name for d in disks] + volumes,
            "bytes_sent": sent}


def _roll_back(dom: t.Any, element: t.Mapping[str, t.Any], copies: list[tuple[t.Any, str]]) -> None:
    """What a failed copy leaves: the partial copies gone, the domain started again when it ran (best effort:
    the reported error is the copy's)."""
    for pool, name in copies:
        try:
            vol = lookup_vol(pool, name)
            if vol is not None:
                vol.delete(0)
        except libvirt.libvirtError:
            pass
    if element.get("restart_on_failure"):
        try:
            if power.is_off(dom):
                dom.create()
        except libvirt.libvirtError:
            pass


def drop_copies(src: Source, element: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    did = False
    for disk in (Disk.of(d, element["uuid"]) for d in element.get("disks") or []):
        did = block_device.delete_volume(src.pool, disk.name + COPY_SUFFIX) or did
    return {"changed": did}


def power_off(src: Source, element: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    dom = power.find_domain(src.conn, element["uuid"], element["domain_name"], "stop")
    with power.failing_as("InstancePowerOffFailure", element["domain_name"], "stopping"):
        if power.is_off(dom):
            return {"changed": False}
        power.destroy(dom)
    return {"changed": True}


SOURCE_OPS: dict[str, t.Callable[[Source, t.Mapping[str, t.Any]], dict[str, t.Any]]] = {
    "migrate_disks": migrate_disks, "drop_copies": drop_copies, "power_off": power_off,
}


def run_resize(params: dict[str, t.Any], conn: t.Any = None) -> dict[str, t.Any]:
    """The source's ops, one server after the other (each copy fills the migration network on its own)."""
    if params["timeout"] < 0 or params["retry_interval"] < 1:
        raise StratusError("InvalidRequest", "timeout must be 0 or more, retry_interval 1 or more", "timeout")
    if not params["instances"]:
        return {"changed": False, "instances": {}}
    conn = conn or connect(params["uri"])
    src = Source(conn, local_pool(conn, params["instance_pool_path"]),
                 power.Waiting(timeout=params["timeout"], retry_interval=params["retry_interval"]))
    if any(e.get("volumes") and e.get("dest_uri") for e in params["instances"]):
        src.volume_pool, _made = block_device.ensure_pool(conn, block_device.VOLUME_POOL,
                                                          block_device.volume_pool_path(params["instance_pool_path"]))
    changed, results = per_instance(params["instances"], lambda element: SOURCE_OPS[element["op"]](src, element))
    return {"changed": changed, "instances": results}


# --- the destination's ops --------------------------------------------------------------------------------------

def backing_path(vol: t.Any) -> t.Optional[str]:
    return ET.fromstring(vol.XMLDesc(0)).findtext("./backingStore/path")


def finish(pool: t.Any, element: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The copied root overlay backs onto this host's base image and has the new flavor's size."""
    did = False
    for disk in (Disk.of(d, element["uuid"]) for d in element.get("disks") or []):
        vol = lookup_vol(pool, disk.name)
        if vol is None:
            raise StratusError("MigrationError", "disk %s of instance %s was not copied to this host"
                               % (disk.name, element["uuid"]))
        if disk.base_path and backing_path(vol) not in (None, disk.base_path):
            subprocess.run(["qemu-img", "rebase", "-u", "-F", disk.base_format, "-b", disk.base_path, "--",
                            vol.path()], check=True, capture_output=True)
            pool.refresh(0)
            vol = lookup_vol(pool, disk.name)
            did = True
        if disk.size_bytes and vol.info()[1] < disk.size_bytes:
            vol.resize(disk.size_bytes, 0)
            did = True
    return {"changed": did}


def restore(pool: t.Any, element: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """A same-host revert: the `.resize` clones back in place (a rerun finds them back already)."""
    did = False
    directory = block_device.pool_path(pool)
    for disk in (Disk.of(d, element["uuid"]) for d in element.get("disks") or []):
        kept = os.path.join(directory, disk.name + COPY_SUFFIX)
        if os.path.exists(kept):
            os.replace(kept, os.path.join(directory, disk.name))
            did = True
    if did:
        pool.refresh(0)
    return {"changed": did}


DEST_OPS: dict[str, t.Callable[[t.Any, t.Mapping[str, t.Any]], dict[str, t.Any]]] = {
    "finish": finish, "restore": restore,
}


def run_finish_resize(params: dict[str, t.Any], conn: t.Any = None) -> dict[str, t.Any]:
    if not params["instances"]:
        return {"changed": False, "instances": {}}
    conn = conn or connect(params["uri"])
    pool = local_pool(conn, params["instance_pool_path"])

    def one(element: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        try:
            return DEST_OPS[element["op"]](pool, element)
        except subprocess.CalledProcessError as exc:
            raise StratusError("MigrationError", "%s failed: %s" % (" ".join(exc.cmd[:2]), (
                exc.stderr or b"").decode("utf-8", "replace").strip()[-500:])) from None

    changed, results = per_instance(params["instances"], one)
    return {"changed": changed, "instances": results}


def run_module(runner: t.Callable[[dict[str, t.Any]], dict[str, t.Any]], spec: dict[str, t.Any]) -> None:
    """A module's main(): parse, hold the host's step lock, report."""
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    if module.check_mode:  # the action plugin answers check mode itself; called directly, nothing is done
        module.exit_json(changed=False, instances={})
    try:
        with host_lock():
            result = runner(module.params)
        module.exit_json(**result)
    except StratusError as exc:
        module.exit_json(**error_result(exc))
