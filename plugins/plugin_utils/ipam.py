# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixed IPs and MACs from the state store (what nova-network / neutron IPAM did).

Runs inside the placement transaction, so the unique keys on (network, address)
and on mac are a second line of defence, not the only one.
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


def _candidates(net: dict[str, t.Any]) -> t.Iterator[ipaddress.IPv4Address]:
    cidr = ipaddress.ip_network(net["cidr"], strict=False)
    gateway = ipaddress.ip_address(net["gateway"])
    # The last usable address is the network step's DHCP placeholder.
    reserved = {gateway, cidr.broadcast_address - 1}
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


def allocate_ip(conn: Connection, net: dict[str, t.Any], instance_uuid: str, hostname: str,
                fixed_ip: t.Optional[str], vif_index: int, rng: random.Random) -> dict[str, str]:
    held = [a for row in conn.execute(sa.select(leftovers.c.addresses)) for a in (row.addresses or [])]
    # an address a host still holds for a leftover (its DHCP entry may still be there) is not free
    used = {row.address for row in conn.execute(
        sa.select(ip_allocations.c.address).where(ip_allocations.c.network_id == net["id"]))}
    used |= {a["address"] for a in held if a.get("network_id") == net["id"]}
    if fixed_ip:
        addr = ipaddress.ip_address(fixed_ip)
        cidr = ipaddress.ip_network(net["cidr"], strict=False)
        reserved = {ipaddress.ip_address(net["gateway"]), cidr.network_address, cidr.broadcast_address,
                    cidr.broadcast_address - 1}
        if addr not in cidr or addr in reserved:
            raise StratusError("FixedIpInvalid", "Fixed IP address %s is invalid: not a usable address of network %s."
                               % (fixed_ip, net["id"]), "networks")
        if str(addr) in used:
            owner = conn.execute(sa.select(ip_allocations.c.instance_uuid).where(
                ip_allocations.c.network_id == net["id"], ip_allocations.c.address == str(addr))).scalar() \
                or "(a deleted server whose host is not cleaned yet)"
            raise StratusError("FixedIpAlreadyInUse", "Fixed IP address %s is already in use on instance %s."
                               % (fixed_ip, owner), "networks")
        address = str(addr)
    else:
        address = next((str(a) for a in _candidates(net) if str(a) not in used), "")
        if not address:
            raise StratusError("NoMoreFixedIps", "No fixed IP addresses available for network: %s" % net["id"],
                               "networks")
    macs = {row.mac for row in conn.execute(sa.select(ip_allocations.c.mac))} | {a["mac"] for a in held}
    mac = ""
    while not mac or mac in macs:
        tail = [rng.randrange(256) for _octet in range(3)]
        mac = ":".join("%02x" % b for b in MAC_PREFIX + tuple(tail))
    conn.execute(ip_allocations.insert().values(
        network_id=net["id"], address=address, mac=mac, instance_uuid=instance_uuid,
        hostname=hostname, vif_index=vif_index, created_at=datetime.datetime.now(datetime.timezone.utc)))
    return {"address": address, "mac": mac}


def release_ips(conn: Connection, instance_uuid: str) -> int:
    return conn.execute(ip_allocations.delete().where(ip_allocations.c.instance_uuid == instance_uuid)).rowcount
