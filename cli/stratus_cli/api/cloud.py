"""What `stratus api` serves from: the state store, the inventory's catalog (the same Catalog the modules
build, from the same variables), the operator's policy and quotas, and who may see what of them."""
from __future__ import annotations

import typing as t

from stratus_cli.api.collection import ensure_importable
from stratus_cli.api.errors import ApiError, shown

ensure_importable()
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import views as compute_views  # noqa: E402
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller  # noqa: E402
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog  # noqa: E402
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.checks import zone_hosts  # noqa: E402
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer  # noqa: E402
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.quota import Limits  # noqa: E402
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store  # noqa: E402

DEPRECATED_LIMITS = ("floating_ips", "security_groups", "security_group_rules")


class Cloud:
    """The catalog and rules of one inventory, and the store: read once at start, shared by every request."""

    def __init__(self, store_url: str, variables: t.Mapping[str, t.Any], hypervisors: list[str],
                 baremetal_nodes: list[str], hostvars: t.Mapping[str, t.Any]) -> None:
        self.store_url = store_url
        self.catalog = Catalog(variables)
        self.enforcer = Enforcer(variables.get("stratus_policy") or None)
        self.quotas = variables.get("stratus_quotas") or {}
        self.zones = zone_hosts(hypervisors, hostvars, self.catalog, baremetal_nodes)

    def transaction(self, read_only: bool = False) -> t.ContextManager[t.Any]:
        return store.read_transaction(self.store_url) if read_only else store.transaction(self.store_url)

    def caller(self, user_id: str, project_id: str, roles: list[str]) -> Caller:
        return Caller({"user_id": user_id, "project_id": project_id, "roles": roles}, self.enforcer)

    # --- flavors ---------------------------------------------------------------------------------------

    @staticmethod
    def _may_see_flavor(flavor: t.Mapping[str, t.Any], caller: Caller) -> bool:
        return bool(flavor.get("is_public", True) or caller.is_admin
                    or caller.project_id in (flavor.get("projects") or []))

    def flavors(self, caller: Caller, is_public: t.Optional[bool]) -> list[dict[str, t.Any]]:
        """Nova's list: a project's caller sees public flavors and the private ones it has access to; an admin
        chooses with is_public (true by default, false, or None for all)."""
        if caller.is_admin:
            out = [f for f in self.catalog.flavors if is_public is None or bool(f.get("is_public", True)) == is_public]
        else:
            out = [f for f in self.catalog.flavors if self._may_see_flavor(f, caller)]
        return sorted(out, key=lambda f: (int(f["ram"]), str(f["id"])))

    def flavor(self, caller: Caller, flavor_id: str) -> dict[str, t.Any]:
        for flavor in self.catalog.flavors:
            if str(flavor["id"]) == flavor_id and self._may_see_flavor(flavor, caller):
                return flavor
        raise ApiError(404, "Flavor %s could not be found." % shown(flavor_id))

    def may_read_extra_specs(self, caller: Caller) -> bool:
        return caller.can("os_compute_api:os-flavor-extra-specs:index")

    # --- limits ----------------------------------------------------------------------------------------

    def limits(self, conn: t.Any, caller: Caller, project_id: t.Optional[str]) -> tuple[dict[str, t.Any],
                                                                                        dict[str, int]]:
        target = project_id or caller.project_id
        caller.authorize("os_compute_api:limits")
        if target != caller.project_id:
            caller.authorize("os_compute_api:limits:other_project", {"project_id": target}, "tenant_id")
        quota = compute_views.quota_set(conn, self.quotas, self.catalog, target)
        limits = Limits(self.quotas, target, "")
        return quota, {r: limits[r] for r in DEPRECATED_LIMITS}

    # --- images and networks ---------------------------------------------------------------------------

    def images(self, caller: Caller) -> list[dict[str, t.Any]]:
        """Public, community and shared images, and the caller's project's private ones (an admin: all)."""
        return [i for i in self.catalog.images
                if caller.is_admin or i.get("visibility", "public") != "private" or i.get("owner") == caller.project_id]

    def networks(self, caller: Caller) -> list[dict[str, t.Any]]:
        return [self.catalog.network(n["id"]) for n in self.catalog.visible_networks(caller.project_id, caller.is_admin)]
