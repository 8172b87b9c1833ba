# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixed IPs and MACs from the state store (what nova-network / neutron IPAM did).

Allocation runs inside the placement transaction, so the unique keys on (network, address)
and on mac are a second line of defence, not the only one. The checks that allocation makes
are also asked without writing, so that check mode and ``explain`` answer as the real run:
``check_fixed_ips`` (the request against its networks, before the transaction) and
``check_addresses`` (against the store, in the transaction).
"""
from __future__ import annotations

import datetime
import ipaddress
import random
import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import ip_allocations, leftovers

# OpenStack's well-known prefix, locally administered: users recognise it.
MAC_PREFIX = (0xFA, 0x16, 0x3E)


def _placeholder(cidr: t.Union[ipaddress.IPv4Network, ipaddress.IPv6Network]) -> t.Any:
    """The last usable address: the network step's DHCP placeholder entry (compute/network.py)."""
    return cidr.broadcast_address - 1


def _candidates(net: t.Mapping[str, t.Any]) -> t.Iterator[ipaddress.IPv4Address]:
    cidr = ipaddress.ip_network(net["cidr"], strict=False)
    gateway = ipaddress.ip_address(net["gateway"])
    reserved = {gateway, _placeholder(cidr)}
    if net.get("allocation_pools"):
        for pool in net["allocation_pools"]:
            start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
            addr = start
            while addr <= end:
                if addr not in reserved:
                    yield addr
                addr += 1
    else:
        for addr in cidr.hosts():
            if addr not in reserved:
                yield addr


def fixed_ip_field(index: int) -> str:
    return "networks[%d].fixed_ip" % index


def check_fixed_ip(net: t.Mapping[str, t.Any], fixed_ip: str, field: str) -> str:
    """A requested address against its network, without the store: it must be an address of the
    network's subnet that a server may have (not the network, broadcast or gateway address, nor
    the DHCP placeholder's). Returns it in canonical form; FixedIpInvalid otherwise."""
    try:
        addr = ipaddress.ip_address(fixed_ip)
    except ValueError:
        raise StratusError("FixedIpInvalid", "Fixed IP address %s is invalid." % fixed_ip, field) from None
    cidr = ipaddress.ip_network(net["cidr"], strict=False)
    why = None
    if addr.version != cidr.version or addr not in cidr:
        why = "it is not in the subnet %s of network %s" % (cidr, net["id"])
    elif addr == cidr.network_address:
        why = "it is the network address of %s (network %s)" % (cidr, net["id"])
    elif addr == cidr.broadcast_address:
        why = "it is the broadcast address of %s (network %s)" % (cidr, net["id"])
    elif addr == ipaddress.ip_address(net["gateway"]):
        why = "it is the gateway address of network %s" % net["id"]
    elif addr == _placeholder(cidr):
        why = "it is reserved for the DHCP server of network %s" % net["id"]
    if why:
        raise StratusError("FixedIpInvalid", "Fixed IP address %s is invalid: %s." % (fixed_ip, why), field)
    return str(addr)


def check_fixed_ips(networks: t.Sequence[t.Mapping[str, t.Any]], fixed_ips: t.Sequence[t.Optional[str]]) -> None:
    """Every requested fixed IP against its network, and no address asked for twice on one network."""
    asked: dict[tuple[str, str], int] = {}
    for i, (net, fixed_ip) in enumerate(zip(networks, fixed_ips)):
        if not fixed_ip:
            continue
        key = (net["id"], check_fixed_ip(net, fixed_ip, fixed_ip_field(i)))
        if key in asked:
            raise StratusError("FixedIpAlreadyInUse", "Fixed IP address %s is already in use: %s of this request "
                               "asks for it too." % (fixed_ip, fixed_ip_field(asked[key])), fixed_ip_field(i))
        asked[key] = i


def _held(conn: Connection) -> list[dict[str, t.Any]]:
    """Addresses a host still holds for a leftover (its DHCP entry may still be there): not free."""
    return [a for row in conn.execute(sa.select(leftovers.c.addresses)) for a in (row.addresses or [])]


