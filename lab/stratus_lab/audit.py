# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit: what the state store says against what every hypervisor's libvirt holds.

It reads the store with SQL and each hypervisor with libvirt-python over the unix socket of that
hypervisor's libvirtd (the lab keeps each one's /run/libvirt under its state dir), so it still sees
a host whose sshd is down. `audit(lab)` is {kind: [what leaked]}, every list empty when clean.
"""
from __future__ import annotations

import typing as t
from pathlib import Path
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ansible_collections.stratus.compute.plugins.module_utils.compute.block_device import INSTANCE_POOL, VOLUME_POOL
from ansible_collections.stratus.compute.plugins.module_utils.compute.network import PLACEHOLDER_MAC, DirHostEntries
from stratus_lab.paths import DEMO_NETWORK as NETWORK
from stratus_lab.session import LabSession
from stratus_lab.store import as_json, open_engine


LEAK_KINDS = ("domain", "instance_disk", "volume", "dhcp_entry", "ip_allocation", "claim", "quota_usage",
              "stuck", "leftover", "missing")


@dataclass
class HostView:
    domains: dict[str, str]                  # uuid -> state name
    instance_vols: set[str]
    volume_vols: set[str]
    dhcp: dict[str, str]                     # mac -> ip (placeholder left out)
    error: t.Optional[str] = None


# the vm_states of a server placed on its host (claim, IPs), and the domain states each wants there
PLACED = ("building", "active", "stopped", "resized")
DOMAIN_STATE_OF = {"active": ("running",), "stopped": ("shutoff",), "resized": ("running", "shutoff")}
# migration statuses that hold nothing: the move is over (records.HOLDING are the others)
FINAL_MIGRATION_STATUSES = ("completed", "failed", "confirmed", "reverted", "error")

DOMAIN_STATES = {0: "nostate", 1: "running", 2: "blocked", 3: "paused", 4: "shutdown", 5: "shutoff",
                 6: "crashed", 7: "pmsuspended"}


def host_view(lab: LabSession, k: int) -> HostView:
    import libvirt
    host = lab.host(k)
    try:
        conn = host.connect()
    except libvirt.libvirtError as exc:
        return HostView({}, set(), set(), {}, error=str(exc))
    try:
        domains = {d.UUIDString(): DOMAIN_STATES.get(d.state()[0], "?") for d in conn.listAllDomains()}
        pools = {}
        for name in (INSTANCE_POOL, VOLUME_POOL):
            try:
                pool = conn.storagePoolLookupByName(name)
                pool.refresh(0)
                pools[name] = set(pool.listVolumes())
            except libvirt.libvirtError:
                pools[name] = set()
        dhcp: dict[str, str] = {}
        try:
            root = ET.fromstring(conn.networkLookupByName(NETWORK).XMLDesc(0))
            for entry in root.findall("./ip/dhcp/host"):
                mac = (entry.get("mac") or "").lower()
                if mac and mac != PLACEHOLDER_MAC:
                    dhcp[mac] = entry.get("ip", "")
        except libvirt.libvirtError:
            pass
        dhcp.update(hosts_dir_entries(host.hosts_dir(NETWORK)))
        return HostView(domains, pools[INSTANCE_POOL], pools[VOLUME_POOL], dhcp)
    finally:
        conn.close()


def hosts_dir_entries(path: Path) -> dict[str, str]:
    """MAC -> IP of the DHCP entries Stratus keeps as files in a network's dnsmasq hosts directory
    (read by the network step's own reader)."""
    return {mac: entry["ip"] for mac, entry in DirHostEntries(str(path)).entries().items()}


def audit(lab: LabSession, allow_error: bool = False) -> dict[str, list[str]]:
    """Every leak and inconsistency between the store and the hypervisors; each list empty when clean.

    - domain / instance_disk / volume / dhcp_entry: on a host, not owned by a live instance there
      (or a kept volume there: a volume of a live server on another host than the server's is a leak);
      base images are not looked at
    - ip_allocation / claim: in the store, for no placed instance (leftovers aside: listed on their own)
    - quota_usage: the project's counted usage differs from its live instances
    - stuck: a live instance in building, or with a task_state (deleting, networking, ...); a migration
      record in a status that is not final (a resize's `finished` only while its server is VERIFY_RESIZE)
    - leftover: a recorded leftover not yet cleaned
    - missing: a live instance without its domain, disks, DHCP entry, claim or IPs where the store says
      (an ERROR instance is expected to hold nothing when `allow_error`)

    Moves: a server is placed on its `host` only (its domain, disks, DHCP entry there, its claim naming
    it), except that a server in VERIFY_RESIZE (vm_state resized) keeps its old copy on its migration's
    source (the shut-off domain, the disks of the record's old plan, the DHCP entry) until the confirm or
    revert; the record holds its old resources there. A server's volume files likewise: on its host only,
    on both hosts of its move only while it waits in VERIFY_RESIZE (stray_volume); its volume rows name its
    host, or its move's source while it waits in VERIFY_RESIZE (misplaced_volume_row, a `volume` leak).
    """
    # controller code (SQLAlchemy): imported when an audit runs, never by the modules that only drive a lab
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import quota
    import sqlalchemy as sa

    leaks: dict[str, list[str]] = {kind: [] for kind in LEAK_KINDS}
    engine = open_engine(lab.store_url)
    try:
        with engine.connect() as conn:
            live = list(conn.execute(sa.text(
                "select uuid, name, host, vm_state, task_state, plan, project_id from instances where deleted = ''")))
            claims = list(conn.execute(sa.text("select instance_uuid, host from resource_claims")))
            ips = list(conn.execute(sa.text("select instance_uuid, address, mac from ip_allocations")))
            volumes = list(conn.execute(sa.text("select id, host, instance_uuid, status from volumes where deleted = ''")))
            left = list(conn.execute(sa.text("select host, instance_uuid, reason, addresses from leftovers")))
            moves = list(conn.execute(sa.text("select id, instance_uuid, migration_type, source_compute, dest_compute, "
                                              "status from migrations")))
            projects = sorted({r.project_id for r in live} | {r[0] for r in conn.execute(sa.text(
                "select distinct project_id from instances"))})
            usage = {p: quota.usage(conn, p) for p in projects}
    finally:
        engine.dispose()

    by_uuid = {r.uuid: r for r in live}
    placed = {r.uuid: r for r in live if r.vm_state in PLACED}
    volume_rows = {"volume-%s" % v.id: v for v in volumes}
    # a server waiting in VERIFY_RESIZE: its migration's source keeps the old copy (its volumes: both hosts)
    kept_on_source: dict[str, set[str]] = {}
    moving: dict[str, set[str]] = {}
    waiting_on: dict[str, str] = {}  # server uuid -> its waiting move's source (where its volume rows stay)
    for m in moves:
        waiting = m.status == "finished" and m.instance_uuid in by_uuid and by_uuid[m.instance_uuid].vm_state == "resized"
        if waiting:
            kept_on_source.setdefault(m.source_compute, set()).add(m.instance_uuid)
            moving[m.instance_uuid] = {m.source_compute, m.dest_compute}
            waiting_on[m.instance_uuid] = m.source_compute
        elif m.status not in FINAL_MIGRATION_STATUSES:
            leaks["stuck"].append("migration %s (%s of %s, %s -> %s) in status %s" % (
                m.id, m.migration_type, m.instance_uuid, m.source_compute, m.dest_compute, m.status))
    for r in live:
        if r.vm_state == "building" or r.task_state is not None:
            leaks["stuck"].append("%s %s: vm_state %s task_state %s" % (r.name, r.uuid, r.vm_state, r.task_state))
        if r.vm_state == "error" and not allow_error:
            leaks["stuck"].append("%s %s: vm_state error" % (r.name, r.uuid))
    for lo in left:
        leaks["leftover"].append("%s on %s: %s" % (lo.instance_uuid, lo.host, lo.reason))
    for c in claims:
        if c.instance_uuid not in placed:
            leaks["claim"].append("%s on %s" % (c.instance_uuid, c.host))
    for ip in ips:
        if ip.instance_uuid not in placed:
            leaks["ip_allocation"].append("%s %s of %s" % (ip.address, ip.mac, ip.instance_uuid))
    for p, used in usage.items():
        count = [r for r in live if r.project_id == p]
        if used["instances"] != len(count):
            leaks["quota_usage"].append("%s: counted %s, live %d" % (p, used, len(count)))
    claimed = {c.instance_uuid: c.host for c in claims}
    ip_macs: dict[str, dict[str, str]] = {}
    for ip in ips:
        ip_macs.setdefault(ip.instance_uuid, {})[ip.mac.lower()] = ip.address
    for r in placed.values():
        if claimed.get(r.uuid) != r.host:
            leaks["missing"].append("%s %s: claim on %s, instance on %s" % (r.name, r.uuid, claimed.get(r.uuid), r.host))
        if not ip_macs.get(r.uuid):
            leaks["missing"].append("%s %s: no IP allocation" % (r.name, r.uuid))

    for k in lab.host_numbers():
        host = "hv%d" % k
        view = host_view(lab, k)
        if view.error:
            leaks["missing"].append("%s: libvirt unreadable: %s" % (host, view.error))
            continue
        here = {u: r for u, r in placed.items() if r.host == host}
        excused = {lo.instance_uuid for lo in left if lo.host == host} | kept_on_source.get(host, set())
        for uuid, state in view.domains.items():
            if uuid not in here and uuid not in excused:
                owner = by_uuid.get(uuid)
                who = "%s %s" % (owner.name, owner.vm_state) if owner else "no live instance"
                leaks["domain"].append("%s: domain %s (%s)" % (host, uuid, who))
            elif uuid in kept_on_source.get(host, set()) and state != "shutoff":  # the guest would run twice
                leaks["domain"].append("%s: the old copy of VERIFY_RESIZE %s is %s" % (host, uuid, state))
        for uuid, r in here.items():
            if r.vm_state not in DOMAIN_STATE_OF:
                continue
            if uuid not in view.domains:
                leaks["missing"].append("%s: no domain for %s %s %s" % (host, r.vm_state, r.name, uuid))
            elif view.domains[uuid] not in DOMAIN_STATE_OF[r.vm_state]:
                leaks["missing"].append("%s: domain of %s %s is %s" % (host, r.vm_state, r.name, view.domains[uuid]))
            for dev in as_json(r.plan, {}).get("block_devices", []):
                pool = view.volume_vols if dev.get("kind") in ("volume", "new_volume") else view.instance_vols
                if dev.get("name") and dev["name"] not in pool:
                    leaks["missing"].append("%s: no disk %s of %s" % (host, dev["name"], r.name))
            for mac, address in ip_macs.get(uuid, {}).items():
                if view.dhcp.get(mac) != address:
                    leaks["missing"].append("%s: no DHCP entry %s -> %s of %s" % (host, mac, address, r.name))
        for vol in view.instance_vols:
            owner = vol[:36]
            if owner not in here and owner not in excused:
                leaks["instance_disk"].append("%s: %s/%s" % (host, INSTANCE_POOL, vol))
        for vol in sorted(view.volume_vols):
            why = stray_volume(vol, host, volume_rows, by_uuid, moving, excused)
            if why:
                leaks["volume"].append("%s: %s/%s (%s)" % (host, VOLUME_POOL, vol, why))
        for v in volumes:
            if v.host == host and v.instance_uuid in by_uuid:
                why = misplaced_volume_row(host, by_uuid[v.instance_uuid], waiting_on)
                if why:
                    leaks["volume"].append("%s: the row of volume %s (%s) is here, %s" % (host, v.id, v.status, why))
            if v.host == host and "volume-%s" % v.id not in view.volume_vols and \
                    (v.instance_uuid is None or v.instance_uuid in placed and placed[v.instance_uuid].vm_state in DOMAIN_STATE_OF):
                leaks["missing"].append("%s: volume %s (%s) is not in %s" % (host, v.id, v.status, VOLUME_POOL))
        owned_macs = {mac: uuid for uuid in list(here) + list(excused) for mac in ip_macs.get(uuid, {})}
        leftover_macs = {a["mac"].lower() for lo in left if lo.host == host for a in as_json(lo.addresses, [])}
        for mac, address in view.dhcp.items():
            if mac not in owned_macs and mac not in leftover_macs:
                leaks["dhcp_entry"].append("%s: %s -> %s" % (host, mac, address))
    return leaks


def stray_volume(name: str, host: str, volume_rows: t.Mapping[str, t.Any], servers: t.Mapping[str, t.Any],
                 moving: t.Mapping[str, set[str]], excused: set[str]) -> t.Optional[str]:
    """Why the volume file `name` on `host` is a leak, or None. A live server's volume is on the server's host
    only (after a move ended, was reverted or failed, the other host holds no copy), or on both hosts of a move
    waiting in VERIFY_RESIZE, or where a leftover of the server is recorded (listed as a leftover); a volume of no
    live server (kept after its server) is where its row says."""
    row = volume_rows.get(name)
    if row is None:
        return "no live volume row"
    owner = servers.get(row.instance_uuid) if row.instance_uuid else None
    if owner is None:
        return None if row.host == host else "its row is on %s" % row.host
    if host == owner.host or host in moving.get(owner.uuid, set()) or owner.uuid in excused:
        return None
    return "a volume of %s %s, which is on %s" % (owner.name, owner.uuid, owner.host)


def misplaced_volume_row(row_host: str, owner: t.Any, waiting_on: t.Mapping[str, str]) -> t.Optional[str]:
    """Why a volume row of the live server `owner` naming `row_host` has not followed its server, or None. The rows
    are the server's host's; while a move waits in VERIFY_RESIZE they stay its source's (`waiting_on`: server uuid
    -> its move's source) until the confirm. A server placed nowhere (shelved, never scheduled) is not looked at."""
    if not owner.host:
        return None
    if owner.uuid in waiting_on:
        return None if row_host == waiting_on[owner.uuid] else \
            "its server %s %s waits in VERIFY_RESIZE, moved from %s" % (owner.name, owner.uuid, waiting_on[owner.uuid])
    return None if row_host == owner.host else "its server %s %s is on %s" % (owner.name, owner.uuid, owner.host)


def leak_counts(leaks: dict[str, list[str]]) -> dict[str, int]:
    return {kind: len(found) for kind, found in leaks.items()}


def clean(leaks: dict[str, list[str]]) -> bool:
    return not any(leaks.values())
