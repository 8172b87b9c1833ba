# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter scheduler: filter, weigh, pick, consume, alternates (Nova's select_destinations)."""
from __future__ import annotations

import dataclasses
import random
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler import filters as filters_mod
from ansible_collections.stratus.compute.plugins.module_utils.scheduler import weighers as weighers_mod
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec


@dataclasses.dataclass
class SchedulerConfig:
    enabled_filters: tuple[str, ...] = filters_mod.DEFAULT_FILTERS
    weighers: tuple[str, ...] = weighers_mod.DEFAULT_WEIGHERS
    weight_multipliers: dict[str, float] = dataclasses.field(default_factory=dict)
    host_subset_size: int = 1
    max_attempts: int = 3
    shuffle_best_same_weighed_hosts: bool = False

    @classmethod
    def from_dict(cls, data: t.Optional[dict[str, t.Any]]) -> "SchedulerConfig":
        data = dict(data or {})
        cfg = cls()
        for key in ("host_subset_size", "max_attempts"):
            if key in data:
                setattr(cfg, key, int(data[key]))
        if "enabled_filters" in data:
            cfg.enabled_filters = tuple(data["enabled_filters"])
        if "weighers" in data:
            cfg.weighers = tuple(data["weighers"])
        cfg.weight_multipliers = dict(data.get("weight_multipliers") or {})
        cfg.shuffle_best_same_weighed_hosts = bool(data.get("shuffle_best_same_weighed_hosts", False))
        unknown = [n for n in cfg.enabled_filters if n not in filters_mod.ALL_FILTERS]
        unknown += [n for n in cfg.weighers if n not in weighers_mod.ALL_WEIGHERS]
        if unknown:
            raise StratusError("InvalidRequest", "unknown scheduler filters or weighers: %s"
                               % ", ".join(unknown), "stratus_scheduler")
        return cfg


@dataclasses.dataclass
class Selection:
    host: str
    weight: float
    alternates: list[str]

    def to_dict(self) -> dict[str, t.Any]:
        return {"host": self.host, "weight": self.weight, "alternates": list(self.alternates)}


class FilterScheduler:
    def __init__(self, config: t.Optional[SchedulerConfig] = None, rng: t.Optional[random.Random] = None) -> None:
        self.config = config or SchedulerConfig()
        self.filters = filters_mod.load_filters(self.config.enabled_filters)
        self.weighers = weighers_mod.load_weighers(self.config.weighers)
        self.rng = rng or random.Random()

    def filter_hosts(self, hosts: list[HostState], spec: RequestSpec,
                     explain: t.Optional[dict[str, t.Any]] = None) -> list[HostState]:
        if spec.force_hosts or spec.force_nodes:
            # Forcing skips every filter, as in Nova (admins only, by policy).
            wanted = {h.lower() for h in spec.force_hosts} | set(spec.force_nodes)
            return [h for h in hosts if h.host.lower() in wanted or h.host in wanted]
        passed = []
        for host in hosts:
            rejected_by = next((f.name for f in self.filters if not f.host_passes(host, spec)), None)
            if explain is not None:
                explain.setdefault(host.host, {})["rejected_by"] = rejected_by
            if rejected_by is None:
                passed.append(host)
        return passed

    def weigh_hosts(self, hosts: list[HostState], spec: RequestSpec,
                    explain: t.Optional[dict[str, t.Any]] = None) -> list[tuple[float, HostState]]:
        totals = [0.0] * len(hosts)
        for weigher in self.weighers:
            multiplier = float(self.config.weight_multipliers.get(weigher.name, weigher.default_multiplier))
            scores = weighers_mod.normalize([weigher.raw_weight(h, spec) for h in hosts])
            for i, score in enumerate(scores):
                totals[i] += multiplier * score
                if explain is not None:
                    explain.setdefault(hosts[i].host, {}).setdefault("weights", {})[weigher.name] = multiplier * score
        ranked = sorted(zip(totals, hosts), key=lambda pair: (-pair[0], pair[1].host))
        return ranked

    def _pick(self, ranked: list[tuple[float, HostState]]) -> tuple[float, HostState]:
        if self.config.shuffle_best_same_weighed_hosts:
            best = [p for p in ranked if p[0] == ranked[0][0]]
            self.rng.shuffle(best)
            ranked = best + ranked[len(best):]
        subset = ranked[:max(1, self.config.host_subset_size)]
        return self.rng.choice(subset) if len(subset) > 1 else subset[0]

    def select_destinations(self, hosts: list[HostState], spec: RequestSpec,
                            instance_uuids: t.Optional[list[str]] = None,
                            explain: t.Optional[dict[str, t.Any]] = None) -> list[Selection]:
        """One Selection per instance; consumes each pick so later instances see it."""
        selections: list[Selection] = []
        chosen: set[str] = set()
        for index in range(spec.num_instances):
            ranked = self.weigh_hosts(self.filter_hosts(hosts, spec, explain if index == 0 else None), spec,
                                      explain if index == 0 else None)
            if not ranked:
                raise StratusError("NoValidHost", "No valid host was found. There are not enough hosts available.")
            weight, host = self._pick(ranked)
            uuid = instance_uuids[index] if instance_uuids else None
            host.consume(spec, uuid)
            chosen.add(host.host)
            forced = bool(spec.force_hosts or spec.force_nodes)
            num_alts = 0 if forced else max(0, self.config.max_attempts - 1)
            alternates = [h.host for _weight, h in ranked if h.host != host.host][:num_alts]
            selections.append(Selection(host.host, round(weight, 6), alternates))
        return selections
