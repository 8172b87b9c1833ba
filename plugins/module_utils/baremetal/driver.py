# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one interface every BMC driver provides (docs/baremetal.md), and its error rules.

A driver is the client of one node's BMC: Redfish (``redfish.py``, sushy) or IPMI (``ipmi.py``,
pyghmi); a vendor driver is one more module and one entry in ``drivers.py``. The deploy steps
call only what ``BMCDriver`` declares. This runs wherever the BMCs are reachable (the controller
or a conductor host), so it is module_utils: standard library here, the client library imported
by each driver when it is first needed.

Every failure of a BMC call is a StratusError: ``BMCUnreachable`` (no answer, refused, timed
out), ``BMCAuthFailed`` (the BMC refused the credentials), ``BMCUnsupported`` (the BMC or the
protocol cannot do it: IPMI has no virtual media), ``BMCError`` (anything else the BMC or the
library reported); its field names the node's variable at fault (``hostvars[<node>]...``). Each
driver maps its own library's exceptions (``map_error``); ``BMCDriver.call`` applies that
mapping and takes the password out of every message, whatever the library put in it.
"""
from __future__ import annotations

import abc
import dataclasses
import re
import time
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

# Ironic's power states (ironic.common.states), the words the deploy steps compare.
POWER_ON = "power on"
POWER_OFF = "power off"

# Ironic's boot devices (ironic.common.boot_devices) that a deploy uses.
BOOT_PXE = "pxe"
BOOT_DISK = "disk"
BOOT_CDROM = "cdrom"
BOOT_DEVICES = (BOOT_PXE, BOOT_DISK, BOOT_CDROM)

# An ISO's URL reaches the BMC, which fetches it: http(s), no whitespace, quotes or angle brackets.
MEDIA_URL = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~%!$&'()*+,;=:@/?-]*)?")

T = t.TypeVar("T")


@dataclasses.dataclass(frozen=True)
class BMCAccess:
    """What a driver needs to reach one node's BMC. The password is never in its repr."""

    node: str
    address: str
    username: str
    password: str = dataclasses.field(repr=False)
    system_id: t.Optional[str] = None
    verify_tls: bool = True
    # seconds a BMC may take to answer: an emulated one's first answer can take a minute
    timeout: int = 90

    def field(self, variable: t.Optional[str] = None) -> str:
        """The inventory place an error names: the node, or one of its variables."""
        where = "hostvars[%s]" % self.node
        return "%s.%s" % (where, variable) if variable else where


@dataclasses.dataclass(frozen=True)
class BMCInventory:
    """What the BMC reports of the node; None where it does not say."""

    cpus: t.Optional[int]
    memory_mb: t.Optional[int]
    macs: t.Tuple[str, ...]


