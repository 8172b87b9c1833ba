# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network step on a hypervisor: isolated libvirt networks and DHCP host entries.

Networks are isolated (no <forward>): guests reach each other and the host's
bridge address, nothing else. Addresses come from the controller's IPAM; the
step only pins MAC -> IP in dnsmasq, live and persistent, with virNetworkUpdate,
so adding or removing one entry never restarts the network.
"""
from __future__ import annotations

import ipaddress
import os
import typing as t
import xml.etree.ElementTree as ET

from ansible_collections.stratus.compute.plugins.module_utils.compute.libvirt_conn import libvirt, error_text
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

# dnsmasq only serves DHCP on a network that has a range or a host entry when it
# starts; a host entry for a MAC no NIC will ever have keeps DHCP on (static
# mode) while the network has no guests yet.
PLACEHOLDER_MAC = "02:00:00:00:00:00"
# Where the system libvirtd keeps the PID of each network's dnsmasq (<network>.pid).
DNSMASQ_PID_DIR = "/run/libvirt/network"


def network_xml(spec: dict[str, t.Any]) -> str:
    """The libvirt XML of an isolated network: name, bridge, gateway, DHCP."""
    net = ipaddress.ip_network(spec["cidr"], strict=False)
    root = ET.Element("network")
    ET.SubElement(root, "name").text = spec["libvirt_name"]
    ET.SubElement(root, "bridge", name=spec["bridge"], stp="off", delay="0")
    ip = ET.SubElement(root, "ip", address=spec["gateway"], prefix=str(net.prefixlen))
    if spec.get("dhcp", True):
        dhcp = ET.SubElement(ip, "dhcp")
        dhcp.append(ET.fromstring(_placeholder_xml(net)))
    return ET.tostring(root, encoding="unicode")


def _placeholder_xml(net: t.Union[ipaddress.IPv4Network, ipaddress.IPv6Network]) -> str:
    return _host_xml(PLACEHOLDER_MAC, str(net.broadcast_address - 1), "stratus-placeholder")


def _host_xml(mac: str, ip: str, hostname: str) -> str:
    el = ET.Element("host", mac=mac, ip=ip)
    if hostname:
        el.set("name", hostname)
    return ET.tostring(el, encoding="unicode")


def _lookup(conn: t.Any, name: str) -> t.Optional[t.Any]:
    try:
        return conn.networkLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_NETWORK:
            return None
        raise


def _actual(netobj: t.Any) -> dict[str, t.Any]:
    root = ET.fromstring(netobj.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE))
    bridge = root.find("bridge")
    ip = root.find("ip")
    return {
        "bridge": bridge.get("name") if bridge is not None else None,
        "gateway": ip.get("address") if ip is not None else None,
        "prefix": ip.get("prefix") if ip is not None else None,
        "forward": root.find("forward") is not None,
    }


def dnsmasq_running(network: str, pid_dir: str) -> bool:
    """Whether the dnsmasq that libvirt started for `network` is alive (its PID file names a dnsmasq)."""
    try:
        with open(os.path.join(pid_dir, network + ".pid")) as fp:
            pid = int(fp.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as fp:
            return b"dnsmasq" in fp.read()
    except (OSError, ValueError):
        return False


def ensure_dhcp_server(netobj: t.Any, spec: dict[str, t.Any], pid_dir: t.Optional[str]) -> bool:
    """Make the network's DHCP server run again if it died. Returns changed.

    libvirt does not watch the dnsmasq it starts: if it dies the network still reads active and
    new guests silently get no address. A live update of the DHCP host section makes libvirt start a
    dnsmasq that is not running, so the placeholder entry is rewritten as it is. If dnsmasq is still
    not running the host cannot serve DHCP: the build fails here (and may go to another host).
    Without a PID directory (not the local system libvirtd) there is nothing to check.
    """
    name = spec["libvirt_name"]
    if not spec.get("dhcp", True) or not pid_dir or not os.path.isdir(pid_dir) or dnsmasq_running(name, pid_dir):
        return False
    net = ipaddress.ip_network(spec["cidr"], strict=False)
    try:
        _update(netobj, libvirt.VIR_NETWORK_UPDATE_COMMAND_MODIFY, _placeholder_xml(net))
    except libvirt.libvirtError as exc:
        raise StratusError("BuildAbortException", "network %s: its DHCP server is not running and restarting it "
                           "failed: %s" % (name, error_text(exc)), "networks")
    if not dnsmasq_running(name, pid_dir):
        raise StratusError("BuildAbortException", "network %s: its DHCP server (dnsmasq) is not running and "
                           "libvirt did not start it again" % name, "networks")
    return True


def ensure_network(conn: t.Any, spec: dict[str, t.Any], dnsmasq_pid_dir: t.Optional[str] = None) -> bool:
    """Make the isolated network exist, autostart and run, with a live DHCP server. Returns changed."""
    changed = False
    net = ipaddress.ip_network(spec["cidr"], strict=False)
    try:
        netobj = _lookup(conn, spec["libvirt_name"])
        if netobj is None:
            netobj = conn.networkDefineXML(network_xml(spec))
            changed = True
        else:
            actual = _actual(netobj)
            wanted = {"bridge": spec["bridge"], "gateway": spec["gateway"],
                      "prefix": str(net.prefixlen), "forward": False}
            if actual != wanted:
                raise StratusError(
                    "Conflict",
                    "libvirt network %s exists on this host with %s, but the catalog says %s"
                    % (spec["libvirt_name"], actual, wanted), "stratus_networks")
        if not netobj.autostart():
            netobj.setAutostart(1)
            changed = True
        if not netobj.isActive():
            netobj.create()
            changed = True
        changed = ensure_dhcp_server(netobj, spec, dnsmasq_pid_dir) or changed
    except libvirt.libvirtError as exc:
        raise StratusError("BuildAbortException", "network %s: %s"
                           % (spec["libvirt_name"], error_text(exc)), "networks")
    return changed


def dhcp_hosts(netobj: t.Any) -> dict[str, dict[str, str]]:
    """The DHCP host entries of a network, by MAC (lower case)."""
    root = ET.fromstring(netobj.XMLDesc(0))
    found = {}
    for host in root.findall("./ip/dhcp/host"):
        mac = (host.get("mac") or "").lower()
        if mac:
            found[mac] = {"ip": host.get("ip", ""), "name": host.get("name", "")}
    return found


def _update(netobj: t.Any, command: int, xml: str) -> None:
    flags = libvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG
    if netobj.isActive():
        flags |= libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE
    netobj.update(command, libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST, -1, xml, flags)


def ensure_dhcp_host(conn: t.Any, network: str, mac: str, ip: str, hostname: str) -> bool:
    netobj = _lookup(conn, network)
    if netobj is None:
        raise StratusError("BuildAbortException", "network %s is not defined on this host" % network, "networks")
    mac = mac.lower()
    current = dhcp_hosts(netobj)
    wanted = {"ip": ip, "name": hostname}
    if current.get(mac) == wanted:
        return False
    if mac in current:
        _update(netobj, libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE, _host_xml(mac, current[mac]["ip"], ""))
    # Another MAC holding this address is a stale entry of a deleted instance.
    for other, entry in current.items():
        if other != mac and entry["ip"] == ip:
            _update(netobj, libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE, _host_xml(other, ip, ""))
    _update(netobj, libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, _host_xml(mac, ip, hostname))
    return True


def remove_dhcp_host(conn: t.Any, network: str, mac: str) -> bool:
    netobj = _lookup(conn, network)
    if netobj is None:
        return False
    mac = mac.lower()
    current = dhcp_hosts(netobj)
    if mac not in current:
        return False
    _update(netobj, libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE, _host_xml(mac, current[mac]["ip"], ""))
    return True
