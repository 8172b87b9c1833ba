"""Nova's os-server-groups at `stratus api`: list (all_projects for an admin), show, create, delete. The groups
are the catalog's (stratus_server_groups) and the store's; the rules are the collection's
(compute_api/server_groups.py), as for every front end. Bodies as Nova's api-ref has them: 2.1 `policies`
(one of affinity, anti-affinity), 2.15 the soft policies, 2.13 project_id and user_id, 2.64 `policy` and
`rules` in place of `policies` and `metadata`. Another project's group is 404.
"""
from __future__ import annotations

import typing as t

from starlette.routing import Route

from stratus_cli.api.edge import Answer, Call, endpoint, get
from stratus_cli.api.errors import ApiError
from stratus_cli.api.keypairs import not_found_as_404, request_object

from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_groups

__all__ = ["ROUTES"]

HARD_POLICIES = ("affinity", "anti-affinity")
FALSE = ("0", "false", "f", "no", "n", "off")


def _create_fields(call: Call) -> tuple[t.Any, t.Any, t.Any, str]:
    """(name, policy, rules, the policy's field) of the request, as its microversion's schema has them."""
    body = request_object(call.body, "body", ["server_group"], ["server_group"])
    if call.version >= (2, 64):
        fields = request_object(body["server_group"], "server_group", ["name", "policy", "rules"], ["name", "policy"])
        return fields["name"], fields["policy"], fields.get("rules"), "policy"
    fields = request_object(body["server_group"], "server_group", ["name", "policies"], ["name", "policies"])
    policies = fields["policies"]
    allowed = server_groups.POLICIES if call.version >= (2, 15) else HARD_POLICIES
    if not isinstance(policies, list) or len(policies) != 1 or policies[0] not in allowed:
        raise ApiError(400, "Invalid input for field/attribute policies. Value: it must be a list of one policy, "
                       "one of %s." % ", ".join(allowed))
    return fields["name"], policies[0], None, "policies"


def _view(group: t.Mapping[str, t.Any], version: tuple[int, int]) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {"id": group["id"], "name": group["name"], "members": list(group["members"])}
    if version >= (2, 64):
        out["policy"] = group["policy"]
        out["rules"] = dict(group.get("rules") or {})
    else:
        out["policies"] = [group["policy"]]
        out["metadata"] = {}
    if version >= (2, 13):
        out["project_id"] = group["project_id"]
        out["user_id"] = group.get("user_id") or ""
    return out


def group_list(call: Call) -> Answer:
    asked = call.query.get("all_projects")
    all_projects = asked is not None and asked.lower() not in FALSE
    groups = server_groups.listed(call.conn, call.cloud.catalog, call.caller, all_projects)
    return {"server_groups": [_view(g, call.version) for g in groups]}


def group_show(call: Call) -> Answer:
    with not_found_as_404("InstanceGroupNotFound"):
        group = server_groups.show(call.conn, call.cloud.catalog, call.caller, call.request.path_params["group_id"])
    return {"server_group": _view(group, call.version)}


def group_create(call: Call) -> Answer:
    name, policy, rules, policy_field = _create_fields(call)
    group = server_groups.create(call.conn, call.cloud.catalog, call.cloud.quotas, call.caller, name, policy, rules,
                                 policy_field)
    return {"server_group": _view(group, call.version)}


def group_delete(call: Call) -> Answer:
    with not_found_as_404("InstanceGroupNotFound"):
        server_groups.delete(call.conn, call.cloud.catalog, call.caller, call.request.path_params["group_id"])
    return 204, None, {}


ROUTES: list[Route] = [
    get("/v2.1/os-server-groups", group_list, versioned=True),
    Route("/v2.1/os-server-groups", endpoint(group_create, versioned=True, takes_body=True), methods=["POST"]),
    get("/v2.1/os-server-groups/{group_id}", group_show, versioned=True),
    Route("/v2.1/os-server-groups/{group_id}", endpoint(group_delete, versioned=True), methods=["DELETE"]),
]
