# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's bare-metal nodes and their BMCs (`python -m stratus_lab up --baremetal N`).

One more namespace of the lab, <prefix>-bmc, built like a hypervisor (network namespace on the
lab's own addresses, {base}.250.2; a mount namespace with private /etc/libvirt, /var/cache/libvirt,
/run ... under <state>/bmc/root) runs:

- its own syslogd, virtlogd and libvirtd, holding the nodes node1..nodeN: blank domains (a small
  empty disk, an empty cdrom, one NIC on the isolated libvirt network `baremetal`, serial console
  logged to <state>/bmc/consoles/nodeK.log);
- sushy-tools' Redfish emulator (libvirt driver on that libvirtd) on http://{base}.250.2:8000,
  HTTP basic auth, virtual media uploaded into the libvirt pool `vmedia` (<state>/bmc/vmedia);
- virtualbmc's vbmcd, one IPMI endpoint per node on {base}.250.2, UDP ports 623, 624, ...;
- the deploy-media server (stratus_lab/media_server.py) on http://{base}.250.2:8080, serving
  <state>/bmc/media (0700): InsertMedia downloads a node's deploy medium from there. lab.json
  records both (`media_dir`, `media_url`);
- TFTP on the node network (libvirt's dnsmasq, on 10.241.0.1): <state>/bmc/tftp (its files 0640 of the
  group of that dnsmasq), holding iPXE's global script boot.ipxe, the DHCP boot file; an IPMI node boots by PXE from
  the files plugins/module_utils/baremetal/pxe.py puts there. lab.json records it (`tftp_root`).

Every node is reachable both ways (Redfish and IPMI): the user is `admin`, the password is generated
once into <state>/bmc/password (0600) and lab.json records its path, never the password.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import pxe
from ansible_collections.stratus.compute.plugins.module_utils.compute import network as node_network

from stratus_lab.lab import (DAEMON_ENV, DAEMON_SCRIPTS, Hypervisor, Lab, LabError, VENV_BIN,
                             VENV_PYTHON, daemon_pid, ensure_daemons, ensure_mntns, ensure_netns,
                             libvirt_configs, link_exists, log_hint, netns_exists, port_open, prepare_dirs,
                             read_pid, run, seed_caps_cache, subnet_in_use, warm_libvirt,
                             write_if_changed)

# The third octet of the BMC namespace's /24: above any hypervisor's (--hypervisors is at most 200).
BMC_OCTET = 250
REDFISH_PORT = 8000
MEDIA_PORT = 8080
IPMI_FIRST_PORT = 623
BMC_USER = "admin"
MAX_NODES = 16
BMC_DAEMONS = ("syslogd", "virtlogd", "libvirtd", "sushy-emulator", "vbmcd", "media-server")
# The nodes' one network: the demo catalog's `baremetal` (10.241.0.0/24), isolated (no <forward>: no NAT)
# and made as Stratus makes a hypervisor's network (module_utils/compute/network.py): DHCP in static mode
# (a placeholder entry), so dnsmasq answers only a MAC with a host entry, one file per MAC in its hosts
# directory (the deploy's networking step pins the store's IPAM address there; the e2e test does it by hand).
NODE_NETWORK = "baremetal"
# its libvirt name, as Stratus names a catalog network's (catalog.py: "stratus-<name>"): the deploy finds its DHCP
NODE_LIBVIRT_NETWORK = "stratus-" + NODE_NETWORK
NODE_BRIDGE = "bmbr0"
NODE_NETWORK_SPEC = {"libvirt_name": NODE_LIBVIRT_NETWORK, "cidr": "10.241.0.0/24", "gateway": "10.241.0.1",
                     "bridge": NODE_BRIDGE, "dhcp": True}
