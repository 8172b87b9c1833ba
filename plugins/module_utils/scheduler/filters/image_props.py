# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ImagePropertiesFilter: the image's architecture, hypervisor type and VM mode are supported.

The image's ``hw_architecture`` (else ``image_properties_default_architecture``),
``img_hv_type`` and ``hw_vm_mode`` (the old names ``architecture``, ``hypervisor_type``,
``vm_mode`` count too), canonicalised as Nova does, must all appear in one entry of the
host's ``supported_instances``, and ``img_hv_requested_version`` (e.g. ``>=6.0,<6.2``) must
hold for the host's ``hypervisor_version`` when both are known. An image that asks for
none of them fits every host; one that does cannot go to a host that lists no
supported instances.

``hw_maxphysaddr_bits`` (the guest's physical address bits) needs a host whose
``cpu_info.maxphysaddr.bits`` (what libvirt's capabilities report; the inventory's
``stratus_cpu_info``) is at least that; a host that reports none is not checked, as in
Nova. Nova looks at the bits only when the image also names an architecture, hypervisor
type or VM mode; here they count on their own too (a host with fewer bits cannot start
the guest, whatever else the image says). The flavor's ``hw:maxphysaddr_bits`` is the
ComputeCapabilitiesFilter's.
"""
from __future__ import annotations

import re
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.base import BaseHostFilter, Check
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.capabilities import capability
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import (
    HostState, RequestSpec, version_to_str,
)

_ARCH = {"i386": "i686", "i486": "i686", "i586": "i686", "x86_32": "i686", "x86_32p": "i686", "amd64": "x86_64"}
_HV_TYPE = {"xapi": "xen"}
_VM_MODE = {"pv": "xen", "hv": "hvm", "baremetal": "hvm"}
_COMPARISON = re.compile(r"\s*(<=|>=|<|>|!=|==)\s*([0-9]+(?:\.[0-9]+){0,2})\s*")
_OPS: dict[str, t.Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def canonical(value: t.Any, table: t.Mapping[str, str]) -> t.Optional[str]:
    if value in (None, ""):
        return None
    name = str(value).lower()
    return table.get(name, name)


def _version(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def version_predicate(requirement: str, field: str) -> t.Callable[[int], bool]:
    """``>=6.0,<6.2`` as a test of an integer hypervisor version (Nova's VersionPredicate)."""
    tests = []
    for part in str(requirement).split(","):
        m = _COMPARISON.fullmatch(part)
        if not m:
            raise StratusError("InvalidRequest", "%s: %r is not a version requirement like '>=6.0,<6.2'"
                               % (field, requirement), field)
        tests.append((_OPS[m.group(1)], _version(m.group(2))))

    def satisfied(version: int) -> bool:
        have = _version(version_to_str(version))
        return all(op(have, want) for op, want in tests)
    return satisfied


MAXPHYSADDR_PATH = ["cpu_info", "maxphysaddr", "bits"]
# Why a host fails, as a template and its values: formatted only when explain asks.
Verdict = t.Optional[tuple[str, tuple[t.Any, ...]]]


def required_bits(props: t.Mapping[str, t.Any]) -> t.Optional[int]:
    """The image's ``hw_maxphysaddr_bits`` as a number of bits (Nova's ImageMetaProps integer), or None."""
    value = props.get("hw_maxphysaddr_bits")
    if value in (None, ""):
        return None
    try:
        bits = int(str(value).strip())
    except ValueError:
        bits = 0
    if bits < 1 or isinstance(value, (bool, float)):
        raise StratusError("InvalidRequest", "image.properties.hw_maxphysaddr_bits: %r is not a positive whole "
                           "number of bits" % (value,), "image.properties.hw_maxphysaddr_bits")
    return bits


def host_bits(host: HostState) -> t.Any:
    """The host's max physical address bits as it reports them (None when it does not)."""
    value = capability(host, MAXPHYSADDR_PATH)
    if value in (None, ""):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return str(value)


class ImagePropertiesFilter(BaseHostFilter):
    name = "ImagePropertiesFilter"
    run_filter_once_per_request = True
    cost = 2

    def _verdicts(self, spec: RequestSpec) -> t.Optional[t.Callable[[HostState], Verdict]]:
        """Per host: None when it may take the image, else why not; None when the image asks nothing."""
        props = spec.image_props
        arch = canonical(props.get("hw_architecture", props.get("architecture"))
                         or self.option("image_properties_default_architecture", None), _ARCH)
        hv_type = canonical(props.get("img_hv_type", props.get("hypervisor_type")), _HV_TYPE)
        vm_mode = canonical(props.get("hw_vm_mode", props.get("vm_mode")), _VM_MODE)
        wanted = [p for p in (arch, hv_type, vm_mode) if p]
        bits = required_bits(props)
        if not wanted and bits is None:
            return None
        requirement = props.get("img_hv_requested_version", props.get("hypervisor_version_requires"))
        version_ok = version_predicate(requirement, "image.properties.img_hv_requested_version") \
            if requirement and wanted else None

        def verdict(h: HostState) -> Verdict:
            if wanted:
                if not h.supported_instances:
                    return "the image asks for %s; the host reports no supported instances", (", ".join(wanted),)
                # hosts report lower-case names; compare as reported first, lower-cased if that fails
                if not any(all(p in entry for p in wanted) or all(p in [str(x).lower() for x in entry]
                                                                  for p in wanted)
                           for entry in h.supported_instances):
                    return "the image asks for %s; the host supports %s", (
                        ", ".join(wanted), "; ".join(", ".join(map(str, e)) for e in h.supported_instances))
                if version_ok is not None and h.hypervisor_version and not version_ok(h.hypervisor_version):
                    return "the image asks for hypervisor version %s; the host has %s", (
                        requirement, version_to_str(h.hypervisor_version))
            if bits is not None:
                have = host_bits(h)
                if isinstance(have, str):
                    return "the image asks for hw_maxphysaddr_bits %d; the host reports cpu_info.maxphysaddr." \
                           "bits %r, not a number", (bits, have)
                if have is not None and have < bits:
                    return "the image asks for hw_maxphysaddr_bits %d; the host has %d (cpu_info.maxphysaddr." \
                           "bits)", (bits, have)
            return None
        return verdict

    def prepare(self, spec: RequestSpec) -> Check:
        verdict = self._verdicts(spec)
        if verdict is None:
            return None
        return lambda h: verdict(h) is None

    def reason(self, host: HostState, spec: RequestSpec) -> t.Optional[str]:
        verdict = self._verdicts(spec)
        found = verdict(host) if verdict is not None else None
        return found[0] % found[1] if found else None
