# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: scheduler
short_description: Where would a request go, and why not elsewhere (Nova's filter scheduler)
version_added: 0.1.0
description:
  - Runs the Stratus scheduler (Nova's filter scheduler, with its filters, weighers, host_subset_size,
    alternates, server groups and forced hosts) for one or more request specs and returns one entry
    per instance with the chosen C(host), its C(weight) and its C(alternates).
  - By default the host states are built from the inventory, as the M(stratus.compute.server) action
    builds them, with capacity, ratios, zone, aggregates and capabilities from the hosts' C(stratus_*)
    variables (and the C(stratus_host_aggregates) and C(stratus_networks) variables), plus what the
    state store says is used on each host (claims, instances, builds under way, failed builds). The
    store is only read; a SQLite store that does not exist yet counts as empty.
  - With I(host_states) the scheduler runs over the given host states instead (what-if planning,
    tests); nothing is read from the inventory or the store.
  - Several request specs are placed one after the other on the same host states, so later ones see
    the resources the earlier ones took.
  - With I(explain=true) every host is evaluated and each entry also has C(explain), per host the
    filter that rejected it or its weight per weigher. A request that fits nowhere then returns an
    entry with C(host=null) and C(error) (NoValidHost) instead of failing, so the explanation is the
    answer to "why NoValidHost?".
  - A spec whose flavor is a bare-metal flavor (C(extra_specs) C(resources:CUSTOM_<CLASS>=1) with
    C(resources:VCPU), C(resources:MEMORY_MB) and C(resources:DISK_GB) C(0)) is scheduled as the
    M(stratus.compute.server) action schedules it, among the C(baremetal_nodes) group's nodes only (their
    C(stratus_bm_*) variables joined with the store's node rows; without the store every node is
    C(enroll)), each taken whole; its explain names every node and why it was left out. Not with
    I(host_states).
  - Nothing is written anywhere, and the lookup does not check policy (a forced host is honoured).
options:
  _terms:
    description:
      - One or more request specs, with Nova's RequestSpec field names.
      - C(flavor) ({vcpus, memory_mb, root_gb, ephemeral_gb, swap, extra_specs, name}; C(ram), C(disk),
        C(ephemeral) are accepted too), C(image) ({id, properties}), C(num_instances) (default 1),
        C(availability_zone) (C(az), C(az:host), C(az:host:node) or C(az::node); the host and node forms
        force the host), C(scheduler_hints) (C(same_host), C(different_host), C(build_near_host_ip),
        C(cidr)), C(instance_group) ({policy, hosts, members, rules}, or just {id} of a server group
        in C(stratus_server_groups) or, with O(use_store), one made through C(stratus api), whose members
        the store knows), C(force_hosts), C(force_nodes),
        C(ignore_hosts), C(project_id), C(requested_networks) (network ids), C(is_bfv).
    type: list
    elements: dict
    required: true
  hosts:
    description:
      - The inventory hosts to schedule over, typically C(groups['hypervisors']). Defaults to the
        C(hypervisors) group.
      - Mutually exclusive with I(host_states).
    type: list
    elements: str
  host_states:
    description:
      - Explicit host states with Nova's HostState field names (C(host), C(vcpus), C(vcpus_used),
        C(memory_mb), C(memory_mb_used) or C(free_ram_mb), C(local_gb), C(local_gb_used) or
        C(free_disk_mb), C(num_instances), C(num_io_ops), C(availability_zone), C(aggregates) (names from
        C(stratus_host_aggregates) or {name, hosts, metadata}), the three C(*_allocation_ratio),
        C(reserved_host_memory_mb), C(reserved_host_disk_mb), C(reserved_host_cpus),
        C(hypervisor_type), C(hypervisor_version), C(cpu_info), C(supported_instances), C(service)
        ({disabled, up}), C(networks), C(instances), C(failed_builds), C(stats), C(host_ip)).
      - Other keys are kept as C(stats) (which C(ComputeCapabilitiesFilter) reads), with a warning.
    type: list
    elements: dict
  config:
    description:
      - The scheduler configuration, as in the C(stratus_scheduler) variable (its default); see
        docs/scheduler.md for the keys (Nova's option names, C(hosts_to_score), C(preset)).
    type: dict
  explain:
    description: Evaluate every host and return, per host, the rejecting filter or the weights.
    type: bool
    default: false
  seed:
    description: Seed the random choices (C(host_subset_size), C(shuffle_best_same_weighed_hosts), sampling start).
    type: int
  db_url:
    description: The state store URL; defaults to C(stratus_db_url), then as for M(stratus.compute.server).
    type: str
  use_store:
    description: Read usage from the state store (only without I(host_states)); C(false) schedules on an empty fleet.
    type: bool
    default: true
author:
  - Stratus contributors (@stratus-compute)
notes:
  - Bad input fails the lookup with the Nova error code and the field at fault in the message, for
    example C(InvalidRequest) naming C(request_spec.flavor.vcpus) when it is not an integer.
"""

EXAMPLES = r"""
- name: Where would two m1.small servers go?
  ansible.builtin.debug:
    msg: "{{ query('stratus.compute.scheduler', spec, hosts=groups['hypervisors']) }}"
  vars:
    spec:
      flavor: {vcpus: 1, memory_mb: 512, root_gb: 1}
      num_instances: 2
      requested_networks: [net-demo]

- name: Why would this fit nowhere?
  ansible.builtin.debug:
    msg: "{{ query('stratus.compute.scheduler', {'flavor': {'vcpus': 64, 'memory_mb': 262144}},
             hosts=groups['hypervisors'], explain=true) }}"

