# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server actions (day 2) as Nova's compute API checks them: the policy rule, the vm_states and
task_states an action is allowed from (``check_instance_state``), the task_state it sets, the
instance action it records, and the state it ends in.

Read only: the conductor (``conductor/server_actions.py``) writes, the power step's action plugin
finishes. One declaration per action feeds the request's check, the step and the views.
"""
from __future__ import annotations

import dataclasses
import re
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan, ImageRef
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.config import SchedulerConfig
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.filters import ALL_FILTERS
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import RequestSpec
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.checks import validate_flavor_image
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.host_states import host_states

POLICY = "os_compute_api:servers:%s"
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class ServerAction(t.NamedTuple):
    """One of Nova's server actions, as its compute API allows it and its compute manager ends it."""

    name: str                                   # the request's action (and reboot type)
    instance_action: str                        # the action log's name (Nova's InstanceAction)
    policy: str                                 # the policy rule
    vm_states: tuple[str, ...]                  # allowed from (check_instance_state vm_state)
    task_states: tuple[t.Optional[str], ...]    # allowed while (check_instance_state task_state)
    task_state: t.Optional[str]                 # set by the API, cleared by the compute step (None: confirm)
    event: str                                  # the compute step's event (Nova's wrap_instance_event)
    step: str                                   # what the hypervisor module does (compute_power)
    done: tuple[str, str]                       # (vm_state, power_state) when it worked
    already: t.Optional[str] = None             # a vm_state that already is what the action asks: no change
    error_on_failure: bool = False              # a failed reboot leaves the server in ERROR (Nova)
    resumes: tuple[str, ...] = ()               # the task_states of this action a rerun takes over (besides task_state)


_REBOOT_TASK_STATES = (None, "rebooting", "rebooting_hard")
ACTIONS: dict[str, ServerAction] = {a.name: a for a in (
    ServerAction("stop", "stop", POLICY % "stop", ("active", "error"), (None,), "powering-off",
                 "compute_stop_instance", "stop", ("stopped", "shutdown"), already="stopped"),
    ServerAction("start", "start", POLICY % "start", ("stopped",), (None,), "powering-on",
                 "compute_start_instance", "start", ("active", "running"), already="active"),
    # Nova: a soft reboot only of an ACTIVE server that is doing nothing else; a hard one also of a
    # stopped or broken server, and over a soft reboot that hangs
    ServerAction("reboot", "reboot", POLICY % "reboot", ("active",), (None,), "rebooting",
                 "compute_reboot_instance", "reboot_soft", ("active", "running"), error_on_failure=True),
    ServerAction("reboot_hard", "reboot", POLICY % "reboot", ("active", "stopped", "error"), _REBOOT_TASK_STATES,
                 "rebooting_hard", "compute_reboot_instance", "reboot_hard", ("active", "running"),
                 error_on_failure=True),
    # Nova's rebuild: same uuid, IPs, volumes and host; a new root disk from the (same or another) image
    # and a new config drive. It walks rebuilding -> rebuild_block_device_mapping -> rebuild_spawning and
    # ends ACTIVE, or SHUTOFF when the server was stopped (Nova keeps the power state); a failure is ERROR.
    ServerAction("rebuild", "rebuild", POLICY % "rebuild", ("active", "stopped", "error"), (None,), "rebuilding",
                 "compute_rebuild_instance", "rebuild", ("active", "running"), error_on_failure=True,
                 resumes=("rebuild_block_device_mapping", "rebuild_spawning")),
    # Nova's evacuate (admin): a server whose host is down is rebuilt on another host from its plan (same
    # uuid, IPs, image), the same rebuild walk there; the old host's leftovers are cleaned when it is back.
    ServerAction("evacuate", "evacuate", "os_compute_api:os-evacuate", ("active", "stopped", "error"), (None,),
                 "rebuilding", "compute_rebuild_instance", "rebuild", ("active", "running"), error_on_failure=True,
                 resumes=("rebuild_block_device_mapping", "rebuild_spawning")),
)}
# Nova's resize and cold migration: the scheduler picks a host for the (new) flavor, the source powers the
# server off and copies its local disks there, the destination grows the root disk and starts it with the
# new flavor; the server waits in VERIFY_RESIZE (vm_state resized) until a confirm (the source's copy goes)
# or a revert (back to the source, old flavor). A cold migration is a resize to the same flavor on another
# host (admin). The walk: resize_prep (recorded) -> resize_migrating -> resize_migrated -> resize_finish.
RESIZE_TASK_STATES = ("resize_prep", "resize_migrating", "resize_migrated", "resize_finish")
ACTIONS.update({a.name: a for a in (
    ServerAction("resize", "resize", POLICY % "resize", ("active", "stopped"), (None,), "resize_prep",
                 "compute_resize_instance", "resize", ("resized", "running"), error_on_failure=True,
                 resumes=RESIZE_TASK_STATES[1:]),
    ServerAction("migrate", "migrate", "os_compute_api:os-migrate-server:migrate", ("active", "stopped"), (None,),
                 "resize_prep", "compute_resize_instance", "resize", ("resized", "running"), error_on_failure=True,
                 resumes=RESIZE_TASK_STATES[1:]),
    # confirm has no task_state in Nova: its migration record goes finished -> confirming -> confirmed
    ServerAction("confirm_resize", "confirmResize", POLICY % "confirm_resize", ("resized",), (None,), None,
                 "compute_confirm_resize", "confirm", ("active", "running")),
    ServerAction("revert_resize", "revertResize", POLICY % "revert_resize", ("resized",), (None,),
                 "resize_reverting", "compute_revert_resize", "revert", ("active", "running"), error_on_failure=True),
    # Nova's live migration (admin): the guest keeps running while libvirt copies its memory and disks
    ServerAction("live_migrate", "live-migration", "os_compute_api:os-migrate-server:migrate_live", ("active",),
                 (None,), "migrating", "compute_live_migration", "live_migrate", ("active", "running")),
)})
POWER_STEPS = ("stop", "start", "reboot_soft", "reboot_hard")
# The task_states of a power action in progress: the power step takes the servers in them.
POWER_TASK_STATES = {a.task_state: a for a in ACTIONS.values() if a.step in POWER_STEPS}
# The rebuild walk's task_states (Nova's), in order: the rebuild step takes the servers in them.
REBUILD_TASK_STATES = (ACTIONS["rebuild"].task_state,) + ACTIONS["rebuild"].resumes
NAMES = ("stop", "start", "reboot", "rebuild", "evacuate", "resize", "confirm_resize", "revert_resize", "migrate",
         "live_migrate")
