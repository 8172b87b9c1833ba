# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that read the metadata of the host's aggregates.

A host's aggregate metadata is the union over its aggregates, each value split on commas
(``filter_tenant_id: "a,b"`` is two tenants), as Nova's aggregate_metadata_get_by_host has it.
"""
from __future__ import annotations

from ansible_collections.stratus.compute.plugins.module_utils.scheduler import extra_specs_ops
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters.base import BaseHostFilter, Check
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import HostState, RequestSpec

EXTRA_SPECS_SCOPE = "aggregate_instance_extra_specs"


class AggregateInstanceExtraSpecsFilter(BaseHostFilter):
    """Every unscoped or ``aggregate_instance_extra_specs:`` extra spec is in the host's aggregate
    metadata, and one of its values matches the requirement."""

    name = "AggregateInstanceExtraSpecsFilter"
    run_filter_once_per_request = True
    cost = 3

    def prepare(self, spec: RequestSpec) -> Check:
        wanted = []
        for key, req in spec.extra_specs.items():
            scope = key.split(":", 1)
            if len(scope) > 1:
                if scope[0] != EXTRA_SPECS_SCOPE:
                    continue
                key = scope[1]
            wanted.append((key, req))
        if not wanted:
            return None

        def check(h: HostState) -> bool:
            metadata = h.aggregate_metadata()
            for key, req in wanted:
                values = metadata.get(key)
                if not values or not any(extra_specs_ops.match(v, req) for v in values):
                    return False
            return True
        return check


class AggregateMultiTenancyIsolation(BaseHostFilter):
    """A host in an aggregate with ``filter_tenant_id*`` keys takes only those projects."""

    name = "AggregateMultiTenancyIsolation"
    run_filter_once_per_request = True

    def prepare(self, spec: RequestSpec) -> Check:
        project = spec.project_id

        def check(h: HostState) -> bool:
            if not h.aggregates:
                return True
            allowed: set[str] = set()
            for key, values in h.aggregate_metadata().items():
                if key.startswith("filter_tenant_id"):
                    allowed |= values
            return not allowed or project in allowed
        return check


class AggregateImagePropertiesIsolation(BaseHostFilter):
    """For each aggregate metadata key the image also has (under the configured namespace, if any),
    the image's value is one of the aggregate's."""

    name = "AggregateImagePropertiesIsolation"
    run_filter_once_per_request = True

    def prepare(self, spec: RequestSpec) -> Check:
        props = spec.image_props
        namespace = self.option("aggregate_image_properties_isolation_namespace", None)
        separator = str(self.option("aggregate_image_properties_isolation_separator", "."))
        prefix = namespace + separator if namespace else None

        def check(h: HostState) -> bool:
            for key, options in h.aggregate_metadata().items():
                if prefix and not key.startswith(prefix):
                    continue
                prop = props.get(key)
                if prop and str(prop) not in options:
                    return False
            return True
        return check


class AggregateTypeAffinityFilter(BaseHostFilter):
    """A host whose aggregates set ``instance_type`` takes only those flavors (by name, comma-separated)."""

    name = "AggregateTypeAffinityFilter"
    run_filter_once_per_request = True

    def prepare(self, spec: RequestSpec) -> Check:
        flavor_name = str(spec.flavor.get("name", ""))

        def check(h: HostState) -> bool:
            values = h.aggregate_values("instance_type")
            if not values:
                return True
            return any(flavor_name in [x.strip() for x in v.split(",")] for v in values)
        return check
