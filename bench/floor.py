# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The floor: the work of a create (or delete) done directly with libvirt-python, nothing else.

One libvirt connection per hypervisor (libvirt's libssh transport over the lab's SSH, as a
remote controller would reach it), the hypervisors in parallel processes, the servers of a host
one after the other. Create: pools and the isolated network when
missing, the base image uploaded once per host (only when it is not there yet, as Stratus's
cache), then per server a qcow2 overlay on it, a DHCP host entry (virNetworkUpdate, live and
persistent), define and start. Delete walks it back. Same XML features as Stratus's domains,
without the <metadata> block and without the config drive Stratus attaches by default.

With `--dhcp hostsdir` the DHCP entries go the way Stratus keeps them: files in the network's
dnsmasq hosts directory, all of a host's written by one SSH command (and on delete removed by one,
with a SIGHUP to dnsmasq), on a network of its own that names that directory. That is the floor
for Stratus's own way; the default is libvirt's API, one virNetworkUpdate per entry, each of
which reloads the network's firewall.

    floor.py create|delete|clean --state-dir DIR --subnet-base A.B --hypervisors 3 --count N [--image FILE]
                           [--dhcp libvirt|hostsdir]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import shlex
import subprocess
import sys
import time
import typing as t
import uuid as uuidlib
from pathlib import Path

import libvirt

from stratus_lab.host import Host
from stratus_lab.paths import ROOT

NETWORK = "bench-floor"
BRIDGE = "bench-floor0"
CIDR_BASE = "10.241.0"
# The hosts-directory variant: its own network, addresses and names.
HD_NETWORK, HD_BRIDGE, HD_CIDR_BASE, HD_PREFIX, HD_MAC_BYTE = "bench-floorhd", "bench-floorhd0", "10.246.0", "floorhd", 0xd0
HD_DIR = "/var/lib/libvirt/dnsmasq/%s.hostsdir" % HD_NETWORK
POOL_DIR = "/var/lib/libvirt/bench-floor"
BASE_POOL, INSTANCE_POOL = "bench-floor-base", "bench-floor-instances"
BASE_VOLUME = "stratus-bench"
UUID_NAMESPACE = uuidlib.UUID("6a1f3c2e-8b1d-4f7a-9c55-0d2e7b9a4c10")
DEFAULT_IMAGE = ROOT / "build" / "images" / "stratus-bench.qcow2"
MEMORY_MIB = 16  # the m1.bench flavor's RAM, the same for the three methods


def servers(count: int, hosts: list[str], prefix: str = "floor", cidr_base: str = CIDR_BASE,
            mac_byte: int = 0xb0) -> list[dict[str, t.Any]]:
    """Server i goes to host i mod H (the scheduler's RAM weigher spreads Stratus's the same way)."""
    out = []
    for i in range(count):
        name = "%s-%d" % (prefix, i + 1)
        out.append({"name": name, "uuid": str(uuidlib.uuid5(UUID_NAMESPACE, name)), "host": hosts[i % len(hosts)],
                    "mac": "52:54:00:%02x:%02x:%02x" % (mac_byte, (i + 1) >> 8, (i + 1) & 0xff),
                    "ip": "%s.%d" % (cidr_base, 10 + i)})
    return out


def domain_xml(server: dict[str, t.Any], disk: str, network: str) -> str:
    """Stratus's domain features: TCG, pc machine, virtio disk and NIC, serial console logged."""
    return """<domain type='qemu'>
  <name>{name}</name><uuid>{uuid}</uuid><title>{name}</title>
  <memory unit='MiB'>{mem}</memory><vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/><apic/></features><clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>
      <target dev='vda' bus='virtio'/></disk>
    <interface type='network'><source network='{network}'/><mac address='{mac}'/><model type='virtio'/></interface>
    <serial type='pty'><log file='/var/log/libvirt/qemu/{uuid}.console.log' append='off'/><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='none'/>
  </devices>
</domain>""".format(name=server["name"], uuid=server["uuid"], mem=MEMORY_MIB, disk=disk, network=network,
                    mac=server["mac"])


