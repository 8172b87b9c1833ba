# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The power step of a bare-metal server: stop, start and reboot through its node's BMC, as Nova's
Ironic driver does (``power_off(timeout)``, ``power_on``, ``reboot``).

- stop: a graceful power off (the BMC asks the OS: ACPI), waited for up to ``shutdown_timeout``
  seconds (Nova's ``shutdown_timeout``), then a forced power off; a timeout of 0 forces at once.
- start: power on and wait until the BMC says on.
- reboot_soft: the graceful power off (forced when it does not end in time), then power on.
- reboot_hard: forced power off, then power on.

The node boots its server again by itself: the deploy set its boot device persistently (the
medium's CD, or the network) and left the medium inserted or the PXE files in place until the
node is cleaned. Step names are the hypervisor's (compute_api/server_actions ``step``); each
returns what the hypervisor's step returns (``changed``, ``forced``, ``hard_fallback``).
Standard library only: it runs where the BMCs are reachable.
"""
from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import POWER_OFF, POWER_ON, BMCDriver
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

# A BMC that does not answer or refuses us cannot do a forced power off either: no fallback then.
NO_FALLBACK = ("BMCUnreachable", "BMCAuthFailed")


@dataclasses.dataclass(frozen=True)
class PowerWaiting:
    """How long the OS may take to shut down (Nova's shutdown_timeout), how long the BMC may take to
    apply a forced change or a power on, and how often its power state is read meanwhile."""

    shutdown_timeout: float = 60.0
    power_timeout: float = 180.0
    interval: float = 2.0


def power_off(driver: BMCDriver, waiting: PowerWaiting) -> bool:
    """Nova's Ironic power_off(timeout): graceful, forced when the node is not off in time (or the BMC
    cannot do graceful); True when forced. The node is off afterwards, or a StratusError says why."""
    if waiting.shutdown_timeout > 0:
        try:
            driver.power_off(force=False)
        except StratusError as exc:
            if exc.code in NO_FALLBACK:
                raise
        else:
            if driver.power_reached(POWER_OFF, waiting.shutdown_timeout, waiting.interval):
                return False
    driver.power_off(force=True)
    driver.wait_for_power(POWER_OFF, waiting.power_timeout, waiting.interval)
    return True


def power_on(driver: BMCDriver, waiting: PowerWaiting) -> None:
    driver.power_on()
    driver.wait_for_power(POWER_ON, waiting.power_timeout, waiting.interval)


def stop(driver: BMCDriver, waiting: PowerWaiting) -> dict[str, t.Any]:
    if driver.power_state() == POWER_OFF:
        return {"changed": False, "power_state": POWER_OFF}
    return {"changed": True, "forced": power_off(driver, waiting), "power_state": POWER_OFF}


def start(driver: BMCDriver, waiting: PowerWaiting) -> dict[str, t.Any]:
    if driver.power_state() == POWER_ON:
        return {"changed": False, "power_state": POWER_ON}
    power_on(driver, waiting)
    return {"changed": True, "power_state": POWER_ON}


def reboot_soft(driver: BMCDriver, waiting: PowerWaiting) -> dict[str, t.Any]:
    """A soft reboot needs a node that is on (as the hypervisor's needs a running domain)."""
    if driver.power_state() != POWER_ON:
        raise StratusError("InstanceInvalidState", "cannot soft reboot: node %s is powered off (a soft reboot "
                           "needs a running server)" % driver.access.node, driver.access.field())
    forced = power_off(driver, waiting)
    power_on(driver, waiting)
    return {"changed": True, "hard_fallback": forced, "power_state": POWER_ON}


def reboot_hard(driver: BMCDriver, waiting: PowerWaiting) -> dict[str, t.Any]:
    driver.power_off(force=True)
    driver.wait_for_power(POWER_OFF, waiting.power_timeout, waiting.interval)
    power_on(driver, waiting)
    return {"changed": True, "power_state": POWER_ON}


STEP_FUNCTIONS: dict[str, t.Callable[[BMCDriver, PowerWaiting], dict[str, t.Any]]] = {
    "stop": stop, "start": start, "reboot_soft": reboot_soft, "reboot_hard": reboot_hard}


def run_step(step: str, driver: BMCDriver, waiting: PowerWaiting) -> dict[str, t.Any]:
    """One server's step: ``ok`` and what the step returned, or ``ok`` false with the error (its code:
    BMCUnreachable, BMCAuthFailed, BMCError, InstanceInvalidState)."""
    if step not in STEP_FUNCTIONS:
        return {"ok": False, "changed": False,
                "error": StratusError("InvalidRequest", "unknown power step %r" % step, "action").to_dict()}
    try:
        return dict(STEP_FUNCTIONS[step](driver, waiting), ok=True)
    except StratusError as exc:
        return {"ok": False, "changed": True, "error": exc.to_dict()}