def _used(conn: Connection, network_id: str, held: list[dict[str, t.Any]]) -> set[str]:
    used = {row.address for row in conn.execute(
        sa.select(ip_allocations.c.address).where(ip_allocations.c.network_id == network_id))}
    return used | {a["address"] for a in held if a.get("network_id") == network_id}


def _in_use(conn: Connection, net: t.Mapping[str, t.Any], address: str, field: str) -> StratusError:
    owner = conn.execute(sa.select(ip_allocations.c.instance_uuid).where(
        ip_allocations.c.network_id == net["id"], ip_allocations.c.address == address)).scalar() \
        or "(a deleted server whose host is not cleaned yet)"
    return StratusError("FixedIpAlreadyInUse", "Fixed IP address %s is already in use on instance %s."
                        % (address, owner), field)


def _no_more(net: t.Mapping[str, t.Any]) -> StratusError:
    return StratusError("NoMoreFixedIps", "No fixed IP addresses available for network: %s" % net["id"], "networks")


def check_addresses(conn: Connection, networks: t.Sequence[t.Mapping[str, t.Any]],
                    fixed_ips: t.Sequence[t.Optional[str]], count: int) -> None:
    """What allocate_ip will answer for ``count`` servers with these NICs, read from the store and
    written nowhere: each fixed IP is free (FixedIpAlreadyInUse), each network has a free address
    for every NIC without one (NoMoreFixedIps). Check mode asks this, and so does the real run
    before it allocates, so both refuse alike."""
    if not count:
        return
    held = _held(conn)
    wanted: dict[str, int] = {}
    fixed: dict[str, set[str]] = {}
    by_id = {}
    for i, (net, fixed_ip) in enumerate(zip(networks, fixed_ips)):
        by_id[net["id"]] = net
        if fixed_ip:
            address = check_fixed_ip(net, fixed_ip, fixed_ip_field(i))
            if address in _used(conn, net["id"], held):
                raise _in_use(conn, net, address, fixed_ip_field(i))
            fixed.setdefault(net["id"], set()).add(address)
        else:
            wanted[net["id"]] = wanted.get(net["id"], 0) + count
    for network_id, need in wanted.items():
        taken = _used(conn, network_id, held) | fixed.get(network_id, set())
        free = 0
        for addr in _candidates(by_id[network_id]):
            if str(addr) not in taken:
                free += 1
                if free >= need:
                    break
        if free < need:
            raise _no_more(by_id[network_id])


def allocate_ip(conn: Connection, net: dict[str, t.Any], instance_uuid: str, hostname: str,
                fixed_ip: t.Optional[str], vif_index: int, rng: random.Random,
                avoid: t.Collection[str] = (), mac: t.Optional[str] = None) -> dict[str, str]:
    """One address (the fixed one, or the first free one not in ``avoid``: the fixed IPs of the
    same request) and a new MAC (or ``mac``: a bare-metal node's own NIC), recorded for the instance."""
    held = _held(conn)
    used = _used(conn, net["id"], held)
    if fixed_ip:
        address = check_fixed_ip(net, fixed_ip, fixed_ip_field(vif_index))
        if address in used:
            raise _in_use(conn, net, address, fixed_ip_field(vif_index))
    else:
        taken = used | set(avoid)
        address = next((str(a) for a in _candidates(net) if str(a) not in taken), "")
        if not address:
            raise _no_more(net)
    macs = {row.mac for row in conn.execute(sa.select(ip_allocations.c.mac))} | {a["mac"] for a in held}
    mac = mac or ""
    while not mac or mac in macs:
        tail = [rng.randrange(256) for _octet in range(3)]
        mac = ":".join("%02x" % b for b in MAC_PREFIX + tuple(tail))
    conn.execute(ip_allocations.insert().values(
        network_id=net["id"], address=address, mac=mac, instance_uuid=instance_uuid,
        hostname=hostname, vif_index=vif_index, created_at=datetime.datetime.now(datetime.timezone.utc)))
    return {"address": address, "mac": mac}


def release_ips(conn: Connection, instance_uuid: str) -> int:
    return conn.execute(ip_allocations.delete().where(ip_allocations.c.instance_uuid == instance_uuid)).rowcount
