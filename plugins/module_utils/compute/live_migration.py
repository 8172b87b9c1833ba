# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live migration on a hypervisor, Nova's libvirt driver's way (without shared storage: the disks are copied).

- the destination's preparation (``run_prepare``, module compute_live_migration_prep; Nova's
  pre_live_migration): the console log directory the domain's serial log is written to, then the build's
  network and block device steps in one call (the network and DHCP entry; the base image asked for when
  missing, the root overlay, ephemeral and swap disks, the config drive).
- the migration (``run_migrate``, module compute_live_migration, on the source; Nova's live_migration): first
  where the guest runs, asking both libvirts (a
  rerun after a kill finds a migration that ended, or one that never started); then, unless it is already
  on the destination (a rerun, ``resume``, that finds it still on the source migrates it too: no migration
  of it goes on then), ``virDomainMigrateToURI3`` to the destination's
  libvirt (PEER2PEER: the source libvirtd drives it) or ``virDomainMigrate3`` over a connection this module
  opens to both (``mode: direct``), with the migration stream on ``tcp://<destination's migration
  address>``, the writable disks copied (NON_SHARED_INC, Nova's: each disk's top image, the destination having
  the base image; or NON_SHARED_DISK: whole), the
  domain persisted on the destination and undefined on the source. The job's progress is polled; past
  the completion timeout (Nova's ``live_migration_completion_timeout``: seconds per GiB of RAM and disk,
  each counted as at least 2 GiB) the job is aborted. Each instance ends with where its guest runs; one on the
  destination has the source's half removed (Nova's post_live_migration at the source: the domain if still
  defined, the local disks and config drive, the DHCP entry).