- name: What-if, over made-up hosts, with Nova's soft anti-affinity
  ansible.builtin.set_fact:
    plan: "{{ query('stratus.compute.scheduler', spec, host_states=fleet, config={'hosts_to_score': 0}) }}"
  vars:
    spec:
      flavor: {vcpus: 2, memory_mb: 2048, root_gb: 10}
      num_instances: 3
      instance_group: {policy: soft-anti-affinity, members: [], hosts: []}
    fleet:
      - {host: hv1, vcpus: 8, memory_mb: 16384, local_gb: 200}
      - {host: hv2, vcpus: 8, memory_mb: 16384, local_gb: 200, aggregates: [{name: ssd, metadata: {ssd: "true"}}]}
"""

RETURN = r"""
_list:
  description: One entry per instance, in request order.
  type: list
  elements: dict
  contains:
    host:
      description: The chosen host (null in the entry of an instance that fit nowhere, with I(explain)).
      type: str
    weight:
      description: The host's total weight (the sum over the weighers of multiplier times normalised value).
      type: float
    alternates:
      description: Hosts to reschedule on (at most max_attempts - 1, none for a forced host).
      type: list
      elements: str
    explain:
      description:
        - With I(explain), per host name either C({rejected_by, weights, weight}) (C(rejected_by) null and
          the share of each weigher for a host that passed) or C({rejected_by}) naming the filter that
          rejected it (C(ignore_hosts), C(force_hosts), C(force_nodes) for hosts a request excluded).
      type: dict
    error:
      description: With I(explain), for the instance that fit nowhere, C({code, message, field}).
      type: dict
