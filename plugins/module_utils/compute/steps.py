# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The three build steps as module runners: each takes the whole plan of one host."""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import shutil
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.compute import block_device, domain, network
from ansible_collections.stratus.compute.plugins.module_utils.compute.common import per_instance
from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import (
    BlockDevice, BuildPlan, ConfigDrive, read_plan,
)
from ansible_collections.stratus.compute.plugins.module_utils.compute.libvirt_conn import connect, error_text
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

DEFAULT_BASE_POOL_PATH = "/var/lib/libvirt/stratus/base"
DEFAULT_INSTANCE_POOL_PATH = "/var/lib/libvirt/stratus/instances"
# The driver these steps are: a plan for another one (the bare-metal driver) is refused.
DRIVER = "libvirt"


def libvirt_plan(element: t.Any) -> BuildPlan:
    """One element of a module's `instances`, read as a build plan of this driver."""
    plan = read_plan(element)
    if plan.driver != DRIVER:
        raise StratusError("InvalidRequest", "the plan of instance %s is for the %s driver, not %s"
                           % (plan.uuid, plan.driver, DRIVER), "plan.driver")
    return plan


def _readable_plans(elements: list[t.Any]) -> list[BuildPlan]:
    """The elements that read as plans; each of the others fails in its own per-instance step."""
    plans = []
    for element in elements:
        try:
            plans.append(libvirt_plan(element))
        except StratusError:
            continue
    return plans


def run_network(params: dict[str, t.Any]) -> dict[str, t.Any]:
    conn = connect(params["uri"])
    elements = params["instances"]
    changed = False
    net_errors: dict[str, dict[str, t.Any]] = {}
    # dnsmasq's PID file and hosts directory are only to be touched where the system libvirtd runs: this host
    pid_dir = network.DNSMASQ_PID_DIR if params["uri"] == "qemu:///system" else None
    if params["state"] == "present":
        specs = {n["id"]: n for plan in _readable_plans(elements) for n in plan.networks}
        for net_id, spec in sorted(specs.items()):
            try:
                changed = network.ensure_network(conn, spec, pid_dir) or changed
            except StratusError as exc:
                net_errors[net_id] = exc.to_dict()
    book = network.DhcpHostBook(conn, pid_dir)

    def one(element: t.Any) -> dict[str, t.Any]:
        plan = libvirt_plan(element)
        did = False
        for nic in plan.nics:
            if params["state"] == "absent":
                did = book.remove(nic.libvirt_network, nic.mac, nic.ip, plan.uuid) or did
                continue
            if nic.network_id in net_errors:
                err = net_errors[nic.network_id]
                raise StratusError(err["code"], err["message"], err["field"])
            did = book.ensure(nic.libvirt_network, nic.mac, t.cast(str, nic.ip), nic.hostname, plan.uuid) or did
        return {"changed": did}

    try:
        inst_changed, results = per_instance(elements, one)
    finally:
        book.reload()
    # Entries gone and dnsmasq signalled: now their leases. One that cannot be released fails its
    # instance (the delete is not done and is retried; a build would not get its address).
    for uuid, errors in book.release().items():
        if results.get(uuid, {}).get("ok"):
            results[uuid] = {"ok": False, "changed": results[uuid].get("changed", False), "error": {
                "code": errors[0]["code"], "message": "; ".join(e["message"] for e in errors), "field": "networks"}}
    return {"changed": changed or inst_changed, "instances": results}


def _install_uploads(uploads: dict[str, str], base_path: str) -> bool:
    """Move image files the action plugin uploaded into the base pool directory."""
    os.makedirs(base_path, mode=0o711, exist_ok=True)
    for image_id, src in sorted(uploads.items()):
        if "/" in image_id or image_id in ("", ".", ".."):
            raise StratusError("InvalidRequest", "bad image id %r" % image_id, "image")
        dest = os.path.join(base_path, image_id)
        tmp = dest + ".part"
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        except OSError as exc:  # a full or read-only pool: the host's fault, so the build may go elsewhere
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise StratusError("BuildAbortException", "cannot store image %s in the base pool %s: %s"
                               % (image_id, base_path, exc.strerror or exc), "image")
        finally:
            try:
                os.unlink(src)
            except OSError:
                pass
    return bool(uploads)


