# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPMI driver: a node's BMC through pyghmi (IPMI 2.0 over LAN, RMCP+).

IPMI has no virtual media, so an IPMI node boots from the network (PXE); insert_media and
eject_media refuse with BMCUnsupported. What a plain IPMI BMC reports of the hardware is its FRU
data: MACs when the vendor puts them there, CPUs and memory rarely.
"""
from __future__ import annotations

import re
import types
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import (
    BOOT_CDROM, BOOT_DISK, BOOT_PXE, POWER_OFF, POWER_ON, BMCDriver, BMCInventory,
)
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

DEFAULT_PORT = 623
# pyghmi's words for a session that never came up or went away (its message, or none at all)
_NO_ANSWER = re.compile(r"timeout|timed out|no longer connected|failed to initialize|unreachable|^none$|^$", re.I)
# the BMC's RMCP+ refusals of a login (pyghmi's rmcp_codes and RAKP checks)
_REFUSED = re.compile(r"incorrect password|unauthorized name|unauthorized role|rakp|insufficient privilege|"
                      r"invalid (user|session)", re.I)
_MAC = re.compile(r"[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}")
# Ironic's boot devices -> pyghmi's
_BOOT_DEVICES = {BOOT_PXE: "network", BOOT_DISK: "hd", BOOT_CDROM: "optical"}


def split_address(address: str) -> t.Tuple[str, int]:
    """host[:port] (an IPv6 host in brackets) -> (host, port); the schema has checked the form."""
    if address.startswith("["):
        host, rest = address[1:].split("]", 1)
        return host, int(rest[1:]) if rest.startswith(":") else DEFAULT_PORT
    host, port = (address.split(":", 1) + [""])[:2]
    return host, int(port) if port else DEFAULT_PORT


class IPMIDriver(BMCDriver):
    name = "ipmi"
    package = "pyghmi"

    def import_library(self) -> t.Any:
        """pyghmi's command and exceptions modules."""
        from pyghmi import exceptions  # pylint: disable=import-outside-toplevel
        from pyghmi.ipmi import command  # pylint: disable=import-outside-toplevel
        return types.SimpleNamespace(command=command, exceptions=exceptions)

    def command(self, action: str) -> t.Any:
        """The node's IPMI session (logging in the first time)."""
        if self._handle is None:
            command_module = self.lib.command
            host, port = split_address(self.access.address)
            self._handle = self.call(action, lambda: command_module.Command(
                bmc=host, userid=self.access.username, password=self.access.password, port=port))
        return self._handle

    def power_state(self) -> str:
        ipmi = self.command("read the power state")
        state = self.call("read the power state", lambda: ipmi.get_power().get("powerstate"))
        if state == "on":
            return POWER_ON
        if state == "off":
            return POWER_OFF
        raise self.error("BMCError", "read the power state", "the BMC reports no power state we know (%s)" % state)

    def set_power(self, target: str, force: bool) -> None:
        state = "on" if target == POWER_ON else ("off" if force else "shutdown")
        ipmi = self.command(target)  # the action's name is the target's: "power on", "power off"
        self.call(target, lambda: ipmi.set_power(state))

    def set_boot_device(self, device: str, once: bool = True) -> None:
        self.check_boot_device(device)
        ipmi = self.command("set the boot device")
        self.call("set the boot device %s" % device,
                  lambda: ipmi.set_bootdev(_BOOT_DEVICES[device], persist=not once))

    def insert_media(self, url: str) -> None:
        raise self.error("BMCUnsupported", "insert virtual media",
                         "IPMI has no virtual media: an IPMI node boots from the network (PXE)", "stratus_bm_driver")

    def eject_media(self) -> None:
        raise self.error("BMCUnsupported", "eject virtual media",
                         "IPMI has no virtual media: an IPMI node boots from the network (PXE)", "stratus_bm_driver")

    def read_inventory(self) -> BMCInventory:
        ipmi = self.command("read the inventory")

        def read() -> BMCInventory:
            macs: t.Set[str] = set()
            for _name, described in ipmi.get_inventory():
                for key, value in (described or {}).items():
                    if "mac" in str(key).lower() and isinstance(value, str) and _MAC.fullmatch(value.strip()):
                        macs.add(value.strip().lower().replace("-", ":"))
            return BMCInventory(cpus=None, memory_mb=None, macs=tuple(sorted(macs)))
        return self.call("read the inventory", read)

    def map_error(self, action: str, exc: BaseException) -> t.Optional[StratusError]:
        errors = self.lib.exceptions
        if isinstance(exc, errors.UnsupportedFunctionality):
            return self.error("BMCUnsupported", action, "the BMC cannot do this: %s" % exc)
        if isinstance(exc, errors.IpmiException) and not isinstance(exc, errors.BmcErrorException):
            text = str(exc).strip()
            if _REFUSED.search(text):
                return self.error("BMCAuthFailed", action, "the BMC refused the credentials (%s)" % text,
                                  "stratus_bm_password")
            if _NO_ANSWER.search(text):
                return self.error("BMCUnreachable", action, "no answer from the BMC (%s)" % (text or "no session"),
                                  "stratus_bm_address")
            return self.error("BMCError", action, text)
        if isinstance(exc, errors.PyghmiException):
            return self.error("BMCError", action, exc)
        if isinstance(exc, OSError):  # name resolution, no route: before any IPMI packet
            return self.error("BMCUnreachable", action, "no answer from the BMC: %s" % exc, "stratus_bm_address")
        return None