"""

import random
import typing as t

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import (
    HostState, RequestSpec, aggregate_from_dict, parse_availability_zone,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.baremetal import requested
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.scheduler import FilterScheduler, NodeScheduler

display = Display()

# The options and their defaults (DOCUMENTATION has them too).
OPTIONS: dict[str, t.Any] = {"hosts": None, "host_states": None, "config": None, "explain": False, "seed": None,
                             "db_url": None, "use_store": True}


class LookupModule(LookupBase):

    def run(self, terms: list[t.Any], variables: t.Optional[dict[str, t.Any]] = None,
            **kwargs: t.Any) -> list[dict[str, t.Any]]:
        variables = variables or {}
        try:
            self._opts = self._parse_options(kwargs)
            return self._run(terms, variables)
        except StratusError as exc:
            raise AnsibleError(str(exc))

    def _parse_options(self, kwargs: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """The options, checked here (the lookup also works when instantiated without the plugin loader)."""
        unknown = sorted(set(kwargs) - set(OPTIONS))
        if unknown:
            raise StratusError("InvalidRequest", "%s: unknown option of stratus.compute.scheduler (known: %s)"
                               % (unknown[0], ", ".join(sorted(OPTIONS))), unknown[0])
        out = dict(OPTIONS)
        for name, value in kwargs.items():
            value = self._template(value)
            if value is None:
                continue
            if name in ("explain", "use_store"):
                if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
                    value = value.lower() in ("true", "yes", "on", "1")
                if not isinstance(value, bool):
                    raise StratusError("InvalidRequest", "%s: must be a boolean, got %r" % (name, value), name)
            elif name == "seed":
                if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).lstrip("-").isdigit():
                    raise StratusError("InvalidRequest", "seed: must be an integer, got %r" % (value,), "seed")
                value = int(value)
            elif name in ("hosts", "host_states"):
                if isinstance(value, str) and name == "hosts":
                    value = [value]
                if not isinstance(value, list):
                    raise StratusError("InvalidRequest", "%s: must be a list, got %r" % (name, value), name)
            elif name == "config" and not isinstance(value, dict):
                raise StratusError("InvalidRequest", "config: must be a mapping of scheduler options",
                                   "stratus_scheduler")
            elif name == "db_url" and not isinstance(value, str):
                raise StratusError("InvalidRequest", "db_url: must be a string", "db_url")
            out[name] = value
        return out

    def get_option(self, option: str, hostvars: t.Any = None) -> t.Any:
        return self._opts[option]

    # --- the pieces ---------------------------------------------------------------------------------
    def _template(self, value: t.Any) -> t.Any:
        templar = getattr(self, "_templar", None)
        return templar.template(value) if templar is not None and value is not None else value

    def _specs(self, terms: list[t.Any]) -> list[dict[str, t.Any]]:
        specs: list[t.Any] = []
        for term in terms:
            specs.extend(term if isinstance(term, list) else [term])
        if not specs:
            raise StratusError("InvalidRequest", "request_spec: a request spec is required", "request_spec")
        return [self._template(s) for s in specs]

    def _spec(self, data: t.Any, field: str, variables: t.Mapping[str, t.Any]) -> tuple[RequestSpec, t.Optional[str]]:
        """The RequestSpec, and the server group whose members the store should fill in (if any)."""
        if isinstance(data, dict) and data.get("availability_zone") and ":" in str(data["availability_zone"]):
            zone, host, node = parse_availability_zone(str(data["availability_zone"]), "request_spec.availability_zone")
            data = dict(data, availability_zone=zone)
            if host:
                data["force_hosts"] = [host]
            if node:
                data["force_nodes"] = [node]
        spec = RequestSpec.from_dict(data, field)
        group = spec.instance_group
        group_id = None
        if group is not None and not group.get("policy"):
            group_id = str(group.get("id") or group.get("uuid") or "")
            if not group_id:
                raise StratusError("InvalidRequest", "%s.instance_group: needs a policy, or the id of a server group"
                                   % field, field + ".instance_group")
            known = self._template(variables.get("stratus_server_groups")) or []
            found = next((g for g in known if str(g.get("id")) == group_id), None)
            if found is None and self.get_option("use_store"):
                found = self._store_group(group_id, variables)
            if found is None:
                raise StratusError("InstanceGroupNotFound", "Instance group %s could not be found." % group_id,
                                   field + ".instance_group")
            group["policy"] = found["policy"]
            rules = dict(found.get("rules") or {})
            rules.update(group.get("rules") or {})
            if rules.get("max_server_per_host") is not None:
                rules["max_server_per_host"] = int(rules["max_server_per_host"])
            group["rules"] = rules
        return spec, group_id

    def _store_group(self, group_id: str, variables: t.Mapping[str, t.Any]) -> t.Optional[dict[str, t.Any]]:
        """A server group made through `stratus api` (the store's), when the catalog has none of this id."""
        from ansible_collections.stratus.compute.plugins.plugin_utils.resources import host_usage, server_groups
        from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

        db_url = self.get_option("db_url") or self._template(variables.get("stratus_db_url"))
        if not host_usage.store_exists(db_url):
            return None
        with store.transaction(db_url) as conn:
            return server_groups.get(conn, group_id)

    def _aggregates(self, variables: t.Mapping[str, t.Any]) -> dict[str, dict[str, t.Any]]:
        value = self._template(variables.get("stratus_host_aggregates")) or []
        if not isinstance(value, list):
            raise StratusError("InvalidCatalog", "stratus_host_aggregates: must be a list of aggregates",
                               "stratus_host_aggregates")
        return {a["name"]: a for a in (aggregate_from_dict(v, "stratus_host_aggregates[%d]" % i)
                                       for i, v in enumerate(value))}

    def _explicit_states(self, value: t.Any, variables: t.Mapping[str, t.Any]) -> list[HostState]:
        value = self._template(value)
        if not isinstance(value, list):
            raise StratusError("InvalidRequest", "host_states: must be a list of host states", "host_states")
        aggregates = self._aggregates(variables)
        states, seen = [], set()
        for i, item in enumerate(value):
            field = "host_states[%d]" % i
            state, extra = HostState.from_dict(item, field, aggregates)
            if state.host in seen:
                raise StratusError("InvalidRequest", "%s.host: %s is listed twice" % (field, state.host),
                                   field + ".host")
            seen.add(state.host)
            if extra:
                display.warning("stratus.compute.scheduler: %s: %s not HostState field(s), kept as stats"
                                % (field, ", ".join(extra)))
            states.append(state)
        return states

    def _inventory_states(self, hostnames: list[str], variables: t.Mapping[str, t.Any],
                          usage: dict[str, dict[str, t.Any]]) -> list[HostState]:
        from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
        from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.host_states import (
            HYPERVISOR_VARS, host_states,
        )

        hostvars = variables.get("hostvars") or {}
        own: dict[str, dict[str, t.Any]] = {}
        for i, name in enumerate(hostnames):
            if name not in hostvars:
                raise StratusError("ComputeHostNotFound", "Compute host %s could not be found." % name,
                                   "hosts[%d]" % i)
            hv = hostvars[name]
            own[name] = {k: self._template(hv[k]) for k in sorted(HYPERVISOR_VARS) if k in hv}
        catalog_vars = {k: self._template(variables[k]) for k in ("stratus_networks", "stratus_host_aggregates")
                        if variables.get(k) is not None}
        catalog = Catalog(catalog_vars, {k: variables[k] for k in catalog_vars})
        return host_states(hostnames, own, catalog, usage)

    def _node_states(self, variables: t.Mapping[str, t.Any]) -> list[HostState]:
        """The baremetal_nodes group's nodes joined with their store rows (none read: every node is enroll)."""
        from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
        from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.baremetal_nodes import PREFIX
        from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.node_states import (
            node_names, node_states, read_nodes,
        )
        from ansible_collections.stratus.compute.plugins.plugin_utils.resources import node_claims

        hostvars = variables.get("hostvars") or {}
        names = node_names(variables)
        own = {name: {k: self._template(v) for k, v in (hostvars.get(name) or {}).items() if str(k).startswith(PREFIX)}
               for name in names}
        networks = self._template(variables.get("stratus_networks"))
        catalog = Catalog({"stratus_networks": networks} if networks is not None else {})
        hypervisors = list((variables.get("groups") or {}).get("hypervisors") or [])
        rows: dict[str, t.Any] = {}
        if self.get_option("use_store"):
            rows = node_claims.read_node_rows(self.get_option("db_url") or self._template(variables.get("stratus_db_url")))
        return list(node_states(read_nodes(names, own, catalog, hypervisors), rows, catalog))

    def _run(self, terms: list[t.Any], variables: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
        raw_specs = self._specs(terms)
        config = self.get_option("config")
        if config is None:
            config = variables.get("stratus_scheduler")
        cfg = SchedulerConfig.from_dict(self._template(config))
        explain = bool(self.get_option("explain"))
        seed = self.get_option("seed")
        specs = [self._spec(s, "request_spec" if len(raw_specs) == 1 else "request_spec[%d]" % i, variables)
                 for i, s in enumerate(raw_specs)]
        explicit = self.get_option("host_states")
        hosts_opt = self.get_option("hosts")
        if explicit is not None and hosts_opt is not None:
            raise StratusError("InvalidRequest", "hosts and host_states: give one of them, not both", "host_states")
        if explicit is not None:
            states = self._explicit_states(explicit, variables)
        else:
            hostnames = [str(h) for h in (self._template(hosts_opt) if hosts_opt is not None else
                                          (variables.get("groups") or {}).get("hypervisors") or [])]
            usage: dict[str, dict[str, t.Any]] = {}
            groups_wanted = sorted({gid for _spec, gid in specs if gid})
            members: dict[str, list[tuple[str, t.Optional[str]]]] = {}
            if self.get_option("use_store"):
                from ansible_collections.stratus.compute.plugins.plugin_utils.resources import host_usage

                db_url = self.get_option("db_url") or self._template(variables.get("stratus_db_url"))
                usage, members = host_usage.read(db_url, groups_wanted)
            for spec, gid in specs:
                if gid and spec.instance_group is not None:
                    found = members.get(gid, [])
                    spec.instance_group.setdefault("members", [u for u, _h in found])
                    spec.instance_group["hosts"] = [h for _u, h in found if h] + list(spec.instance_group["hosts"])
            states = self._inventory_states(hostnames, variables, usage)
        rng = random.Random(seed) if seed is not None else None
        scheduler = FilterScheduler(cfg, rng)
        nodes: t.Optional[list[HostState]] = None  # read when a bare-metal flavor asks for them
        out: list[dict[str, t.Any]] = []
        for i, (spec, _gid) in enumerate(specs):
            pool: t.Sequence[HostState] = states
            on = scheduler
            if requested(spec) is not None:  # a bare-metal flavor: whole nodes, never a hypervisor
                if explicit is not None:
                    raise StratusError("InvalidRequest", "request_spec[%d].flavor: a bare-metal flavor is scheduled "
                                       "among the inventory's nodes (the baremetal_nodes group); host_states gives "
                                       "hypervisors" % i, "host_states")
                if nodes is None:
                    nodes = self._node_states(variables)
                pool, on = nodes, NodeScheduler(cfg, rng)
            try:
                selections = on.select_destinations(pool, spec, explain={} if explain else None)
            except StratusError as exc:
                if not explain or exc.code != "NoValidHost":
                    raise
                out.extend(s.to_dict() for s in getattr(exc, "selections", []))
                out.append({"host": None, "weight": None, "alternates": [], "error": exc.to_dict(),
                            "explain": getattr(exc, "explain", None) or {}})
                return out
            out.extend(s.to_dict() for s in selections)
        return out