Holds the host lock as every changing step does: a rerun waits for a migration a killed run left going.
Standard library and libvirt-python only.
"""
from __future__ import annotations

import ipaddress
import os
import re
import threading
import time
import typing as t
import xml.etree.ElementTree as ET

from ansible_collections.stratus.compute.plugins.module_utils.compute import domain as domains, steps
from ansible_collections.stratus.compute.plugins.module_utils.compute.common import (
    BLOCK_DEVICE_ARG_SPEC, host_lock, run_module, step_argument_spec,
)
from ansible_collections.stratus.compute.plugins.module_utils.compute.libvirt_conn import (
    connect, error_text, is_no_domain, libvirt,
)
from ansible_collections.stratus.compute.plugins.module_utils.compute.power import DOMAIN_NAME_RE
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result

# A host of a migration URI or address: an IPv4 address or a DNS name (RFC 1123 labels).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_RE = re.compile(r"%s(?:\.%s)*" % (_LABEL, _LABEL))
# Nova's live_migration_uri: the libvirt another hypervisor reaches this one's by (qemu+tls or qemu+ssh in
# production, qemu+tcp in the lab), a user only with ssh, an optional port, the system instance.
MIGRATION_URI_RE = re.compile(r"qemu\+(?:tcp|tls|ssh)://(?:(?P<user>[a-z_][a-z0-9_-]{0,31})@)?"
                              r"(?P<host>[A-Za-z0-9.-]{1,253})(?::(?P<port>[0-9]{1,5}))?/system")
MODES = ("p2p", "direct")
DISK_COPIES = ("full", "incremental")
# Nova's live_migration_completion_timeout (seconds per GiB) and its floor of 2 GiB for RAM and each disk.
COMPLETION_TIMEOUT_PER_GIB = 800
MIN_GIB = 2
POLL_INTERVAL = 0.5
JOIN_INTERVAL = 0.05
JOB_WAIT_TIMEOUT = 3600.0

# Mirrored by the module's DOCUMENTATION (plugins/modules/compute_live_migration.py).
LIVE_MIGRATION_ARG_SPEC: dict[str, t.Any] = {
    "uri": {"type": "str", "default": "qemu:///system"},
    "dest_uri": {"type": "str", "required": True},
    "dest_address": {"type": "str", "required": True},
    "instances": {"type": "list", "elements": "dict", "default": [], "options": {
        "uuid": {"type": "str", "required": True},
        "domain_name": {"type": "str", "required": True},
        "disks": {"type": "list", "elements": "dict", "default": []},
        "source_plan": {"type": "dict"},
    }},
    "base_pool_path": {"type": "path", "default": steps.DEFAULT_BASE_POOL_PATH},
    "instance_pool_path": {"type": "path", "default": steps.DEFAULT_INSTANCE_POOL_PATH},
    "resume": {"type": "bool", "default": False},
    "completion_timeout": {"type": "int", "default": COMPLETION_TIMEOUT_PER_GIB},
    "mode": {"type": "str", "default": "p2p", "choices": list(MODES)},
    "disk_copy": {"type": "str", "default": "incremental", "choices": list(DISK_COPIES)},
    # the action plugin's (it reads the host's servers from the store); the module ignores them
    "run_uuids": {"type": "list", "elements": "str"},
    "db_url": {"type": "str", "no_log": True},
}


def valid_host(value: t.Any, field: str) -> str:
    """An IPv4 address or a DNS name, whole; InvalidRequest naming the field otherwise."""
    text = value if isinstance(value, str) else ""
    try:
        if ipaddress.ip_address(text).version == 4:
            return text
    except ValueError:
        pass
    # a dotted quad that is no IPv4 address is no host name either
    if HOST_RE.fullmatch(text) and len(text) <= 253 and not re.fullmatch(r"[0-9.]+", text):
        return text
    raise StratusError("InvalidRequest", "%s must be an IPv4 address or a host name, not %r" % (field, value), field)


def valid_migration_uri(value: t.Any, field: str) -> str:
    """A libvirt URI another hypervisor reaches this one by (qemu+tcp, qemu+tls or qemu+ssh, a host,
    /system), whole; InvalidRequest naming the field otherwise."""
    match = MIGRATION_URI_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None or (match.group("user") and not value.startswith("qemu+ssh")) or \
            (match.group("port") and not 0 < int(match.group("port")) < 65536):
        raise StratusError("InvalidRequest", "%s must be qemu+tcp://, qemu+tls:// or qemu+ssh://HOST[:PORT]/system, "
                           "not %r" % (field, value), field)
    valid_host(match.group("host"), field)
    return value


def migration_flags(mode: str = "p2p", disk_copy: str = "incremental") -> int:
    """Nova's live migration flags: LIVE, PEER2PEER (unless direct), the disks copied, the domain persisted on
    the destination and undefined on the source."""
    flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE |
             (libvirt.VIR_MIGRATE_NON_SHARED_INC if disk_copy == "incremental" else libvirt.VIR_MIGRATE_NON_SHARED_DISK))
    return flags | libvirt.VIR_MIGRATE_PEER2PEER if mode == "p2p" else flags


class Disk(t.NamedTuple):
    target: str             # the guest's device name (vda)
    path: str               # the file on this host
    # copied by the migration (Nova's _live_migration_copy_disk_paths): not read-only, not shareable, a file or block
    writable: bool


def domain_disks(xml: str) -> list[Disk]:
    """The domain's disks, from its XML."""
    disks = []
    for disk in ET.fromstring(xml).findall("./devices/disk"):
        target, source = disk.find("target"), disk.find("source")
        if target is None or source is None:
            continue
        path = source.get("file") or source.get("dev") or ""
        writable = disk.find("readonly") is None and disk.find("shareable") is None and \
            disk.get("type") in ("file", "block") and bool(path)
        disks.append(Disk(target.get("dev", ""), path, writable))
    return disks


def destination_xml(xml: str, dest_paths: t.Mapping[str, str]) -> t.Optional[str]:
    """The domain's XML with its disks at their destination paths (by target device), or None when every
    path is the same there (libvirt then uses the source's XML as it is)."""
    root = ET.fromstring(xml)
    changed = False
    for disk in root.findall("./devices/disk"):
        target, source = disk.find("target"), disk.find("source")
        if target is None or source is None or source.get("file") is None:
            continue
        new = dest_paths.get(target.get("dev", ""))
        if new and new != source.get("file"):
            source.set("file", new)
            changed = True
    return ET.tostring(root, encoding="unicode") if changed else None


