# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The spawn step on a hypervisor: domain XML from the build plan, define, start, wait.

The XML is built with ElementTree, so every user value is escaped. Idempotency
compares a hash of our canonical spec, kept in the domain's <metadata>, never
the XML text libvirt hands back (which it normalises and fills with defaults).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import typing as t
import xml.etree.ElementTree as ET

from ansible_collections.stratus.compute.plugins.module_utils.compute.libvirt_conn import (
    error_text, is_no_domain, libvirt,
)
from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan, read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

METADATA_NS = "https://stratus-compute.dev/xmlns/instance/1.0"
METADATA_PREFIX = "stratus"
CONSOLE_DIR = "/var/log/libvirt/stratus"


# A plan as the module got it (a dict) or as read (read_plan passes a BuildPlan through).
PlanLike = t.Union[BuildPlan, t.Mapping[str, t.Any]]


def canonical_spec(plan: PlanLike, disks: list[dict[str, t.Any]], domain_type: str) -> dict[str, t.Any]:
    """Everything the domain XML is made from, in a stable shape (its hash decides a redefine:
    keep the keys and values as they are)."""
    plan = read_plan(plan)
    return {
        "uuid": plan.uuid,
        "name": plan.domain_name,
        "domain_type": domain_type,
        "vcpus": int(plan.flavor["vcpus"]),
        "memory_mb": int(plan.flavor["ram"]),
        "disks": [{k: d.get(k) for k in ("path", "device_name", "bus", "device_type", "format")} for d in disks],
        "nics": [{"mac": nic.mac, "libvirt_network": nic.libvirt_network} for nic in plan.nics],
        "console_log": console_log_path(plan.uuid),
    }


