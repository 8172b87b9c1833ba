"""The live migration module on a hypervisor (module_utils/compute/live_migration.py): its rules for the
destination's URI and address, libvirt's flags and parameters, Nova's completion timeout, and where a rerun
finds the guest, on fake libvirt connections."""
from __future__ import annotations

import threading
import typing as t

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.compute import live_migration as lm
from ansible_collections.stratus.compute.plugins.module_utils.compute.libvirt_conn import libvirt
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

UUID = "6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11"
NAME = "instance-%s" % UUID
DEST_URI = "qemu+tcp://10.245.251.2/system"
XML = """<domain type='qemu'><name>%s</name><uuid>%s</uuid><devices>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/src/%s_disk'/>
    <target dev='vda' bus='virtio'/></disk>
  <disk type='file' device='disk'><source file='/src/%s_disk.eph0'/><target dev='vdb' bus='virtio'/></disk>
  <disk type='file' device='cdrom'><source file='/src/%s-disk.config-ab.iso'/><target dev='hdd' bus='ide'/>
    <readonly/></disk>
</devices></domain>""" % (NAME, UUID, UUID, UUID, UUID)


def libvirt_error(code: int, message: str) -> Exception:
    exc = libvirt.libvirtError(message)
    exc.err = (code, 0, message, 2, None, None, None, 0, 0)
    return exc


class FakeConn:
    def __init__(self, name: str) -> None:
        self.name = name
        self.domains: dict[str, FakeDomain] = {}

    def lookupByUUIDString(self, uuid: str) -> FakeDomain:  # noqa: N802  (libvirt's names)
        if uuid not in self.domains:
            raise libvirt_error(libvirt.VIR_ERR_NO_DOMAIN, "no domain with matching uuid")
        return self.domains[uuid]


class FakeDomain:
    """A running domain whose migration moves it to `dest` (or fails with `fails`, or hangs until aborted)."""

    def __init__(self, conn: FakeConn, dest: FakeConn, fails: t.Optional[str] = None, hangs: bool = False) -> None:
        self.conn, self.dest, self.fails, self.hangs = conn, dest, fails, hangs
        self.active = True
        self.calls: list[tuple[t.Any, ...]] = []
        self.aborted = threading.Event()
        conn.domains[UUID] = self

    def UUIDString(self) -> str:  # noqa: N802
        return UUID

    def isActive(self) -> bool:  # noqa: N802
        return self.active

    def XMLDesc(self, flags: int = 0) -> str:  # noqa: N802
        return XML

    def maxMemory(self) -> int:  # noqa: N802
        return 256 * 1024

    def jobInfo(self) -> list[int]:  # noqa: N802
        return [libvirt.VIR_DOMAIN_JOB_NONE] + [0] * 11

    def jobStats(self) -> dict[str, int]:  # noqa: N802
        return {"memory_processed": 1, "memory_total": 2}

    def abortJob(self) -> None:  # noqa: N802
        self.calls.append(("abortJob",))
        self.aborted.set()

    def _migrate(self, *call: t.Any) -> None:
        self.calls.append(call)
        if self.hangs:
            self.aborted.wait(10)
            raise libvirt_error(libvirt.VIR_ERR_OPERATION_ABORTED, "operation aborted: migration job: canceled by client")
        if self.fails:
            raise libvirt_error(libvirt.VIR_ERR_OPERATION_FAILED, self.fails)
        del self.conn.domains[UUID]  # UNDEFINE_SOURCE; PERSIST_DEST
        self.dest.domains[UUID] = self
        self.conn = self.dest

    def migrateToURI3(self, uri: str, params: dict[str, t.Any], flags: int) -> None:  # noqa: N802
        self._migrate("migrateToURI3", uri, params, flags)

    def migrate3(self, dconn: t.Any, params: dict[str, t.Any], flags: int) -> None:
        self._migrate("migrate3", dconn, params, flags)


def params(**over: t.Any) -> dict[str, t.Any]:
    base = {"uri": "qemu:///system", "dest_uri": DEST_URI, "base_pool_path": "/b", "instance_pool_path": "/i", "dest_address": "10.245.251.2",
            "instances": [{"uuid": UUID, "domain_name": NAME, "disks": []}], "resume": False,
            "completion_timeout": 800, "mode": "p2p", "disk_copy": "incremental"}
    return dict(base, **over)


def run(src: FakeConn, dst: t.Optional[FakeConn], **over: t.Any) -> dict[str, t.Any]:
    def open_conn(uri: str) -> FakeConn:
        if uri == DEST_URI:
            if dst is None:
                raise StratusError("HypervisorUnavailable", "cannot connect")
            return dst
        return src
    return lm.run_migrate(params(**over), open_conn)["instances"][UUID]