VMEDIA_POOL = "vmedia"
NODE_MEMORY_MB = 512
# qemu-system-x86 here does not link iPXE's ROMs where QEMU looks; name the one the NIC needs (PXE).
VIRTIO_ROM = Path("/usr/lib/ipxe/qemu/pxe-virtio.rom")
# That ROM says PCI device 1af4:1041 (virtio 1.0 net). QEMU rewrites a ROM's device id to the device's only
# for its default ROM, not for one named, and SeaBIOS runs no ROM whose id differs: a transitional
# virtio-net (1af4:1000, the `virtio` model on i440fx) would never start iPXE. The modern-only device is 1041.
NODE_NIC_MODEL = "virtio-non-transitional"


@dataclass
class BmcHost(Hypervisor):
    """The BMC namespace: a hypervisor-shaped namespace without sshd, with the two emulators."""
    daemons: tuple[str, ...] = BMC_DAEMONS
    foreground: frozenset[str] = field(default=frozenset({"sushy-emulator", "vbmcd", "media-server"}))

    @property
    def name(self) -> str:
        return "bmc"

    @property
    def octet(self) -> int:
        return BMC_OCTET

    @property
    def password_file(self) -> Path:
        return self.dir / "password"

    @property
    def htpasswd(self) -> Path:
        return self.dir / "htpasswd"

    @property
    def sushy_conf(self) -> Path:
        return self.dir / "sushy-emulator.conf"

    @property
    def vbmc_conf(self) -> Path:
        return self.dir / "virtualbmc.conf"

    @property
    def vbmc_dir(self) -> Path:
        return self.dir / "vbmc"

    @property
    def redfish_url(self) -> str:
        return f"http://{self.addr}:{REDFISH_PORT}"

    @property
    def media_dir(self) -> Path:
        """Deploy media for the BMCs to download: they hold user data, so root's only (0700)."""
        return self.dir / "media"

    @property
    def media_url(self) -> str:
        return f"http://{self.addr}:{MEDIA_PORT}"

    @property
    def tftp_root(self) -> Path:
        """The node network's TFTP root (its PXE files carry user data: 0640, readable by dnsmasq's group)."""
        return self.dir / "tftp"

    @property
    def node_dhcp_pid_dir(self) -> Path:
        """Where the BMC namespace's libvirtd keeps its networks' dnsmasq PID files, as the machine sees it."""
        return self.root / node_network.DNSMASQ_PID_DIR.lstrip("/")

    @property
    def node_dhcp_hosts(self) -> Path:
        """The node network's dnsmasq hosts directory (a file per MAC), as the machine sees it."""
        return self.root / node_network.hosts_dir_path(NODE_LIBVIRT_NETWORK).lstrip("/")

    def node_console(self, node: str) -> Path:
        return self.dir / "consoles" / f"{node}.log"

    def node_disk(self, node: str) -> Path:
        return self.dir / "disks" / f"{node}.qcow2"

    def argv_of(self, daemon: str) -> list[str]:
        if daemon == "sushy-emulator":
            return [str(VENV_PYTHON), str(VENV_BIN / "sushy-emulator"), "--config", str(self.sushy_conf)]
        if daemon == "vbmcd":
            return [str(VENV_PYTHON), str(VENV_BIN / "vbmcd"), "--foreground"]
        if daemon == "media-server":
            return [str(VENV_PYTHON), str(DAEMON_SCRIPTS[daemon]), "--bind", self.addr, "--port", str(MEDIA_PORT),
                    "--directory", str(self.media_dir)]
        return super().argv_of(daemon)

    @property
    def tmp_dir(self) -> Path:
        """sushy-emulator's TMPDIR: it downloads each virtual medium into a mkdtemp directory and
        leaves the directory behind at eject; here `down` removes it with the rest."""
        return self.dir / "tmp"

    def env_of(self, daemon: str) -> dict[str, str]:
        if daemon == "vbmcd":
            return {**DAEMON_ENV, "VIRTUALBMC_CONFIG": str(self.vbmc_conf)}
        if daemon == "sushy-emulator":
            return {**DAEMON_ENV, "TMPDIR": str(self.tmp_dir)}
        return DAEMON_ENV


def bmc_of(lab: Lab) -> BmcHost:
    return BmcHost(lab, BMC_OCTET)


def node_names(count: int) -> list[str]:
    return [f"node{i}" for i in range(1, count + 1)]