def spec_hash(spec: dict[str, t.Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def console_log_path(uuid: str) -> str:
    return os.path.join(CONSOLE_DIR, "%s.console.log" % uuid)


def _metadata_element(plan: BuildPlan, digest: str) -> ET.Element:
    ET.register_namespace(METADATA_PREFIX, METADATA_NS)
    q = "{%s}%%s" % METADATA_NS
    inst = ET.Element(q % "instance")
    ET.SubElement(inst, q % "name").text = plan.name
    ET.SubElement(inst, q % "project", uuid=plan.project_id)
    ET.SubElement(inst, q % "user", uuid=plan.user_id)
    ET.SubElement(inst, q % "flavor", name=str(plan.flavor.get("name", "")), id=str(plan.flavor.get("id", "")))
    image_id, image_name = (str(plan.image.id), str(plan.image.name)) if plan.image else ("", "")
    ET.SubElement(inst, q % "image", uuid=image_id, name=image_name)
    ET.SubElement(inst, q % "creationTime").text = plan.created_at
    ET.SubElement(inst, q % "specHash").text = digest
    return inst


def domain_xml(plan: PlanLike, disks: list[dict[str, t.Any]], domain_type: str) -> tuple[str, str]:
    """The domain XML and its spec hash."""
    plan = read_plan(plan)
    spec = canonical_spec(plan, disks, domain_type)
    digest = spec_hash(spec)
    dom = ET.Element("domain", type=domain_type)
    ET.SubElement(dom, "name").text = spec["name"]
    ET.SubElement(dom, "uuid").text = spec["uuid"]
    ET.SubElement(dom, "title").text = plan.name
    meta = ET.SubElement(dom, "metadata")
    meta.append(_metadata_element(plan, digest))
    ET.SubElement(dom, "memory", unit="MiB").text = str(spec["memory_mb"])
    ET.SubElement(dom, "vcpu", placement="static").text = str(spec["vcpus"])
    os_el = ET.SubElement(dom, "os")
    ET.SubElement(os_el, "type", arch="x86_64", machine="pc").text = "hvm"
    ET.SubElement(os_el, "boot", dev="hd")
    features = ET.SubElement(dom, "features")
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    # No host-passthrough: nested hypervisors (this lab's VM among them) reject some
    # host MSRs, and the default model is enough for our guests.
    ET.SubElement(dom, "clock", offset="utc")
    ET.SubElement(dom, "on_poweroff").text = "destroy"
    ET.SubElement(dom, "on_reboot").text = "restart"
    ET.SubElement(dom, "on_crash").text = "destroy"
    devices = ET.SubElement(dom, "devices")
    for disk in spec["disks"]:
        d = ET.SubElement(devices, "disk", type="file", device=disk["device_type"] or "disk")
        ET.SubElement(d, "driver", name="qemu", type=disk["format"] or "qcow2")
        ET.SubElement(d, "source", file=disk["path"])
        ET.SubElement(d, "target", dev=disk["device_name"], bus=disk["bus"] or "virtio")
        if disk["device_type"] == "cdrom":
            ET.SubElement(d, "readonly")
    for nic in spec["nics"]:
        n = ET.SubElement(devices, "interface", type="network")
        ET.SubElement(n, "source", network=nic["libvirt_network"])
        ET.SubElement(n, "mac", address=nic["mac"])
        ET.SubElement(n, "model", type="virtio")
    serial = ET.SubElement(devices, "serial", type="pty")
    ET.SubElement(serial, "log", file=spec["console_log"], append="off")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")
    ET.SubElement(devices, "memballoon", model="none")
    return ET.tostring(dom, encoding="unicode"), digest


KVM_PROBE_CACHE = "/var/lib/libvirt/stratus/kvm-probe.json"


def kvm_works(qemu: str = "qemu-system-x86_64", seconds: float = 1.5) -> bool:
    """Run firmware under KVM for a moment: nested hosts may expose /dev/kvm and still
    pause every guest with an emulation failure, which only running code reveals."""
    if not os.path.exists("/dev/kvm"):
        return False
    try:
        proc = subprocess.Popen(
            [qemu, "-accel", "kvm", "-machine", "pc", "-m", "32", "-display", "none", "-nodefaults",
             "-no-user-config", "-monitor", "stdio", "-serial", "none"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError:
        return False
    time.sleep(seconds)
    try:
        out = proc.communicate("info status\nquit\n", timeout=10)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return False
    return "VM status: running" in out


def detect_domain_type(conn: t.Any, wanted: str = "auto") -> str:
    """kvm where the host offers it and it really runs guests, else qemu (TCG)."""
    if wanted in ("kvm", "qemu"):
        return wanted
    caps = ET.fromstring(conn.getCapabilities())
    offered = any(arch.find("./domain[@type='kvm']") is not None
                  for arch in caps.findall("./guest/arch[@name='x86_64']"))
    if not offered:
        return "qemu"
    try:
        with open(KVM_PROBE_CACHE) as handle:
            return json.load(handle)["domain_type"]
    except (OSError, ValueError, KeyError):
        pass
    found = "kvm" if kvm_works() else "qemu"
    _remember_domain_type(found)
    return found


def lookup(conn: t.Any, uuid: str) -> t.Optional[t.Any]:
    try:
        return conn.lookupByUUIDString(uuid)
    except libvirt.libvirtError as exc:
        if is_no_domain(exc):
            return None
        raise


def current_spec_hash(dom: t.Any) -> t.Optional[str]:
    try:
        text = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    except libvirt.libvirtError:
        return None
    el = ET.fromstring(text)
    return el.findtext("{%s}specHash" % METADATA_NS) or el.findtext("specHash")


def wait_running(dom: t.Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        state = dom.state()[0]
        if state == libvirt.VIR_DOMAIN_RUNNING:
            return
        if time.monotonic() > deadline:
            raise StratusError("BuildAbortException",
                               "domain %s did not reach running within %ss (state %s)"
                               % (dom.UUIDString(), timeout, state))
        time.sleep(0.2)


def _remember_domain_type(found: str) -> None:
    os.makedirs(os.path.dirname(KVM_PROBE_CACHE), exist_ok=True)
    with open(KVM_PROBE_CACHE, "w") as handle:
        json.dump({"domain_type": found}, handle)


def kvm_guest_paused(dom: t.Any, settle: float) -> bool:
    """Whether a fresh KVM guest paused by itself (an emulation failure on nested hosts)."""
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        state, reason = dom.state()
        if state == libvirt.VIR_DOMAIN_PAUSED and reason != libvirt.VIR_DOMAIN_PAUSED_USER:
            return True
        time.sleep(0.25)
    return False


def ensure_running(conn: t.Any, plan: PlanLike, disks: list[dict[str, t.Any]],
                   domain_type: str, timeout: float, kvm_settle: float = 4.0) -> dict[str, t.Any]:
    """Define (or redefine when the spec changed) and start the domain."""
    plan = read_plan(plan)
    os.makedirs(CONSOLE_DIR, mode=0o700, exist_ok=True)
    xml, digest = domain_xml(plan, disks, domain_type)
    changed = False
    restart_needed = False
    try:
        dom = lookup(conn, plan.uuid)
        if dom is None or current_spec_hash(dom) != digest:
            was_active = dom is not None and dom.isActive()
            dom = conn.defineXML(xml)
            changed = True
            restart_needed = was_active
        started = False
        if not dom.isActive():
            dom.create()
            changed = started = True
        wait_running(dom, timeout)
        if started and domain_type == "kvm" and kvm_guest_paused(dom, kvm_settle):
            # KVM is offered but cannot run guests here: fall back to TCG for good.
            dom.destroy()
            _remember_domain_type("qemu")
            result = ensure_running(conn, plan, disks, "qemu", timeout)
            result["kvm_fallback"] = True
            return result
    except libvirt.libvirtError as exc:
        raise StratusError("BuildAbortException", "spawning %s failed: %s" % (plan.uuid, error_text(exc)))
    return {"changed": changed, "spec_hash": digest, "restart_needed": restart_needed,
            "console_log": console_log_path(plan.uuid), "domain_type": domain_type}


UNDEFINE_FLAGS_NAMES = (
    "VIR_DOMAIN_UNDEFINE_MANAGED_SAVE",
    "VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA",
    "VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA",
    "VIR_DOMAIN_UNDEFINE_NVRAM",
)


def ensure_absent(conn: t.Any, uuid: str) -> bool:
    """Destroy and undefine, dropping managed save, snapshot metadata and NVRAM."""
    try:
        dom = lookup(conn, uuid)
        if dom is None:
            return False
        if dom.isActive():
            try:
                dom.destroy()
            except libvirt.libvirtError:
                # Another destroy got there first (the module of a run killed mid-delete can still be
                # finishing on the host): a domain that no longer runs is what this step wants.
                if dom.isActive():
                    raise
        flags = 0
        for name in UNDEFINE_FLAGS_NAMES:
            flags |= getattr(libvirt, name, 0)
        dom.undefineFlags(flags)
    except libvirt.libvirtError as exc:
        if is_no_domain(exc):
            return False
        raise StratusError("BuildAbortException", "deleting domain %s failed: %s" % (uuid, error_text(exc)))
    return True


def domain_state(conn: t.Any, uuid: str) -> str:
    dom = lookup(conn, uuid)
    if dom is None:
        return "absent"
    names = {
        libvirt.VIR_DOMAIN_RUNNING: "running", libvirt.VIR_DOMAIN_BLOCKED: "blocked",
        libvirt.VIR_DOMAIN_PAUSED: "paused", libvirt.VIR_DOMAIN_SHUTDOWN: "shutdown",
        libvirt.VIR_DOMAIN_SHUTOFF: "shutoff", libvirt.VIR_DOMAIN_CRASHED: "crashed",
        libvirt.VIR_DOMAIN_PMSUSPENDED: "suspended",
    }
    return names.get(dom.state()[0], "nostate")