def base_checksums_path(base_path: str) -> str:
    # Beside the pool directory, not in it: libvirt would list a file there as a volume.
    return os.path.join(os.path.dirname(base_path.rstrip("/")) or "/", ".base-sha256.json")


def file_sha256(path: str) -> str:
    """A file's sha256, read in 1 MiB chunks (base images are large); the controller uses it too."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def images_needed(wanted: dict[str, str], base_path: str) -> list[str]:
    """Ids of the images whose base copy is missing or differs from the controller's checksum.

    A base image is read once per change: its checksum is kept keyed on size, inode and mtime.
    """
    cache_path = base_checksums_path(base_path)
    try:
        with open(cache_path) as handle:
            cache = json.load(handle)
        if not isinstance(cache, dict):
            cache = {}
    except (OSError, ValueError):
        cache = {}
    needed: list[str] = []
    fresh: dict[str, t.Any] = {}
    for image_id, checksum in sorted(wanted.items()):
        path = os.path.join(base_path, image_id)
        try:
            st = os.stat(path)
        except OSError:
            needed.append(image_id)
            continue
        key = [st.st_size, st.st_ino, st.st_mtime_ns]
        known = cache.get(image_id)
        if isinstance(known, dict) and known.get("key") == key:
            actual = known.get("sha256")
        else:
            actual = file_sha256(path)
        fresh[image_id] = {"key": key, "sha256": actual}
        if actual != checksum:
            needed.append(image_id)
    if fresh and any(cache.get(k) != v for k, v in fresh.items()):
        cache.update(fresh)
        try:
            tmp = cache_path + ".part"
            with open(tmp, "w") as handle:
                json.dump(cache, handle)
            os.replace(tmp, cache_path)
        except OSError:  # only a cache: the next run reads the images again
            pass
    return needed


def _ask_for_images(params: dict[str, t.Any]) -> t.Optional[dict[str, t.Any]]:
    """The answer that asks the action plugin for images (nothing else done), or None when the
    base pool holds every image of the plans or this call brings it."""
    missing = [i for i in images_needed(params.get("image_checksums") or {}, params["base_pool_path"])
               if i not in (params.get("uploads") or {})]
    return {"changed": False, "images_needed": missing, "instances": {}} if missing else None


def injected_files(files: t.Optional[list[t.Any]]) -> list[tuple[str, bytes]]:
    """The plan's personality, [{path, contents (base64)}], as (path, content) for the config drive."""
    out = []
    for index, item in enumerate(files or []):
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise StratusError("InvalidRequest", "injected file %d has no path" % index, "personality")
        try:
            content = base64.b64decode(item.get("contents") or "", validate=True)
        except (binascii.Error, TypeError, ValueError):
            # the content is a secret: never in the message
            raise StratusError("InvalidRequest", "the contents of injected file %d are not base64" % index,
                               "personality") from None
        out.append((item["path"], content))
    return out


def config_drive_image(drive: t.Union[ConfigDrive, t.Mapping[str, t.Any]]) -> bytes:
    """The ISO of a plan's config drive (its secrets merged back): metadata, user data, injected files."""
    from ansible_collections.stratus.compute.plugins.module_utils.compute.config_drive import build_config_drive

    if not isinstance(drive, ConfigDrive):
        drive = ConfigDrive.from_dict(drive, "config_drive")
    return build_config_drive(drive.meta_data, drive.network_data, block_device.decode_user_data(drive.user_data),
                              files=injected_files(drive.files))


