# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt's own live migration with disk copy between two hypervisors of a lab: the floor the
live-migration benchmark measures Stratus against, and the proof that the lab's migration network
("Migration network" in docs/architecture.md) carries it.

    start_guest(hv1, "mig-1", GUEST_IMAGE)       # a bare domain: a qcow2 overlay in hv1's pool, 256 MiB
    seconds = virsh_live_migrate(hv1, hv2, "mig-1")

virsh_live_migrate runs, in the source's namespaces (virsh is the client of both daemons: it reaches
the destination's libvirtd over the migration network):

    virsh -c qemu:///system migrate --live --persistent --undefinesource --copy-storage-all --verbose
          DOMAIN qemu+tcp://<dst migration address>/system
          --migrateuri tcp://<dst migration address> --listen-address <dst migration address>

What libvirt needs, learnt here (libvirt 9.0, QEMU with TCG), for the Stratus modules that migrate:

- the destination's libvirtd reachable from the client (here qemu+tcp on the migration address; Nova's
  live_migration_scheme tcp/tls/ssh) and a host UUID of its own: the migration cookie carries it, and
  with the source's UUID the destination refuses ("Attempt to migrate guest to the same host <uuid>").
  The lab gives each libvirtd a host_uuid. The hostname does not matter: the lab's libvirtds share the
  machine's (one UTS namespace) and migrate;
- --migrateuri tcp://<destination address>: without it the destination offers its hostname for the
  memory stream and the disks' NBD server, and the source fails to connect ("Failed to connect to
  'vm:49153'"). --listen-address makes the destination's QEMU (the incoming migration and that NBD
  server) listen on the migration address only;
- --copy-storage-all copies every disk to a file at the *same path* on the destination. That file need
  not be made by hand: the destination's libvirt pre-creates it (the disk's format and virtual size,
  no backing file: the whole chain arrives flattened) in the storage pool whose target path is the
  disk's directory, which must exist there, active (ensure_pool on both hosts). Without such a pool
  the migration fails before anything moved ("no storage pool with matching target path"), the guest
  still running on the source. --copy-storage-inc (Nova's choice) copies the top image only: then the
  destination needs the backing file at its path first;
- --persistent --undefinesource: the domain ends defined on the destination and gone from the source
  (Nova's VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE). The source's disk file stays: the
  caller deletes it once the migration succeeded (Nova's post_live_migration cleanup).
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

from stratus_lab.lab import DAEMON_ENV, LIBVIRT_URI, Hypervisor, LabError, run

# The pool of the bare guests migrated here: the same path on every hypervisor (each its own directory).
POOL = "lab-migration"
POOL_PATH = "/var/lib/libvirt/lab-migration"
GUEST_MEMORY_MIB = 256
CONSOLE_DIR = "/var/log/libvirt/qemu"


def guest_xml(name: str, disk: str, memory_mib: int = GUEST_MEMORY_MIB) -> str:
    """A bare TCG domain booting `disk` (the lab's guest image), no NIC, its serial console logged."""
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory><vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/><apic/></features><clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>
      <target dev='vda' bus='virtio'/></disk>
    <serial type='pty'><log file='{CONSOLE_DIR}/{name}.console.log' append='off'/><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='none'/>
  </devices>
</domain>"""


def disk_path(name: str) -> str:
    """The guest's disk, as its hypervisor sees it (the same path on every hypervisor)."""
    return f"{POOL_PATH}/{name}.qcow2"


def console_path(hv: Hypervisor, name: str) -> Path:
    """The guest's console log on `hv`, as the machine sees it."""
    return hv.root / CONSOLE_DIR.lstrip("/") / f"{name}.console.log"


def host_disk(hv: Hypervisor, name: str) -> Path:
    """The guest's disk on `hv`, as the machine sees it."""
    return hv.root / disk_path(name).lstrip("/")


def ensure_pool(hv: Hypervisor) -> None:
    """The migration pool on `hv`, defined, built and active (a no-op when it is)."""
    if hv.virsh("pool-info", POOL, check=False).returncode != 0:
        hv.virsh("pool-define-as", POOL, "dir", "--target", POOL_PATH)
        hv.virsh("pool-build", POOL)
    if "running" not in hv.virsh("pool-info", POOL).stdout:
        hv.virsh("pool-start", POOL)


def start_guest(hv: Hypervisor, name: str, image: Path, memory_mib: int = GUEST_MEMORY_MIB) -> Path:
    """Define and start `name` on `hv`: a qcow2 overlay of `image` in the migration pool; its console log."""
    ensure_pool(hv)
    disk = disk_path(name)
    run(hv.nsenter(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(image), disk]),
        env=DAEMON_ENV)
    hv.virsh("pool-refresh", POOL)
    xml = hv.dir / f"{name}.xml"  # the state dir is visible inside the namespaces
    xml.write_text(guest_xml(name, disk, memory_mib))
    hv.virsh("define", str(xml))
    hv.virsh("start", name)
    return console_path(hv, name)


def virsh_live_migrate(src: Hypervisor, dst: Hypervisor, domain: str, timeout: float = 600) -> float:
    """Live-migrate `domain` from `src` to `dst` with its disks copied (virsh, over the migration
    network); the seconds it took. A failure raises LabError with virsh's message."""
    argv = ["virsh", "-c", LIBVIRT_URI, "migrate", "--live", "--persistent", "--undefinesource",
            "--copy-storage-all", "--verbose", domain, dst.migration_uri,
            "--migrateuri", f"tcp://{dst.migration_addr}", "--listen-address", dst.migration_addr]
    started = time.monotonic()
    try:
        proc = subprocess.run(src.nsenter(argv), capture_output=True, text=True, timeout=timeout, env=DAEMON_ENV,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise LabError(f"virsh migrate {domain} {src.name} -> {dst.name}: no end after {timeout:.0f}s") from None
    if proc.returncode != 0:
        raise LabError(f"virsh migrate {domain} {src.name} -> {dst.name} failed: "
                       f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
    return time.monotonic() - started
