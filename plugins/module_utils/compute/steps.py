# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The three build steps as module runners: each takes the whole plan of one host."""
from __future__ import annotations

import hashlib
import os
import shutil
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.compute import block_device, domain, network
from ansible_collections.stratus.compute.plugins.module_utils.compute.common import per_instance
from ansible_collections.stratus.compute.plugins.module_utils.compute.libvirt_conn import connect, error_text
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

DEFAULT_BASE_POOL_PATH = "/var/lib/libvirt/stratus/base"
DEFAULT_INSTANCE_POOL_PATH = "/var/lib/libvirt/stratus/instances"


def run_network(params: dict[str, t.Any]) -> dict[str, t.Any]:
    conn = connect(params["uri"])
    instances = params["instances"]
    changed = False
    net_errors: dict[str, dict[str, t.Any]] = {}
    if params["state"] == "present":
        specs = {n["id"]: n for inst in instances for n in inst.get("networks", [])}
        # dnsmasq's PID file is only to be read where the system libvirtd runs: this host
        pid_dir = network.DNSMASQ_PID_DIR if params["uri"] == "qemu:///system" else None
        for net_id, spec in sorted(specs.items()):
            try:
                changed = network.ensure_network(conn, spec, pid_dir) or changed
            except StratusError as exc:
                net_errors[net_id] = exc.to_dict()

    def one(inst: dict[str, t.Any]) -> dict[str, t.Any]:
        did = False
        for nic in inst.get("nics", []):
            if params["state"] == "absent":
                did = network.remove_dhcp_host(conn, nic["libvirt_network"], nic["mac"]) or did
                continue
            if nic["network_id"] in net_errors:
                err = net_errors[nic["network_id"]]
                raise StratusError(err["code"], err["message"], err["field"])
            did = network.ensure_dhcp_host(conn, nic["libvirt_network"], nic["mac"], nic["ip"],
                                           nic.get("hostname", "")) or did
        return {"changed": did}

    inst_changed, results = per_instance(instances, one)
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


def run_block_devices(params: dict[str, t.Any]) -> dict[str, t.Any]:
    from ansible_collections.stratus.compute.plugins.module_utils.compute.config_drive import build_config_drive

    conn = connect(params["uri"])
    changed = _install_uploads(params.get("uploads") or {}, params["base_pool_path"])
    base_pool, c1 = block_device.ensure_pool(conn, block_device.BASE_POOL, params["base_pool_path"])
    pool, c2 = block_device.ensure_pool(conn, block_device.INSTANCE_POOL, params["instance_pool_path"])
    volume_pool, c3 = block_device.ensure_pool(
        conn, block_device.VOLUME_POOL, os.path.join(os.path.dirname(params["instance_pool_path"].rstrip("/")),
                                                     "volumes"))
    changed = changed or c1 or c2 or c3

    def pool_of(dev: dict[str, t.Any]) -> t.Any:
        return volume_pool if dev.get("kind") in ("volume", "new_volume") else pool

    def absent(inst: dict[str, t.Any]) -> dict[str, t.Any]:
        did = False
        for dev in inst.get("block_devices", []):
            if dev.get("delete_on_termination", True):
                did = block_device.delete_volume(pool_of(dev), dev["name"]) or did
        for name in block_device.volumes_with_prefix(pool, "%s-disk.config" % inst["uuid"]):
            did = block_device.delete_volume(pool, name) or did
        return {"changed": did}

    def present(inst: dict[str, t.Any]) -> dict[str, t.Any]:
        did = False
        disks = []
        made: list[str] = []
        try:
            for dev in inst.get("block_devices", []):
                if dev["kind"] == "image":
                    path, new = block_device.ensure_overlay(pool, base_pool, dev)
                elif dev["kind"] == "blank":
                    path, new = block_device.ensure_blank(pool, dev)
                elif dev["kind"] == "new_volume" and dev.get("image_id"):
                    path, new = block_device.ensure_image_volume(volume_pool, base_pool, dev)
                elif dev["kind"] == "new_volume":
                    path, new = block_device.ensure_blank(volume_pool, dev)
                elif dev["kind"] == "volume":
                    path, new = block_device.existing_volume(volume_pool, dev), False
                else:
                    raise StratusError("InvalidBDM", "unsupported block device kind %r" % dev["kind"],
                                       "block_device_mapping_v2")
                if new:
                    made.append((pool_of(dev), dev["name"]))
                did = did or new
                disks.append(dict(dev, path=path))
            cd = inst.get("config_drive")
            if cd:
                user_data = block_device.decode_user_data(cd.get("user_data"))
                data = build_config_drive(cd["meta_data"], cd.get("network_data"), user_data)
                digest = hashlib.sha256(data).hexdigest()[:16]
                name = "%s-disk.config-%s.iso" % (inst["uuid"], digest)
                path, new = block_device.ensure_file_volume(conn, pool, name, data)
                if new:
                    made.append((pool, name))
                # A changed config drive replaces the old one: drop older versions.
                for old in block_device.volumes_with_prefix(pool, "%s-disk.config" % inst["uuid"]):
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

    def present(inst: dict[str, t.Any]) -> dict[str, t.Any]:
        res = domain.ensure_running(conn, inst, inst.get("disks") or [], current["type"], params["timeout"])
        if res.get("kvm_fallback"):
            current["type"] = "qemu"  # the rest of this host's instances go straight to TCG
        return res

    def absent(inst: dict[str, t.Any]) -> dict[str, t.Any]:
        return {"changed": domain.ensure_absent(conn, inst["uuid"])}

    inst_changed, results = per_instance(params["instances"], present if params["state"] == "present" else absent)
    return {"changed": inst_changed, "instances": results, "domain_type": current["type"]}


READY_MARKER = "STRATUS-GUEST ready"


def _console_line(path: str) -> t.Optional[str]:
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return None
    lines = [ln.strip() for ln in text.splitlines() if READY_MARKER in ln]
    return lines[-1][lines[-1].index(READY_MARKER):] if lines else None


def run_instance_info(params: dict[str, t.Any]) -> dict[str, t.Any]:
    conn = connect(params["uri"])
    out = {}
    for uuid in params["uuids"]:
        try:
            state = domain.domain_state(conn, uuid)
        except Exception as exc:  # report, don't fail: this is a read-only view
            state = "unknown: %s" % error_text(exc)
        out[uuid] = {"state": state, "console_ready": _console_line(domain.console_log_path(uuid))}
    return {"changed": False, "instances": out}
