# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A request's changed flavor or image, done in place when the request opts in (allow_resize, allow_rebuild).

Without the opt-in such a change is a Conflict (or a recreate). With it, the existing server's own flavor and
image are compared with the request on every run, as its power state is (``status``): what differs is handed to
the day-2 actions (Nova's rebuild, then resize and confirm) that provision.yml runs after the build. Here only
the decision is made; the actions check policy, state and quota themselves, so a refusal comes back with their
error and changes nothing.
"""
from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import read_plan
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import schema, server_actions
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.server_actions import BAREMETAL

# request field -> the option that lets it change in place
OPT_IN = {"flavor": "allow_resize", "image": "allow_rebuild"}
# the vm_states from which a rebuild or resize starts (Nova's), and VERIFY_RESIZE's
MOVABLE = ("active", "stopped")
RESIZED = "resized"


def opted_fields(request: t.Mapping[str, t.Any]) -> frozenset[str]:
    """The fingerprint fields this request lets change in place."""
    return frozenset(field for field, option in OPT_IN.items() if schema.as_bool(request.get(option)))


def opt_in_hint(fields: t.Iterable[str]) -> str:
    """The options that would let these fields change in place, for a Conflict's message."""
    options = ["%s: true" % OPT_IN[f] for f in sorted(set(fields)) if f in OPT_IN]
    return "; %s changes it in place" % " or ".join(options) if options else ""


def update_of(conn: Connection, row: t.Any, flavor_id: str, image_id: t.Optional[str],
              fields: frozenset[str]) -> t.Optional[dict[str, t.Any]]:
    """What the server needs to match the request in its opted-in fields, or None.

    ``{"id", "name"}`` with ``image`` (rebuild to it), ``flavor`` (resize to it) and ``confirm`` (confirm the
    resize after it, or the one waiting in VERIFY_RESIZE). An action of the same kind under way (a rerun after
    a kill) is asked again, which resumes it. A server in another state (building, ERROR, a move of another
    kind) is left as it is: the next run looks again.
    """
    in_progress = lifecycle.action_in_progress(conn, row)
    update: dict[str, t.Any] = {}
    if "image" in fields and image_id is not None:
        rebuilding = in_progress == "rebuild" and row.task_state in server_actions.REBUILD_TASK_STATES
        if rebuilding or (row.image_id != image_id and row.task_state is None and row.vm_state in MOVABLE):
            update["image"] = image_id
    if "flavor" in fields:
        current = str((row.flavor or {}).get("id"))
        resizing = in_progress == "resize" and row.task_state in server_actions.RESIZE_TASK_STATES
        if resizing or (current != flavor_id and row.task_state is None and row.vm_state in MOVABLE):
            update.update(flavor=flavor_id, confirm=True)
        elif current == flavor_id and row.vm_state == RESIZED and row.task_state is None:
            update["confirm"] = True
    if not update:
        return None
    if read_plan(row.plan or {}, uuid=row.uuid).driver == BAREMETAL:
        # a node's resize and rebuild are not in this Stratus: say so now rather than on every run
        raise StratusError("Conflict", "Server %s is a bare-metal server: its %s cannot change in place (recreate: "
                           "true replaces it)" % (row.name, " and ".join(k for k in ("flavor", "image") if k in update)),
                           "flavor" if "flavor" in update else "image")
    return dict(update, id=row.uuid, name=row.name)