@pytest.mark.parametrize("uri", ["qemu+tcp://10.245.251.2/system", "qemu+tls://hv2.example.org/system",
                                 "qemu+ssh://nova@hv2:2222/system", "qemu+tcp://hv2:16509/system"])
def test_migration_uris_that_are_taken(uri: str) -> None:
    assert lm.valid_migration_uri(uri, "dest_uri") == uri


@pytest.mark.parametrize("uri", ["qemu:///system", "qemu+tcp://10.0.0.1/session", "qemu+tcp://10.0.0.1/system?x=y",
                                 "qemu+tcp://user@10.0.0.1/system", "qemu+unix:///system", "qemu+tcp://-a/system",
                                 "qemu+tcp://10.0.0.1:0/system", "qemu+tcp://300.1.1.1/system",
                                 "qemu+tcp://10.0.0.1/system\n", " qemu+tcp://10.0.0.1/system", None, 7])
def test_migration_uris_that_are_refused(uri: t.Any) -> None:
    with pytest.raises(StratusError) as err:
        lm.valid_migration_uri(uri, "dest_uri")
    assert (err.value.code, err.value.field) == ("InvalidRequest", "dest_uri")


@pytest.mark.parametrize("host, ok", [("10.245.251.2", True), ("hv2", True), ("hv2.lab", True), ("::1", False),
                                      ("10.0.0.256", False), ("a b", False), ("", False), ("x;reboot", False)])
def test_addresses(host: str, ok: bool) -> None:
    if ok:
        assert lm.valid_host(host, "dest_address") == host
    else:
        with pytest.raises(StratusError):
            lm.valid_host(host, "dest_address")


def test_novas_flags() -> None:
    common = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
    assert lm.migration_flags() == common | libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_NON_SHARED_INC
    assert lm.migration_flags("direct", "full") == common | libvirt.VIR_MIGRATE_NON_SHARED_DISK


def test_novas_completion_timeout_counts_each_at_least_two_gib() -> None:
    assert lm.completion_timeout(800, 256, [1 << 30]) == 800 * 4       # 2 for RAM, 2 for a 1 GiB disk
    assert lm.completion_timeout(10, 4096, [5 << 30, 0]) == 10 * (4 + 5 + 2)
    assert lm.completion_timeout(0, 256, [1 << 30]) == 0


def test_a_migration_copies_the_writable_disks_to_the_destinations_address() -> None:
    src, dst = FakeConn("src"), FakeConn("dst")
    dom = FakeDomain(src, dst)
    out = run(src, dst)
    assert (out["ok"], out["changed"], out["location"]) == (True, True, "destination")
    ((call, uri, call_params, flags),) = dom.calls
    assert (call, uri, flags) == ("migrateToURI3", DEST_URI, lm.migration_flags())
    assert call_params == {libvirt.VIR_MIGRATE_PARAM_URI: "tcp://10.245.251.2",
                           libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS: "10.245.251.2",
                           libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS: ["vda", "vdb"]}  # not the read-only config drive
    assert out["completion_timeout"] == 800 * 2  # RAM only: the fake's disk files do not exist here
    # run again: found on the destination, nothing done
    again = run(src, dst)
    assert (again["ok"], again["changed"], again["location"]) == (True, False, "destination") and len(dom.calls) == 1


def test_the_direct_mode_and_disks_at_other_paths_on_the_destination() -> None:
    src, dst = FakeConn("src"), FakeConn("dst")
    dom = FakeDomain(src, dst)
    disks = [{"device_name": "vda", "path": "/dst/%s_disk" % UUID}, {"device_name": "vdb", "path": "/src/%s_disk.eph0" % UUID}]
    out = run(src, dst, mode="direct", instances=[{"uuid": UUID, "domain_name": NAME, "disks": disks}])
    assert out["location"] == "destination"
    ((call, dconn, call_params, flags),) = dom.calls
    assert (call, dconn, flags & libvirt.VIR_MIGRATE_PEER2PEER) == ("migrate3", dst, 0)
    dest_xml = call_params[libvirt.VIR_MIGRATE_PARAM_DEST_XML]
    assert "/dst/%s_disk'" % UUID in dest_xml.replace('"', "'") and call_params[libvirt.VIR_MIGRATE_PARAM_PERSIST_XML] == dest_xml
    assert lm.destination_xml(XML, {"vda": "/src/%s_disk" % UUID}) is None  # same paths: the source's XML


