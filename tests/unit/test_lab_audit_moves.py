"""The lab audit (lab/stratus_lab/audit.py) knows moves: a server in VERIFY_RESIZE keeps its old copy on its
migration's source (shut off) while its own domain, disks, DHCP entry and claim are on its host; anything
else on a second host, a source copy that runs, a migration record left in a non-final status, is a leak.

A real SQLite store written with the collection's tables; the hypervisors' libvirt views are given (the
audit's host_view), as a lab's libvirt-python reads them."""
from __future__ import annotations

import datetime
import typing as t
from pathlib import Path

import pytest

from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as collection_store
from ansible_collections.stratus.compute.plugins.plugin_utils.store import tables
from stratus_lab import audit as audit_mod
from stratus_lab.audit import HostView, audit, clean

UUID = "6f1c0b9e-1d2e-4c3b-9a8f-7e6d5c4b3a21"
MAC = "fa:16:3e:00:00:01"
NOW = datetime.datetime(2026, 12, 5, tzinfo=datetime.timezone.utc)
DISK = "%s_disk" % UUID
PLAN = {"block_devices": [{"kind": "image", "name": DISK}]}


class FakeLab:
    hypervisors = 2

    def __init__(self, url: str) -> None:
        self.store_url = url

    def host_numbers(self) -> list[int]:
        return [1, 2]


def store(tmp_path: Path, vm_state: str, host: str, status: str) -> str:
    """One server of `vm_state` on `host` (its claim and IP there), moved from the other host by a
    migration record in `status`."""
    url = "sqlite:///%s" % (tmp_path / "stratus.db")
    source = "hv1" if host == "hv2" else "hv2"
    with collection_store.transaction(url, locked=True) as conn:
        conn.execute(tables.instances.insert().values(
            uuid=UUID, project_id="p", user_id="u", name="web", hostname="web",
            flavor={"name": "m1.tiny-b", "vcpus": 1, "ram": 224}, request={}, vm_state=vm_state, metadata={}, tags={}, created_at=NOW, host=host, plan=PLAN))
        conn.execute(tables.claims.insert().values(instance_uuid=UUID, host=host, project_id="p", vcpus=1,
                                                   memory_mb=224, disk_gb=1, created_at=NOW))
        conn.execute(tables.ip_allocations.insert().values(network_id="n", address="10.240.0.10", mac=MAC,
                                                           instance_uuid=UUID, created_at=NOW))
        conn.execute(tables.migrations.insert().values(
            uuid="0b7e2a4c-5d6f-4a8b-9c0d-1e2f3a4b5c6d", instance_uuid=UUID, migration_type="resize",
            source_compute=source, dest_compute=host, status=status, old_flavor={"name": "m1.tiny"},
            new_flavor={"name": "m1.tiny-b"}, old_plan=PLAN, old_vm_state="active", vcpus=1, memory_mb=192,
            disk_gb=1, project_id="p", user_id="u", created_at=NOW))
    return url


def holding(domain_state: t.Optional[str]) -> HostView:
    """A host with the server's domain in `domain_state` (None: no domain), its disk and its DHCP entry."""
    if domain_state is None:
        return HostView({}, set(), set(), {})
    return HostView({UUID: domain_state}, {DISK}, set(), {MAC: "10.240.0.10"})


def run(monkeypatch: pytest.MonkeyPatch, url: str, views: dict[int, HostView]) -> dict[str, list[str]]:
    monkeypatch.setattr(audit_mod, "host_view", lambda _lab, k: views[k])
    return audit(t.cast(t.Any, FakeLab(url)))


def test_verify_resize_keeps_its_shut_off_copy_on_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = store(tmp_path, "resized", "hv2", "finished")
    leaks = run(monkeypatch, url, {1: holding("shutoff"), 2: holding("running")})
    assert clean(leaks), leaks


def test_a_running_source_copy_is_a_guest_on_two_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = store(tmp_path, "resized", "hv2", "finished")
    leaks = run(monkeypatch, url, {1: holding("running"), 2: holding("running")})
    assert leaks["domain"] and "VERIFY_RESIZE" in leaks["domain"][0]


def test_after_the_confirm_the_source_holds_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = store(tmp_path, "active", "hv2", "confirmed")
    assert clean(run(monkeypatch, url, {1: holding(None), 2: holding("running")}))
    leaks = run(monkeypatch, url, {1: holding("shutoff"), 2: holding("running")})
    assert leaks["domain"] and leaks["instance_disk"] and leaks["dhcp_entry"], leaks


