"""Helpers for the scheduler tests: every filter and weigher case runs twice, once on the classes
directly and once through the stratus.compute.scheduler lookup with host_states and explain=true,
and both must agree."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.lookup.scheduler import LookupModule
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters import ALL_FILTERS
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.scheduler import FilterScheduler

Host = dict[str, t.Any]


def lookup(spec: t.Any, host_states: list[Host], config: t.Optional[dict[str, t.Any]] = None,
           **kwargs: t.Any) -> list[dict[str, t.Any]]:
    return LookupModule().run([spec], {}, host_states=host_states, config=config or {}, **kwargs)


def states(hosts: list[Host]) -> list[HostState]:
    return [HostState.from_dict(h, "host_states[%d]" % i)[0] for i, h in enumerate(hosts)]


def verdicts(name: str, hosts: list[Host], spec: t.Optional[dict[str, t.Any]] = None,
             config: t.Optional[dict[str, t.Any]] = None) -> dict[str, bool]:
    """host -> passes, for one filter; direct and through the lookup (explain), which must agree."""
    spec = spec if spec is not None else {"flavor": {}}
    cfg = dict(config or {}, enabled_filters=[name], weighers=[])
    filt = ALL_FILTERS[name](SchedulerConfig.from_dict(cfg))
    direct = {s.host: filt.host_passes(s, RequestSpec.from_dict(spec)) for s in states(hosts)}
    out = lookup(spec, hosts, cfg, explain=True)
    explain = out[0]["explain"]
    assert set(explain) == set(direct)
    for host, note in explain.items():
        assert note["rejected_by"] in (None, name)
    via_lookup = {host: note["rejected_by"] is None for host, note in explain.items()}
    assert via_lookup == direct, "lookup %s != direct %s" % (via_lookup, direct)
    if not any(direct.values()):
        assert out[0]["host"] is None and out[0]["error"]["code"] == "NoValidHost"
    return direct


def passes(name: str, host: Host, spec: t.Optional[dict[str, t.Any]] = None,
           config: t.Optional[dict[str, t.Any]] = None) -> bool:
    return verdicts(name, [host], spec, config)[host["host"]]


def weighed(name: str, hosts: list[Host], config: t.Optional[dict[str, t.Any]] = None,
            spec: t.Optional[dict[str, t.Any]] = None) -> list[tuple[str, float]]:
    """(host, weight) best first, for one weigher; direct and through the lookup, which must agree."""
    spec = spec if spec is not None else {"flavor": {}}
    cfg = dict(config or {}, enabled_filters=[], weighers=[name], hosts_to_score=0)
    ranked = FilterScheduler(SchedulerConfig.from_dict(cfg)).weigh_hosts(states(hosts), RequestSpec.from_dict(spec))
    direct = [(h.host, w) for w, h in ranked]
    out = lookup(spec, hosts, cfg, explain=True)
    assert out[0]["host"] == direct[0][0]
    assert out[0]["weight"] == direct[0][1]
    explain = out[0]["explain"]
    for host, weight in direct:
        assert explain[host]["weight"] == weight
        if len(hosts) > 1:
            assert explain[host]["weights"][name] == weight + 0.0
    return direct
