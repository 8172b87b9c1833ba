# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bare-metal flavor convention (Nova's and Ironic's), recognised and checked in one place.

A bare-metal flavor asks for one unit of a node's custom resource class and zeroes the standard
resources, so placement never looks for VCPU, MEMORY_MB or DISK_GB on a node (it has none)::

    resources:CUSTOM_BAREMETAL_SMALL: "1"
    resources:VCPU: "0"
    resources:MEMORY_MB: "0"
    resources:DISK_GB: "0"
    trait:CUSTOM_RAID: required       # optional; or forbidden

A flavor without a ``resources:CUSTOM_*`` key is a virtual flavor. What cannot be meant is refused
(``FlavorSpecError`` naming the extra spec): another amount than 1 of a class (a node is one
unit), two classes, a standard resource missing or not zeroed beside a class, a ``resources:``
override or a ``trait:`` on a virtual flavor (Stratus' hypervisors claim the flavor's own sizes and
have no traits: the key would be silently ignored), a trait value other than required/forbidden.

Stdlib only: the scheduler's filters read it too.
"""
from __future__ import annotations

import re
import typing as t

RESOURCES = "resources:"
TRAIT = "trait:"
STANDARD = ("VCPU", "MEMORY_MB", "DISK_GB")
# placement's names: a custom resource class, a trait (standard or CUSTOM_)
_CLASS = re.compile(r"CUSTOM_[A-Z0-9_]+\Z")
_TRAIT_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")
TRAIT_VALUES = ("required", "forbidden")


class FlavorSpecError(ValueError):
    """A flavor's extra spec that the convention refuses; ``key`` is the extra spec at fault."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


class BaremetalFlavor(t.NamedTuple):
    resource_class: str  # CUSTOM_...
    required_traits: t.Tuple[str, ...]
    forbidden_traits: t.Tuple[str, ...]


def _text(value: t.Any) -> str:
    """An extra spec's value as Nova stores it (a string); YAML may have made it a number."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value).strip()


def _traits(specs: t.Mapping[str, t.Any]) -> t.Tuple[t.Tuple[str, ...], t.Tuple[str, ...]]:
    required, forbidden = [], []
    for key in sorted(k for k in specs if k.startswith(TRAIT)):
        name, value = key[len(TRAIT):], _text(specs[key])
        if not _TRAIT_NAME.match(name):
            raise FlavorSpecError(key, "%s: a trait is upper case letters, digits and _ (a standard trait or "
                                       "CUSTOM_...)" % key)
        if value not in TRAIT_VALUES:
            raise FlavorSpecError(key, "%s: %r must be required or forbidden" % (key, value))
        (required if value == "required" else forbidden).append(name)
    return tuple(required), tuple(forbidden)


def baremetal_flavor(extra_specs: t.Optional[t.Mapping[str, t.Any]]) -> t.Optional[BaremetalFlavor]:
    """The flavor's resource class and traits when it is a bare-metal flavor, None for a virtual one.

    Raises FlavorSpecError for what the convention refuses (the module's docstring).
    """
    specs = {str(k): v for k, v in (extra_specs or {}).items()}
    resources = {k[len(RESOURCES):]: _text(v) for k, v in specs.items() if k.startswith(RESOURCES)}
    classes = sorted(name for name in resources if name.startswith("CUSTOM_"))
    for name in sorted(resources):
        if name not in STANDARD and name not in classes:
            raise FlavorSpecError(RESOURCES + name, "%s%s: Stratus knows the resource classes %s and CUSTOM_* "
                                  "(a bare-metal node's class)" % (RESOURCES, name, ", ".join(STANDARD)))
    required, forbidden = _traits(specs)
    if not classes:
        for name in STANDARD:
            if name in resources:
                raise FlavorSpecError(RESOURCES + name, "%s%s: only a bare-metal flavor (resources:CUSTOM_<CLASS>: "
                                      "\"1\") overrides a standard resource; a virtual flavor claims its own vcpus, "
                                      "ram and disk" % (RESOURCES, name))
        if required or forbidden:
            key = TRAIT + (required + forbidden)[0]
            raise FlavorSpecError(key, "%s: only a bare-metal flavor (resources:CUSTOM_<CLASS>: \"1\") may ask "
                                       "for traits; hypervisors have none" % key)
        return None
    if len(classes) > 1:
        raise FlavorSpecError(RESOURCES + classes[1], "%s%s: a bare-metal flavor asks for one resource class "
                              "(a node has one), not %s" % (RESOURCES, classes[1], " and ".join(classes)))
    resource_class = classes[0]
    key = RESOURCES + resource_class
    if not _CLASS.match(resource_class):
        raise FlavorSpecError(key, "%s: a custom resource class is CUSTOM_ and upper case letters, digits and _"
                              % key)
    if resources[resource_class] != "1":
        raise FlavorSpecError(key, "%s: %r: a bare-metal flavor asks for exactly \"1\" (a node is one unit of its "
                                   "class and is taken whole)" % (key, resources[resource_class]))
    for name in STANDARD:
        if resources.get(name) != "0":
            raise FlavorSpecError(RESOURCES + name, "%s%s: a bare-metal flavor sets it to \"0\" (%s): a node has no "
                                  "%s to claim, it is taken whole" % (
                                      RESOURCES, name, "missing" if name not in resources
                                      else "not %r" % resources[name], name))
    return BaremetalFlavor(resource_class, required, forbidden)
