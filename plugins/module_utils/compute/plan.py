# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build plan of one instance: the one definition both sides use.

The conductor builds a `BuildPlan` in the create transaction and stores its `to_dict()` in
``instances.plan`` (and, for a leftover, ``leftovers.plan``); the step actions read it back with
`read_plan` and send `to_dict()` to the hypervisor modules, which read each element of their
``instances`` option with `read_plan` again. What changes after creation is a named operation
that returns a new plan (`with_disks`, `rescheduled`, `for_cleanup`, ...), never a dict patch.

Each field is declared once, with its kind (`_field`); reading, checking and writing all walk
that declaration (Nova keeps the same facts in its ``Instance`` and ``RequestSpec`` objects).

Versions: 1 is this shape, with ``version`` and ``driver``. A plan without ``version`` is
version 0, the untyped dict that Stratus stored before: it reads the same way, missing keys
taking their defaults. What cannot be read is a `StratusError` naming the field at fault.

Shipped to hypervisors as module_utils: standard library only, and Python 3.8 syntax at run
time (annotations are strings here, never evaluated).
"""
from __future__ import annotations

import copy
import dataclasses
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

PLAN_VERSION = 1
# The drivers a plan may name: libvirt (a hypervisor's domain) and baremetal (a whole node, deployed
# through its BMC by the controller: plugin_utils/conductor/deploy.py).
DRIVERS = ("libvirt", "baremetal")
DEFAULT_DRIVER = "libvirt"
# The error code of a plan that cannot be read (a hand-made module call, a damaged store row).
UNREADABLE = "InvalidRequest"

# Field kinds. Values are checked against these, never against the annotations (strings under
# `from __future__ import annotations`, and `list[str]` cannot be evaluated on Python 3.8).
_SCALARS: t.Dict[str, t.Tuple[type, ...]] = {"str": (str,), "int": (int,), "bool": (bool,),
                                             "dict": (dict,), "list": (list,)}
_KIND_WORDS = {"str": "a string", "int": "an integer", "bool": "a boolean", "dict": "a dict", "list": "a list"}


def _field(kind: str, default: t.Any = dataclasses.MISSING, *, of: t.Any = None, optional: bool = False,
           omit_none: bool = False) -> t.Any:
    """A declared field: ``kind`` is a scalar kind, ``"object"`` (one ``of`` dataclass) or
    ``"objects"``/``"strs"`` (a list of them); ``optional`` allows None; ``omit_none`` leaves a
    None value out of `to_dict` (state a plan gets later, so the stored shape at creation stays)."""
    metadata = {"kind": kind, "of": of, "optional": optional, "omit_none": omit_none}
    # pylint cannot see that this helper is only called in dataclass bodies
    if isinstance(default, (list, dict)):
        empty = type(default)
        return dataclasses.field(default_factory=empty, metadata=metadata)  # pylint: disable=invalid-field-call
    return dataclasses.field(default=default, metadata=metadata)  # pylint: disable=invalid-field-call


def _unreadable(path: str, message: str) -> StratusError:
    """The error of a plan that cannot be read; ``path`` is the field within it ("" for all of it)."""
    field = "plan.%s" % path if path else "plan"
    return StratusError(UNREADABLE, "the build plan cannot be read: %s %s" % (field, message), field)


def _kind_name(value: t.Any) -> str:
    return "null" if value is None else type(value).__name__


def _check_scalar(kind: str, value: t.Any, path: str) -> t.Any:
    wanted = _SCALARS[kind]
    # bool is an int in Python; a plan's integers are never booleans
    if not isinstance(value, wanted) or (kind == "int" and isinstance(value, bool)):
        raise _unreadable(path, "must be %s, not %s" % (_KIND_WORDS[kind], _kind_name(value)))
    return copy.deepcopy(value) if kind in ("dict", "list") else value


def _read_value(spec: dataclasses.Field, value: t.Any, path: str, strict: bool) -> t.Any:
    meta = spec.metadata
    if value is None and meta["optional"]:
        return None
    kind = meta["kind"]
    if kind == "object":
        return _read_object(meta["of"], value, path, strict)
    if kind in ("objects", "strs"):
        items = _check_scalar("list", value, path)
        if kind == "strs":
            return [_check_scalar("str", item, "%s[%d]" % (path, i)) for i, item in enumerate(items)]
        return [_read_object(meta["of"], item, "%s[%d]" % (path, i), strict) for i, item in enumerate(items)]
    return _check_scalar(kind, value, path)


def _read_object(cls: t.Any, data: t.Any, path: str, strict: bool) -> t.Any:
    """One declared dataclass from a dict: declared keys checked, missing ones defaulted (a
    required one is an error); keys it does not declare are an error in a versioned plan only."""
    if not isinstance(data, dict):
        raise _unreadable(path, "must be a dict, not %s" % _kind_name(data))
    declared = dataclasses.fields(cls)
    values: dict[str, t.Any] = {}
    for spec in declared:
        where = "%s.%s" % (path, spec.name) if path else spec.name
        if spec.name in data:
            values[spec.name] = _read_value(spec, data[spec.name], where, strict)
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise _unreadable(where, "is missing")
    if strict:
        unknown = sorted(set(data) - {spec.name for spec in declared})
        if unknown:
            where = "%s.%s" % (path, unknown[0]) if path else unknown[0]
            raise _unreadable(where, "is not a field of version %d plans" % PLAN_VERSION)
    return cls(**values)


def _as_dict(obj: t.Any) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {}
    for spec in dataclasses.fields(obj):
        value = getattr(obj, spec.name)
        if value is None and spec.metadata["omit_none"]:
            continue
        if dataclasses.is_dataclass(value):
            value = _as_dict(value)
        elif isinstance(value, list) and spec.metadata["kind"] == "objects":
            value = [_as_dict(item) for item in value]
        else:
            value = copy.deepcopy(value)
        out[spec.name] = value
    return out


class _Declared:
    """What every part of a plan can do: be written as a dict, and be read from one (version 0
    rules, as a part has no version of its own: missing keys take their defaults)."""

    def to_dict(self) -> dict[str, t.Any]:
        """What is stored and what the hypervisor modules get (JSON types only)."""
        return _as_dict(self)

    @classmethod
    def from_dict(cls, data: t.Any, path: str = "") -> t.Any:
        return _read_object(cls, data, path, strict=False)


@dataclasses.dataclass(frozen=True)
class Nic(_Declared):
    """One network interface: the address IPAM gave it on one of the catalog's networks."""

    mac: str = _field("str")
    libvirt_network: str = _field("str")
    network_id: str = _field("str", "")
    network_name: str = _field("str", "")
    ip: t.Optional[str] = _field("str", None, optional=True)
    hostname: str = _field("str", "")