def run_block_devices(params: dict[str, t.Any]) -> dict[str, t.Any]:
    uploads = params.get("uploads") or {}
    asking = _ask_for_images(params) if params["state"] == "present" else None
    if asking:
        return asking
    conn = connect(params["uri"])
    changed = _install_uploads(uploads, params["base_pool_path"])
    base_pool, c1 = block_device.ensure_pool(conn, block_device.BASE_POOL, params["base_pool_path"])
    pool, c2 = block_device.ensure_pool(conn, block_device.INSTANCE_POOL, params["instance_pool_path"])
    volume_pool, c3 = block_device.ensure_pool(conn, block_device.VOLUME_POOL,
                                               block_device.volume_pool_path(params["instance_pool_path"]))
    changed = changed or c1 or c2 or c3

    def pool_of(dev: BlockDevice) -> t.Any:
        return volume_pool if dev.kind in ("volume", "new_volume") else pool

    def absent(element: t.Any) -> dict[str, t.Any]:
        plan = libvirt_plan(element)
        did = False
        for dev in plan.block_devices:
            if dev.delete_on_termination:
                did = block_device.delete_volume(pool_of(dev), dev.name) or did
        for name in block_device.volumes_with_prefix(pool, "%s-disk.config" % plan.uuid):
            did = block_device.delete_volume(pool, name) or did
        return {"changed": did}

    def present(element: t.Any) -> dict[str, t.Any]:
        plan = libvirt_plan(element)
        did = False
        disks = []
        made: list[tuple[t.Any, str]] = []
        try:
            for dev in plan.block_devices:
                if dev.kind == "image":
                    path, new = block_device.ensure_overlay(pool, base_pool, dev)
                elif dev.kind == "blank":
                    path, new = block_device.ensure_blank(pool, dev)
                elif dev.kind == "new_volume" and dev.image_id:
                    path, new = block_device.ensure_image_volume(volume_pool, base_pool, dev)
                elif dev.kind == "new_volume":
                    path, new = block_device.ensure_blank(volume_pool, dev)
                elif dev.kind == "volume":
                    path, new = block_device.existing_volume(volume_pool, dev), False
                else:
                    raise StratusError("InvalidBDM", "unsupported block device kind %r" % dev.kind,
                                       "block_device_mapping_v2")
                if new:
                    made.append((pool_of(dev), dev.name))
                did = did or new
                disks.append(dict(dev.to_dict(), path=path))
            drive = plan.with_secrets(params.get("secrets") or {}).config_drive
            if drive:
                data = config_drive_image(drive)
                digest = hashlib.sha256(data).hexdigest()[:16]
                name = "%s-disk.config-%s.iso" % (plan.uuid, digest)
                path, new = block_device.ensure_file_volume(conn, pool, name, data)
                if new:
                    made.append((pool, name))
                # A changed config drive replaces the old one: drop older versions.
                for old in block_device.volumes_with_prefix(pool, "%s-disk.config" % plan.uuid):
                    if old != name:
                        block_device.delete_volume(pool, old)
                did = did or new
                disks.append({"name": name, "path": path, "device_name": "hdd", "bus": "ide",
                              "device_type": "cdrom", "format": "raw"})
        except Exception:
            # Clean up what this step made for this instance on this host.
            for made_in, name in made:
                try:
                    block_device.delete_volume(made_in, name)
                except Exception:  # best effort; the reported error is the original one
                    pass
            raise
        return {"changed": did, "disks": disks}

    inst_changed, results = per_instance(params["instances"], present if params["state"] == "present" else absent)
    return {"changed": changed or inst_changed, "instances": results}


def run_domain(params: dict[str, t.Any]) -> dict[str, t.Any]:
    conn = connect(params["uri"])
    current = {"type": domain.detect_domain_type(conn, params["domain_type"])}

    def present(element: t.Any) -> dict[str, t.Any]:
        plan = libvirt_plan(element)
        res = domain.ensure_running(conn, plan, plan.disks or [], current["type"], params["timeout"])
        if res.get("kvm_fallback"):
            current["type"] = "qemu"  # the rest of this host's instances go straight to TCG
        return res

    def absent(element: t.Any) -> dict[str, t.Any]:
        return {"changed": domain.ensure_absent(conn, libvirt_plan(element).uuid)}

    inst_changed, results = per_instance(params["instances"], present if params["state"] == "present" else absent,
                                         workers=params.get("parallel") or 1)
    return {"changed": inst_changed, "instances": results, "domain_type": current["type"]}


