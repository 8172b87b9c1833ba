# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network step on a hypervisor: isolated libvirt networks and DHCP host entries.

Networks are isolated (no <forward>): guests reach each other and the host's
bridge address, nothing else. Addresses come from the controller's IPAM; the
step only pins MAC -> IP in the network's dnsmasq, persistently and without
restarting the network.

Where the entries live. libvirt's own way, virNetworkUpdate of the DHCP host
section, reloads the network's whole firewall (some 26 iptables runs, a third of a
second) for every entry: 250 guests on a network are 250 reloads, during which
the DHCP and DNS rules of every guest there blink. A network Stratus defines on
the local system libvirtd therefore names a dnsmasq hosts directory
(``dhcp-hostsdir``, libvirt's dnsmasq option namespace): an entry is a file there,
which dnsmasq reads as soon as it appears. dnsmasq forgets changed or removed
files only on SIGHUP, so a step that changes or removes entries signals the
network's dnsmasq once at its end. A network without that option (defined by an
older Stratus, or through a remote URI) keeps its entries in libvirt's XML.

Leases. dnsmasq keeps a lease (MAC -> IP) until it expires, whatever happens to the
host entry: a lease of a deleted server's MAC would keep its address from the next
server that gets it on that host (dnsmasq does not offer an address leased to another
MAC). So, as Neutron's DHCP agent does, a step that drops an entry asks dnsmasq to
release the lease with ``dhcp_release <bridge> <ip> <mac>`` (Debian: dnsmasq-utils),
after the entry is gone and dnsmasq was signalled, so the old MAC cannot lease the
address again in between. The release is sent again on a rerun (a lease that is gone
is no harm), and a release that fails is the instance's error: the delete is not done,
its address stays taken, and deleting again retries it.
"""
from __future__ import annotations

import ipaddress
import os
import re
import signal
import subprocess
import time
import typing as t
import xml.etree.ElementTree as ET

from ansible_collections.stratus.compute.plugins.module_utils.compute.libvirt_conn import libvirt, error_text
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.hostname import hostname_problem

# dnsmasq only serves DHCP on a network that has a range or a host entry when it
# starts; a host entry for a MAC no NIC will ever have keeps DHCP on (static
# mode) while the network has no guests yet.
PLACEHOLDER_MAC = "02:00:00:00:00:00"
# Where the system libvirtd keeps the PID of each network's dnsmasq (<network>.pid).
DNSMASQ_PID_DIR = "/run/libvirt/network"
# Beside libvirt's own dnsmasq files (where an AppArmor profile for dnsmasq lets it read).
HOSTS_DIR_ROOT = "/var/lib/libvirt/dnsmasq"
DNSMASQ_NS = "http://libvirt.org/schemas/network/dnsmasq/1.0"
HOSTS_DIR_OPTION = "dhcp-hostsdir="
ET.register_namespace("dnsmasq", DNSMASQ_NS)
# What may go into a dnsmasq dhcp-host line or a dhcp_release command line: a comma or a newline
# would add options of its own. Whole-string matches (fullmatch): `$` would let a final newline
# through. Hostnames: module_utils/hostname.
MAC_RE = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
# A bare-metal provisioning network's TFTP root (absolute, plain names) and DHCP boot file (a name in it).
# An absolute path of plain names: a hidden directory (the lab's .lab) is one, "." and ".." are not.
TFTP_ROOT_RE = re.compile(r"(?:/(?!\.\.?(?:/|\Z))[A-Za-z0-9._-]+)+")
BOOTP_FILE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
# A Linux interface name (IFNAMSIZ - 1), not starting with a dash.
IFNAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")
# dnsmasq's lease release helper (Debian: dnsmasq-utils), looked for in these directories only.
DHCP_RELEASE = "dhcp_release"
DHCP_RELEASE_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin")
DHCP_RELEASE_TIMEOUT = 30.0


def hosts_dir_path(network: str) -> str:
    return os.path.join(HOSTS_DIR_ROOT, network + ".hostsdir")


def network_xml(spec: dict[str, t.Any], hosts_dir: t.Optional[str] = None, tftp_root: t.Optional[str] = None,
                bootp_file: t.Optional[str] = None) -> str:
    """The libvirt XML of an isolated network: name, bridge, gateway, DHCP (its host entries
    in `hosts_dir` when given). A provisioning network of bare-metal nodes also serves `tftp_root`
    by TFTP on its gateway address and names `bootp_file` (a file there) as DHCP's boot file
    (baremetal/pxe.py)."""
    _check_tftp(tftp_root, bootp_file, spec.get("dhcp", True))
    net = ipaddress.ip_network(spec["cidr"], strict=False)
    root = ET.Element("network")
    ET.SubElement(root, "name").text = spec["libvirt_name"]
    ET.SubElement(root, "bridge", name=spec["bridge"], stp="off", delay="0")
    ip = ET.SubElement(root, "ip", address=spec["gateway"], prefix=str(net.prefixlen))
    if tftp_root:
        ET.SubElement(ip, "tftp", root=tftp_root)
    if spec.get("dhcp", True):
        dhcp = ET.SubElement(ip, "dhcp")
        dhcp.append(ET.fromstring(_placeholder_xml(net)))
        if bootp_file:
            ET.SubElement(dhcp, "bootp", file=bootp_file)
        if hosts_dir:
            options = ET.SubElement(root, "{%s}options" % DNSMASQ_NS)
            ET.SubElement(options, "{%s}option" % DNSMASQ_NS, value=HOSTS_DIR_OPTION + hosts_dir)
    return ET.tostring(root, encoding="unicode")


def _check_tftp(tftp_root: t.Any, bootp_file: t.Any, dhcp: bool) -> None:
    if tftp_root is not None and (not isinstance(tftp_root, str) or not TFTP_ROOT_RE.fullmatch(tftp_root)
                                  or "/../" in tftp_root + "/"):
        raise StratusError("InvalidRequest", "a network's TFTP root is an absolute path of letters, digits, "
                           "'.', '_' and '-' names", "tftp_root")
    if bootp_file is not None and (not isinstance(bootp_file, str) or not BOOTP_FILE_RE.fullmatch(bootp_file)
                                   or not tftp_root or not dhcp):
        raise StratusError("InvalidRequest", "a network's DHCP boot file is a file name of letters, digits, "
                           "'.', '_' and '-' in its TFTP root, on a network with DHCP", "bootp_file")


def hosts_dir_of(xml: str) -> t.Optional[str]:
    """The dnsmasq hosts directory a network's XML names, if any."""
    root = ET.fromstring(xml)
    for option in root.findall("{%s}options/{%s}option" % (DNSMASQ_NS, DNSMASQ_NS)):
        value = option.get("value") or ""
        if value.startswith(HOSTS_DIR_OPTION):
            return value[len(HOSTS_DIR_OPTION):]
    return None


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