@dataclasses.dataclass(frozen=True)
class BlockDevice(_Declared):
    """One disk the block device step makes or attaches, as the conductor mapped it (kind:
    image, blank, volume, new_volume)."""

    name: str = _field("str")
    kind: str = _field("str")
    device_name: str = _field("str", "")
    bus: str = _field("str", "virtio")
    device_type: str = _field("str", "disk")
    format: str = _field("str", "qcow2")
    boot_index: t.Optional[int] = _field("int", None, optional=True)
    # the hypervisor's default for a plan that does not say: what it made goes with the server
    delete_on_termination: bool = _field("bool", True)
    tag: t.Optional[str] = _field("str", None, optional=True)
    guest_format: t.Optional[str] = _field("str", None, optional=True)
    image_id: t.Optional[str] = _field("str", None, optional=True)
    base_format: t.Optional[str] = _field("str", None, optional=True)
    size_bytes: int = _field("int", 0)
    volume_id: t.Optional[str] = _field("str", None, optional=True)


@dataclasses.dataclass(frozen=True)
class ConfigDrive(_Declared):
    """Nova's config drive: meta_data.json, network_data.json, user data (base64), injected
    files ({path, contents (base64)}). ``secrets`` names the parts taken out for a module call
    (`BuildPlan.without_secrets`); None means none were taken."""

    meta_data: dict[str, t.Any] = _field("dict", {})
    network_data: t.Optional[dict[str, t.Any]] = _field("dict", None, optional=True)
    user_data: t.Optional[str] = _field("str", None, optional=True)
    files: list[dict[str, t.Any]] = _field("list", [])
    secrets: t.Optional[list[str]] = _field("strs", None, optional=True, omit_none=True)