def node_mac(index: int) -> str:
    # locally administered (QEMU's 52:54:00 block), unique per node; the network is the lab's own
    return f"52:54:00:b0:{index:02x}:01"


def validate_count(count: int) -> int:
    if not 0 <= count <= MAX_NODES:
        raise LabError(f"--baremetal must be between 0 and {MAX_NODES}")
    return count


def check_bmc_collisions(bmc: BmcHost) -> None:
    if netns_exists(bmc.netns) or link_exists(bmc.host_link):
        raise LabError(f"netns {bmc.netns} or link {bmc.host_link} already exists but is not part "
                       f"of the lab in {bmc.lab.state}; use another --prefix")
    other = subnet_in_use(bmc)
    if other:
        raise LabError(f"{bmc.host_addr}/24 overlaps an address on {other}; use another --subnet-base")


# --------------------------------------------------------------------------
# config files


def ensure_password(bmc: BmcHost) -> str:
    """The BMC password: generated once, kept 0600; never printed."""
    if not bmc.password_file.exists():
        bmc.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(bmc.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(18) + "\n")
    return bmc.password_file.read_text().strip()


def sushy_conf_text(bmc: BmcHost, system_ids: list[str]) -> str:
    return f"""\
# Written by the stratus lab: the Redfish emulator of the BMC namespace {bmc.netns}
SUSHY_EMULATOR_LISTEN_IP = {bmc.addr!r}
SUSHY_EMULATOR_LISTEN_PORT = {REDFISH_PORT}
SUSHY_EMULATOR_LIBVIRT_URI = 'qemu:///system'
SUSHY_EMULATOR_AUTH_FILE = {str(bmc.htpasswd)!r}
SUSHY_EMULATOR_STORAGE_POOL = {VMEDIA_POOL!r}
SUSHY_EMULATOR_FEATURE_SET = 'full'
# its state (virtual media, indicators) in the lab, not in the machine's /tmp/sushy-emulator
SUSHY_EMULATOR_STATE_DIR = {str(bmc.dir / 'sushy-state')!r}
# the lab's nodes only, by UUID (the Redfish system ids)
SUSHY_EMULATOR_ALLOWED_INSTANCES = {system_ids!r}
"""


def vbmc_conf_text(bmc: BmcHost) -> str:
    return f"""\
# Written by the stratus lab: virtualbmc of the BMC namespace {bmc.netns}
[default]
config_dir = {bmc.vbmc_dir}
# not the lab's pid file: vbmcd refuses to start while the pid in its own file is alive
pid_file = {bmc.dir / 'pids' / 'vbmcd-own.pid'}
show_passwords = false
"""


def vbmc_node_text(bmc: BmcHost, node: str, port: int, password: str) -> str:
    return f"""\
[VirtualBMC]
username = {BMC_USER}
password = {password}
address = {bmc.addr}
port = {port}
domain_name = {node}
libvirt_uri = qemu:///system
active = True
"""


def write_secret(path: Path, content: str) -> bool:
    """write_if_changed, 0600 from the start (the tmp file is created with the final mode)."""
    if path.exists() and path.read_text() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(content)
    tmp.replace(path)
    return True


def ensure_htpasswd(bmc: BmcHost, password: str) -> bool:
    # bcrypt salts every hash: keep the file while it still matches, so `up` stays idempotent
    if bmc.htpasswd.exists():
        entry = bmc.htpasswd.read_text().strip()
        user, digest = entry.split(":", 1) if ":" in entry else (entry, "")
        if user == BMC_USER and digest.startswith("$2") and bcrypt.checkpw(password.encode(), digest.encode()):
            return False
    digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
    return write_secret(bmc.htpasswd, f"{BMC_USER}:{digest}\n")