def completion_timeout(per_gib: int, memory_mib: int, disk_bytes: t.Sequence[int]) -> int:
    """Nova's completion timeout: per_gib seconds for each GiB of RAM and of each copied disk, each counted
    as at least 2 GiB (0: none)."""
    gib = max(memory_mib / 1024.0, MIN_GIB) + sum(max(size / float(1 << 30), MIN_GIB) for size in disk_bytes)
    return int(per_gib * gib)


def migration_params(dest_address: str, disks: t.Sequence[Disk], dest_xml: t.Optional[str]) -> dict[str, t.Any]:
    """migrateToURI3's typed parameters: the migration stream to the destination's migration address, the
    destination's QEMU (and its NBD server, which takes the disks) listening there, the disks to copy."""
    params: dict[str, t.Any] = {
        libvirt.VIR_MIGRATE_PARAM_URI: "tcp://%s" % dest_address,
        libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS: dest_address,
        libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS: [d.target for d in disks if d.writable],
    }
    if dest_xml is not None:
        params[libvirt.VIR_MIGRATE_PARAM_DEST_XML] = dest_xml
        params[libvirt.VIR_MIGRATE_PARAM_PERSIST_XML] = dest_xml
    return params


def _lookup(conn: t.Optional[t.Any], uuid: str) -> t.Optional[t.Any]:
    return None if conn is None else domains.lookup(conn, uuid)


def _active(dom: t.Optional[t.Any]) -> bool:
    try:
        return dom is not None and bool(dom.isActive())
    except libvirt.libvirtError as exc:
        if is_no_domain(exc):
            return False
        raise


JOB_ENDED = ("VIR_DOMAIN_JOB_NONE", "VIR_DOMAIN_JOB_COMPLETED", "VIR_DOMAIN_JOB_FAILED", "VIR_DOMAIN_JOB_CANCELLED")


def wait_for_job(dom: t.Optional[t.Any], clock: t.Callable[[], float], sleep: t.Callable[[float], None],
                 timeout: float = JOB_WAIT_TIMEOUT) -> None:
    """Wait until the domain has no job going (a migration that a killed run's libvirtd still drives)."""
    if dom is None:
        return
    ended = {getattr(libvirt, name) for name in JOB_ENDED if hasattr(libvirt, name)}
    deadline = clock() + timeout
    while clock() < deadline:
        try:
            if dom.jobInfo()[0] in ended:
                return
        except libvirt.libvirtError:  # the domain went (migrated away) or is not running: no job
            return
        sleep(POLL_INTERVAL)
    raise StratusError("MigrationError", "domain %s still has a job after %d s" % (dom.UUIDString(), timeout))


def locate(src: t.Any, dst: t.Optional[t.Any], uuid: str) -> str:
    """Where the guest runs: ``source``, ``destination``, ``nowhere`` (neither runs it), or ``unknown`` (not on
    the source, and the destination could not be asked)."""
    if _active(_lookup(src, uuid)):
        return "source"
    if dst is None:
        return "unknown"
    return "destination" if _active(_lookup(dst, uuid)) else "nowhere"


class Migration:
    """One migration job: libvirt's call in a thread, its progress polled here, aborted past the timeout."""

    def __init__(self, dom: t.Any, start: t.Callable[[], t.Any], timeout: int,
                 clock: t.Callable[[], float] = time.monotonic) -> None:
        self.dom, self.start, self.timeout, self.clock = dom, start, timeout, clock
        self.error: t.Optional[BaseException] = None
        self.progress: list[dict[str, t.Any]] = []
        self.aborted = False

    def _run(self) -> None:
        try:
            self.start()
        except BaseException as exc:  # libvirt's error (or a cancelled job): the caller reports it
            self.error = exc

    def _sample(self, elapsed: float) -> None:
        try:
            stats = self.dom.jobStats()
        except libvirt.libvirtError:
            return
        keys = ("memory_processed", "memory_total", "disk_processed", "disk_total", "data_remaining")
        sample = {k: stats[k] for k in keys if k in stats}
        if sample:
            self.progress = (self.progress + [dict(sample, elapsed=round(elapsed, 1))])[-20:]

    def run(self) -> float:
        """Until libvirt's call returns; the seconds it took."""
        began = self.clock()
        worker = threading.Thread(target=self._run, name="live-migration", daemon=True)
        worker.start()
        sampled = began
        while worker.is_alive():
            worker.join(JOIN_INTERVAL)  # short: the end of the job is seen at once
            elapsed = self.clock() - began
            if worker.is_alive() and self.clock() - sampled >= POLL_INTERVAL:
                sampled = self.clock()
                self._sample(elapsed)
            if worker.is_alive() and self.timeout and elapsed > self.timeout and not self.aborted:
                # Nova's live_migration_timeout_action abort: the guest stays on the source
                self.aborted = True
                try:
                    self.dom.abortJob()
                except libvirt.libvirtError:  # it ended meanwhile: its outcome is what counts
                    pass
        return self.clock() - began


