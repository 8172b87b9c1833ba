# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node filters: which bare-metal nodes a request may take, one job per filter.

Nova leaves most of this to placement (a node offers one unit of its class, reserved while it is
in maintenance, not available or taken; required and forbidden traits); here each rule is a
filter of its own, so explain names the one that left a node out and says why. They run over
NodeStates only (node_state.py), never over hypervisors, and are not in the hypervisor filters'
registry: ``NODE_FILTERS`` is their fixed order (the request's fit first, then the node's own
availability). The zone is the hypervisors' AvailabilityZoneFilter (a node is in its
``stratus_bm_availability_zone``, else the default zone).
"""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.flavor import (
    BaremetalFlavor, FlavorSpecError, baremetal_flavor,
)
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.states import AVAILABLE, ENROLL
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.availability_zone import (
    AvailabilityZoneFilter,
)
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.base import BaseHostFilter, Check
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.network import NetworkFilter
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.node_state import NodeState


def requested(spec: RequestSpec) -> t.Optional[BaremetalFlavor]:
    """The request's bare-metal flavor (None: a virtual flavor); a spec the convention refuses is InvalidRequest."""
    try:
        return baremetal_flavor(spec.extra_specs)
    except FlavorSpecError as exc:
        raise StratusError("InvalidRequest", exc.message, "flavor.extra_specs.%s" % exc.key)


def _node(host: HostState) -> NodeState:
    if not isinstance(host, NodeState):  # a programming error: node filters never see hypervisors
        raise TypeError("%s is not a bare-metal node" % host.host)
    return host


class ResourceClassFilter(BaseHostFilter):
    """The node's resource class is the one the flavor asks for; a virtual flavor fits no node."""

    name = "ResourceClassFilter"
    run_filter_once_per_request = True

    def prepare(self, spec: RequestSpec) -> Check:
        wanted = requested(spec)
        resource_class = wanted.resource_class if wanted is not None else None
        return lambda h: _node(h).resource_class == resource_class

    def reason(self, host: HostState, spec: RequestSpec) -> t.Optional[str]:
        wanted = requested(spec)
        if wanted is None:
            return ("flavor %s asks for no bare-metal resource class (resources:CUSTOM_<CLASS>: \"1\"): a virtual "
                    "flavor runs on a hypervisor, never on a node" % spec.flavor.get("name", "?"))
        node_class = _node(host).resource_class
        return "the node's resource class is %s; the flavor asks for %s" % (node_class, wanted.resource_class)


class NodeTraitsFilter(BaseHostFilter):
    """The node has every trait the flavor requires and none it forbids (trait:<NAME>: required|forbidden)."""

    name = "NodeTraitsFilter"
    run_filter_once_per_request = True

    def prepare(self, spec: RequestSpec) -> Check:
        wanted = requested(spec)
        if wanted is None or not (wanted.required_traits or wanted.forbidden_traits):
            return None
        required, forbidden = frozenset(wanted.required_traits), frozenset(wanted.forbidden_traits)

        def check(h: HostState) -> bool:
            traits = set(_node(h).traits)
            return required <= traits and not (forbidden & traits)
        return check

    def reason(self, host: HostState, spec: RequestSpec) -> t.Optional[str]:
        wanted = requested(spec)
        if wanted is None:
            return None
        traits = set(_node(host).traits)
        missing = [name for name in wanted.required_traits if name not in traits]
        present = [name for name in wanted.forbidden_traits if name in traits]
        parts = (["lacks the required trait(s) %s" % ", ".join(missing)] if missing else []) + \
            (["has the forbidden trait(s) %s" % ", ".join(present)] if present else [])
        return "the node " + " and ".join(parts)


class NodeAvailabilityZoneFilter(AvailabilityZoneFilter):
    """The request's zone against the node's (stratus_bm_availability_zone, else the default zone)."""

    name = "NodeAvailabilityZoneFilter"

    def reason(self, host: HostState, spec: RequestSpec) -> t.Optional[str]:
        zone = host.availability_zone or str(self.option("default_availability_zone", "nova"))
        return "the node is in zone %s; the request asks for %s" % (zone, spec.availability_zone)


class NodeNetworkFilter(NetworkFilter):
    """The node has a NIC on every network the request asks for (the deploy plugs the instance there)."""

    name = "NodeNetworkFilter"

    def reason(self, host: HostState, spec: RequestSpec) -> t.Optional[str]:
        missing = [n for n in dict.fromkeys(spec.requested_networks) if n not in host.networks]
        return "the node has no NIC on network(s) %s" % ", ".join(missing)


class NodeBootInterfaceFilter(BaseHostFilter):
    """The node's driver has a deploy boot interface (Redfish: virtual media; IPMI: PXE): a node the
    deploy cannot boot (a vendor driver registered without one) is never given out."""

    name = "NodeBootInterfaceFilter"
    run_filter_once_per_request = True

    def prepare(self, spec: RequestSpec) -> Check:
        return lambda h: _node(h).boot_interface is not None

    def reason(self, host: HostState, spec: RequestSpec) -> t.Optional[str]:
        return "driver %s has no deploy boot interface" % _node(host).driver


class NodeMaintenanceFilter(BaseHostFilter):
    """Not in maintenance: the inventory's flag or the store's (an operator's maintenance on)."""

    name = "NodeMaintenanceFilter"
    run_filter_once_per_request = True

    def prepare(self, spec: RequestSpec) -> Check:
        return lambda h: not _node(h).maintenance

    def reason(self, host: HostState, spec: RequestSpec) -> t.Optional[str]:
        why = _node(host).maintenance_reason
        return "the node is in maintenance" + (": %s" % why if why else "")


class NodeClaimedFilter(BaseHostFilter):
    """Nobody holds the node: no instance in the store, nor an earlier instance of this request."""

    name = "NodeClaimedFilter"
    # every instance of a multi-create: the one before may have taken the node
    run_filter_once_per_request = False

    def prepare(self, spec: RequestSpec) -> Check:
        return lambda h: _node(h).instance_uuid is None

    def reason(self, host: HostState, spec: RequestSpec) -> t.Optional[str]:
        node = _node(host)
        if node.taken_by_request:
            return "an earlier instance of this request takes the node (%s)" % node.instance_uuid
        return "the node is claimed by instance %s" % node.instance_uuid


class ProvisionStateFilter(BaseHostFilter):
    """The node is available (Ironic's provision state); any other state is not schedulable."""

    name = "ProvisionStateFilter"
    run_filter_once_per_request = True

    def prepare(self, spec: RequestSpec) -> Check:
        return lambda h: _node(h).provision_state == AVAILABLE

    def reason(self, host: HostState, spec: RequestSpec) -> t.Optional[str]:
        state = _node(host).provision_state
        if state == ENROLL:
            return "the node's provision state is enroll (not yet managed, inspected and provided)"
        return "the node's provision state is %s, not %s" % (state, AVAILABLE)


# The order explain reports in: what the request asks of the node, then whether the node is free.
NODE_FILTERS: t.Tuple[t.Type[BaseHostFilter], ...] = (
    ResourceClassFilter, NodeTraitsFilter, NodeAvailabilityZoneFilter, NodeNetworkFilter,
    NodeBootInterfaceFilter, NodeMaintenanceFilter, NodeClaimedFilter, ProvisionStateFilter,
)


def load_node_filters(config: t.Any = None) -> t.List[BaseHostFilter]:
    return [cls(config) for cls in NODE_FILTERS]