def ensure_bmc_configs(bmc: BmcHost, count: int) -> set[str]:
    """libvirt's configs and the emulators' (vbmc's per-node ones come with the nodes)."""
    changed: set[str] = set()
    for name, content in libvirt_configs().items():
        if write_if_changed(bmc.root / "etc" / "libvirt" / name, content):
            changed.add({"virtlogd.conf": "virtlogd"}.get(name, "libvirtd"))
    password = ensure_password(bmc)
    if ensure_htpasswd(bmc, password):
        changed.add("sushy-emulator")
    if write_if_changed(bmc.vbmc_conf, vbmc_conf_text(bmc)):
        changed.add("vbmcd")
    for node in node_names(count):
        for d in (bmc.node_console(node).parent, bmc.node_disk(node).parent, bmc.vbmc_dir):
            d.mkdir(parents=True, exist_ok=True)
    (bmc.dir / "vmedia").mkdir(exist_ok=True)
    for private in (bmc.media_dir, bmc.tmp_dir):
        private.mkdir(mode=0o700, exist_ok=True)
        private.chmod(0o700)
    # 0755: dnsmasq checks it as the user it drops to, before the lab can know that user's group; what is
    # in it is 0640/0750 of that group (ensure_tftp, pxe.py), and TFTP lists no directory
    bmc.tftp_root.mkdir(mode=0o755, exist_ok=True)
    bmc.tftp_root.chmod(0o755)
    return changed


# --------------------------------------------------------------------------
# libvirt objects: the network, the pool, the nodes


def network_xml(bmc: BmcHost) -> str:
    # TFTP and DHCP's boot file: iPXE (the nodes' NIC ROM) fetches boot.ipxe, which chains the node's own script
    return node_network.network_xml(NODE_NETWORK_SPEC, node_network.hosts_dir_path(NODE_LIBVIRT_NETWORK),
                                    tftp_root=str(bmc.tftp_root), bootp_file=pxe.BOOT_SCRIPT)


def dnsmasq_gid(bmc: BmcHost, timeout: float = 60) -> int:
    """The group the node network's dnsmasq runs as (it drops root): the TFTP files are for that group."""
    deadline = time.monotonic() + timeout
    while True:
        pid = node_network.dnsmasq_pid(NODE_LIBVIRT_NETWORK, str(bmc.node_dhcp_pid_dir))
        if pid:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("Gid:"):
                        return int(line.split()[2])  # the effective gid
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise LabError(f"bmc: the dnsmasq of network {NODE_LIBVIRT_NETWORK} is not running after {timeout:.0f}s "
                           f"(see {bmc.dir / 'logs'})")
        time.sleep(0.2)


def ensure_tftp(bmc: BmcHost) -> list[str]:
    """The TFTP root readable by the node network's dnsmasq, with the global iPXE script in it."""
    gid = dnsmasq_gid(bmc)
    return ["tftp boot.ipxe"] if pxe.write_boot_script(str(bmc.tftp_root), group=gid) else []


def pool_xml(bmc: BmcHost) -> str:
    return f"""<pool type='dir'>
  <name>{VMEDIA_POOL}</name>
  <target><path>{bmc.dir / 'vmedia'}</path></target>
</pool>
"""


def node_xml(bmc: BmcHost, index: int) -> str:
    node = f"node{index}"
    rom = f"<rom file='{VIRTIO_ROM}'/>" if VIRTIO_ROM.exists() else "<rom enabled='no'/>"
    # TCG unless told otherwise: nested KVM on this workplace's machines stalls guests (see lab.py)
    virt_type = os.environ.get("STRATUS_LAB_DOMAIN_TYPE", "qemu")
    virt_type = "qemu" if virt_type == "auto" else virt_type
    return f"""<domain type='{virt_type}'>
  <name>{node}</name>
  <memory unit='MiB'>{NODE_MEMORY_MB}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{bmc.node_disk(node)}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <interface type='network'>
      <source network='{NODE_LIBVIRT_NETWORK}'/>
      <mac address='{node_mac(index)}'/>
      <model type='{NODE_NIC_MODEL}'/>
      {rom}
    </interface>
    <serial type='file'>
      <source path='{bmc.node_console(node)}' append='on'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
"""


