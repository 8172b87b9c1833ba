# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HostState and RequestSpec, with Nova's field names.

Both are plain dataclasses; ``from_dict`` builds them from what a user or the
inventory wrote (and says which field is wrong when it cannot), ``to_dict``
goes the other way. Nothing here needs more than the standard library: this
package is shipped to hypervisors with the modules.
"""
from __future__ import annotations

import dataclasses
import json
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

DEFAULT_AVAILABILITY_ZONE = "nova"


def parse_availability_zone(value: t.Optional[str], field: str = "availability_zone"
                            ) -> tuple[t.Optional[str], t.Optional[str], t.Optional[str]]:
    """Nova's `az`, `az:host`, `az:host:node`, `az::node` -> (zone, host, node); empty parts are None."""
    if not value:
        return None, None, None
    parts = value.split(":")
    if len(parts) > 3:
        raise StratusError("InvalidInput", "Invalid input received: Unable to parse availability_zone", field)
    parts += [""] * (3 - len(parts))
    return parts[0] or None, parts[1] or None, parts[2] or None


def _bad(field: str, message: str) -> StratusError:
    return StratusError("InvalidRequest", "%s: %s" % (field, message), field)


def as_int(value: t.Any, field: str, minimum: t.Optional[int] = None) -> int:
    """An integer (or a string of one, as templated inventory values often are)."""
    if isinstance(value, bool):
        raise _bad(field, "must be an integer, got %r" % (value,))
    try:
        number = int(value) if not isinstance(value, float) or value.is_integer() else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        raise _bad(field, "must be an integer, got %r" % (value,))
    if minimum is not None and number < minimum:
        raise _bad(field, "must be >= %d, got %d" % (minimum, number))
    return number


def as_float(value: t.Any, field: str) -> float:
    if isinstance(value, bool):
        raise _bad(field, "must be a number, got %r" % (value,))
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad(field, "must be a number, got %r" % (value,))


