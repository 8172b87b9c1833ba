# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Redfish driver: a node's BMC through sushy, the Redfish client Ironic uses.

The System is ``stratus_bm_system_id`` (never sushy's guess of "the only System"), read once per
driver and refreshed before each power read. Virtual media is the System's (sushy-tools 2.2.0,
recent BMCs) or else its Managers' (older BMCs).
"""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import (
    BOOT_CDROM, BOOT_DISK, BOOT_PXE, POWER_OFF, POWER_ON, BMCDriver, BMCInventory,
)
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError


class RedfishDriver(BMCDriver):
    name = "redfish"
    package = "sushy"

    def import_library(self) -> t.Any:
        import sushy  # pylint: disable=import-outside-toplevel
        return sushy

    # the System

    def system(self, action: str) -> t.Any:
        """The node's System (connecting, logging in and reading it the first time)."""
        if self._handle is None:
            lib = self.lib

            def connect() -> t.Any:
                root = lib.Sushy(self.access.address, username=self.access.username, password=self.access.password,
                                 verify=self.access.verify_tls, read_timeout=self.access.timeout,
                                 connect_timeout=self.access.timeout)
                return root.get_system(self.access.system_id)
            self._handle = self.call(action, connect)
        return self._handle

    # the interface

    def power_state(self) -> str:
        system = self.system("read the power state")

        def read() -> t.Any:
            system.refresh(force=True)
            return system.power_state
        state = self.call("read the power state", read)
        power = self.lib.PowerState
        if state in (power.ON, power.POWERING_ON):
            return POWER_ON
        if state in (power.OFF, power.POWERING_OFF):
            return POWER_OFF
        raise self.error("BMCError", "read the power state", "the BMC reports no power state we know (%s)" % state)

    def set_power(self, target: str, force: bool) -> None:
        reset = self.lib.ResetType
        kind = reset.ON if target == POWER_ON else (reset.FORCE_OFF if force else reset.GRACEFUL_SHUTDOWN)
        system = self.system(target)  # the action's name is the target's: "power on", "power off"
        self.call(target, lambda: system.reset_system(kind))

    def set_boot_device(self, device: str, once: bool = True) -> None:
        self.check_boot_device(device)
        source = {BOOT_PXE: self.lib.BootSource.PXE, BOOT_DISK: self.lib.BootSource.HDD,
                  BOOT_CDROM: self.lib.BootSource.CD}[device]
        enabled = self.lib.BootSourceOverrideEnabled
        system = self.system("set the boot device")
        self.call("set the boot device %s" % device, lambda: system.set_system_boot_options(
            target=source, enabled=enabled.ONCE if once else enabled.CONTINUOUS))

    def insert_media(self, url: str) -> None:
        self.check_media_url(url)
        device = self._cd_device("insert virtual media")

        def insert() -> None:
            if device.inserted and device.image == url:
                return
            if device.inserted:  # a BMC refuses an insert over another medium
                device.eject_media()
            device.insert_media(url, inserted=True, write_protected=True)
        self.call("insert virtual media", insert)

    def eject_media(self) -> None:
        device = self._cd_device("eject virtual media")

        def eject() -> None:
            if device.inserted:
                device.eject_media()
        self.call("eject virtual media", eject)

    def read_inventory(self) -> BMCInventory:
        system = self.system("read the inventory")

        def read() -> BMCInventory:
            memory_gib = system.memory_summary.size_gib if system.memory_summary is not None else None
            cpus = self._unless_missing(lambda: system.processors.summary.count)
            macs = self._unless_missing(lambda: system.ethernet_interfaces.summary) or {}
            return BMCInventory(cpus=cpus or None, memory_mb=int(memory_gib * 1024) if memory_gib is not None else None,
                                macs=tuple(sorted(mac.lower() for mac in macs)))
        return self.call("read the inventory", read)

    def _unless_missing(self, read: t.Callable[[], t.Any]) -> t.Any:
        """A part of the System that a BMC may not have (sushy-tools' fake System has no Processors): None."""
        try:
            return read()
        except self.lib.exceptions.MissingAttributeError:
            return None

    # the one error mapping of sushy's exceptions

    def map_error(self, action: str, exc: BaseException) -> t.Optional[StratusError]:
        errors = self.lib.exceptions
        if isinstance(exc, errors.ConnectionError):
            return self.error("BMCUnreachable", action, "no answer from the BMC: %s" % exc, "stratus_bm_address")
        if isinstance(exc, errors.AccessError):
            return self.error("BMCAuthFailed", action, "the BMC refused the credentials (HTTP %s)" % exc.status_code,
                              "stratus_bm_password")
        if isinstance(exc, errors.ResourceNotFoundError):
            return self.error("BMCError", action, "the BMC has no %s" % (getattr(exc, "url", None) or exc),
                              "stratus_bm_system_id")
        if isinstance(exc, errors.SushyError):
            return self.error("BMCError", action, exc)
        return None

    # helpers

    def _cd_device(self, action: str) -> t.Any:
        """The node's virtual CD/DVD drive: the System's, else its Managers'."""
        system = self.system(action)
        media_type = self.lib.VirtualMediaType
        errors = self.lib.exceptions

        def find() -> t.Any:
            try:
                collections = [system.virtual_media]
            except errors.MissingAttributeError:
                collections = [manager.virtual_media for manager in system.managers]
            for collection in collections:
                for device in collection.get_members():
                    if {media_type.CD, media_type.DVD} & set(device.media_types or ()):
                        return device
            return None
        device = self.call(action, find)
        if device is None:
            raise self.error("BMCUnsupported", action, "the BMC offers no virtual CD or DVD drive")
        return device
