# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugins/module_utils/baremetal/driver.py and drivers.py: the interface, its error rules, the registry.

No client library is needed here (ansible-test units' environment has neither sushy nor pyghmi):
a missing library is simulated, and the drivers' calls are tested in tests/unit/test_baremetal_drivers.py.
"""
from __future__ import annotations

import sys
import typing as t
from unittest import mock

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import drivers
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import (
    POWER_ON, BMCAccess, BMCDriver, BMCInventory,
)
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.ipmi import IPMIDriver
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.redfish import RedfishDriver
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

PASSWORD = "Bmc-S3cret-77f"
ACCESS = BMCAccess(node="n1", address="https://10.0.0.5", username="admin", password=PASSWORD,
                   system_id="/redfish/v1/Systems/1")


class VendorError(Exception):
    """What a vendor's client library raises."""


class VendorDriver(BMCDriver):
    """A third driver: one class, one registry entry, no change to anything else."""

    name = "vendor"
    package = "vendor_client"

    def import_library(self) -> t.Any:
        return object()

    def power_state(self) -> str:
        return self.call("read the power state", self._read)

    def _read(self) -> str:
        raise VendorError("login as admin/%s refused" % PASSWORD)

    def set_power(self, target: str, force: bool) -> None:
        self.call("power %s" % target, lambda: None)

    def set_boot_device(self, device: str, once: bool = True) -> None:
        self.check_boot_device(device)

    def insert_media(self, url: str) -> None:
        self.check_media_url(url)

    def eject_media(self) -> None:
        """Nothing inserted."""

    def read_inventory(self) -> BMCInventory:
        return BMCInventory(cpus=1, memory_mb=512, macs=())

    def map_error(self, action: str, exc: BaseException) -> t.Optional[StratusError]:
        if isinstance(exc, VendorError):
            return self.error("BMCAuthFailed", action, exc, "stratus_bm_password")
        return None


def test_the_registry_names_each_driver_by_its_name() -> None:
    assert drivers.DRIVERS == {"redfish": RedfishDriver, "ipmi": IPMIDriver}
    assert all(cls.name == name and cls.package for name, cls in drivers.DRIVERS.items())
    assert isinstance(drivers.driver_for("redfish", ACCESS), RedfishDriver)


def test_an_unknown_driver_is_refused_with_its_field() -> None:
    with pytest.raises(StratusError) as err:
        drivers.driver_for("vendorx", ACCESS)
    assert (err.value.code, err.value.field) == ("InvalidCatalog", "hostvars[n1].stratus_bm_driver")
    assert "ipmi, redfish" in err.value.message


def test_a_third_driver_is_one_class_and_one_registry_entry() -> None:
    with mock.patch.dict(drivers.DRIVERS, {"vendor": VendorDriver}):
        driver = drivers.driver_for("vendor", ACCESS)
    with pytest.raises(StratusError) as err:
        driver.verify()
    assert (err.value.code, err.value.field) == ("BMCAuthFailed", "hostvars[n1].stratus_bm_password")
    assert err.value.message == "node n1: vendor BMC https://10.0.0.5: read the power state: login as admin/******** refused"
    assert err.value.__cause__ is None


@pytest.mark.parametrize("device", ["floppy", "PXE", ""])
def test_a_boot_device_outside_the_list_is_refused(device: str) -> None:
    with pytest.raises(StratusError) as err:
        VendorDriver(ACCESS).set_boot_device(device)
    assert (err.value.code, err.value.field) == ("InvalidRequest", "hostvars[n1]")


@pytest.mark.parametrize("url, good", [
    ("http://10.0.0.1:8080/deploy.iso", True), ("https://[fd00::1]/a/b.iso?x=1&y=2", True),
    ("file:///etc/passwd", False), ("http://10.0.0.1/a b.iso", False), ("http://10.0.0.1/x.iso\n", False),
    ("http://10.0.0.1/<x>", False), ("", False)])
def test_the_media_url_is_full_matched(url: str, good: bool) -> None:
    if good:
        VendorDriver(ACCESS).insert_media(url)
        return
    with pytest.raises(StratusError) as err:
        VendorDriver(ACCESS).insert_media(url)
    assert err.value.code == "InvalidRequest"


def test_no_password_in_a_repr() -> None:
    assert PASSWORD not in repr(ACCESS) and PASSWORD not in str(ACCESS)
    assert PASSWORD not in repr(VendorDriver(ACCESS)) and "n1" in repr(VendorDriver(ACCESS))


@pytest.mark.parametrize("cls, module", [(RedfishDriver, "sushy"), (IPMIDriver, "pyghmi")])
def test_a_missing_client_library_is_a_clear_error(cls: t.Type[BMCDriver], module: str) -> None:
    hidden = {name: None for name in list(sys.modules) if name == module or name.startswith(module + ".")}
    hidden[module] = None  # an import of a None entry raises ImportError
    with mock.patch.dict(sys.modules, hidden):
        with pytest.raises(StratusError) as err:
            cls(ACCESS).verify()
    assert (err.value.code, err.value.field) == ("BMCError", "hostvars[n1].stratus_bm_driver")
    assert "Python package %s" % module in err.value.message and "is not installed" in err.value.message


def test_a_programming_error_is_raised_as_it_is() -> None:
    driver = VendorDriver(ACCESS)
    with pytest.raises(KeyError):
        driver.call("power on", lambda: {}["x"])
    assert driver.call("power on", lambda: POWER_ON) == POWER_ON


class SlowBMC(VendorDriver):
    """A BMC that applies a power change after some reads."""

    def __init__(self, access: BMCAccess, states: t.List[str]) -> None:
        super().__init__(access)
        self.states = states

    def power_state(self) -> str:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


def test_wait_for_power_polls_until_the_state_is_reached() -> None:
    driver = SlowBMC(ACCESS, ["power off", "power off", POWER_ON])
    driver.wait_for_power(POWER_ON, timeout=5, interval=0)
    assert driver.states == [POWER_ON]


def test_wait_for_power_gives_up_with_a_bmc_error() -> None:
    with pytest.raises(StratusError) as err:
        SlowBMC(ACCESS, ["power off"]).wait_for_power(POWER_ON, timeout=0, interval=0)
    assert (err.value.code, err.value.field) == ("BMCError", "hostvars[n1]")
    assert "was not in power on after 0 seconds" in err.value.message
