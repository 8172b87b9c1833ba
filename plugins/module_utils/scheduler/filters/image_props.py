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
"""
from __future__ import annotations

import re
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.base import BaseHostFilter, Check
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import (
    HostState, RequestSpec, version_to_str,
)

_ARCH = {"i386": "i686", "i486": "i686", "i586": "i686", "x86_32": "i686", "x86_32p": "i686", "amd64": "x86_64"}
_HV_TYPE = {"xapi": "xen"}
_VM_MODE = {"pv": "xen", "hv": "hvm", "baremetal": "hvm"}
_COMPARISON = re.compile(r"^\s*(<=|>=|<|>|!=|==)\s*([0-9]+(?:\.[0-9]+){0,2})\s*$")
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
        m = _COMPARISON.match(part)
        if not m:
            raise StratusError("InvalidRequest", "%s: %r is not a version requirement like '>=6.0,<6.2'"
                               % (field, requirement), field)
        tests.append((_OPS[m.group(1)], _version(m.group(2))))

    def satisfied(version: int) -> bool:
        have = _version(version_to_str(version))
        return all(op(have, want) for op, want in tests)
    return satisfied


class ImagePropertiesFilter(BaseHostFilter):
    name = "ImagePropertiesFilter"
    run_filter_once_per_request = True
    cost = 2

    def prepare(self, spec: RequestSpec) -> Check:
        props = spec.image_props
        arch = canonical(props.get("hw_architecture", props.get("architecture"))
                         or self.option("image_properties_default_architecture", None), _ARCH)
        hv_type = canonical(props.get("img_hv_type", props.get("hypervisor_type")), _HV_TYPE)
        vm_mode = canonical(props.get("hw_vm_mode", props.get("vm_mode")), _VM_MODE)
        wanted = [p for p in (arch, hv_type, vm_mode) if p]
        if not wanted:
            return None
        requirement = props.get("img_hv_requested_version", props.get("hypervisor_version_requires"))
        version_ok = version_predicate(requirement, "image.properties.img_hv_requested_version") \
            if requirement else None

        def check(h: HostState) -> bool:
            if not h.supported_instances:
                return False
            for entry in h.supported_instances:
                # hosts report lower-case names; compare as reported first, lower-cased if that fails
                if all(p in entry for p in wanted) or all(p in [str(x).lower() for x in entry] for p in wanted):
                    if version_ok is None or not h.hypervisor_version or version_ok(h.hypervisor_version):
                        return True
            return False
        return check