def run_chain(params: dict[str, t.Any], chain: t.Sequence[tuple[str, t.Callable[[dict[str, t.Any]], dict[str, t.Any]]]],
              what: str) -> dict[str, t.Any]:
    """Steps in one call for the same servers, each step's disks passed on to the next; the images the base
    pool lacks asked for first (nothing else done then). An instance that fails a step skips the rest."""
    if params["state"] != "present":
        raise StratusError("InvalidRequest", "%s only makes what is planned; deleting is the steps' work" % what,
                           "state")
    asking = _ask_for_images(params)
    if asking:
        return asking
    outcome: dict[str, dict[str, t.Any]] = {i["uuid"]: {"ok": True, "changed": False} for i in params["instances"]}
    todo = list(params["instances"])
    changed = False
    for step, runner in chain:
        if not todo:
            break
        res = runner(dict(params, instances=todo, image_checksums={}))
        changed = changed or bool(res.get("changed"))
        going_on = []
        for element in todo:
            one = res["instances"].get(element["uuid"]) or {"ok": False, "error": {
                "code": "BuildAbortException", "message": "no result from the %s step" % step, "field": None}}
            merged = outcome[element["uuid"]]
            merged["changed"] = merged["changed"] or bool(one.get("changed"))
            if not one.get("ok"):
                merged.update(ok=False, step=step, error=one.get("error"))
                if one.get("exception"):
                    merged["exception"] = one["exception"]
                continue
            if "disks" in one:
                merged["disks"] = one["disks"]
                element = read_plan(element).with_disks(one["disks"]).to_dict()
            going_on.append(element)
        todo = going_on
    return {"changed": changed, "instances": outcome}


def run_converge(params: dict[str, t.Any]) -> dict[str, t.Any]:
    """The three steps in one call for servers already built: network, block devices, domain.

    Each finds nothing to do when the server is as planned, and repairs what drifted (a lost DHCP
    entry, a deleted overlay, a stopped domain). An instance that fails a step skips the rest.
    """
    # looked up at each call (tests replace the runners)
    return run_chain(params, (("network", run_network), ("block_devices", run_block_devices), ("domain", run_domain)),
                     "converge")


READY_MARKER = "STRATUS-GUEST ready"


def _console_line(path: str) -> t.Optional[str]:
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return None
    lines = [ln.strip() for ln in text.splitlines() if READY_MARKER in ln]
    return lines[-1][lines[-1].index(READY_MARKER):] if lines else None


# The most of a console log one read returns (Nova's libvirt driver: MAX_CONSOLE_BYTES, 100 KiB), and the most
# lines one may ask for.
CONSOLE_MAX_BYTES = 100 * 1024
CONSOLE_MAX_LINES = 10000
_UUID_CHARS = frozenset("0123456789abcdef-")


def console_tail(path: str, lines: int, max_bytes: int = CONSOLE_MAX_BYTES) -> t.Optional[str]:
    """The last `lines` lines of a console log (-1: as many as fit), from at most its last `max_bytes`
    bytes (read from the end: a guest's log can be large); None when there is no log."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read(max_bytes)
    except OSError:
        return None
    text = data.decode("utf-8", "replace")
    if size > max_bytes:  # the first line read is cut: drop it
        text = text.partition("\n")[2]
    if lines < 0:
        return text
    kept = text.splitlines(keepends=True)
    return "".join(kept[-lines:]) if lines else ""


def _console_path(uuid: str) -> str:
    """The log of a server uuid; anything else is refused (the uuid becomes a file name)."""
    if len(uuid) != 36 or not set(uuid) <= _UUID_CHARS:
        raise StratusError("InvalidRequest", "not a server uuid: %s" % uuid[:64], "uuids")
    return domain.console_log_path(uuid)


def run_instance_info(params: dict[str, t.Any]) -> dict[str, t.Any]:
    """Each uuid's domain state and console ready line; with console_lines, the log's tail too
    (console_tail: the task that asks for it is no_log, as the guest's output may hold anything)."""
    lines = params.get("console_lines")
    if lines is not None and not -1 <= lines <= CONSOLE_MAX_LINES:
        raise StratusError("InvalidRequest", "console_lines must be -1 to %d" % CONSOLE_MAX_LINES, "console_lines")
    conn = connect(params["uri"])
    out = {}
    for uuid in params["uuids"]:
        try:
            state = domain.domain_state(conn, uuid)
        except Exception as exc:  # report, don't fail: this is a read-only view
            state = "unknown: %s" % error_text(exc)
        out[uuid] = {"state": state, "console_ready": _console_line(domain.console_log_path(uuid))}
        if lines is not None:
            out[uuid]["console_tail"] = console_tail(_console_path(uuid), lines)
    return {"changed": False, "instances": out}