def _pid_in_file(network: str, pid_dir: str) -> t.Optional[int]:
    """The PID the network's dnsmasq wrote (libvirt reads the same file for the PID it keeps), if any."""
    try:
        with open(os.path.join(pid_dir, network + ".pid")) as fp:
            return int(fp.read().strip())
    except (OSError, ValueError):
        return None


def _cmdline(pid: int) -> t.Optional[bytes]:
    """The command line of process `pid`: None when there is no such process, empty for one that has
    exited but is not reaped yet (a zombie)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fp:
            return fp.read()
    except OSError:
        return None


def dnsmasq_pid(network: str, pid_dir: str) -> t.Optional[int]:
    """The PID of the dnsmasq that libvirt started for `network`, if one is alive (its PID file names a
    process whose program, argv[0], is dnsmasq: "dnsmasq" elsewhere in a command line is an argument)."""
    pid = _pid_in_file(network, pid_dir)
    if pid is None:
        return None
    program = (_cmdline(pid) or b"").split(b"\0")[0]
    return pid if os.path.basename(program) == b"dnsmasq" else None


def dnsmasq_running(network: str, pid_dir: str) -> bool:
    return dnsmasq_pid(network, pid_dir) is not None


# How long libvirt's dnsmasq may take to come up after the update that starts it: it daemonizes and
# writes its PID file itself, after libvirt's call has returned (longer on a loaded host). The same
# deadline covers waiting for the dead one to be reaped first.
DHCP_START_WAIT = 30.0


def _wait_for_dnsmasq(network: str, pid_dir: str, deadline: float) -> bool:
    while not dnsmasq_running(network, pid_dir):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _wait_until_reaped(network: str, pid: int, deadline: float, wait: float) -> None:
    """Return once the dead dnsmasq's PID names no process, so that libvirt sees it dead.

    libvirt calls its dnsmasq alive when kill(pid, 0) succeeds, which it does for a killed dnsmasq
    that its parent (init, once dnsmasq has daemonized) has not reaped yet: a live update then only
    sends that zombie a SIGHUP and starts nothing. Init reaps when it gets to it (seconds later on a
    busy host or in a container), so this waits. A PID that another program holds now cannot be
    waited out: libvirt would signal that program instead, so the step refuses.
    """
    while True:
        cmdline = _cmdline(pid)
        if cmdline is None:
            return
        if cmdline:
            raise StratusError("BuildAbortException", "network %s: its DHCP server (dnsmasq) died and its pid %d now "
                               "belongs to another process, which libvirt would signal instead of starting dnsmasq: "
                               "restart libvirtd on this host to have it start the network's dnsmasq"
                               % (network, pid), "networks")
        if time.monotonic() >= deadline:
            raise StratusError("BuildAbortException", "network %s: its DHCP server (dnsmasq, pid %d) died but was "
                               "not reaped within %ds: libvirt takes it for running and would not start another"
                               % (network, pid, wait), "networks")
        time.sleep(0.05)


def ensure_dhcp_server(netobj: t.Any, spec: dict[str, t.Any], pid_dir: t.Optional[str],
                       wait: float = DHCP_START_WAIT) -> bool:
    """Make the network's DHCP server run again if it died. Returns changed.

    libvirt does not watch the dnsmasq it starts: if it dies the network still reads active and
    new guests silently get no address. A live update of the DHCP host section makes libvirt start a
    dnsmasq that is not running, so the placeholder entry is rewritten as it is, once the dead
    dnsmasq's PID is gone (see _wait_until_reaped). If dnsmasq is still not running within `wait`
    seconds the host cannot serve DHCP: the build fails here (and may go to another host).
    Without a PID directory (not the local system libvirtd) there is nothing to check.
    """
    name = spec["libvirt_name"]
    if not spec.get("dhcp", True) or not pid_dir or not os.path.isdir(pid_dir) or dnsmasq_running(name, pid_dir):
        return False
    deadline = time.monotonic() + wait
    dead_pid = _pid_in_file(name, pid_dir)
    if dead_pid is not None:
        _wait_until_reaped(name, dead_pid, deadline, wait)
    net = ipaddress.ip_network(spec["cidr"], strict=False)
    try:
        _update(netobj, libvirt.VIR_NETWORK_UPDATE_COMMAND_MODIFY, _placeholder_xml(net))
    except libvirt.libvirtError as exc:
        raise StratusError("BuildAbortException", "network %s: its DHCP server is not running and restarting it "
                           "failed: %s" % (name, error_text(exc)), "networks")
    if not _wait_for_dnsmasq(name, pid_dir, deadline):
        raise StratusError("BuildAbortException", "network %s: its DHCP server (dnsmasq) is not running and "
                           "libvirt did not start it again within %ds" % (name, wait), "networks")
    return True


def ensure_network(conn: t.Any, spec: dict[str, t.Any], dnsmasq_pid_dir: t.Optional[str] = None) -> bool:
    """Make the isolated network exist, autostart and run, with a live DHCP server. Returns changed."""
    changed = False
    net = ipaddress.ip_network(spec["cidr"], strict=False)
    try:
        netobj = _lookup(conn, spec["libvirt_name"])
        if netobj is None:
            # The hosts directory only where this module runs beside the libvirtd (it writes the files).
            hosts_dir = hosts_dir_path(spec["libvirt_name"]) if dnsmasq_pid_dir else None
            if hosts_dir:
                os.makedirs(hosts_dir, mode=0o755, exist_ok=True)
            netobj = conn.networkDefineXML(network_xml(spec, hosts_dir))
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
    """The DHCP host entries in a network's libvirt XML, by MAC (lower case)."""
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


