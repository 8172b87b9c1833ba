# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A server action's request, checked and recorded for any front end: the server_action module and the API.

Each action has its own conductor function (power and rebuild: server_actions.py; evacuate; live migration;
resize, cold migration, confirm and revert: resize.py); this picks it and says, in one result shape, which
hosts and nodes have steps to do (playbooks/tasks/action_hosts.yml reads it). Nothing here runs a step.
"""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_actions
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import resize
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.evacuate import request_evacuate
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.live_migrate import request_live_migrate
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.server_actions import request_action


class ActionContext(t.NamedTuple):
    """What every action request is decided with, resolved once by its front end."""

    caller: Caller
    catalog: Catalog
    scheduler: SchedulerConfig
    hypervisors: list[str]
    hostvars: t.Mapping[str, t.Any]
    db_url: t.Optional[str]
    check_mode: bool = False
    quotas: t.Optional[t.Mapping[str, t.Any]] = None
    allow_resize_to_same_host: bool = False


def record_action(args: t.Mapping[str, t.Any], ctx: ActionContext, request_id: str) -> dict[str, t.Any]:
    """Check and record the action of `args` (server, action, reboot_type, image, flavor, host, force) in one
    locked store transaction; the result says which action it recorded and which hosts (and bare-metal nodes)
    do its steps (the steps' hosts tell a rebuild's by the action: tasks/action_hosts.yml)."""
    return dict(_record(args, ctx, request_id), action=args["action"])


def _record(args: t.Mapping[str, t.Any], ctx: ActionContext, request_id: str) -> dict[str, t.Any]:
    action = server_actions.action_of(args["action"], args.get("reboot_type"), args.get("image"), args.get("flavor"),
                                      args.get("host"), bool(args.get("force")))
    image = ctx.catalog.image(args["image"], ctx.caller.project_id, ctx.caller.is_admin) \
        if args.get("image") is not None else None
    if action.name == "evacuate":
        outcome = request_evacuate(args["server"], ctx.caller, ctx.hypervisors, ctx.hostvars, ctx.catalog,
                                   ctx.scheduler, args.get("host"), bool(args.get("force")), ctx.db_url,
                                   ctx.check_mode, request_id)
        return _result(outcome, request_id)
    if action.name == "live_migrate":  # the source migrates; its destination prepares first
        live = request_live_migrate(args["server"], ctx.caller, ctx.hypervisors, ctx.hostvars, ctx.catalog,
                                    ctx.scheduler, args.get("host"), bool(args.get("force")), ctx.db_url,
                                    ctx.check_mode, request_id)
        return dict(_result(live, request_id), live_destinations=[live.dest] if live.dest else [])
    if action.step in resize.STEPS:
        return _move(args, action, ctx, request_id)

    def image_check(plan: t.Any, host: str) -> None:
        server_actions.check_image_on_host(plan, host, t.cast(dict, image), ctx.hostvars, ctx.catalog, ctx.scheduler)
    outcome = request_action(args["server"], action, ctx.caller, ctx.db_url, ctx.check_mode, request_id, image=image,
                             image_check=image_check)
    return _result(outcome, request_id)


def _move(args: t.Mapping[str, t.Any], action: server_actions.ServerAction, ctx: ActionContext,
          request_id: str) -> dict[str, t.Any]:
    """Resize, cold migration, confirm and revert (resize.py): the hosts of action_steps.yml's first move play
    (a source; a revert's destination) and of its second (a destination; a revert's source)."""
    if action.name == "confirm_resize":
        outcome = resize.request_confirm(args["server"], ctx.caller, ctx.db_url, ctx.check_mode, request_id)
    elif action.name == "revert_resize":
        outcome = resize.request_revert(args["server"], ctx.caller, ctx.db_url, ctx.check_mode, request_id)
    else:
        outcome = resize.request_move(
            args["server"], action, ctx.caller, ctx.hypervisors, ctx.hostvars, ctx.catalog, ctx.scheduler, ctx.db_url,
            ctx.check_mode, request_id, flavor=args.get("flavor"), target=args.get("host"), quotas=ctx.quotas,
            allow_same_host=ctx.allow_resize_to_same_host)
    return {"changed": outcome.changed, "server": outcome.server, "request_id": request_id, "hosts": [],
            "nodes": [], "move_first": [outcome.first] if outcome.first else [],
            "move_then": [outcome.then] if outcome.then else [],
            "server_uuids": [outcome.server["id"]] if outcome.changed else []}


def _result(outcome: t.Any, request_id: str) -> dict[str, t.Any]:
    # a node is no hypervisor: the controller's bare-metal play acts on it (through its BMC)
    baremetal = bool(getattr(outcome, "baremetal", False))
    return {"changed": outcome.changed, "server": outcome.server, "request_id": request_id,
            "hosts": [outcome.host] if outcome.host and not baremetal else [],
            "nodes": [outcome.host] if outcome.host and baremetal else [],
            "server_uuids": [outcome.server["id"]] if outcome.changed else []}