REBOOT_TYPES = ("soft", "hard")
# the actions that may name a destination host (checked by the scheduler's filters; forced past them with force)
TARGETED = ("evacuate", "migrate", "live_migrate")
FORCEABLE = ("evacuate", "live_migrate")


def action_of(name: t.Any, reboot_type: t.Any = None, image: t.Any = None, flavor: t.Any = None,
              host: t.Any = None, force: bool = False) -> ServerAction:
    """The action a request names (reboot_type only with reboot, image only and always with rebuild, flavor
    only and always with resize, host only with evacuate, migrate and live_migrate, force only with a host
    of evacuate or live_migrate), or InvalidRequest naming the field."""
    if name not in NAMES:
        raise StratusError("InvalidRequest", "Invalid input for field/attribute action. Value: %s. It must be one of "
                           "%s" % (name, ", ".join(NAMES)), "action")
    if reboot_type is not None and name != "reboot":
        raise StratusError("InvalidRequest", "reboot_type is for the reboot action only", "reboot_type")
    if (image is None) == (name == "rebuild"):
        raise StratusError("InvalidRequest", "a rebuild names its image (imageRef), and only a rebuild does", "image")
    if (flavor is None) == (name == "resize"):
        raise StratusError("InvalidRequest", "a resize names its flavor (flavorRef), and only a resize does", "flavor")
    if host is not None and name not in TARGETED:
        raise StratusError("InvalidRequest", "host is for %s only" % ", ".join(TARGETED), "host")
    if force and (name not in FORCEABLE or host is None):
        raise StratusError("InvalidRequest", "force goes with a host, for %s only" % " and ".join(FORCEABLE), "force")
    if name == "reboot":
        kind = str(reboot_type or "soft").lower()
        if kind not in REBOOT_TYPES:
            raise StratusError("InvalidRequest", "Invalid input for field/attribute reboot_type. Value: %s. It must "
                               "be soft or hard (Nova's SOFT or HARD)" % reboot_type, "reboot_type")
        return ACTIONS["reboot_hard" if kind == "hard" else "reboot"]
    return ACTIONS[name]