def test_a_failed_migration_leaves_the_guest_on_the_source_with_libvirts_error() -> None:
    src, dst = FakeConn("src"), FakeConn("dst")
    FakeDomain(src, dst, fails="unable to connect to server at 10.245.251.2:49152")
    out = run(src, dst)
    assert (out["ok"], out["changed"], out["location"]) == (False, False, "source")
    assert out["error"]["code"] == "MigrationError" and "49152" in out["error"]["message"]


def test_a_migration_past_its_completion_timeout_is_aborted() -> None:
    src, dst = FakeConn("src"), FakeConn("dst")
    dom = FakeDomain(src, dst, hangs=True)
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0  # every look at the clock is a second later
        return now[0]
    res = lm.run_migrate(params(completion_timeout=1), lambda uri: dst if uri == DEST_URI else src, clock=clock)
    out = res["instances"][UUID]
    assert out["location"] == "source" and ("abortJob",) in dom.calls
    assert "not completed within 2 s" in out["error"]["message"] and out["progress"]


def test_a_rerun_says_where_the_guest_is_and_migrates_only_one_still_on_the_source() -> None:
    src, dst = FakeConn("src"), FakeConn("dst")
    dom = FakeDomain(src, dst)
    # only looking (check mode): nothing migrates
    assert run(src, dst, resume=True, check=True) == {"ok": False, "changed": False, "location": "source"}
    dom.active = False  # shut off on the source, not on the destination: lost
    assert run(src, dst, resume=True)["location"] == "nowhere"
    assert run(src, None, resume=True)["location"] == "unknown"  # the destination could not be asked
    dom.active = True
    assert dom.calls == []
    out = run(src, None, resume=True)  # a migration needs the destination's libvirt
    assert out["location"] == "source" and out["error"]["code"] == "MigrationPreCheckError" and dom.calls == []


def test_a_rerun_migrates_the_guest_a_killed_run_left_on_the_source() -> None:
    """The move-recovery drill's find: a run killed after the record became `running` but before libvirt's call
    (or whose migration libvirt ended on the source) leaves the guest here with no job; its rerun migrates it
    instead of rolling back the request it can still carry out."""
    src, dst = FakeConn("src"), FakeConn("dst")
    dom = FakeDomain(src, dst)
    out = run(src, dst, resume=True)
    assert out["ok"] and out["changed"] and out["location"] == "destination"
    assert [c[0] for c in dom.calls] == ["migrateToURI3"] and UUID in dst.domains and UUID not in src.domains


def test_bad_input_is_refused_before_libvirt() -> None:
    with pytest.raises(StratusError) as err:
        lm.run_migrate(params(dest_address="10.0.0.1 --evil"), lambda uri: pytest.fail("connected"))
    assert err.value.field == "dest_address"
    src, dst = FakeConn("src"), FakeConn("dst")
    FakeDomain(src, dst)
    out = run(src, dst, instances=[{"uuid": UUID, "domain_name": "instance-other", "disks": []}])
    assert (out["ok"], out["error"]["field"]) == (False, "instances.domain_name")


def test_the_sources_half_goes_once_the_guest_runs_on_the_destination(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, t.Any]] = []

    def step(name: str, ok: bool = True) -> t.Callable[[dict[str, t.Any]], dict[str, t.Any]]:
        def runner(params: dict[str, t.Any]) -> dict[str, t.Any]:
            calls.append((name, params["state"], params["instance_pool_path"] if name == "block_devices" else None))
            entry = {"ok": True, "changed": True} if ok else {"ok": False, "error": {"message": "pool busy"}}
            return {"instances": {UUID: entry}}
        return runner
    monkeypatch.setattr(lm.steps, "run_block_devices", step("block_devices", ok=False))
    monkeypatch.setattr(lm.steps, "run_network", step("network"))
    monkeypatch.setattr(lm.domains, "ensure_absent", lambda conn, uuid: calls.append(("domain", uuid)) or False)
    src, dst = FakeConn("src"), FakeConn("dst")
    FakeDomain(src, dst)
    element = {"uuid": UUID, "domain_name": NAME, "disks": [], "source_plan": {"uuid": UUID}}
    out = run(src, dst, instances=[element])
    assert out["location"] == "destination"
    assert calls == [("domain", UUID), ("block_devices", "absent", "/i"), ("network", "absent", None)]
    assert out["source_left"] == "block_devices: pool busy"
    calls.clear()
    again = run(src, dst, instances=[element], resume=True)  # a rerun finds it there and cleans again
    assert again["location"] == "destination" and [c[0] for c in calls] == ["domain", "block_devices", "network"]
    calls.clear()
    assert run(src, dst, instances=[element], resume=True, check=True)["location"] == "destination" and calls == []