def define_from(bmc: BmcHost, kind: str, name: str, xml: str) -> bool:
    """Define (and for networks and pools start, autostart) a libvirt object unless it exists."""
    lister = {"net": "net-list", "pool": "pool-list", "dom": "list"}[kind]
    if name in bmc.virsh(lister, "--all", "--name").stdout.split():
        return False
    xml_file = bmc.dir / f"{kind}-{name}.xml"
    xml_file.write_text(xml)
    try:
        bmc.virsh({"net": "net-define", "pool": "pool-define", "dom": "define"}[kind], str(xml_file))
    finally:
        xml_file.unlink(missing_ok=True)
    return True


def start_if_inactive(bmc: BmcHost, kind: str, name: str) -> None:
    if name not in bmc.virsh(f"{kind}-list", "--name").stdout.split():
        bmc.virsh(f"{kind}-start", name)


def ensure_nodes(bmc: BmcHost, count: int) -> list[str]:
    done = []
    bmc.node_dhcp_hosts.mkdir(mode=0o755, parents=True, exist_ok=True)
    if define_from(bmc, "net", NODE_LIBVIRT_NETWORK, network_xml(bmc)):
        done.append(f"network {NODE_LIBVIRT_NETWORK}")
    start_if_inactive(bmc, "net", NODE_LIBVIRT_NETWORK)
    done += ensure_tftp(bmc)
    if define_from(bmc, "pool", VMEDIA_POOL, pool_xml(bmc)):
        done.append(f"pool {VMEDIA_POOL}")
    start_if_inactive(bmc, "pool", VMEDIA_POOL)
    for index, node in enumerate(node_names(count), start=1):
        if not bmc.node_disk(node).exists():
            run(["qemu-img", "create", "-q", "-f", "qcow2", str(bmc.node_disk(node)), "1G"])
        if define_from(bmc, "dom", node, node_xml(bmc, index)):
            done.append(f"node {node}")
    return done


def ensure_vbmc_nodes(bmc: BmcHost, count: int, password: str) -> bool:
    changed = False
    for index, node in enumerate(node_names(count)):
        changed |= write_secret(bmc.vbmc_dir / node / "config",
                                vbmc_node_text(bmc, node, IPMI_FIRST_PORT + index, password))
    return changed


def node_records(bmc: BmcHost, count: int) -> list[dict[str, object]]:
    """What lab.json keeps per node: where its BMCs answer and how to log in (the password's file)."""
    records = []
    for index, node in enumerate(node_names(count), start=1):
        system_id = bmc.virsh("domuuid", node).stdout.strip()
        records.append({
            "name": node,
            "redfish_address": bmc.redfish_url,
            "redfish_system_id": system_id,
            "redfish_path": f"/redfish/v1/Systems/{system_id}",
            "ipmi_address": bmc.addr,
            "ipmi_port": IPMI_FIRST_PORT + index - 1,
            "username": BMC_USER,
            "password_file": str(bmc.password_file),
            "nics": [{"mac": node_mac(index), "network": NODE_NETWORK, "bridge": NODE_BRIDGE}],
            "console_log": str(bmc.node_console(node)),
        })
    return records


def daemon_running(bmc: BmcHost, daemon: str) -> bool:
    return daemon_pid(bmc, daemon) is not None


def up_bmc(lab: Lab, caps_source: Hypervisor | None) -> list[str]:
    """Bring the BMC namespace and lab.baremetal nodes up; idempotent. Records the nodes in lab."""
    bmc = bmc_of(lab)
    count = lab.baremetal
    done = ensure_netns(bmc)
    prepare_dirs(bmc)
    done += ensure_mntns(bmc, netns_fresh=any(d.startswith("netns") for d in done))
    changed = ensure_bmc_configs(bmc, count)
    seed_caps_cache(bmc, caps_source)
    # libvirtd first: the emulators need the nodes (sushy's allowed ids are their UUIDs)
    libvirt_first = tuple(d for d in bmc.daemons if d not in bmc.foreground)
    done += ensure_daemons(BmcHost(lab, BMC_OCTET, daemons=libvirt_first), changed)
    changed -= set(libvirt_first)  # (re)started just now
    warm_libvirt(bmc)
    done += ensure_nodes(bmc, count)
    records = node_records(bmc, count)
    if write_if_changed(bmc.sushy_conf, sushy_conf_text(bmc, [str(r["redfish_system_id"]) for r in records])):
        changed.add("sushy-emulator")
    if ensure_vbmc_nodes(bmc, count, ensure_password(bmc)):
        changed.add("vbmcd")
    done += ensure_daemons(bmc, changed)
    wait_bmcs_listening(bmc, count)
    lab.nodes = records
    lab.media_dir, lab.media_url, lab.tftp_root = str(bmc.media_dir), bmc.media_url, str(bmc.tftp_root)
    lab.save()
    return done