def _ensure_pool(conn: t.Any, name: str, path: str) -> t.Any:
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError:
        pool = conn.storagePoolDefineXML(
            "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (name, path), 0)
        pool.build(0)
        pool.setAutostart(1)
    if not pool.isActive():
        pool.create(0)
    return pool


def _ensure_network(conn: t.Any, hosts_dir: bool = False) -> t.Any:
    name, bridge, cidr = (HD_NETWORK, HD_BRIDGE, HD_CIDR_BASE) if hosts_dir else (NETWORK, BRIDGE, CIDR_BASE)
    try:
        net = conn.networkLookupByName(name)
    except libvirt.libvirtError:
        options = ("<dnsmasq:options><dnsmasq:option value='dhcp-hostsdir=%s'/></dnsmasq:options>" % HD_DIR
                   if hosts_dir else "")
        net = conn.networkDefineXML(
            "<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'><name>%s</name>"
            "<bridge name='%s' stp='off' delay='0'/>"
            "<ip address='%s.1' prefix='24'><dhcp><host mac='02:00:00:00:00:00' ip='%s.254' name='placeholder'/>"
            "</dhcp></ip>%s</network>" % (name, bridge, cidr, cidr, options))
        net.setAutostart(1)
    if not net.isActive():
        net.create()
    return net


def on_host_shell(ssh: list[str], script: str) -> None:
    """One shell script on the hypervisor over SSH (the hosts-directory entries)."""
    subprocess.run(ssh + [script], check=True, capture_output=True, timeout=300)


def _ensure_base(conn: t.Any, pool: t.Any, image: Path) -> t.Any:
    """The cached base: uploaded through libvirt only when the host does not have it."""
    data = image.read_bytes()
    try:
        vol = pool.storageVolLookupByName(BASE_VOLUME)
        if vol.info()[1] == len(data):
            return vol
        vol.delete(0)
    except libvirt.libvirtError:
        pass
    vol = pool.createXML("<volume><name>%s</name><capacity unit='bytes'>%d</capacity>"
                         "<target><format type='raw'/></target></volume>" % (BASE_VOLUME, len(data)), 0)
    stream = conn.newStream(0)
    vol.upload(stream, 0, len(data), 0)
    stream.send(data)
    stream.finish()
    return vol


def _flags(*names: str) -> int:
    return sum(getattr(libvirt, n, 0) for n in names)


NET_FLAGS = _flags("VIR_NETWORK_UPDATE_AFFECT_LIVE", "VIR_NETWORK_UPDATE_AFFECT_CONFIG")


def create_on_host(uri: str, mine: list[dict[str, t.Any]], image: Path, ssh: t.Optional[list[str]] = None) -> int:
    """ssh given: the DHCP entries go into the hosts directory over it, all at once."""
    conn = libvirt.open(uri)
    try:
        base_pool = _ensure_pool(conn, BASE_POOL, POOL_DIR + "/base")
        pool = _ensure_pool(conn, INSTANCE_POOL, POOL_DIR + "/instances")
        if ssh:
            on_host_shell(ssh, "mkdir -p %s" % HD_DIR)
        net = _ensure_network(conn, hosts_dir=bool(ssh))
        base = _ensure_base(conn, base_pool, image)
        base_path, base_size = base.path(), base.info()[1]
        network_name = HD_NETWORK if ssh else NETWORK
        volumes = {}

        def start(server: dict[str, t.Any]) -> None:
            conn.defineXML(domain_xml(server, volumes[server["uuid"]].path(), network_name)).create()

        for server in mine:
            volumes[server["uuid"]] = pool.createXML(
                "<volume><name>%s-disk</name><capacity unit='bytes'>%d</capacity><target><format type='qcow2'/>"
                "</target><backingStore><path>%s</path><format type='qcow2'/></backingStore></volume>"
                % (server["uuid"], base_size, base_path), 0)
            if not ssh:
                net.update(libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST, -1,
                           "<host mac='%s' ip='%s' name='%s'/>" % (server["mac"], server["ip"], server["name"]),
                           NET_FLAGS)
                start(server)
        if ssh and mine:
            on_host_shell(ssh, "; ".join("echo %s > %s/%s" % (shlex.quote("%s,%s,%s" % (s["mac"], s["ip"], s["name"])),
                                                              HD_DIR, s["mac"].replace(":", "-")) for s in mine))
            for server in mine:
                start(server)
        return len(mine)
    finally:
        conn.close()


UNDEFINE_FLAGS = _flags("VIR_DOMAIN_UNDEFINE_MANAGED_SAVE", "VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA",
                        "VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA", "VIR_DOMAIN_UNDEFINE_NVRAM")


def _drop_dhcp_entry(net: t.Any, server: dict[str, t.Any]) -> None:
    net.update(libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE, libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST, -1,
               "<host mac='%s' ip='%s'/>" % (server["mac"], server["ip"]), NET_FLAGS)


def _drop_hosts_dir_entries(ssh: list[str], mine: list[dict[str, t.Any]]) -> None:
    """All of a host's entry files in one SSH command, then one SIGHUP to its dnsmasq (if it runs)."""
    on_host_shell(ssh, "rm -f %s; kill -HUP $(cat /run/libvirt/network/%s.pid) 2>/dev/null; true"
                  % (" ".join("%s/%s" % (HD_DIR, s["mac"].replace(":", "-")) for s in mine), HD_NETWORK))


def delete_on_host(uri: str, mine: list[dict[str, t.Any]], ssh: t.Optional[list[str]] = None) -> int:
    conn = libvirt.open(uri)
    try:
        pool = conn.storagePoolLookupByName(INSTANCE_POOL)
        net = None if ssh else conn.networkLookupByName(NETWORK)
        for server in mine:
            dom = conn.lookupByUUIDString(server["uuid"])
            if dom.isActive():
                dom.destroy()
            dom.undefineFlags(UNDEFINE_FLAGS)
            pool.storageVolLookupByName("%s-disk" % server["uuid"]).delete(0)
            if net is not None:
                _drop_dhcp_entry(net, server)
        if ssh and mine:
            _drop_hosts_dir_entries(ssh, mine)
        return len(mine)
    finally:
        conn.close()


def clean_on_host(uri: str, mine: list[dict[str, t.Any]], ssh: t.Optional[list[str]] = None) -> int:
    """What an interrupted create or delete left of these servers: domains, overlays, DHCP entries."""
    conn = libvirt.open(uri)
    try:
        for server in mine:
            try:
                dom = conn.lookupByUUIDString(server["uuid"])
                if dom.isActive():
                    dom.destroy()
                dom.undefineFlags(UNDEFINE_FLAGS)
            except libvirt.libvirtError:
                pass
            try:
                conn.storagePoolLookupByName(INSTANCE_POOL).storageVolLookupByName("%s-disk" % server["uuid"]).delete(0)
            except libvirt.libvirtError:
                pass
            if not ssh:
                try:
                    _drop_dhcp_entry(conn.networkLookupByName(NETWORK), server)
                except libvirt.libvirtError:
                    pass
        if ssh and mine:
            _drop_hosts_dir_entries(ssh, mine)
        return len(mine)
    finally:
        conn.close()


def running_domains(uri: str, prefix: str) -> int:
    """How many running domains on this host have names starting with `prefix` (the bench's check)."""
    conn = libvirt.open(uri)
    try:
        return sum(1 for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
                   if d.name().startswith(prefix))
    finally:
        conn.close()


def defined_domains(uri: str, prefix: str) -> int:
    conn = libvirt.open(uri)
    try:
        return sum(1 for d in conn.listAllDomains(0) if d.name().startswith(prefix))
    finally:
        conn.close()


def on_host(action: str, uri: str, mine: list[dict[str, t.Any]], image: Path,
            ssh: t.Optional[list[str]] = None) -> tuple[int, t.Optional[str]]:
    """One hypervisor's share, in a worker process: (servers done, libvirt's error or None)."""
    try:
        if action == "create":
            return create_on_host(uri, mine, image, ssh), None
        if action == "clean":
            return clean_on_host(uri, mine, ssh), None
        return delete_on_host(uri, mine, ssh), None
    except libvirt.libvirtError as exc:
        return 0, "%s: %s" % (uri.split("@", 1)[-1].split("/", 1)[0], exc.get_error_message())
    except subprocess.CalledProcessError as exc:
        return 0, "%s: ssh: %s" % (uri.split("@", 1)[-1].split("/", 1)[0], exc.stderr.decode(errors="replace"))


def _silence(_ctx: t.Any, _err: t.Any) -> None:
    """libvirt prints every error to stderr; the failures that matter raise."""


def main(argv: t.Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("action", choices=("create", "delete", "clean"))
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--subnet-base", help="ignored: the lab's addresses are the ones its lab.json records")
    parser.add_argument("--hypervisors", type=int, default=3)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--dhcp", choices=("libvirt", "hostsdir"), default="libvirt")
    args = parser.parse_args(argv)
    libvirt.registerErrorHandler(_silence, None)
    lab_hosts = {host.name: host for host in (Host(args.state_dir, k) for k in range(1, args.hypervisors + 1))}
    hosts = list(lab_hosts)
    hosts_dir = args.dhcp == "hostsdir"
    plan = (servers(args.count, hosts, HD_PREFIX, HD_CIDR_BASE, HD_MAC_BYTE) if hosts_dir
            else servers(args.count, hosts))
    start = time.monotonic()
    # One process per hypervisor: libvirt's client in one process with three libssh connections
    # driven from threads hung once (a reply left unread on a socket, every thread waiting).
    with concurrent.futures.ProcessPoolExecutor(len(hosts)) as pool:
        futures = [pool.submit(on_host, args.action, lab_hosts[host].libvirt_uri(), [s for s in plan if s["host"] == host],
                               args.image, lab_hosts[host].ssh_argv() if hosts_dir else None) for host in hosts]
        outcomes = [f.result() for f in futures]
    errors = [err for _n, err in outcomes if err]
    if errors:
        print(json.dumps({"failed": True, "msg": "libvirt: %s" % "; ".join(errors)}))
        return 1
    done = sum(n for n, _err in outcomes)
    print(json.dumps({"action": args.action, "servers": done, "seconds": round(time.monotonic() - start, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