class BMCDriver(abc.ABC):
    """The client of one node's BMC. Each call is explicit and idempotent: power_on on a node that
    is on does nothing, insert_media does not power on or change the boot device."""

    # the name of the driver in stratus_bm_driver and in drivers.DRIVERS
    name = ""
    # the Python package of its client library (named when it is missing)
    package = ""

    def __init__(self, access: BMCAccess) -> None:
        self.access = access
        self._lib: t.Any = None
        # the library's handle on this BMC (a sushy System, a pyghmi Command), made on first use
        self._handle: t.Any = None

    @abc.abstractmethod
    def import_library(self) -> t.Any:
        """The client library (imported on first use: only the hosts that reach BMCs need it)."""

    @property
    def lib(self) -> t.Any:
        if self._lib is None:
            try:
                self._lib = self.import_library()
            except ImportError:
                raise missing_library(self.access.node, self.package, self.name) from None
        return self._lib

    def __repr__(self) -> str:
        return "%s(%r)" % (type(self).__name__, self.access)

    @abc.abstractmethod
    def power_state(self) -> str:
        """POWER_ON or POWER_OFF."""

    def power_on(self) -> None:
        """Power the node on (nothing if it is on)."""
        if self.power_state() != POWER_ON:
            self.set_power(POWER_ON, force=False)

    def power_off(self, force: bool = True) -> None:
        """Power the node off (nothing if it is off): at once, or by asking its OS when not force."""
        if self.power_state() != POWER_OFF:
            self.set_power(POWER_OFF, force)

    @abc.abstractmethod
    def set_power(self, target: str, force: bool) -> None:
        """Ask the BMC for target (POWER_ON or POWER_OFF; force: off at once, not by the OS); the
        base class calls it only when the node is not there already."""

    @abc.abstractmethod
    def set_boot_device(self, device: str, once: bool = True) -> None:
        """Boot from device (one of BOOT_DEVICES) next time only, or from now on when not once."""

    @abc.abstractmethod
    def insert_media(self, url: str) -> None:
        """Insert the ISO at url as the node's virtual CD (replacing another one)."""

    @abc.abstractmethod
    def eject_media(self) -> None:
        """Eject the node's virtual CD (nothing if none is inserted)."""

    @abc.abstractmethod
    def read_inventory(self) -> BMCInventory:
        """The node's CPUs, memory and NIC MACs as the BMC reports them."""

    @abc.abstractmethod
    def map_error(self, action: str, exc: BaseException) -> t.Optional[StratusError]:
        """This driver's library exception as a StratusError; None for one that is not the library's."""

    def verify(self) -> str:
        """Reachable, credentials right, power readable: the node's power state, or the StratusError."""
        return self.power_state()

    def wait_for_power(self, target: str, timeout: float = 120.0, interval: float = 2.0) -> None:
        """Wait until the node's power state is target: a BMC accepts a power change at once and
        applies it seconds later (real ones and sushy-tools' fake driver alike), as Ironic waits."""
        if not self.power_reached(target, timeout, interval):
            raise self.error("BMCError", "wait for %s" % target,
                             "the node was not in %s after %d seconds" % (target, timeout))

    def power_reached(self, target: str, timeout: float, interval: float = 2.0) -> bool:
        """Whether the node's power state becomes target within timeout seconds (a graceful power
        off that the OS ignores is not a fault: the caller then forces it)."""
        deadline = time.monotonic() + timeout
        while self.power_state() != target:
            if time.monotonic() >= deadline:
                return False
            time.sleep(max(0.0, min(interval, deadline - time.monotonic())))
        return True

    # helpers for the drivers

    def call(self, action: str, operation: t.Callable[[], T]) -> T:
        """operation() with the library's exceptions mapped once, and no password in any message."""
        try:
            return operation()
        except StratusError as exc:
            raise self.scrubbed(exc) from None
        except Exception as exc:  # pylint: disable=broad-exception-caught
            mapped = self.map_error(action, exc)
            if mapped is None:
                raise
            # from None: the library's exception (and its message) is not chained into a traceback
            raise self.scrubbed(mapped) from None

    def error(self, code: str, action: str, reason: t.Any, variable: t.Optional[str] = None) -> StratusError:
        """A BMC failure of this node, worded once: '<node>: <driver> BMC <address>: <action>: <reason>'."""
        message = "node %s: %s BMC %s: %s: %s" % (self.access.node, self.name, self.access.address, action, reason)
        return StratusError(code, message, self.access.field(variable))

    def scrubbed(self, exc: StratusError) -> StratusError:
        """The error with the password masked: some libraries echo what they were given."""
        secret = self.access.password
        if not secret or secret not in exc.message:
            return exc
        return StratusError(exc.code, exc.message.replace(secret, "********"), exc.field)

    def check_boot_device(self, device: str) -> None:
        if device not in BOOT_DEVICES:
            raise StratusError("InvalidRequest", "boot device %r is not one of %s" % (device, ", ".join(BOOT_DEVICES)),
                               self.access.field())

    def check_media_url(self, url: str) -> None:
        if not isinstance(url, str) or not MEDIA_URL.fullmatch(url):
            raise StratusError("InvalidRequest", "the virtual media URL must be an http(s) URL without spaces, "
                               "quotes or angle brackets", self.access.field())


def missing_library(node: str, package: str, driver: str) -> StratusError:
    """The error of a driver whose client library is not installed where it runs."""
    return StratusError("BMCError", "the Python package %s, which the %s driver needs, is not installed on the host "
                        "that runs the BMC calls (setup/requirements.txt, meta/ee-requirements.txt)" % (package, driver),
                        "hostvars[%s].stratus_bm_driver" % node)