def udp_ports_bound(pid: int) -> set[int]:
    """UDP ports bound in the network namespace of `pid` (its /proc/PID/net/udp)."""
    try:
        lines = Path(f"/proc/{pid}/net/udp").read_text().splitlines()[1:]
    except OSError:
        return set()
    return {int(line.split()[1].rsplit(":", 1)[1], 16) for line in lines}


def wait_bmcs_listening(bmc: BmcHost, count: int, timeout: float = 180) -> None:
    """Until the Redfish and media ports answer and every IPMI port is bound: `up` hands over working BMCs."""
    ipmi_ports = {IPMI_FIRST_PORT + i for i in range(count)}
    deadline = time.monotonic() + timeout
    while True:
        for daemon in bmc.foreground:
            if not daemon_running(bmc, daemon):
                raise LabError(f"bmc: {daemon} exited (see {log_hint(bmc, daemon)})")
        vbmcd = daemon_pid(bmc, "vbmcd")
        if (port_open(bmc.addr, REDFISH_PORT) and port_open(bmc.addr, MEDIA_PORT) and vbmcd
                and ipmi_ports <= udp_ports_bound(vbmcd)):
            return
        if time.monotonic() > deadline:
            raise LabError(f"bmc: Redfish port {REDFISH_PORT}, media port {MEDIA_PORT} or IPMI ports {sorted(ipmi_ports)} not "
                           f"listening after {timeout:.0f}s (see {bmc.dir / 'logs'})")
        time.sleep(0.2)


def bmc_status(lab: Lab) -> dict[str, object]:
    bmc = bmc_of(lab)
    pids = {d: {"pid": read_pid(bmc.pidfile(d)), "alive": daemon_running(bmc, d)} for d in bmc.daemons}
    up = netns_exists(bmc.netns) and all(p["alive"] for p in pids.values())
    return {"name": bmc.name, "namespace": bmc.netns, "address": bmc.addr, "pids": pids,
            "redfish_port_open": up and port_open(bmc.addr, REDFISH_PORT),
            "redfish": bmc.redfish_url, "media_url": lab.media_url, "media_dir": lab.media_dir,
            "tftp_root": lab.tftp_root,
            "state_dir": str(bmc.dir), "nodes": lab.nodes or []}


def bmc_status_lines(status: dict[str, object]) -> list[str]:
    pids = status["pids"]
    assert isinstance(pids, dict)
    daemons = "  ".join(f"{d}={p['pid'] if p['alive'] else 'DEAD'}" for d, p in pids.items())
    redfish = "redfish ok" if status["redfish_port_open"] else "redfish CLOSED"
    lines = [f"{status['name']}  {status['namespace']}  {status['address']}  {daemons}  {redfish}",
             f"  deploy media: {status['media_dir']} served at {status['media_url']}",
             f"  PXE: {status.get('tftp_root')} served by TFTP on the node network"]
    for node in status["nodes"]:  # type: ignore[attr-defined]
        nics = ", ".join(f"{n['mac']} on {n['network']}" for n in node["nics"])
        lines.append(f"  {node['name']}  redfish {node['redfish_address']}{node['redfish_path']}  "
                     f"ipmi {node['ipmi_address']}:{node['ipmi_port']}  user {node['username']} "
                     f"password in {node['password_file']}  nics {nics}")
    return lines