def as_bool(value: t.Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _bad(field, "must be a boolean, got %r" % (value,))


def as_str_list(value: t.Any, field: str) -> list[str]:
    """A list of strings; a single string counts as a list of one (Nova's hints do that)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, (str, int)) or isinstance(item, bool):
                raise _bad("%s[%d]" % (field, i), "must be a string, got %r" % (item,))
            out.append(str(item))
        return out
    raise _bad(field, "must be a list of strings, got %r" % (value,))


def version_to_int(value: t.Any, field: str) -> int:
    """Nova's convert_version_to_int: '6.0.0' -> 6000000; an integer stays as it is."""
    if isinstance(value, str) and "." in value:
        parts = value.strip().split(".")
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            raise _bad(field, "must be an integer or a dotted version, got %r" % (value,))
        if len(numbers) > 3 or any(n < 0 for n in numbers):
            raise _bad(field, "must be an integer or a dotted version, got %r" % (value,))
        numbers += [0] * (3 - len(numbers))
        return numbers[0] * 1000000 + numbers[1] * 1000 + numbers[2]
    return as_int(value, field, 0)


def version_to_str(value: int) -> str:
    """Nova's convert_version_to_str: 6000000 -> '6.0.0'."""
    return "%d.%d.%d" % (value // 1000000, (value // 1000) % 1000, value % 1000)


def _metadata(value: t.Any, field: str) -> dict[str, str]:
    """Aggregate metadata: string values (a list is joined with commas, as Nova stores them)."""
    if value is None:
        return {}
    if not isinstance(value, t.Mapping):
        raise _bad(field, "must be a mapping, got %r" % (value,))
    out = {}
    for key, val in value.items():
        if isinstance(val, (list, tuple, set, frozenset)):
            out[str(key)] = ",".join(str(v) for v in val)
        elif isinstance(val, bool):
            out[str(key)] = "True" if val else "False"
        elif val is None:
            out[str(key)] = ""
        else:
            out[str(key)] = str(val)
    return out


def aggregate_from_dict(value: t.Any, field: str) -> dict[str, t.Any]:
    """One aggregate: {name, hosts, metadata, availability_zone}; the zone is stored as metadata."""
    if not isinstance(value, t.Mapping):
        raise _bad(field, "must be a mapping with name, hosts and metadata, got %r" % (value,))
    unknown = sorted(set(value) - {"name", "id", "uuid", "hosts", "metadata", "availability_zone"})
    if unknown:
        raise _bad("%s.%s" % (field, unknown[0]), "unknown aggregate field")
    metadata = _metadata(value.get("metadata"), field + ".metadata")
    if value.get("availability_zone") is not None:
        metadata["availability_zone"] = str(value["availability_zone"])
    return {"name": str(value.get("name", value.get("id", ""))),
            "hosts": as_str_list(value.get("hosts"), field + ".hosts"), "metadata": metadata}


_EMPTY: dict[str, t.Any] = {}
_MISSING = object()
# An aggregate metadata value that should be a number and is not: the config value applies.
UNPARSABLE = object()


@dataclasses.dataclass(eq=False)
class HostState:
    """What the scheduler knows of one compute host (Nova's HostState, one node per host).

    ``free_ram_mb`` and ``free_disk_mb`` may be given instead of the ``*_used`` fields
    (as Nova's tests do); whichever is missing is derived from the other.
    """

    host: str
    vcpus: int = 0
    vcpus_used: int = 0
    memory_mb: int = 0
    memory_mb_used: int = 0
    free_ram_mb: t.Optional[int] = None
    local_gb: int = 0
    local_gb_used: int = 0
    free_disk_mb: t.Optional[int] = None
    num_instances: int = 0
    num_io_ops: int = 0
    availability_zone: t.Optional[str] = None
    aggregates: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    reserved_host_memory_mb: int = 0
    reserved_host_disk_mb: int = 0
    reserved_host_cpus: int = 0
    hypervisor_type: str = "QEMU"
    hypervisor_version: int = 0
    hypervisor_hostname: t.Optional[str] = None
    cpu_info: t.Any = dataclasses.field(default_factory=dict)
    supported_instances: list[list[str]] = dataclasses.field(default_factory=list)
    service: dict[str, t.Any] = dataclasses.field(default_factory=lambda: {"disabled": False, "up": True})
    networks: list[str] = dataclasses.field(default_factory=list)
    instances: list[str] = dataclasses.field(default_factory=list)
    failed_builds: int = 0
    stats: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    host_ip: t.Optional[str] = None

    def __post_init__(self) -> None:
        if self.free_ram_mb is None:
            self.free_ram_mb = self.memory_mb - self.reserved_host_memory_mb - self.memory_mb_used
        elif not self.memory_mb_used and self.memory_mb:
            self.memory_mb_used = max(0, self.memory_mb - self.reserved_host_memory_mb - self.free_ram_mb)
        if self.free_disk_mb is None:
            self.free_disk_mb = (self.local_gb - self.local_gb_used) * 1024 - self.reserved_host_disk_mb
        elif not self.local_gb_used and self.local_gb:
            used_mb = self.local_gb * 1024 - self.reserved_host_disk_mb - self.free_disk_mb
            self.local_gb_used = max(0, -(-used_mb // 1024))
        if self.hypervisor_hostname is None:
            self.hypervisor_hostname = self.host
        self._agg_src: t.Any = None
        self._agg_len = -1
        self._agg_zone: t.Optional[str] = None
        self._agg_values: dict[str, list[str]] = _EMPTY
        self._agg_split: dict[str, set[str]] = _EMPTY
        self._agg_numbers: dict[tuple[str, t.Any], t.Any] = {}
        self._zones: tuple[str, ...] = ()

    # --- aggregates, cached: filters and weighers ask for them per host and per request -----------
    def _refresh_aggregates(self) -> None:
        if self._agg_src is self.aggregates and self._agg_len == len(self.aggregates) \
                and self._agg_zone == self.availability_zone:
            return
        values: dict[str, list[str]] = {}
        split: dict[str, set[str]] = {}
        for agg in self.aggregates:
            for name, raw in (agg.get("metadata") or {}).items():
                raw = str(raw)
                values.setdefault(name, []).append(raw)
                split.setdefault(name, set()).update(v.strip() for v in raw.split(","))
        self._agg_values = values or _EMPTY
        self._agg_split = split or _EMPTY
        zones = split.get("availability_zone")
        self._zones = tuple(sorted(zones)) if zones else (self.availability_zone or DEFAULT_AVAILABILITY_ZONE,)
        self._agg_numbers = {}
        self._agg_src, self._agg_len, self._agg_zone = self.aggregates, len(self.aggregates), self.availability_zone

    def aggregate_values(self, key: str) -> list[str]:
        """The raw metadata values of ``key`` over this host's aggregates (Nova's aggregate_values_from_key)."""
        if not self.aggregates:
            return []
        self._refresh_aggregates()
        return self._agg_values.get(key, [])

    def aggregate_min(self, key: str, cast: t.Callable[[str], t.Any] = float) -> t.Any:
        """The smallest of the aggregates' ``key`` values as a number (Nova's validate_num_values).

        None when no aggregate of the host sets it; UNPARSABLE when a value is not a number.
        """
        if not self.aggregates:
            return None
        self._refresh_aggregates()
        cached = self._agg_numbers.get((key, cast), _MISSING)
        if cached is _MISSING:
            values = self._agg_values.get(key)
            try:
                cached = min(cast(v) for v in values) if values else None
            except (TypeError, ValueError):
                cached = UNPARSABLE
            self._agg_numbers[(key, cast)] = cached
        return cached

    def aggregate_metadata(self) -> dict[str, set[str]]:
        """All metadata of this host's aggregates, comma-separated values split (aggregate_metadata_get_by_host)."""
        if not self.aggregates:
            return _EMPTY
        self._refresh_aggregates()
        return self._agg_split

    def availability_zones(self) -> tuple[str, ...]:
        """The zones of the host's aggregates, else its own zone, else the default zone 'nova'."""
        self._refresh_aggregates()
        return self._zones

    @property
    def nodename(self) -> str:
        return self.hypervisor_hostname or self.host

    # --- Nova's consume_from_request ---------------------------------------------------------------
    def consume(self, spec: "RequestSpec", instance_uuid: t.Optional[str] = None) -> None:
        """What Nova's consume_from_request does, so multi-create sees earlier picks."""
        ram, disk_gb, vcpus = spec.memory_mb, spec.disk_gb, spec.vcpus
        self.vcpus_used += vcpus
        self.memory_mb_used += ram
        self.free_ram_mb = t.cast(int, self.free_ram_mb) - ram
        self.local_gb_used += disk_gb
        self.free_disk_mb = t.cast(int, self.free_disk_mb) - disk_gb * 1024
        self.num_instances += 1
        self.num_io_ops += 1
        if instance_uuid:
            self.instances.append(instance_uuid)

    consume_from_request = consume

    def to_dict(self) -> dict[str, t.Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out = json.loads(json.dumps(out, default=str))
        out["availability_zone"] = self.availability_zone or self.availability_zones()[0]
        return out

    # --- from what a user wrote ----------------------------------------------------------------------
    ALIASES: t.ClassVar[dict[str, str]] = {
        "vcpus_total": "vcpus", "total_usable_ram_mb": "memory_mb", "total_usable_disk_gb": "local_gb",
        "nodename": "hypervisor_hostname", "node": "hypervisor_hostname", "name": "host",
    }

    @classmethod
    def from_dict(cls, data: t.Any, field: str = "host_states[0]",
                  aggregates: t.Optional[t.Mapping[str, dict[str, t.Any]]] = None) -> tuple["HostState", list[str]]:
        """A HostState from a mapping with HostState's field names.

        Returns the state and the keys that are not HostState fields (kept as ``stats``,
        which ComputeCapabilitiesFilter reads, as Nova's fake host states keep them).
        ``aggregates`` resolves aggregates given by name.
        """
        if not isinstance(data, t.Mapping):
            raise _bad(field, "must be a mapping of HostState fields, got %r" % (data,))
        data = {cls.ALIASES.get(str(k), str(k)): v for k, v in data.items()}
        if not data.get("host"):
            raise _bad(field + ".host", "is required")
        kw: dict[str, t.Any] = {"host": str(data["host"])}
        ints = ("vcpus", "vcpus_used", "memory_mb", "memory_mb_used", "local_gb", "local_gb_used",
                "num_instances", "num_io_ops", "reserved_host_memory_mb", "reserved_host_disk_mb",
                "reserved_host_cpus", "failed_builds")
        for name in ints:
            if data.get(name) is not None:
                kw[name] = as_int(data[name], "%s.%s" % (field, name), 0)
        for name in ("free_ram_mb", "free_disk_mb"):
            if data.get(name) is not None:
                kw[name] = as_int(data[name], "%s.%s" % (field, name))
        if "disk_mb_used" in data and "local_gb_used" not in kw:
            kw["local_gb_used"] = -(-as_int(data.pop("disk_mb_used"), field + ".disk_mb_used", 0) // 1024)
        for name in ("cpu_allocation_ratio", "ram_allocation_ratio", "disk_allocation_ratio"):
            if data.get(name) is not None:
                ratio = as_float(data[name], "%s.%s" % (field, name))
                if ratio <= 0:
                    raise _bad("%s.%s" % (field, name), "must be > 0, got %r" % (data[name],))
                kw[name] = ratio
        for name in ("availability_zone", "hypervisor_type", "hypervisor_hostname", "host_ip"):
            if data.get(name) is not None:
                kw[name] = str(data[name])
        if data.get("hypervisor_version") is not None:
            kw["hypervisor_version"] = version_to_int(data["hypervisor_version"], field + ".hypervisor_version")
        if data.get("cpu_info") is not None:
            if not isinstance(data["cpu_info"], (t.Mapping, str)):
                raise _bad(field + ".cpu_info", "must be a mapping or a JSON string")
            kw["cpu_info"] = data["cpu_info"]
        if data.get("supported_instances") is not None:
            kw["supported_instances"] = _supported_instances(data["supported_instances"],
                                                             field + ".supported_instances")
        if data.get("service") is not None:
            service = data["service"]
            if not isinstance(service, t.Mapping):
                raise _bad(field + ".service", "must be a mapping {disabled, up}")
            kw["service"] = {"disabled": as_bool(service.get("disabled", False), field + ".service.disabled"),
                             "up": as_bool(service.get("up", True), field + ".service.up")}
        if data.get("networks") is not None:
            kw["networks"] = as_str_list(data["networks"], field + ".networks")
        if data.get("instances") is not None:
            inst = data["instances"]
            kw["instances"] = [str(k) for k in inst] if isinstance(inst, t.Mapping) \
                else as_str_list(inst, field + ".instances")
            if data.get("num_instances") is None:
                kw["num_instances"] = len(kw["instances"])
        if data.get("aggregates") is not None:
            kw["aggregates"] = _aggregates(data["aggregates"], field + ".aggregates", aggregates or {})
        stats = data.get("stats")
        if stats is not None and not isinstance(stats, t.Mapping):
            raise _bad(field + ".stats", "must be a mapping")
        kw["stats"] = dict(stats or {})
        known = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(k for k in data if k not in known)
        for key in extra:
            kw["stats"].setdefault(key, data[key])
        return cls(**kw), extra


def _supported_instances(value: t.Any, field: str) -> list[list[str]]:
    if not isinstance(value, (list, tuple)):
        raise _bad(field, "must be a list of [architecture, hypervisor_type, vm_mode]")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, (list, tuple)) or not all(isinstance(x, str) for x in item):
            raise _bad("%s[%d]" % (field, i), "must be a list of strings [architecture, hypervisor_type, vm_mode]")
        out.append([str(x) for x in item])
    return out


def _aggregates(value: t.Any, field: str, known: t.Mapping[str, dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    if not isinstance(value, (list, tuple)):
        raise _bad(field, "must be a list of aggregates (names or {name, hosts, metadata})")
    out = []
    for i, item in enumerate(value):
        where = "%s[%d]" % (field, i)
        if isinstance(item, str):
            out.append(known.get(item) or {"name": item, "hosts": [], "metadata": {}})
        else:
            out.append(aggregate_from_dict(item, where))
    return out


@dataclasses.dataclass
class RequestSpec:
    """What is asked for (Nova's RequestSpec names)."""

    flavor: dict[str, t.Any]
    num_instances: int = 1
    image: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    availability_zone: t.Optional[str] = None
    scheduler_hints: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    instance_group: t.Optional[dict[str, t.Any]] = None
    force_hosts: list[str] = dataclasses.field(default_factory=list)
    force_nodes: list[str] = dataclasses.field(default_factory=list)
    ignore_hosts: list[str] = dataclasses.field(default_factory=list)
    project_id: t.Optional[str] = None
    requested_networks: list[str] = dataclasses.field(default_factory=list)
    is_bfv: bool = False
    instance_uuid: t.Optional[str] = None
    # Nova's requested_destination ({host, node}): only that host, and the filters still run.
    requested_destination: t.Optional[dict[str, t.Any]] = None

    # RequestSpec fields of Nova that this scheduler has no use for: accepted and ignored.
    IGNORED: t.ClassVar[frozenset[str]] = frozenset((
        "user_id", "numa_topology", "pci_requests", "retry", "limits", "security_groups", "requested_resources",
        "request_level_params", "network_metadata", "id", "instance_name", "image_ref",
    ))

    @property
    def vcpus(self) -> int:
        return int(self.flavor.get("vcpus", 0) or 0)

    @property
    def memory_mb(self) -> int:
        return int(self.flavor.get("memory_mb", self.flavor.get("ram", 0)) or 0)

    @property
    def root_gb(self) -> int:
        return 0 if self.is_bfv else int(self.flavor.get("root_gb", self.flavor.get("disk", 0)) or 0)

    @property
    def ephemeral_gb(self) -> int:
        return int(self.flavor.get("ephemeral_gb", self.flavor.get("ephemeral", 0)) or 0)

    @property
    def swap(self) -> int:
        return int(self.flavor.get("swap", 0) or 0)

    @property
    def disk_gb(self) -> int:
        """DISK_GB as placement counts it: root (unless boot from volume) + ephemeral + swap."""
        return self.root_gb + self.ephemeral_gb + (self.swap + 1023) // 1024

    @property
    def extra_specs(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.flavor.get("extra_specs") or {}).items()}

    @property
    def image_props(self) -> dict[str, t.Any]:
        """Image properties: the image's ``properties`` and, as Glance v2 has them, its top-level extras."""
        image = self.image or {}
        known = {"id", "name", "file", "disk_format", "container_format", "size", "min_disk", "min_ram",
                 "status", "visibility", "owner", "properties", "checksum"}
        props = {k: v for k, v in image.items() if k not in known}
        props.update(image.get("properties") or {})
        return props

    def hint(self, name: str, default: t.Any = None) -> t.Any:
        """Nova's get_scheduler_hint: a one-element list stands for its element."""
        value = (self.scheduler_hints or {}).get(name, default)
        if isinstance(value, list) and len(value) == 1:
            return value[0]
        return value

    @property
    def group_policy(self) -> t.Optional[str]:
        group = self.instance_group
        if not group:
            return None
        if group.get("policy"):
            return str(group["policy"])
        policies = group.get("policies") or []
        return str(policies[0]) if policies else None

    @classmethod
    def from_dict(cls, data: t.Any, field: str = "request_spec") -> "RequestSpec":
        if not isinstance(data, t.Mapping):
            raise _bad(field, "must be a mapping with RequestSpec fields (flavor, image, num_instances, ...)")
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(map(str, data)) - allowed - cls.IGNORED)
        if unknown:
            raise _bad("%s.%s" % (field, unknown[0]), "unknown RequestSpec field (known: %s)"
                       % ", ".join(sorted(allowed)))
        flavor = data.get("flavor") or {}
        if not isinstance(flavor, t.Mapping):
            raise _bad(field + ".flavor", "must be a mapping {vcpus, memory_mb, root_gb, ephemeral_gb, swap, "
                       "extra_specs}")
        flav: dict[str, t.Any] = dict(flavor)
        for name, alias in (("memory_mb", "ram"), ("root_gb", "disk"), ("ephemeral_gb", "ephemeral")):
            if name not in flav and alias in flav:
                flav[name] = flav.pop(alias)
        for name in ("vcpus", "memory_mb", "root_gb", "ephemeral_gb", "swap"):
            if flav.get(name) is not None:
                flav[name] = as_int(flav[name], "%s.flavor.%s" % (field, name), 0)
        specs = flav.get("extra_specs")
        if specs is not None and not isinstance(specs, t.Mapping):
            raise _bad(field + ".flavor.extra_specs", "must be a mapping")
        flav["extra_specs"] = {str(k): ("" if v is None else str(v)) for k, v in (specs or {}).items()}
        image = data.get("image") or {}
        if not isinstance(image, t.Mapping) or not isinstance(image.get("properties") or {}, t.Mapping):
            raise _bad(field + ".image", "must be a mapping {id, properties}")
        hints = data.get("scheduler_hints") or {}
        if not isinstance(hints, t.Mapping):
            raise _bad(field + ".scheduler_hints", "must be a mapping")
        group = data.get("instance_group")
        if group is not None:
            group = _instance_group(group, field + ".instance_group")
        num = as_int(data.get("num_instances", 1), field + ".num_instances", 1)
        kw = dict(flavor=flav, num_instances=num, image=dict(image), scheduler_hints=dict(hints),
                  instance_group=group,
                  availability_zone=None if data.get("availability_zone") in (None, "") else
                  str(data["availability_zone"]),
                  force_hosts=as_str_list(data.get("force_hosts"), field + ".force_hosts"),
                  force_nodes=as_str_list(data.get("force_nodes"), field + ".force_nodes"),
                  ignore_hosts=as_str_list(data.get("ignore_hosts"), field + ".ignore_hosts"),
                  project_id=None if data.get("project_id") is None else str(data["project_id"]),
                  requested_networks=_networks(data.get("requested_networks"), field + ".requested_networks"),
                  is_bfv=as_bool(data.get("is_bfv", False), field + ".is_bfv"),
                  instance_uuid=None if data.get("instance_uuid") is None else str(data["instance_uuid"]),
                  requested_destination=_destination(data.get("requested_destination"),
                                                     field + ".requested_destination"))
        return cls(**kw)


def _destination(value: t.Any, field: str) -> t.Optional[dict[str, t.Any]]:
    if value is None:
        return None
    if isinstance(value, str):
        return {"host": value, "node": None}
    if not isinstance(value, t.Mapping) or not (value.get("host") or value.get("node")):
        raise _bad(field, "must be a mapping {host, node}")
    return {"host": value.get("host") and str(value["host"]), "node": value.get("node") and str(value["node"])}


def _networks(value: t.Any, field: str) -> list[str]:
    """Network ids; entries may be {uuid|id|network: ...} as a server request has them."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        value = [value]
    out = []
    for i, item in enumerate(value):
        if isinstance(item, t.Mapping):
            ref = item.get("uuid") or item.get("id") or item.get("network") or item.get("network_id")
            if ref is None:
                raise _bad("%s[%d]" % (field, i), "needs uuid (or id) of a network")
            out.append(str(ref))
        elif isinstance(item, (str, int)) and not isinstance(item, bool):
            out.append(str(item))
        else:
            raise _bad("%s[%d]" % (field, i), "must be a network id or {uuid: ...}")
    return out


def _instance_group(value: t.Any, field: str) -> dict[str, t.Any]:
    if not isinstance(value, t.Mapping):
        raise _bad(field, "must be a mapping {policy, hosts, members, rules}")
    group = dict(value)
    if group.get("policy") is None and group.get("policies"):
        policies = as_str_list(group["policies"], field + ".policies")
        group["policy"] = policies[0] if policies else None
    if group.get("policy") is not None:
        policy = str(group["policy"])
        if policy not in ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"):
            raise _bad(field + ".policy", "must be one of affinity, anti-affinity, soft-affinity, "
                       "soft-anti-affinity, got %r" % (policy,))
        group["policy"] = policy
    group["hosts"] = as_str_list(group.get("hosts"), field + ".hosts")
    if "members" in group:
        group["members"] = as_str_list(group.get("members"), field + ".members")
    rules = group.get("rules") or {}
    if not isinstance(rules, t.Mapping):
        raise _bad(field + ".rules", "must be a mapping")
    rules = dict(rules)
    if rules.get("max_server_per_host") is not None:
        rules["max_server_per_host"] = as_int(rules["max_server_per_host"], field + ".rules.max_server_per_host", 1)
    group["rules"] = rules
    return group