@dataclasses.dataclass(frozen=True)
class ImageRef(_Declared):
    """The image a plan boots or copies: the controller's file of it (uploaded to the base pool)."""

    id: t.Optional[str] = _field("str", None, optional=True)
    name: t.Optional[str] = _field("str", None, optional=True)
    file: t.Optional[str] = _field("str", None, optional=True)
    disk_format: t.Optional[str] = _field("str", None, optional=True)
    # a bare-metal deploy's boot files (the image's kernel_id and ramdisk_id images, Ironic's way) and
    # the kernel command line (its os_command_line); absent from a virtual server's plan
    kernel_file: t.Optional[str] = _field("str", None, optional=True, omit_none=True)
    ramdisk_file: t.Optional[str] = _field("str", None, optional=True, omit_none=True)
    kernel_cmdline: t.Optional[str] = _field("str", None, optional=True, omit_none=True)


@dataclasses.dataclass(frozen=True)
class BuildPlan(_Declared):
    """What the hypervisor steps make of one checked, placed request."""

    uuid: str = _field("str")
    version: int = _field("int", PLAN_VERSION)
    # which hypervisor driver builds it: the modules of another driver refuse the plan
    driver: str = _field("str", DEFAULT_DRIVER)
    name: str = _field("str", "")
    hostname: str = _field("str", "")
    project_id: str = _field("str", "")
    user_id: str = _field("str", "")
    availability_zone: t.Optional[str] = _field("str", None, optional=True)
    launch_index: int = _field("int", 0)
    domain_name: str = _field("str", "")
    # the catalog's flavor (vcpus, ram, disk, ephemeral, swap, extra_specs)
    flavor: dict[str, t.Any] = _field("dict", {})
    image: t.Optional[ImageRef] = _field("object", None, of=ImageRef, optional=True)
    nics: list[Nic] = _field("objects", [], of=Nic)
    # the catalog's networks the NICs are on (id, libvirt_name, bridge, cidr, gateway, dhcp)
    networks: list[dict[str, t.Any]] = _field("list", [])
    # the hosts a failed build may move to, in the scheduler's order (Nova's alternates)
    alternates: list[str] = _field("strs", [])
    max_attempts: int = _field("int", 0)
    block_devices: list[BlockDevice] = _field("objects", [], of=BlockDevice)
    config_drive: t.Optional[ConfigDrive] = _field("object", None, of=ConfigDrive, optional=True)
    server_group: t.Optional[dict[str, t.Any]] = _field("dict", None, optional=True)
    created_at: str = _field("str", "")
    # the disks the block device step made on the current host (their paths): the spawn step uses them
    disks: t.Optional[list[dict[str, t.Any]]] = _field("list", None, optional=True, omit_none=True)
    # the instance's vm_state when a step sends the plan (not stored with it at creation)
    vm_state: t.Optional[str] = _field("str", None, optional=True, omit_none=True)

    def __post_init__(self) -> None:
        if self.driver not in DRIVERS:
            raise _unreadable("driver", "names the driver %r; this Stratus has %s"
                              % (self.driver, ", ".join(DRIVERS)))
        if not self.domain_name:
            # Nova's instance_name_template; plans have always stored it, this covers hand-made ones
            object.__setattr__(self, "domain_name", "instance-%s" % self.uuid)

    @classmethod
    def from_dict(cls, data: t.Any, path: str = "") -> BuildPlan:
        return read_plan(data)

    # --- what changes after creation ------------------------------------------------------------

    def with_disks(self, disks: list[dict[str, t.Any]]) -> BuildPlan:
        """The disks the block device step reports: the spawn step and the delete walk read them."""
        return dataclasses.replace(self, disks=copy.deepcopy(list(disks)))

    def rescheduled(self, alternates: list[str]) -> BuildPlan:
        """Moved to its next host: the alternates left, and no disks (they were on the old host)."""
        return dataclasses.replace(self, alternates=list(alternates), disks=None)

    def with_vm_state(self, vm_state: t.Optional[str]) -> BuildPlan:
        """As a step sends it: with the instance's vm_state."""
        return dataclasses.replace(self, vm_state=vm_state)

    def for_cleanup(self) -> BuildPlan:
        """A failed build's plan for the backwards walk: volumes it was creating go too (they are
        remade on the next host); volumes that existed before the build are never touched."""
        devices = [dataclasses.replace(dev, delete_on_termination=True) if dev.kind == "new_volume" else dev
                   for dev in self.block_devices]
        return dataclasses.replace(self, block_devices=devices, vm_state="error")

    def as_leftover(self) -> BuildPlan:
        """What a leftover keeps: the plan of an instance gone from its host."""
        return dataclasses.replace(self, vm_state="deleted")

    # --- the config drive's secrets travel apart (plan_secrets.py) ----------------------------------

    def without_secrets(self) -> tuple[BuildPlan, dict[str, t.Any]]:
        """(this plan with its config drive's secrets taken out and named, the secrets)."""
        drive = self.config_drive
        if drive is None:
            return self, {}
        meta = dict(drive.meta_data)
        found = {"admin_pass": meta.pop("admin_pass", None), "user_data": drive.user_data,
                 "files": drive.files or None}
        found = {part: value for part, value in found.items() if value is not None}
        bare = dataclasses.replace(drive, meta_data=meta, user_data=None, files=[], secrets=sorted(found))
        return dataclasses.replace(self, config_drive=bare), copy.deepcopy(found)

    def with_secrets(self, secrets: t.Mapping[str, t.Any]) -> BuildPlan:
        """The plan with its config drive's secrets back (``secrets`` keyed by instance uuid);
        one whose drive names parts that are not given is refused."""
        drive = self.config_drive
        if drive is None or drive.secrets is None:  # no config drive, or a plan never split
            return self
        mine = secrets.get(self.uuid) or {}
        if not isinstance(mine, dict):
            raise StratusError("InvalidRequest", "the secrets of instance %s are not a dict" % self.uuid, "secrets")
        missing = [part for part in drive.secrets if part not in mine]
        if missing:
            raise StratusError("InvalidRequest", "the config drive of instance %s needs its %s, which the action "
                               "plugin passes in the secrets option" % (self.uuid, ", ".join(missing)), "secrets")
        meta = dict(drive.meta_data)
        if mine.get("admin_pass") is not None:
            meta["admin_pass"] = mine["admin_pass"]
        full = dataclasses.replace(drive, meta_data=meta, user_data=mine.get("user_data"),
                                   files=list(mine.get("files") or []), secrets=None)
        return dataclasses.replace(self, config_drive=full)


def read_plan(data: t.Any, uuid: t.Optional[str] = None) -> BuildPlan:
    """A stored or sent plan, of any version this Stratus knows; ``uuid`` names the instance when
    the caller knows it better than the plan (a leftover's row)."""
    if isinstance(data, BuildPlan):
        return data if uuid is None else dataclasses.replace(data, uuid=uuid)
    if not isinstance(data, dict):
        raise _unreadable("", "must be a dict, not %s" % _kind_name(data))
    version = data.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= PLAN_VERSION:
        raise _unreadable("version", "is %r; this Stratus reads versions 0 to %d" % (version, PLAN_VERSION))
    if uuid is not None:
        data = dict(data, uuid=uuid)
    # version 0 is the untyped dict of earlier Stratus: every key optional but uuid, none refused
    plan = _read_object(BuildPlan, data, "", strict=version >= 1)
    return dataclasses.replace(plan, version=PLAN_VERSION)