class XmlHostEntries:
    """Entries in libvirt's network XML: one virNetworkUpdate (live and persistent) each; libvirt
    tells dnsmasq itself, so there is never anything to reload."""

    needs_reload = False

    def __init__(self, netobj: t.Any) -> None:
        self.netobj = netobj

    def already_gone(self, mac: str) -> None:
        """Nothing to do: libvirt's live update leaves dnsmasq nothing to forget."""

    def entries(self) -> dict[str, dict[str, str]]:
        return dhcp_hosts(self.netobj)

    def add(self, mac: str, ip: str, hostname: str) -> None:
        _update(self.netobj, libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, _host_xml(mac, ip, hostname))

    def delete(self, mac: str, ip: str) -> None:
        _update(self.netobj, libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE, _host_xml(mac, ip, ""))


def _entry_file_name(mac: str) -> str:
    return mac.replace(":", "-")


def _parse_entry(line: str) -> t.Optional[tuple[str, dict[str, str]]]:
    """One dhcp-host line as Stratus writes it: MAC,IP[,NAME] (an IPv6 address in brackets)."""
    fields = [f.strip() for f in line.strip().split(",")]
    if len(fields) < 2 or not MAC_RE.fullmatch(fields[0].lower()):
        return None
    return fields[0].lower(), {"ip": fields[1].strip("[]"), "name": fields[2] if len(fields) > 2 else ""}


