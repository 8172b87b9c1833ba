# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scheduler's configuration: the ``stratus_scheduler`` variable, checked.

Keys are Nova's option names ([filter_scheduler] and [scheduler] sections, flat; the two
section names are accepted as nested mappings too) plus Stratus' own sampling knobs and
``preset``. Anything unknown or of the wrong type is refused with InvalidRequest, field
``stratus_scheduler``, and a message that names the key.
"""
from __future__ import annotations

import dataclasses
import math
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler import filters as filters_mod
from ansible_collections.stratus.compute.plugins.module_utils.scheduler import weighers as weighers_mod

FIELD = "stratus_scheduler"

# The Essex-era SimpleScheduler (nova/scheduler/simple.py, 2012.1) as a configuration: enabled,
# up hosts in the zone, isolation, at most max_cores running cores, fewest running cores first,
# no retries. See docs/scheduler.md.
PRESETS: dict[str, dict[str, t.Any]] = {
    "nova": {},
    "essex-simple": {
        "enabled_filters": ["ComputeFilter", "AvailabilityZoneFilter", "IsolatedHostsFilter", "MaxCoresFilter"],
        "weighers": ["CoresUsedWeigher"],
        "max_cores": 16,
        "restrict_isolated_hosts_to_isolated_images": True,
        "host_subset_size": 1,
        "shuffle_best_same_weighed_hosts": False,
        "max_attempts": 1,
        "hosts_to_score": 0,
    },
}


def _error(key: str, message: str) -> StratusError:
    return StratusError("InvalidRequest", "%s.%s: %s" % (FIELD, key, message), FIELD)


def _int(key: str, value: t.Any, minimum: int) -> int:
    if isinstance(value, bool):
        raise _error(key, "must be an integer, got %r" % (value,))
    try:
        number = int(value)
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
    except (TypeError, ValueError):
        raise _error(key, "must be an integer, got %r" % (value,))
    if number < minimum:
        raise _error(key, "must be >= %d, got %d" % (minimum, number))
    return number


def _float(key: str, value: t.Any, minimum: t.Optional[float] = None,
           maximum: t.Optional[float] = None) -> float:
    if isinstance(value, bool):
        raise _error(key, "must be a number, got %r" % (value,))
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _error(key, "must be a number, got %r" % (value,))
    if math.isnan(number) or math.isinf(number):
        raise _error(key, "must be a finite number, got %r" % (value,))
    if minimum is not None and number < minimum:
        raise _error(key, "must be >= %s, got %s" % (minimum, value))
    if maximum is not None and number > maximum:
        raise _error(key, "must be <= %s, got %s" % (maximum, value))
    return number


def _bool(key: str, value: t.Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
        return value.strip().lower() in ("true", "yes", "on", "1")
    raise _error(key, "must be a boolean, got %r" % (value,))


def _names(key: str, value: t.Any, known: t.Mapping[str, t.Any], kind: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise _error(key, "must be a list of %s names" % kind)
    out = []
    for item in value:
        if not isinstance(item, str):
            raise _error(key, "must be a list of %s names, got %r" % (kind, item))
        # Nova's full class paths work too: nova.scheduler.filters.compute_filter.ComputeFilter
        name = item.rsplit(".", 1)[-1]
        if name in ("all_filters", "all_weighers"):
            out.extend(known)
            continue
        if name not in known:
            raise _error(key, "unknown %s %r (known: %s)" % (kind, item, ", ".join(sorted(known))))
        out.append(name)
    return tuple(dict.fromkeys(out))


def _str_list(key: str, value: t.Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, int)) for v in value):
        raise _error(key, "must be a list of strings")
    return tuple(str(v) for v in value)


@dataclasses.dataclass
class SchedulerConfig:
    enabled_filters: tuple[str, ...] = filters_mod.DEFAULT_FILTERS
    weighers: tuple[str, ...] = weighers_mod.DEFAULT_WEIGHERS
    # Nova's multiplier option name -> value (ram_weight_multiplier, ...)
    multipliers: dict[str, float] = dataclasses.field(default_factory=lambda: dict(weighers_mod.MULTIPLIER_OPTIONS))
    host_subset_size: int = 1
    max_attempts: int = 3
    shuffle_best_same_weighed_hosts: bool = False
    max_io_ops_per_host: int = 8
    max_instances_per_host: int = 50
    isolated_images: tuple[str, ...] = ()
    isolated_hosts: tuple[str, ...] = ()
    restrict_isolated_hosts_to_isolated_images: bool = True
    image_properties_default_architecture: t.Optional[str] = None
    aggregate_image_properties_isolation_namespace: t.Optional[str] = None
    aggregate_image_properties_isolation_separator: str = "."
    default_availability_zone: str = "nova"
    max_cores: int = 16
    # Sampling (Stratus): find and weigh at least this many feasible hosts per placement, from a
    # rotating start; 0 = every host (Nova-exact). The percentage raises it for big fleets.
    hosts_to_score: int = 100
    percentage_of_hosts_to_score: float = 0.0
    preset: str = "nova"

    @property
    def weight_multipliers(self) -> dict[str, float]:
        """Per weigher name (the earlier spelling of this config)."""
        return {name: self.multipliers.get(cls.option, cls.default_multiplier)
                for name, cls in weighers_mod.ALL_WEIGHERS.items()}

    def hosts_to_score_for(self, host_count: int) -> int:
        """How many feasible hosts a placement looks for among ``host_count``: all of them means exact."""
        if not self.hosts_to_score or self.percentage_of_hosts_to_score >= 100:
            return host_count
        wanted = max(self.hosts_to_score, int(math.ceil(host_count * self.percentage_of_hosts_to_score / 100.0)))
        return min(host_count, wanted)

    @classmethod
    def from_dict(cls, data: t.Optional[t.Mapping[str, t.Any]]) -> "SchedulerConfig":
        if data is None:
            data = {}
        if not isinstance(data, t.Mapping):
            raise StratusError("InvalidRequest", "%s: must be a mapping of scheduler options" % FIELD, FIELD)
        flat: dict[str, t.Any] = {}
        for section in ("scheduler", "filter_scheduler"):
            nested = data.get(section)
            if nested is not None:
                if not isinstance(nested, t.Mapping):
                    raise _error(section, "must be a mapping of options")
                flat.update(nested)
        flat.update({k: v for k, v in data.items() if k not in ("scheduler", "filter_scheduler")})
        preset = str(flat.pop("preset", "nova") or "nova")
        if preset not in PRESETS:
            raise _error("preset", "unknown preset %r (known: %s)" % (preset, ", ".join(PRESETS)))
        merged = dict(PRESETS[preset])
        merged.update(flat)
        cfg = cls(preset=preset)
        multipliers = dict(weighers_mod.MULTIPLIER_OPTIONS)
        for key, value in merged.items():
            if value is None:
                continue
            if key in ("enabled_filters", "filters"):
                cfg.enabled_filters = _names(key, value, filters_mod.ALL_FILTERS, "filter")
            elif key in ("weighers", "weight_classes"):
                cfg.weighers = _names(key, value, weighers_mod.ALL_WEIGHERS, "weigher")
            elif key in multipliers:
                multipliers[key] = _float(key, value)
            elif key == "weight_multipliers":
                if not isinstance(value, t.Mapping):
                    raise _error(key, "must be a mapping of weigher (or option) name to multiplier")
                for name, mult in value.items():
                    option = weighers_mod.ALL_WEIGHERS[name].option if name in weighers_mod.ALL_WEIGHERS else name
                    if option not in multipliers:
                        raise _error("%s.%s" % (key, name), "unknown weigher")
                    multipliers[option] = _float("%s.%s" % (key, name), mult)
            elif key in ("host_subset_size", "max_attempts"):
                setattr(cfg, key, _int(key, value, 1))
            elif key in ("max_io_ops_per_host", "max_instances_per_host", "max_cores", "hosts_to_score"):
                setattr(cfg, key, _int(key, value, 0))
            elif key == "percentage_of_hosts_to_score":
                cfg.percentage_of_hosts_to_score = _float(key, value, 0.0, 100.0)
            elif key in ("shuffle_best_same_weighed_hosts", "restrict_isolated_hosts_to_isolated_images"):
                setattr(cfg, key, _bool(key, value))
            elif key in ("isolated_images", "isolated_hosts"):
                setattr(cfg, key, _str_list(key, value))
            elif key in ("image_properties_default_architecture", "aggregate_image_properties_isolation_namespace",
                         "aggregate_image_properties_isolation_separator", "default_availability_zone"):
                if not isinstance(value, str):
                    raise _error(key, "must be a string, got %r" % (value,))
                setattr(cfg, key, value)
            else:
                raise _error(key, "unknown scheduler option")
        cfg.multipliers = multipliers
        return cfg

    def to_dict(self) -> dict[str, t.Any]:
        out = dataclasses.asdict(self)
        out["enabled_filters"] = list(self.enabled_filters)
        out["weighers"] = list(self.weighers)
        out["isolated_images"] = list(self.isolated_images)
        out["isolated_hosts"] = list(self.isolated_hosts)
        return out