def needed(action: ServerAction, row: t.Any, in_progress: t.Optional[str] = None) -> bool:
    """Whether the server must change for the action; raises InstanceInvalidState when it may not.

    A server already where a stop or start would take it, with nothing in progress, is left as it
    is (changed false, as Ansible's modules are idempotent; Nova's API would answer 409). A server
    whose same action was interrupted (its task_state still the action's, and `in_progress`, the
    latest instance action, this one) is taken again: the rerun resumes it. Another action with the
    same task_state (a rebuild's and an evacuate's are both rebuilding) is not taken over.
    """
    if action.already is not None and row.vm_state == action.already and row.task_state is None:
        return False
    own = row.task_state in (action.task_state,) + action.resumes
    if own and row.vm_state in action.vm_states and in_progress in (None, action.instance_action):
        return True
    if row.vm_state not in action.vm_states or row.task_state not in action.task_states or own:
        raise StratusError("InstanceInvalidState", "Cannot '%s' instance %s while it is in vm_state %s%s" % (
            action.instance_action, row.uuid, row.vm_state, "" if row.task_state is None else " (task_state %s%s)" % (
                row.task_state, ": its %s is under way" % in_progress if own else "")), "action")
    return True


# Glance's kernel and ramdisk formats: parts of another image's boot, never a root disk.
BOOT_PART_FORMATS = ("aki", "ari")


def rebuild_plan(plan: BuildPlan, image: t.Mapping[str, t.Any], caller: Caller) -> BuildPlan:
    """The server's plan with its root disk made from `image` (the catalog's), as Nova's rebuild checks
    it (the flavor against the image: min_ram, min_disk, size); everything else kept (uuid, NICs and
    their IPs, volumes, ephemeral and swap sizes, the config drive's content)."""
    root = next((dev for dev in plan.block_devices if dev.kind == "image"), None)
    if root is None:
        raise StratusError("InvalidRequest", "server %s boots from a volume: rebuilding it from an image (Nova's "
                           "reimage of the root volume, microversion 2.93) is not in this Stratus" % plan.name,
                           "image")
    if image.get("disk_format") in BOOT_PART_FORMATS:
        raise StratusError("ImageUnacceptable", "Image %s is unacceptable: a %s image is a kernel or ramdisk, not "
                           "a disk" % (image.get("id"), image.get("disk_format")), "image")
    validate_flavor_image(caller, plan.flavor, image, None)
    devices = [dataclasses.replace(dev, image_id=image["id"], base_format=image.get("disk_format") or "qcow2")
               if dev is root else dev for dev in plan.block_devices]
    return dataclasses.replace(plan, image=ImageRef(**{k: image.get(k) for k in ("id", "name", "file", "disk_format")}),
                               block_devices=devices)


# The filters that judge an image against a host (the others judge room, zones and groups, which a
# rebuild in place does not change): Nova's rebuild asks the scheduler again with them.
IMAGE_FILTERS = ("ImagePropertiesFilter", "AggregateImagePropertiesIsolation", "IsolatedHostsFilter")


def check_image_on_host(plan: BuildPlan, host: str, image: t.Mapping[str, t.Any], hostvars: t.Mapping[str, t.Any],
                        catalog: Catalog, config: SchedulerConfig) -> None:
    """NoValidHost when the server's host does not take `image` by the enabled image filters."""
    state = host_states([host], hostvars, catalog)[0]
    spec = RequestSpec(flavor={"name": plan.flavor.get("name"), "extra_specs": dict(plan.flavor.get("extra_specs") or {})},
                       image=dict(image), project_id=plan.project_id)
    for name in (n for n in config.enabled_filters if n in IMAGE_FILTERS):
        if not ALL_FILTERS[name]().host_passes(state, spec):
            raise StratusError("NoValidHost", "No valid host was found. Image %s does not fit the server's host %s "
                               "(%s): a rebuild stays on its host" % (image.get("id"), host, name), "image")
