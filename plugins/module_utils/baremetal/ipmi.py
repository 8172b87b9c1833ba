# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPMI driver: a node's BMC through pyghmi (IPMI 2.0 over LAN, RMCP+).

IPMI has no virtual media, so an IPMI node boots from the network (PXE); insert_media and
eject_media refuse with BMCUnsupported. What a plain IPMI BMC reports of the hardware is its FRU
data: MACs when the vendor puts them there, CPUs and memory rarely.

pyghmi 1.6.19 asks for cipher suite 17 (SHA-256) and takes for granted that the BMC agreed (its
own TODO); a BMC that answers with suite 3 (SHA-1, the suite every IPMI 2.0 BMC has: virtualbmc's
always does) then fails the login half-way. ``adopt_answered_cipher_suite`` makes the client read
the BMC's answer and go on with the suite the BMC chose, as ipmitool does.
"""
from __future__ import annotations

import hashlib
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
# RMCP+ Open Session Response (IPMI 2.0 section 13.18): byte 1 the status, byte 16 the authentication
# algorithm the BMC chose (table 13-17: 1 RAKP-HMAC-SHA1, 3 RAKP-HMAC-SHA256), byte 24 the integrity one
_STATUS_AT, _AUTH_AT, _INTEGRITY_AT = 1, 16, 24
_HMAC_SHA1 = 1
# pyghmi's attemptedhash: 256 while it proposes suite 17, 1 for suite 3
_PROPOSES_SHA256, _PROPOSES_SHA1 = 256, 1


def adopt_answered_cipher_suite(session_class: t.Any) -> None:
    """Teach pyghmi's client session (once) to follow the cipher suite the BMC answered with.

    Suite 3 (SHA-1) instead of the proposed 17 is the one answer pyghmi cannot take yet: its RAKP
    exchange then hashes with SHA-256 what the BMC hashed with SHA-1. Anything else is left to
    pyghmi (a refusal, a suite 17 answer)."""
    if getattr(session_class, "stratus_adopts_answered_suite", False):
        return
    answered = session_class._got_rmcp_response  # pylint: disable=protected-access

    def got_rmcp_response(session: t.Any, data: t.Any) -> t.Any:
        if (len(data) > _INTEGRITY_AT and data[_STATUS_AT] == 0 and session.attemptedhash == _PROPOSES_SHA256
                and data[_AUTH_AT] == _HMAC_SHA1 and data[_INTEGRITY_AT] == _HMAC_SHA1):
            session.attemptedhash = _PROPOSES_SHA1
            session.currhashlib = hashlib.sha1
            session.currhashlen = 12  # HMAC-SHA1-96
        return answered(session, data)

    session_class._got_rmcp_response = got_rmcp_response  # pylint: disable=protected-access
    session_class.stratus_adopts_answered_suite = True


# FRU data and the SDR repository are optional in IPMI: a BMC without them answers completion code 0xC1
# (Invalid command) or 0xCB (Requested sensor, data, or record not present); pyghmi often keeps only the
# text. Such a BMC reports no hardware (virtualbmc's): what it has is kept, the rest is not reported.
_NO_INVENTORY_CODES = (0xC1, 0xCB)
_NO_INVENTORY = re.compile(r"Invalid command|Requested sensor, data, or record not present")


def lacks_inventory(exc: BaseException) -> bool:
    """Whether a pyghmi error of reading the inventory says the BMC has none (not a fault)."""
    return getattr(exc, "ipmicode", 0) in _NO_INVENTORY_CODES or bool(_NO_INVENTORY.fullmatch(str(exc).strip()))


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
        """pyghmi's command and exceptions modules (its session taught to follow the BMC's cipher suite)."""
        from pyghmi import exceptions  # pylint: disable=import-outside-toplevel
        from pyghmi.ipmi import command  # pylint: disable=import-outside-toplevel
        from pyghmi.ipmi.private import session  # pylint: disable=import-outside-toplevel
        adopt_answered_cipher_suite(session.Session)
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
            try:
                for _name, described in ipmi.get_inventory():
                    for key, value in (described or {}).items():
                        if "mac" in str(key).lower() and isinstance(value, str) and _MAC.fullmatch(value.strip()):
                            macs.add(value.strip().lower().replace("-", ":"))
            except self.lib.exceptions.IpmiException as exc:
                if not lacks_inventory(exc):
                    raise
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