def test_a_record_left_under_way_is_stuck(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = store(tmp_path, "active", "hv2", "migrating")
    leaks = run(monkeypatch, url, {1: holding(None), 2: holding("running")})
    assert [k for k, v in leaks.items() if v] == ["stuck"] and "status migrating" in leaks["stuck"][0]


def test_the_server_missing_on_its_host_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = store(tmp_path, "resized", "hv2", "finished")
    leaks = run(monkeypatch, url, {1: holding("shutoff"), 2: holding(None)})
    assert any("no domain for resized" in m for m in leaks["missing"]) and any(
        "no disk" in m for m in leaks["missing"]) and any("no DHCP entry" in m for m in leaks["missing"]), leaks


def test_a_stopped_server_wants_its_domain_shut_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = store(tmp_path, "stopped", "hv2", "confirmed")
    assert clean(run(monkeypatch, url, {1: holding(None), 2: holding("shutoff")}))
    leaks = run(monkeypatch, url, {1: holding(None), 2: holding("running")})
    assert any("domain of stopped web is running" in m for m in leaks["missing"]), leaks


VOLUME_ID = "5d9a7c3e-2b1f-4e6d-8c0a-9f8e7d6c5b4a"
VOLUME = "volume-%s" % VOLUME_ID


def with_volume(url: str, host: str) -> str:
    """The server's data volume, its row on `host`."""
    with collection_store.transaction(url, locked=True) as conn:
        conn.execute(tables.volumes.insert().values(
            id=VOLUME_ID, name="data", project_id="p", host=host, instance_uuid=UUID, size_gb=1,
            delete_on_termination=False, status="in-use", created_at=NOW))
    return url


def with_file(view: HostView) -> HostView:
    return HostView(view.domains, view.instance_vols, view.volume_vols | {VOLUME}, view.dhcp)


def test_verify_resize_holds_its_volumes_on_both_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # until the confirm the volume rows are the source's, the destination's copies attached
    url = with_volume(store(tmp_path, "resized", "hv2", "finished"), "hv1")
    assert clean(run(monkeypatch, url, {1: with_file(holding("shutoff")), 2: with_file(holding("running"))}))


@pytest.mark.parametrize("host, status, row_host", [("hv2", "confirmed", "hv2"),   # confirmed: the source's go
                                                    ("hv1", "reverted", "hv1"),    # reverted: the destination's go
                                                    ("hv1", "error", "hv1")])      # failed there: the same
def test_after_a_move_a_volume_on_the_other_host_is_a_leak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           host: str, status: str, row_host: str) -> None:
    url = with_volume(store(tmp_path, "active", host, status), row_host)
    here, there = (2, 1) if host == "hv2" else (1, 2)
    assert clean(run(monkeypatch, url, {here: with_file(holding("running")), there: holding(None)}))
    leaks = run(monkeypatch, url, {here: with_file(holding("running")), there: with_file(holding(None))})
    assert [k for k, v in leaks.items() if v] == ["volume"], leaks
    assert leaks["volume"] == ["hv%d: stratus-volumes/%s (a volume of web %s, which is on %s)" % (
        there, VOLUME, UUID, host)]


def test_a_volume_whose_row_is_elsewhere_than_its_server_is_a_leak_there(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A server left on the destination while its volume rows stayed the source's: the source's file is stray,
    and the row has not followed its server."""
    url = with_volume(store(tmp_path, "active", "hv2", "error"), "hv1")
    leaks = run(monkeypatch, url, {1: with_file(holding(None)), 2: with_file(holding("running"))})
    assert leaks["volume"] == ["hv1: stratus-volumes/%s (a volume of web %s, which is on hv2)" % (VOLUME, UUID),
                               "hv1: the row of volume %s (in-use) is here, its server web %s is on hv2"
                               % (VOLUME_ID, UUID)]


@pytest.mark.parametrize("vm_state, status, row_host, wrong", [
    ("active", "confirmed", "hv2", None),        # confirmed: the rows are the destination's
    ("active", "confirmed", "hv1", "is on hv2"),  # the confirm moved the files but not the rows
    ("resized", "finished", "hv1", None),        # waiting: the rows stay the source's until the confirm
    ("resized", "finished", "hv2", "waits in VERIFY_RESIZE, moved from hv1")])  # rows moved before the confirm
def test_the_volume_rows_follow_their_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vm_state: str,
                                             status: str, row_host: str, wrong: t.Optional[str]) -> None:
    url = with_volume(store(tmp_path, vm_state, "hv2", status), row_host)
    source = holding("shutoff") if vm_state == "resized" else holding(None)
    # the files where the move leaves them (both hosts while it waits), so only the row can be wrong
    views = {1: with_file(source) if vm_state == "resized" else source, 2: with_file(holding("running"))}
    if vm_state == "active" and row_host == "hv1":
        views[1] = source  # confirmed: the source's file is gone; the row still names the source
    leaks = run(monkeypatch, url, views)
    if wrong is None:
        assert clean(leaks), leaks
    else:
        rows = [m for m in leaks["volume"] if "the row of volume" in m]
        assert len(rows) == 1 and rows[0].startswith("%s: the row of volume %s" % (row_host, VOLUME_ID)) \
            and wrong in rows[0], leaks