def migrate_one(src: t.Any, dst: t.Optional[t.Any], element: t.Mapping[str, t.Any], params: t.Mapping[str, t.Any],
                clock: t.Callable[[], float] = time.monotonic,
                sleep: t.Callable[[float], None] = time.sleep) -> dict[str, t.Any]:
    """One instance: where it runs, migrated there unless it is already or this is a rerun."""
    uuid, name = element["uuid"], element["domain_name"]
    match = DOMAIN_NAME_RE.fullmatch(name)
    if not match or match.group("uuid") != uuid:
        raise StratusError("InvalidRequest", "domain name %r is not instance-<uuid> for instance %s" % (name, uuid),
                           "instances.domain_name")
    wait_for_job(_lookup(src, uuid), clock, sleep)
    where = locate(src, dst, uuid)
    # A rerun (resume) that finds the guest still here migrates it: the host lock and wait_for_job above say
    # that no migration of it goes on, so the killed run's never began (the kill came between the record's
    # `running` and libvirt's call) or libvirt ended it on the source; the destination is as its preparation
    # left it. Rolling back instead would fail a request its rerun can still carry out.
    if where != "source" or params.get("check"):
        # already moved (post is left), lost, or only looked at
        out = {"ok": where == "destination", "changed": False, "location": where}
        return post_at_source(src, params, element, out) if where == "destination" and not params.get("check") else out
    if dst is None:
        return {"ok": False, "changed": False, "location": where, "error": {
            "code": "MigrationPreCheckError", "message": "the destination's libvirt at %s cannot be reached"
            % params["dest_uri"], "field": "dest_uri"}}
    dom = src.lookupByUUIDString(uuid)
    xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE)
    disks = domain_disks(xml)
    dest_paths = {d["device_name"]: d["path"] for d in element.get("disks") or [] if d.get("device_name") and d.get("path")}
    call_params = migration_params(params["dest_address"], disks, destination_xml(xml, dest_paths))
    flags = migration_flags(params["mode"], params["disk_copy"])
    sizes = [os.stat(d.path).st_size for d in disks if d.writable and os.path.exists(d.path)]
    timeout = completion_timeout(params["completion_timeout"], int(dom.maxMemory()) // 1024, sizes)
    if params["mode"] == "p2p":
        def start() -> t.Any:
            return dom.migrateToURI3(params["dest_uri"], call_params, flags)
    else:
        def start() -> t.Any:
            return dom.migrate3(dst, call_params, flags)
    job = Migration(dom, start, timeout, clock)
    seconds = job.run()
    where = locate(src, dst, uuid)
    out: dict[str, t.Any] = {"ok": where == "destination", "changed": where != "source", "location": where,
                             "seconds": round(seconds, 2), "completion_timeout": timeout, "flags": flags,
                             "migrate_disks": call_params[libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS],
                             "progress": job.progress}
    if where == "destination":
        return post_at_source(src, params, element, out)
    if where != "destination":
        why = ("not completed within %d s (the completion timeout): aborted" % timeout if job.aborted else
               error_text(job.error) if job.error is not None else "the guest is not running on the destination")
        out["error"] = {"code": "MigrationError", "message": "live migration of %s to %s failed: %s"
                        % (uuid, params["dest_uri"], why), "field": None}
    return out


def post_at_source(src: t.Any, params: t.Mapping[str, t.Any], element: t.Mapping[str, t.Any],
                   out: dict[str, t.Any]) -> dict[str, t.Any]:
    """The guest runs on the destination: what the source still holds of it goes (Nova's post_live_migration
    at the source): the domain if still defined, the local disks and config drive, the DHCP entry. What
    cannot be is said in ``source_left`` (the action plugin keeps it as a leftover)."""
    plan = element.get("source_plan")
    if not plan:
        return out
    began = time.monotonic()
    left = []
    try:
        out["changed"] = domains.ensure_absent(src, element["uuid"]) or out["changed"]
    except StratusError as exc:
        left.append("domain: %s" % exc.message)
    pools = {k: params[k] for k in ("base_pool_path", "instance_pool_path")}
    for step, runner, extra in (("block_devices", steps.run_block_devices, pools), ("network", steps.run_network, {})):
        try:
            res = runner(dict(extra, uri=params["uri"], state="absent", instances=[plan], secrets={}))
            one = res["instances"].get(element["uuid"]) or {"error": {"message": "no result"}}
        except StratusError as exc:
            one = {"error": exc.to_dict()}
        out["changed"] = out["changed"] or bool(one.get("changed"))
        if not one.get("ok"):
            left.append("%s: %s" % (step, (one.get("error") or {}).get("message")))
    if left:
        out["source_left"] = "; ".join(left)
    out["post_seconds"] = round(time.monotonic() - began, 2)
    return out


def run_prepare(params: dict[str, t.Any]) -> dict[str, t.Any]:
    """The destination's preparation: the console log directory, then the network and block device steps."""
    made = not os.path.isdir(domains.CONSOLE_DIR)
    os.makedirs(domains.CONSOLE_DIR, mode=0o700, exist_ok=True)
    res = steps.run_chain(params, (("network", steps.run_network), ("block_devices", steps.run_block_devices)),
                          "a live migration's preparation")
    return dict(res, changed=bool(res.get("changed")) or made)


def run_prepare_module() -> None:
    """compute_live_migration_prep's main()."""
    run_module(run_prepare, step_argument_spec(BLOCK_DEVICE_ARG_SPEC))


def run_migrate(params: dict[str, t.Any], open_conn: t.Callable[[str], t.Any] = connect,
                clock: t.Callable[[], float] = time.monotonic,
                sleep: t.Callable[[float], None] = time.sleep) -> dict[str, t.Any]:
    """Each instance in turn (one migration at a time from a host, Nova's max_concurrent_live_migrations)."""
    params = dict(params, dest_uri=valid_migration_uri(params.get("dest_uri"), "dest_uri"),
                  dest_address=valid_host(params.get("dest_address"), "dest_address"))
    if params["completion_timeout"] < 0:
        raise StratusError("InvalidRequest", "completion_timeout must be 0 (none) or more seconds per GiB",
                           "completion_timeout")
    if not params["instances"]:
        return {"changed": False, "instances": {}}
    src = open_conn(params["uri"])
    try:
        dst: t.Optional[t.Any] = open_conn(params["dest_uri"])
    except StratusError:  # located on the source alone; a migration is then refused per instance
        dst = None
    results: dict[str, t.Any] = {}
    for element in params["instances"]:
        try:
            results[element["uuid"]] = migrate_one(src, dst, element, params, clock, sleep)
        except StratusError as exc:
            results[element["uuid"]] = {"ok": False, "changed": False, "location": "unknown", "error": exc.to_dict()}
        except libvirt.libvirtError as exc:
            results[element["uuid"]] = {"ok": False, "changed": False, "location": "unknown", "error": {
                "code": "MigrationError", "message": error_text(exc), "field": None}}
    return {"changed": any(r["changed"] for r in results.values()), "instances": results}


def run_live_migration_module() -> None:
    """compute_live_migration's main(): parse, hold the host lock (not in check mode), migrate, report."""
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec=LIVE_MIGRATION_ARG_SPEC, supports_check_mode=True)
    try:
        if module.check_mode:  # where each guest runs; nothing changes
            result = run_migrate(dict(module.params, resume=True, check=True))
        else:
            with host_lock():
                result = run_migrate(module.params)
        module.exit_json(**result)
    except StratusError as exc:
        module.exit_json(**error_result(exc))