class DirHostEntries:
    """Entries as files in the network's dnsmasq hosts directory, one file per MAC.

    dnsmasq reads a new file at once (inotify); one changed or removed is forgotten only on
    SIGHUP, which `needs_reload` asks for. Files are written under a dot name and renamed:
    dnsmasq skips dot files, so it never reads half a line.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.needs_reload = False
        self._entries: t.Optional[dict[str, dict[str, str]]] = None

    def entries(self) -> dict[str, dict[str, str]]:
        if self._entries is None:
            found: dict[str, dict[str, str]] = {}
            try:
                names = sorted(os.listdir(self.path))
            except FileNotFoundError:
                names = []
            for name in names:
                if name.startswith("."):
                    continue
                try:
                    with open(os.path.join(self.path, name)) as handle:
                        lines = handle.read().splitlines()
                except OSError:
                    continue
                for line in lines:
                    parsed = _parse_entry(line)
                    if parsed:
                        found[parsed[0]] = parsed[1]
            self._entries = found
        return self._entries

    def add(self, mac: str, ip: str, hostname: str) -> None:
        address = "[%s]" % ip if ipaddress.ip_address(ip).version == 6 else ip
        line = ",".join([mac, address] + ([hostname] if hostname else [])) + "\n"
        if not os.path.isdir(self.path):
            # Made again (someone removed it): dnsmasq lost its watch, a SIGHUP reads the directory again.
            os.makedirs(self.path, mode=0o755, exist_ok=True)
            self.needs_reload = True
        final = os.path.join(self.path, _entry_file_name(mac))
        tmp = os.path.join(self.path, "." + _entry_file_name(mac) + ".part")
        with open(tmp, "w") as handle:
            handle.write(line)
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
        self.entries()[mac] = {"ip": ip, "name": hostname}

    def delete(self, mac: str, ip: str) -> None:
        try:
            os.unlink(os.path.join(self.path, _entry_file_name(mac)))
        except FileNotFoundError:
            pass
        self.entries().pop(mac, None)
        self.needs_reload = True

    def already_gone(self, mac: str) -> None:
        """dnsmasq may still hold it: a step killed between removing the file and the SIGHUP."""
        self.needs_reload = True


HostEntries = t.Union[XmlHostEntries, DirHostEntries]


def _valid_mac(mac: str) -> str:
    mac = str(mac).lower()
    if not MAC_RE.fullmatch(mac):
        raise StratusError("InvalidRequest", "bad MAC address %r" % mac, "mac")
    return mac


def _valid_ip(ip: str) -> str:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        raise StratusError("InvalidRequest", "bad IP address %r" % ip, "ip") from None


def _validated(mac: str, ip: str, hostname: str) -> tuple[str, str, str]:
    mac, ip = _valid_mac(mac), _valid_ip(ip)
    problem = hostname_problem(hostname) if hostname else None
    if problem:
        raise StratusError("InvalidRequest", "bad hostname %r for a DHCP entry: %s" % (hostname, problem), "hostname")
    return mac, ip, hostname


def release_command(tool: str, interface: str, ip: str, mac: str) -> list[str]:
    """The argv of dhcp_release for one lease, every value checked whole (it runs without a shell)."""
    if not IFNAME_RE.fullmatch(interface or ""):
        raise StratusError("InvalidRequest", "bad interface name %r for dhcp_release" % interface, "bridge")
    address = ipaddress.ip_address(_valid_ip(ip))
    if address.version != 4:
        raise StratusError("InvalidRequest", "dhcp_release releases IPv4 leases only, not %s" % address, "ip")
    return [tool, interface, str(address), _valid_mac(mac)]


def find_dhcp_release(dirs: t.Optional[t.Sequence[str]] = None) -> t.Optional[str]:
    for directory in DHCP_RELEASE_DIRS if dirs is None else dirs:
        path = os.path.join(directory, DHCP_RELEASE)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def release_lease(interface: str, ip: str, mac: str, tool: t.Optional[str] = None,
                  timeout: float = DHCP_RELEASE_TIMEOUT) -> None:
    """Ask the dnsmasq serving `interface` to drop the lease of `mac` on `ip`; StratusError when it cannot be asked.

    dhcp_release sends a DHCPRELEASE as if from the client, through the interface; its exit status
    says whether it could send it (dnsmasq answers nothing), so a lease that is already gone is fine.
    """
    tool = tool or find_dhcp_release()
    if tool is None:
        raise StratusError("BuildAbortException", "cannot release the DHCP lease of %s (%s) on %s: %s is not "
                           "installed on this hypervisor (Debian package dnsmasq-utils, see "
                           "playbooks/hypervisor_setup.yml)" % (mac, ip, interface, DHCP_RELEASE), "networks")
    argv = release_command(tool, interface, ip, mac)
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StratusError("BuildAbortException", "releasing the DHCP lease of %s (%s) on %s failed: %s"
                           % (mac, ip, interface, exc), "networks") from None
    if proc.returncode != 0:
        why = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        raise StratusError("BuildAbortException", "releasing the DHCP lease of %s (%s) on %s failed: %s exited "
                           "%d: %s" % (mac, ip, interface, DHCP_RELEASE, proc.returncode, why), "networks")


class DhcpHostBook:
    """The DHCP host entries of this host's networks, for one module call.

    `reload()` at the end signals each network's dnsmasq whose hosts directory lost or changed
    an entry (once, however many); `release()` then releases the leases of the entries that went
    (only where this module runs beside the system libvirtd: the dnsmasq is on this host).
    """

    def __init__(self, conn: t.Any, pid_dir: t.Optional[str]) -> None:
        self.conn = conn
        self.pid_dir = pid_dir
        self._networks: dict[str, t.Optional[HostEntries]] = {}
        self._bridges: dict[str, t.Optional[str]] = {}
        # (network, ip, mac) -> who asked (an instance uuid): the leases to release after reload()
        self._releases: dict[tuple[str, str, str], str] = {}

    def _of(self, network: str) -> t.Optional[HostEntries]:
        if network not in self._networks:
            netobj = _lookup(self.conn, network)
            kept: t.Optional[HostEntries] = None
            if netobj is not None:
                hosts_dir = hosts_dir_of(netobj.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE))
                if hosts_dir and not self.pid_dir:
                    raise StratusError("BuildAbortException", "network %s keeps its DHCP entries in %s on its host: "
                                       "reach that libvirtd as qemu:///system" % (network, hosts_dir), "uri")
                kept = DirHostEntries(hosts_dir) if hosts_dir else XmlHostEntries(netobj)
                # An inactive network runs no dnsmasq: there is no lease to release.
                self._bridges[network] = netobj.bridgeName() if netobj.isActive() else None
            self._networks[network] = kept
        return self._networks[network]

    def _release_later(self, network: str, ip: str, mac: str, owner: str) -> None:
        if self.pid_dir and self._bridges.get(network):
            self._releases.setdefault((network, ip, mac), owner)

    def ensure(self, network: str, mac: str, ip: str, hostname: str, owner: str = "") -> bool:
        """MAC -> IP (and name) pinned on `network`. Returns changed.

        An entry this replaces (the MAC's old address, or another MAC's entry for this address:
        a stale one of a deleted instance) has its lease released, on behalf of `owner`.
        """
        mac, ip, hostname = _validated(mac, ip, hostname)
        kept = self._of(network)
        if kept is None:
            raise StratusError("BuildAbortException", "network %s is not defined on this host" % network, "networks")
        current = kept.entries()
        wanted = {"ip": ip, "name": hostname}
        if current.get(mac) == wanted:
            return False
        if mac in current:
            old_ip = current[mac]["ip"]
            kept.delete(mac, old_ip)
            if old_ip != ip:
                self._release_later(network, old_ip, mac, owner)
        # Another MAC holding this address is a stale entry of a deleted instance.
        for other, entry in list(current.items()):
            if other != mac and entry["ip"] == ip:
                kept.delete(other, ip)
                self._release_later(network, ip, other, owner)
        kept.add(mac, ip, hostname)
        return True

    def remove(self, network: str, mac: str, ip: t.Optional[str] = None, owner: str = "") -> bool:
        """The entry of `mac` gone from `network` (changed: it was there), its lease released
        afterwards: on `ip` (the plan's address) and on the entry's, even when the entry was gone."""
        kept = self._of(network)
        mac = _valid_mac(mac)
        if kept is None:
            return False
        current = kept.entries()
        addresses = {_valid_ip(ip)} if ip else set()
        if mac in current:
            addresses.add(current[mac]["ip"])
        for address in sorted(addresses):
            self._release_later(network, address, mac, owner)
        if mac not in current:
            kept.already_gone(mac)
            return False
        kept.delete(mac, current[mac]["ip"])
        return True

    def reload(self) -> None:
        for network, kept in sorted(self._networks.items()):
            if kept is not None and kept.needs_reload and self.pid_dir:
                signal_dnsmasq(network, self.pid_dir)
                kept.needs_reload = False

    def release(self, tool: t.Optional[str] = None) -> dict[str, list[dict[str, t.Any]]]:
        """Release the leases of the entries that went (call after reload()); the errors by owner."""
        errors: dict[str, list[dict[str, t.Any]]] = {}
        todo, self._releases = self._releases, {}
        for (network, ip, mac), owner in sorted(todo.items()):
            if ipaddress.ip_address(ip).version != 4:
                continue  # a DHCPv6 lease is the client's DUID's, which Stratus does not know
            try:
                release_lease(self._bridges[network] or "", ip, mac, tool)
            except StratusError as exc:
                errors.setdefault(owner, []).append(exc.to_dict())
        return errors


def signal_dnsmasq(network: str, pid_dir: str) -> bool:
    """SIGHUP to the network's dnsmasq (it re-reads its host files); False when none runs."""
    pid = dnsmasq_pid(network, pid_dir)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError:
        return False
    return True
