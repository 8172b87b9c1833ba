# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bare-metal floor: the Redfish calls of a virtual-media deploy and delete, as a plain sushy script.

No Ansible, no store, no medium built: each node gets a medium already in the media server's
directory, then, one node after the other as a script does it:

  deploy   insert the medium (sushy-tools downloads it), boot from CD once, power on, poll the
           power state until on
  delete   force off, poll until off, eject

What Stratus does on top (deciding, the store, building each instance's medium, the DHCP entry,
Ansible) is what the ratio against this floor measures. Each phase reports its seconds and the
seconds of each kind of call, so the bench can say where the time goes.
"""
from __future__ import annotations

import collections
import time
import typing as t

import sushy

POWER_TIMEOUT_S = 300.0
POLL_S = 0.2
# The first GET of a System can take a minute on 2 cores while libvirtd probes QEMU.
HTTP_TIMEOUT_S = 240


class FloorNode(t.NamedTuple):
    name: str
    redfish_address: str
    system_path: str
    username: str
    password: str


class CallClock:
    """Seconds spent per kind of call, summed over the nodes of a phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = collections.defaultdict(float)

    def timed(self, kind: str, call: t.Callable[[], t.Any]) -> t.Any:
        start = time.monotonic()
        try:
            return call()
        finally:
            self.seconds[kind] += time.monotonic() - start


def _system(node: FloorNode) -> t.Any:
    root = sushy.Sushy(node.redfish_address, username=node.username, password=node.password,
                       read_timeout=HTTP_TIMEOUT_S, connect_timeout=HTTP_TIMEOUT_S)
    return root.get_system(node.system_path)


def _cd(system: t.Any) -> t.Any:
    for device in system.virtual_media.get_members():
        if {sushy.VirtualMediaType.CD, sushy.VirtualMediaType.DVD} & set(device.media_types or ()):
            return device
    raise RuntimeError("System %s has no virtual CD" % system.identity)


def _wait_power(system: t.Any, wanted: str) -> None:
    deadline = time.monotonic() + POWER_TIMEOUT_S
    while True:
        system.refresh(force=True)
        if system.power_state == wanted:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("System %s: power %s after %ss, wanted %s"
                               % (system.identity, system.power_state, POWER_TIMEOUT_S, wanted))
        time.sleep(POLL_S)


def deploy(nodes: t.Sequence[FloorNode], medium_urls: t.Sequence[str]) -> dict[str, t.Any]:
    """Insert, boot from CD once, power on and wait, node after node."""
    clock = CallClock()
    start = time.monotonic()
    for node, url in zip(nodes, medium_urls):
        system = clock.timed("connect", lambda node=node: _system(node))
        device = clock.timed("find the CD", lambda system=system: _cd(system))
        clock.timed("insert media", lambda device=device, url=url: device.insert_media(
            url, inserted=True, write_protected=True))
        clock.timed("boot device", lambda system=system: system.set_system_boot_options(
            target=sushy.BootSource.CD, enabled=sushy.BootSourceOverrideEnabled.ONCE))
        clock.timed("power on", lambda system=system: system.reset_system(sushy.ResetType.ON))
        clock.timed("wait for power", lambda system=system: _wait_power(system, sushy.PowerState.ON))
    return {"seconds": time.monotonic() - start, "calls": dict(clock.seconds)}


def delete(nodes: t.Sequence[FloorNode]) -> dict[str, t.Any]:
    """Force off, wait, eject, node after node."""
    clock = CallClock()
    start = time.monotonic()
    for node in nodes:
        system = clock.timed("connect", lambda node=node: _system(node))
        clock.timed("power off", lambda system=system: system.reset_system(sushy.ResetType.FORCE_OFF))
        clock.timed("wait for power", lambda system=system: _wait_power(system, sushy.PowerState.OFF))
        device = clock.timed("find the CD", lambda system=system: _cd(system))
        clock.timed("eject media", lambda device=device: device.eject_media() if device.inserted else None)
    return {"seconds": time.monotonic() - start, "calls": dict(clock.seconds)}
