# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter scheduler: filter, weigh, pick, consume, alternates (Nova's select_destinations).

Per instance of a request (Nova's ``_schedule``): filter the hosts (the first instance runs
every filter; later ones run the per-instance filters again over the survivors of the
previous one), weigh them, shuffle equal best ones if configured, pick at random among the
best ``host_subset_size``, consume the pick (resources, the instance on the host, the host
in the server group). Alternates (``max_attempts - 1``) come from what still fits after the
last pick, never a selected host. ``az:host[:node]`` forcing skips every filter and, with
one forced host or node, disables rescheduling (no alternates).

Sampling (Stratus): at fleet scale a placement does not look at every host. It scans from a
start that rotates between placements and keeps the first ``hosts_to_score`` hosts that pass
the filters (more if the request needs them), then weighs only those, as Kubernetes does with
``percentageOfNodesToScore``. With ``hosts_to_score: 0`` or at least as many as there are
hosts, and always with ``explain``, every host is evaluated and the result is Nova's.
"""
from __future__ import annotations

import dataclasses
import random
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler import compiled
from ansible_collections.stratus.compute.plugins.module_utils.scheduler import filters as filters_mod
from ansible_collections.stratus.compute.plugins.module_utils.scheduler import weighers as weighers_mod
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.baremetal import load_node_filters
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec

__all__ = ["FilterScheduler", "NO_VALID_HOST", "SchedulerConfig", "NodeScheduler", "Selection"]

NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
Explain = t.Optional[dict[str, dict[str, t.Any]]]
Check = t.Callable[[HostState], bool]


@dataclasses.dataclass
class Selection:
    host: str
    weight: float
    alternates: list[str]
    nodename: t.Optional[str] = None
    # With explain: per host, the filter that rejected it or its weights, for this instance.
    explain: Explain = None

    def to_dict(self) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {"host": self.host, "weight": self.weight, "alternates": list(self.alternates)}
        if self.explain is not None:
            out["explain"] = self.explain
        return out


class _Window:
    """The hosts a sampled placement looks at: a scan from a rotating start, taken as needed."""

    def __init__(self, pool: t.Sequence[HostState], start: int) -> None:
        self.pool = pool
        self.n = len(pool)
        self.start = start % self.n if self.n else 0
        self.scanned = 0

    @property
    def exhausted(self) -> bool:
        return self.scanned >= self.n

    def take(self, passes: t.Optional[Check], want: int) -> list[HostState]:
        found: list[HostState] = []
        pool, n = self.pool, self.n
        while len(found) < want and self.scanned < n:
            size = min(n - self.scanned, max(want - len(found), 32))
            lo = (self.start + self.scanned) % n
            hi = lo + size
            chunk = pool[lo:hi] if hi <= n else list(pool[lo:]) + list(pool[:hi - n])
            found.extend(chunk if passes is None else [h for h in chunk if passes(h)])
            self.scanned += size
        return found


class FilterScheduler:
    def __init__(self, config: t.Optional[SchedulerConfig] = None, rng: t.Optional[random.Random] = None,
                 filters: t.Optional[list[filters_mod.BaseHostFilter]] = None,
                 weighers: t.Optional[list[weighers_mod.BaseHostWeigher]] = None) -> None:
        """``filters`` and ``weighers`` replace the configured ones (the node scheduler's fixed set)."""
        self.config = config or SchedulerConfig()
        cfg = self.config
        self.filters = filters if filters is not None else filters_mod.load_filters(cfg.enabled_filters, cfg)
        self.weighers = weighers if weighers is not None else weighers_mod.load_weighers(cfg.weighers, cfg)
        self.rng = rng or random.Random()
        self._next_start: t.Optional[int] = None

    # --- filtering ---------------------------------------------------------------------------------
    def _prepared(self, spec: RequestSpec, index: int) -> list[tuple[filters_mod.BaseHostFilter, Check]]:
        """The filters instance ``index`` runs, each prepared for the request (no-ops left out), in config order."""
        out = []
        for f in self.filters:
            if index > 0 and f.run_filter_once_per_request:
                continue
            check = f.prepare(spec)
            if check is not None:
                out.append((f, check))
        return out

    def _fast(self, spec: RequestSpec, index: int) -> t.Optional[Check]:
        """The same filters fused into one check, cheap ones first (the set that passes is the same)."""
        exprs = []
        for f in self.filters:
            if index > 0 and f.run_filter_once_per_request:
                continue
            expr = f.expression(spec)
            if expr is not None:
                exprs.append((f.cost, len(exprs), expr))
        return compiled.fuse([e for _c, _i, e in sorted(exprs, key=lambda x: x[:2])])

    @staticmethod
    def _explained(hosts: t.Iterable[HostState], prepared: list[tuple[filters_mod.BaseHostFilter, Check]],
                   notes: dict[str, dict[str, t.Any]], spec: RequestSpec) -> list[HostState]:
        passed = []
        for host in hosts:
            rejected = next((f for f, check in prepared if not check(host)), None)
            if rejected is None:
                notes[host.host] = {"rejected_by": None}
                passed.append(host)
                continue
            notes[host.host] = {"rejected_by": rejected.name}
            reason = rejected.reason(host, spec)
            if reason:
                notes[host.host]["reason"] = reason
        return passed

    def _narrow(self, hosts: t.Sequence[HostState], spec: RequestSpec,
                notes: t.Optional[dict[str, dict[str, t.Any]]]) -> tuple[t.Sequence[HostState], bool]:
        """Nova's first steps of get_filtered_hosts: drop ignored hosts, keep only forced ones.

        Returns the hosts left and whether forcing applies (then no filter runs).
        """
        destination = spec.requested_destination or {}
        if not (spec.ignore_hosts or spec.force_hosts or spec.force_nodes or destination):
            return hosts, False
        ignored = {h.lower() for h in spec.ignore_hosts}
        forced_hosts = {h.lower() for h in spec.force_hosts}
        forced_nodes = set(spec.force_nodes)
        left = []
        for host in hosts:
            reason = None
            if (destination.get("host") and host.host != destination["host"]) or \
                    (destination.get("node") and host.nodename != destination["node"]):
                reason = "requested_destination"
            elif host.host.lower() in ignored:
                reason = "ignore_hosts"
            elif forced_hosts and host.host.lower() not in forced_hosts:
                reason = "force_hosts"
            elif forced_nodes and host.nodename not in forced_nodes:
                reason = "force_nodes"
            if reason is None:
                left.append(host)
            elif notes is not None:
                notes[host.host] = {"rejected_by": reason}
        forcing = bool(forced_hosts or forced_nodes) and not (spec.scheduler_hints or {}).get("_nova_check_type")
        return left, forcing

    def filter_hosts(self, hosts: t.Sequence[HostState], spec: RequestSpec, explain: Explain = None,
                     index: int = 0) -> list[HostState]:
        """Every host that passes (all of them are evaluated); ``explain`` gets the rejecting filter per host."""
        hosts, forcing = self._narrow(hosts, spec, explain)
        if forcing:
            if explain is not None:
                for host in hosts:
                    explain[host.host] = {"rejected_by": None}
            return list(hosts)
        if explain is not None:
            return self._explained(hosts, self._prepared(spec, index), explain, spec)
        check = self._fast(spec, index)
        return list(hosts) if check is None else [h for h in hosts if check(h)]

    # --- weighing ----------------------------------------------------------------------------------
    def weigh_hosts(self, hosts: t.Sequence[HostState], spec: RequestSpec,
                    explain: Explain = None) -> list[tuple[float, HostState]]:
        """(weight, host), best first; equal weights keep the hosts' order (Nova's stable sort)."""
        n = len(hosts)
        totals = [0.0] * n
        parts: t.Optional[list[dict[str, float]]] = [{} for _host in hosts] if explain is not None else None
        if n > 1:  # Nova weighs nothing when there is nothing to choose from
            # the aggregate metadata keys of the candidates: a weigher whose option is not among
            # them has one multiplier for every host
            keys: set[str] = set()
            for host in hosts:
                if host.aggregates:
                    keys.update(host.aggregate_metadata())
            for weigher in self.weighers:
                contributed = self._weigh_one(weigher, hosts, spec, totals, weigher.option in keys, parts is not None)
                if parts is not None:
                    for i, value in enumerate(contributed or [0.0] * n):
                        parts[i][weigher.name] = value + 0.0  # no -0.0 on show
        if explain is not None and parts is not None:
            for i, host in enumerate(hosts):
                explain[host.host] = {"rejected_by": None, "weights": parts[i], "weight": totals[i]}
        order = sorted(range(n), key=totals.__getitem__, reverse=True)
        return [(totals[i], hosts[i]) for i in order]

    @staticmethod
    def _weigh_one(weigher: weighers_mod.BaseHostWeigher, hosts: t.Sequence[HostState], spec: RequestSpec,
                   totals: list[float], overrides: bool, shares: bool) -> t.Optional[list[float]]:
        """Add one weigher's share to ``totals`` (as Nova adds multiplier * normalised value).

        Returns the shares when asked for (None when they are all zero).
        """
        if not weigher.relevant(spec):
            return None
        if not overrides and weigher.uniform_multiplier() == 0.0:
            return None
        raw = weigher.raw_weights(hosts, spec)
        lo, hi = min(raw), max(raw)
        if weigher.minval is not None and weigher.minval < lo:
            lo = weigher.minval
        if weigher.maxval is not None and weigher.maxval > hi:
            hi = weigher.maxval
        lo, hi = float(lo), float(hi)
        if lo == hi:
            return None
        span = hi - lo
        if overrides or shares:
            if overrides:
                m = weigher.uniform_multiplier()
                part = [(weigher.weight_multiplier(h) if h.aggregates else m) * ((v - lo) / span)
                        for h, v in zip(hosts, raw)]
            else:
                m = weigher.uniform_multiplier()
                part = [m * ((v - lo) / span) for v in raw]
            totals[:] = [total + p for total, p in zip(totals, part)]
            return part
        m = weigher.uniform_multiplier()
        totals[:] = [total + m * ((v - lo) / span) for total, v in zip(totals, raw)]
        return None

    def _pick(self, ranked: list[tuple[float, HostState]]) -> list[tuple[float, HostState]]:
        """Nova's _get_sorted_hosts tail: shuffle the equal best, choose among the best subset, put it first."""
        if self.config.shuffle_best_same_weighed_hosts and len(ranked) > 1:
            best = [p for p in ranked if p[0] == ranked[0][0]]
            self.rng.shuffle(best)
            ranked = best + ranked[len(best):]
        size = self.config.host_subset_size
        subset = ranked[:size] if size < len(ranked) else ranked
        if len(subset) > 1:
            chosen = self.rng.choice(subset)
            ranked = [chosen] + [p for p in ranked if p is not chosen]
        return ranked

    # --- the request -------------------------------------------------------------------------------
    def _start(self, n: int) -> int:
        if self._next_start is None:
            self._next_start = self.rng.randrange(n) if n else 0
        return self._next_start % n if n else 0

    def select_destinations(self, hosts: t.Sequence[HostState], spec: RequestSpec,
                            instance_uuids: t.Optional[t.Sequence[str]] = None,
                            explain: Explain = None, return_alternates: bool = True) -> list[Selection]:
        """One Selection per instance; consumes each pick so later instances see it.

        ``explain`` (a dict) is filled, per host name, with the rejecting filter or the weights of
        the first instance; each Selection then carries its own instance's. On NoValidHost the
        raised StratusError has ``explain`` (the failing instance's) and ``selections`` (the
        instances placed before it).
        """
        cfg = self.config
        explaining = explain is not None
        num = max(1, int(spec.num_instances or 1))
        uuids = [str(u) for u in (instance_uuids or [])][:num]
        if not uuids and spec.instance_uuid:
            uuids = [spec.instance_uuid]  # a move: the instance being scheduled is known
        uuids += ["pending-%d" % i for i in range(len(uuids), num)]
        notes: dict[str, dict[str, t.Any]] = {}
        pool, forcing = self._narrow(hosts, spec, notes if explaining else None)
        window: t.Optional[_Window] = None
        if not forcing and not explaining:
            wanted = cfg.hosts_to_score_for(len(pool))
            if wanted < len(pool):
                window = _Window(pool, self._start(len(pool)))
        original_uuid = spec.instance_uuid
        selections: list[Selection] = []
        survivors: list[HostState] = []
        try:
            for index in range(num):
                spec.instance_uuid = uuids[index]
                survivors = self._pass(index, pool, survivors, spec, forcing, window, notes if explaining else None)
                if not survivors:
                    err = StratusError("NoValidHost", NO_VALID_HOST)
                    err.explain = self._snapshot(notes) if explaining else None  # type: ignore[attr-defined]
                    if index == 0 and explain is not None:
                        explain.update(self._snapshot(notes))
                    err.selections = selections  # type: ignore[attr-defined]
                    raise err
                ranked = self._pick(self.weigh_hosts(survivors, spec, notes if explaining else None))
                weight, host = ranked[0]
                self._consume(host, spec, uuids[index])
                snapshot = self._snapshot(notes) if explaining else None
                if index == 0 and explain is not None:
                    explain.update(self._snapshot(notes))
                selections.append(Selection(host.host, weight, [], host.nodename, snapshot))
                survivors = [h for _w, h in ranked]
            alternates = self._alternates(survivors, spec, selections, forcing, return_alternates)
            for sel in selections:
                sel.alternates = list(alternates)
        finally:
            spec.instance_uuid = original_uuid
            if window is not None:
                self._next_start = (window.start + window.scanned) % window.n
        return selections

    def _pass(self, index: int, pool: t.Sequence[HostState], survivors: list[HostState], spec: RequestSpec,
              forcing: bool, window: t.Optional[_Window],
              notes: t.Optional[dict[str, dict[str, t.Any]]]) -> list[HostState]:
        """The hosts instance ``index`` may go to."""
        if forcing:
            if notes is not None:
                for host in pool:
                    notes[host.host] = {"rejected_by": None}
            return list(pool)
        if index == 0:
            if notes is not None:
                return self._explained(pool, self._prepared(spec, 0), notes, spec)
            check = self._fast(spec, 0)
            if window is not None:
                return window.take(check, self.config.hosts_to_score_for(len(pool)))
            return list(pool) if check is None else [h for h in pool if check(h)]
        if notes is not None:
            return self._explained(survivors, self._prepared(spec, index), notes, spec)
        check = self._fast(spec, index)
        left = survivors if check is None else [h for h in survivors if check(h)]
        if window is not None and not window.exhausted:
            wanted = self.config.hosts_to_score_for(len(pool))
            if len(left) < wanted:
                # the sample ran short (a big multi-create): look further, with every filter
                left = left + window.take(self._fast(spec, 0), wanted - len(left))
        return left

    @staticmethod
    def _consume(host: HostState, spec: RequestSpec, uuid: str) -> None:
        """Nova's _consume_selected_host: the host's resources, and the group's view of where members are."""
        host.consume(spec, uuid)
        group = spec.instance_group
        if group is not None:
            group.setdefault("hosts", []).append(host.host)
            members = group.get("members")
            if members is not None and uuid not in members:
                members.append(uuid)

    def _alternates(self, survivors: list[HostState], spec: RequestSpec, selections: list[Selection],
                    forcing: bool, wanted: bool) -> list[str]:
        cfg = self.config
        if not wanted or cfg.max_attempts <= 1:
            return []
        if forcing and (len(spec.force_hosts) == 1 or len(spec.force_nodes) == 1):
            return []  # Nova's populate_retry: one forced host or node means no rescheduling
        chosen = {s.host for s in selections}
        candidates = survivors
        if len(selections) > 1:
            # what still fits after every pick of this request, in weight order again
            if not forcing:
                check = self._fast(spec, len(selections))
                candidates = candidates if check is None else [h for h in candidates if check(h)]
            candidates = [h for _w, h in self.weigh_hosts(candidates, spec)]
        out = []
        for host in candidates:
            if len(out) >= cfg.max_attempts - 1:
                break
            if host.host not in chosen:
                out.append(host.host)
        return out

    @staticmethod
    def _snapshot(notes: dict[str, dict[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
        return {name: dict(note, weights=dict(note["weights"])) if "weights" in note else dict(note)
                for name, note in notes.items()}


class NodeScheduler(FilterScheduler):
    """The scheduler of bare-metal flavors: the node filters (filters/baremetal.py), no weigher.

    Nodes of one class are alike, so the first that passes wins, by name (the candidates come
    sorted): the same request on the same store goes to the same node, every time. Every node
    is evaluated (no sampling). ``max_attempts`` and the default zone are the configured ones,
    so the alternates a reschedule needs are there as for hypervisors. A forced node
    (``az:node``) narrows the candidates to it but skips no filter: a node someone holds, in
    maintenance or not available cannot be given to anyone (placement refuses it in Nova too).
    """

    def __init__(self, config: t.Optional[SchedulerConfig] = None, rng: t.Optional[random.Random] = None) -> None:
        config = dataclasses.replace(config or SchedulerConfig(), enabled_filters=(), weighers=(), host_subset_size=1,
                                     shuffle_best_same_weighed_hosts=False, hosts_to_score=0,
                                     percentage_of_hosts_to_score=0.0)
        super().__init__(config, rng, filters=load_node_filters(config), weighers=[])

    def _narrow(self, hosts: t.Sequence[HostState], spec: RequestSpec,
                notes: t.Optional[dict[str, dict[str, t.Any]]]) -> tuple[t.Sequence[HostState], bool]:
        left, _forcing = super()._narrow(hosts, spec, notes)
        return left, False
