# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bare-metal deploy's work on the conductor: Nova's Ironic driver steps, without the store.

What the deploy does to a node, where its BMC, its media and its network are reachable (the
controller: plugin_utils/conductor/deploy.py calls it; standard library plus the drivers, so a
module on a named conductor host could call it the same way):

- ``networking``: the node's MAC pinned to the instance's address in the node network's DHCP
  (static mode: dnsmasq answers only a MAC with an entry; network.DirHostEntries, as a hypervisor);
- ``block_device_mapping``: the deploy medium (deploy_medium.py: kernel, ramdisk, config drive)
  written into the media directory the BMCs download from;
  (Redfish's virtual media), or the kernel, ramdisk, the instance's config drive cpio and the
  node's iPXE script into the node network's TFTP root (pxe.py; IPMI nodes);
- ``spawning``: through the node's boot interface (Ironic's ``boot_interface``): the medium's URL
  inserted as virtual CD and boot from CD, or boot from the network (PXE), persistently (a node
  powered on again boots its server again); power on, wait until on;
- ``teardown``: power off, eject, the medium file, the PXE files and the DHCP entries gone (a
  failed deploy's clean-up, a deleted server's cleaning; every part idempotent).

Every step is explicit and idempotent: a rerun after an interruption does the same again.
"""
from __future__ import annotations

import dataclasses
import os
import re
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import deploy_medium, pxe
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import (
    BOOT_CDROM, BOOT_PXE, MEDIA_URL, POWER_OFF, POWER_ON, BMCDriver,
)
from ansible_collections.stratus.compute.plugins.module_utils.compute import network
from ansible_collections.stratus.compute.plugins.module_utils.compute.block_device import decode_user_data
from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan
from ansible_collections.stratus.compute.plugins.module_utils.compute.steps import injected_files
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

# A power change is a request: the BMC applies it seconds later (the lab's emulator: under a minute).
POWER_TIMEOUT_S = 180.0
# An absolute path of plain characters: it reaches file calls and the docs' examples.
DIR_PATH = re.compile(r"/[A-Za-z0-9._/+-]*")
# The media server's base URL: plain http(s), no query, no credentials (a BMC cannot present one).
MEDIA_BASE_URL = re.compile(r"https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
# What the conductor's libvirt calls its networks' dnsmasq pid files' directory (under `host_root`).
DNSMASQ_PID_DIR = "/run/libvirt/network"


@dataclasses.dataclass(frozen=True)
class DeploySite:
    """Where the conductor keeps what the BMCs and nodes fetch: the media directory and its URL,
    the root under which its libvirt keeps the node networks' DHCP hosts directories and dnsmasq
    pid files ("/" on a conductor host; the lab's BMC namespace root in the lab), and the TFTP root
    the node network's dnsmasq serves to PXE-booting (IPMI) nodes (None: no PXE here)."""

    media_dir: str
    media_url: str
    host_root: str = "/"
    tftp_root: t.Optional[str] = None

    @classmethod
    def checked(cls, media_dir: t.Any, media_url: t.Any, host_root: t.Any = "/",
                tftp_root: t.Any = None) -> "DeploySite":
        """Each value full-matched (they reach file calls and the URL a BMC downloads); field: the variable."""
        if not isinstance(media_dir, str) or not DIR_PATH.fullmatch(media_dir) or ".." in media_dir.split("/"):
            raise StratusError("InvalidCatalog", "stratus_baremetal_media_dir must be an absolute path of letters, digits "
                               "and ._/+- (the directory the deploy media are written to)", "stratus_baremetal_media_dir")
        if not os.path.isdir(media_dir):
            raise StratusError("InvalidCatalog", "stratus_baremetal_media_dir %s is not a directory" % media_dir,
                               "stratus_baremetal_media_dir")
        url = media_url.rstrip("/") if isinstance(media_url, str) else media_url
        if not isinstance(url, str) or not MEDIA_BASE_URL.fullmatch(url):
            raise StratusError("InvalidCatalog", "stratus_baremetal_media_url must be http(s)://host[:port] (no path, user "
                               "or query): the URL the BMCs download stratus_baremetal_media_dir from",
                               "stratus_baremetal_media_url")
        if not isinstance(host_root, str) or not DIR_PATH.fullmatch(host_root) or ".." in host_root.split("/"):
            raise StratusError("InvalidCatalog", "stratus_baremetal_host_root must be an absolute path", "stratus_baremetal_host_root")
        if tftp_root is not None and (not isinstance(tftp_root, str) or not DIR_PATH.fullmatch(tftp_root)
                                      or ".." in tftp_root.split("/") or not os.path.isdir(tftp_root)):
            raise StratusError("InvalidCatalog", "stratus_baremetal_tftp_root must be the absolute path of a directory "
                               "(letters, digits and ._/+-): the TFTP root of the node network's dnsmasq",
                               "stratus_baremetal_tftp_root")
        return cls(media_dir, url, host_root, tftp_root)

    def medium_path(self, instance_uuid: str) -> str:
        return os.path.join(self.media_dir, deploy_medium.medium_name(instance_uuid))

    def medium_url(self, instance_uuid: str) -> str:
        return "%s/%s" % (self.media_url, deploy_medium.medium_name(instance_uuid))

    def _under_root(self, path: str) -> str:
        return os.path.join(self.host_root, path.lstrip("/"))

    def hosts_dir(self, libvirt_network: str) -> str:
        return self._under_root(network.hosts_dir_path(libvirt_network))

    def pid_dir(self) -> str:
        return self._under_root(DNSMASQ_PID_DIR)


def networking(site: DeploySite, plan: BuildPlan) -> bool:
    """The node's MACs pinned to the instance's addresses; dnsmasq told. Returns changed."""
    changed = False
    touched = set()
    for nic in plan.nics:
        if not nic.ip:
            continue
        name = nic.libvirt_network
        entries = network.DirHostEntries(site.hosts_dir(name))
        mac, ip, hostname = network._validated(nic.mac, nic.ip, nic.hostname)  # pylint: disable=protected-access
        if entries.entries().get(mac) == {"ip": ip, "name": hostname}:
            continue
        if mac in entries.entries():
            entries.delete(mac, entries.entries()[mac]["ip"])
        entries.add(mac, ip, hostname)
        touched.add(name)
        changed = True
    for name in sorted(touched):
        network.signal_dnsmasq(name, site.pid_dir())
    return changed


def drop_dhcp(site: DeploySite, macs: t.Iterable[t.Tuple[str, str]]) -> bool:
    """The entries of these (libvirt network, MAC) gone; dnsmasq told. Returns changed."""
    changed = False
    touched = set()
    for name, mac in macs:
        entries = network.DirHostEntries(site.hosts_dir(name))
        mac = mac.lower()
        if mac in entries.entries():
            entries.delete(mac, entries.entries()[mac]["ip"])
            changed = True
        touched.add(name)  # a step killed between the unlink and the SIGHUP: dnsmasq may still hold it
    for name in sorted(touched):
        network.signal_dnsmasq(name, site.pid_dir())
    return changed


def write_medium(site: DeploySite, plan: BuildPlan) -> deploy_medium.DeployMedium:
    """The instance's deploy medium in the media directory (same plan, same bytes: a rerun writes nothing)."""
    kernel, ramdisk = _boot_files(plan)
    image, drive = plan.image, plan.config_drive
    if drive is None:
        raise StratusError("InvalidRequest", "the build plan of instance %s has no config drive" % plan.uuid,
                           "config_drive")
    return deploy_medium.build_deploy_medium(
        site.medium_path(plan.uuid), kernel, ramdisk, dict(drive.meta_data),
        network_data=drive.network_data, user_data=decode_user_data(drive.user_data),
        files=injected_files(drive.files),
        kernel_cmdline=(image.kernel_cmdline if image else None) or deploy_medium.DEFAULT_KERNEL_CMDLINE)


def _boot_files(plan: BuildPlan) -> t.Tuple[str, str]:
    image = plan.image
    if image is None or not image.kernel_file or not image.ramdisk_file:
        raise StratusError("ImageUnacceptable", "the build plan of instance %s has no kernel and ramdisk to deploy"
                           % plan.uuid, "image")
    return image.kernel_file, image.ramdisk_file


def write_pxe(site: DeploySite, plan: BuildPlan) -> t.List[pxe.PxeBoot]:
    """The instance's PXE files in the TFTP root, a script per NIC of the node (any of them may boot).

    They take the group of the root's boot.ipxe: the provisioning network's set-up wrote it for the
    group its dnsmasq reads as (pxe.write_boot_script), and dnsmasq serves only what it can read.
    """
    if site.tftp_root is None:
        raise StratusError("InvalidCatalog", "stratus_baremetal_tftp_root is not set: an IPMI node boots its deploy "
                           "by PXE from the node network's TFTP root", "stratus_baremetal_tftp_root")
    kernel, ramdisk = _boot_files(plan)
    drive = plan.config_drive
    if drive is None:
        raise StratusError("InvalidRequest", "the build plan of instance %s has no config drive" % plan.uuid,
                           "config_drive")
    try:
        group = os.stat(os.path.join(site.tftp_root, pxe.BOOT_SCRIPT)).st_gid
    except FileNotFoundError:
        raise StratusError("InvalidCatalog", "the TFTP root %s has no %s: the node network's PXE set-up has not run"
                           % (site.tftp_root, pxe.BOOT_SCRIPT), "stratus_baremetal_tftp_root") from None
    return [pxe.prepare_pxe(site.tftp_root, nic.mac, plan.uuid, kernel, ramdisk, dict(drive.meta_data),
                            network_data=drive.network_data, user_data=decode_user_data(drive.user_data),
                            files=injected_files(drive.files),
                            kernel_cmdline=(plan.image.kernel_cmdline if plan.image else None)
                            or pxe.DEFAULT_KERNEL_CMDLINE, group=group)
            for nic in plan.nics]


def spawn_pxe(driver: BMCDriver, plan: BuildPlan, timeout: float = POWER_TIMEOUT_S) -> bool:
    """Boot the node from the network: PXE from now on, on. Returns changed (it was off).

    Persistent, as Ironic's ramdisk deploy: a node powered on again (start, reboot) boots its
    server from the same PXE files, which stay until the node is cleaned."""
    if driver.power_state() == POWER_ON:
        return False  # an interrupted spawn, or a rerun: the node is up from its PXE files already
    driver.set_boot_device(BOOT_PXE, once=False)
    driver.power_on()
    driver.wait_for_power(POWER_ON, timeout)
    return True


def spawn(driver: BMCDriver, site: DeploySite, plan: BuildPlan, timeout: float = POWER_TIMEOUT_S) -> bool:
    """Boot the node from its medium (virtual media): inserted, CD from now on, on. Returns changed (it
    was off). Persistent, as Ironic's ramdisk deploy: the medium stays inserted until the node is
    cleaned, and a node powered on again (start, reboot) boots its server from it."""
    url = site.medium_url(plan.uuid)
    if not MEDIA_URL.fullmatch(url):
        raise StratusError("InvalidRequest", "the medium URL %s is not a plain http(s) URL" % url, "stratus_baremetal_media_url")
    was = driver.power_state()
    if was == POWER_ON:
        # an interrupted spawn, or a rerun: the node is up from this medium already (insert is idempotent)
        driver.insert_media(url)
        return False
    driver.insert_media(url)
    driver.set_boot_device(BOOT_CDROM, once=False)
    driver.power_on()
    driver.wait_for_power(POWER_ON, timeout)
    return True


def teardown(driver: t.Optional[BMCDriver], site: DeploySite, instance_uuid: t.Optional[str],
             nics: t.Iterable[t.Tuple[str, str]], timeout: float = POWER_TIMEOUT_S) -> t.List[str]:
    """Power off, eject, the medium, the PXE files and the DHCP entries gone; what was done (a BMC fault
    is raised after the files are gone: they need no BMC)."""
    done: t.List[str] = []
    fault: t.Optional[StratusError] = None
    if driver is not None:
        try:
            driver.power_off(force=True)
            driver.wait_for_power(POWER_OFF, timeout)
            done.append("powered off")
            try:
                driver.eject_media()
                done.append("medium ejected")
            except StratusError as exc:
                if exc.code != "BMCUnsupported":
                    raise
        except StratusError as exc:
            fault = exc
    if instance_uuid:
        try:
            os.unlink(site.medium_path(instance_uuid))
            done.append("medium file removed")
        except FileNotFoundError:
            pass
    nics = list(nics)
    if instance_uuid and site.tftp_root is not None:
        removed = [pxe.clean_pxe(site.tftp_root, mac, instance_uuid) for _network, mac in nics]  # every NIC's
        if any(removed):
            done.append("PXE files removed")
    if drop_dhcp(site, nics):
        done.append("DHCP entry dropped")
    if fault is not None:
        raise fault
    return done
