# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller half of a hypervisor step: plans in from the store, results back into it.

Each step's action plugin runs on the controller for one hypervisor: it reads
the plans of the instances placed there, moves them to the step's task_state,
runs the module on the host once for all of them, and records one action-log
event per instance. An instance that fails a step is cleaned off the host (the
steps run backwards for it) and rescheduled onto its next alternate, or ends in
ERROR with a fault (claims and IPs released); its siblings on the same host go on.
What cannot be cleaned (the host is unreachable) is recorded as a leftover.
"""
from __future__ import annotations

import os
import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.stratus.compute.plugins.module_utils.compute import plan_secrets
from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan, ImageRef, read_plan
from ansible_collections.stratus.compute.plugins.module_utils.compute.steps import DEFAULT_BASE_POOL_PATH, file_sha256
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError, error_result
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle, reschedule
from ansible_collections.stratus.compute.plugins.plugin_utils.actions.base import StratusAction
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import instances


BLOCK_DEVICES_MODULE = "stratus.compute.compute_block_devices"
POWER_MODULE = "stratus.compute.compute_power"
# Hypervisor failures that mean "the host is down": a delete then goes on without it.
HOST_DOWN_CODES = frozenset(("HypervisorUnavailable",))
# The modules that build config drives, so take the plans' secrets (option `secrets`, no_log).
TAKES_SECRETS = frozenset(("stratus.compute.compute_block_devices", "stratus.compute.compute_converge",
                           "stratus.compute.compute_live_migration_prep"))


def secrets_apart(module: str, module_args: dict[str, t.Any]) -> dict[str, t.Any]:
    """The module's arguments with the plans' secrets out of `instances`: in `secrets` for a
    module that builds config drives, dropped for any other call (or a teardown)."""
    if "instances" not in module_args:
        return module_args
    bare, secrets = plan_secrets.split(module_args["instances"])
    args = dict(module_args, instances=bare)
    args.pop("secrets", None)
    if module in TAKES_SECRETS and args.get("state", "present") == "present" and secrets:
        args["secrets"] = secrets
    return args


class HostCleaner(StratusAction):
    """Runs the steps backwards on this action's host for given plans (failed builds, leftovers)."""

    def run_step_module(self, module: str, module_args: dict[str, t.Any],
                        task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        """A hypervisor step module on this host; every call goes here, so no plan travels with its secrets."""
        return self._execute_module(module, module_args=secrets_apart(module, module_args), task_vars=task_vars)

    def clean(self, plans: list[BuildPlan], task_vars: dict[str, t.Any]) -> dict[str, t.Optional[str]]:
        """Domain, then disks, then DHCP entries; returns each instance's error, or None when clean."""
        errors: dict[str, t.Optional[str]] = {plan.uuid: None for plan in plans}
        uri = self._task.args.get("uri") or task_vars.get("stratus_libvirt_uri", "qemu:///system")
        pools = with_pool_paths({k: self._task.args[k] for k in ("base_pool_path", "instance_pool_path")
                                 if self._task.args.get(k)}, task_vars)
        for module, extra in (("stratus.compute.compute_domain", {}),
                              ("stratus.compute.compute_block_devices", pools),
                              ("stratus.compute.compute_network", {})):
            todo = [plan for plan in plans if errors[plan.uuid] is None]
            if not todo:
                break
            try:
                res = self.run_step_module(module, dict(extra, uri=uri, state="absent",
                                                        instances=[plan.to_dict() for plan in todo]), task_vars)
            except AnsibleConnectionFailure as exc:
                res = {"unreachable": True, "msg": str(exc)}
            if res.get("unreachable") or res.get("failed"):
                why = (res.get("error") or {}).get("message") or res.get("msg") or "failed"
                for plan in todo:
                    errors[plan.uuid] = "%s: %s" % (module.rsplit(".", 1)[-1], why)
                continue
            for plan in todo:
                one = (res.get("instances") or {}).get(plan.uuid) or {}
                if not one.get("ok"):
                    errors[plan.uuid] = "%s: %s" % (module.rsplit(".", 1)[-1],
                                                    (one.get("error") or {}).get("message", "no result"))
        return errors


class StepAction(HostCleaner):
    STEP = ""
    MODULE = ""
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("uri", "state", "run_uuids", "db_url", "base_pool_path", "instance_pool_path",
                             "domain_type", "timeout", "building_only", "parallel"))

    def module_args(self, plans: list[BuildPlan], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        args = {k: v for k, v in self._task.args.items() if k not in ("run_uuids", "db_url", "building_only")}
        args.setdefault("uri", task_vars.get("stratus_libvirt_uri", "qemu:///system"))
        args["instances"] = [plan.to_dict() for plan in plans]
        return args

    def select_rows(self, conn: t.Any, host: str, run_uuids: t.Optional[list[str]], state: str) -> list[t.Any]:
        """This host's instances the step works on; builds among them move to the step's task_state."""
        rows = lifecycle.instances_on_host(conn, host, run_uuids, deleting=state == "absent",
                                           step=None if state == "absent" else self.STEP,
                                           building_only=boolean(self._task.args.get("building_only", False)))
        if state == "present":
            building = [r.uuid for r in rows if r.vm_state == "building"]
            lifecycle.set_task_state(conn, building, lifecycle.STEP_TASK_STATES[self.STEP])
        return rows

    def execute_step(self, module_args: dict[str, t.Any], plans: list[BuildPlan],
                     task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        """The module on the host, once for all the plans (a step may call it again: images to copy)."""
        return self.run_step_module(self.MODULE, module_args, task_vars)

    def event_name(self, outcome: t.Optional[dict[str, t.Any]], deleting: bool) -> str:
        """The action-log event of this step for an instance (Nova's names)."""
        return (lifecycle.DELETE_EVENTS if deleting else lifecycle.STEP_EVENTS)[self.STEP]

    def after_module(self, conn: t.Any, host: str, uuid: str, outcome: dict[str, t.Any]) -> None:
        """Hook for steps that keep something of the outcome (disk paths) or finish the walk."""

    def run(self, tmp: t.Optional[str] = None, task_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        host = task_vars.get("inventory_hostname", "")
        db_url = self.store_url(task_vars)
        run_uuids = self._task.args.get("run_uuids")
        state = self._task.args.get("state", "present")
        try:
            self.launch_guard(task_vars)
            with store.transaction(db_url) as conn:
                rows = self.select_rows(conn, host, run_uuids, state)
            if not rows:
                result.update(changed=False, instances={}, msg="nothing to do on %s" % host)
                return result
            plans = [read_plan(r.plan).with_vm_state(r.vm_state) for r in rows]
            start = lifecycle.now()
            try:
                module_args = self.module_args(plans, task_vars)
                module_result = self.execute_step(module_args, plans, task_vars)
            except AnsibleConnectionFailure as exc:
                module_result = {"unreachable": True, "msg": str(exc)}
            except StratusError as exc:
                # Refused before reaching the host (a missing image file): every instance gets the fault.
                module_result = error_result(exc)
            # The module echoes its arguments (the plans, without their secrets) as `invocation`,
            # which -vvv prints and runner events keep: the result goes without it.
            module_result.pop("invocation", None)
            failed = self._record(db_url, host, rows, module_result, start)
            if failed:
                self._after_failed_builds(db_url, host, failed, module_result, task_vars)
                module_result = dict(module_result, rescheduled_or_failed=sorted(f[0].uuid for f in failed))
        except StratusError as exc:
            result.update(error_result(exc))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        result.update(module_result)
        return result

    def _record(self, db_url: t.Optional[str], host: str, rows: list[t.Any],
                module_result: dict[str, t.Any], start: t.Any) -> list[tuple[t.Any, dict[str, t.Any]]]:
        """Events and state for each instance; returns the builds that failed, with their fault."""
        per_instance = module_result.get("instances") or {}
        host_error = None
        if module_result.get("unreachable"):
            host_error = {"code": "HypervisorUnavailable", "message": "host %s unreachable: %s"
                          % (host, module_result.get("msg", "")), "host": host}
        elif module_result.get("failed"):
            err = module_result.get("error") or {"code": "BuildAbortException", "message": module_result.get("msg")}
            host_error = dict(err, host=host)
        deleting = self._task.args.get("state", "present") == "absent"
        failed: list[tuple[t.Any, dict[str, t.Any]]] = []
        with store.transaction(db_url) as conn:
            for row in rows:
                outcome = per_instance.get(row.uuid)
                event = self.event_name(outcome, deleting)
                if host_error is not None or outcome is None or not outcome.get("ok"):
                    fault = host_error or dict((outcome or {}).get("error") or
                                               {"code": "BuildAbortException", "message": "no result"}, host=host)
                    lifecycle.record_event(conn, row.uuid, event, host, "Error", fault.get("message"), start)
                    if deleting and fault.get("code") in HOST_DOWN_CODES:
                        lifecycle.delete_on_unreachable_host(conn, row, host, fault.get("message", ""))
                    elif deleting:
                        lifecycle.mark_delete_failed(conn, row.uuid, fault)
                    elif row.vm_state == "building":
                        failed.append((row, fault))
                    continue
                if row.vm_state == "building" or deleting:
                    lifecycle.record_event(conn, row.uuid, event, host, "Success", None, start)
                self.after_module(conn, host, row.uuid, outcome)
        return failed

    def _after_failed_builds(self, db_url: t.Optional[str], host: str, failed: list[tuple[t.Any, dict[str, t.Any]]],
                             module_result: dict[str, t.Any], task_vars: dict[str, t.Any]) -> None:
        """Nova's reschedule: clean the host of each failed build, then its next alternate, or ERROR."""
        if module_result.get("unreachable"):
            cleaned: dict[str, t.Optional[str]] = {row.uuid: "host unreachable" for row, _fault in failed}
        else:
            cleaned = self.clean([read_plan(row.plan).for_cleanup() for row, _fault in failed], task_vars)
        hostvars = task_vars.get("hostvars") or {}
        with store.transaction(db_url, locked=True) as conn:
            for row, fault in failed:
                fresh = conn.execute(sa.select(instances).where(instances.c.uuid == row.uuid)).first()
                if cleaned.get(row.uuid):
                    lifecycle.record_leftover(conn, host, fresh, "failed build not cleaned: %s" % cleaned[row.uuid],
                                              plan=read_plan(fresh.plan).for_cleanup())
                else:
                    lifecycle.record_event(conn, row.uuid, "compute_cleanup_build", host, "Success",
                                           "removed what the failed build made on %s" % host)
                reschedule.build_failed(conn, fresh, host, fault, hostvars)


_SHA256_CACHE: dict[tuple[str, int, float], str] = {}


def cached_file_sha256(path: str) -> str:
    """The controller's checksum of an image file, computed once per file version and process."""
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime)
    if key not in _SHA256_CACHE:
        _SHA256_CACHE[key] = file_sha256(path)
    return _SHA256_CACHE[key]


class BaseImageUploads(StepAction):
    """For a step that needs the images in the host's base pool: the module compares checksums
    (one call when nothing is to copy); the images it names are uploaded and the module called again."""

    @staticmethod
    def images(plans: list[BuildPlan]) -> dict[str, ImageRef]:
        found = {plan.image.id: plan.image for plan in plans if plan.image and plan.image.id}
        for image_id, image in found.items():
            local = image.file
            if not local or not os.path.isfile(local):
                raise StratusError("ImageNotFound", "the file of image %s (%s) is missing on the controller"
                                   % (image_id, local), "image")
        return found

    def image_checksums(self, plans: list[BuildPlan]) -> dict[str, str]:
        return {image_id: cached_file_sha256(t.cast(str, image.file)) for image_id, image in self.images(plans).items()}

    def execute_step(self, module_args: dict[str, t.Any], plans: list[BuildPlan],
                     task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        return self.run_with_uploads(self.MODULE, module_args, plans, task_vars)

    def run_with_uploads(self, module: str, module_args: dict[str, t.Any], plans: list[BuildPlan],
                         task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        """The module with the plans' image checksums; again with the images it names uploaded."""
        result = self.run_step_module(module, module_args, task_vars)
        needed = result.get("images_needed")
        if not needed or result.get("failed"):
            return result
        found = self.images(plans)
        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        uploads: dict[str, str] = {}
        for image_id in needed:
            dest = self._connection._shell.join_path(tmpdir, "image-" + image_id)
            self._transfer_file(t.cast(str, found[image_id].file), dest)
            uploads[image_id] = dest
        return self.run_step_module(module, dict(module_args, uploads=uploads), task_vars)


class ServerSteps(BaseImageUploads):
    """For the day-2 steps that run the build's modules on servers already built (rebuild, resize): one module
    call for the plans not failed yet, each server's failure kept as its fault."""

    def call_for(self, module: str, args: dict[str, t.Any], plans: list[BuildPlan], task_vars: dict[str, t.Any],
                 faults: dict[str, dict[str, t.Any]], fallback_code: str) -> dict[str, t.Any]:
        """The module once for the plans without a fault; a server whose entry failed gets its fault (the
        module's error, else `fallback_code`). Returns the module's per-server entries."""
        todo = [p for p in plans if p.uuid not in faults]
        if not todo:
            return {}
        try:
            args = dict(args, instances=[p.to_dict() for p in todo])
            res = (self.run_with_uploads(module, args, todo, task_vars) if module == BLOCK_DEVICES_MODULE
                   and args.get("state") == "present" else self.run_step_module(module, args, task_vars))
        except AnsibleConnectionFailure as exc:
            res = {"unreachable": True, "msg": str(exc)}
        except StratusError as exc:
            res = error_result(exc)
        per = res.get("instances") or {}
        for plan in todo:
            outcome = per.get(plan.uuid)
            if res.get("unreachable"):
                faults[plan.uuid] = {"code": "HypervisorUnavailable", "message": "unreachable: %s" % res.get("msg")}
            elif outcome is None or not outcome.get("ok"):
                faults[plan.uuid] = dict((outcome or {}).get("error") or res.get("error") or {
                    "code": fallback_code, "message": res.get("msg") or "no result"})
        return per

    def call_entries(self, module: str, args: dict[str, t.Any], entries: list[dict[str, t.Any]],
                     task_vars: dict[str, t.Any], faults: dict[str, dict[str, t.Any]],
                     fallback_code: str) -> dict[str, t.Any]:
        """A module whose `instances` are entries with a uuid (not plans) once for those without a fault;
        each entry's failure is its server's fault. Returns the module's per-server entries."""
        todo = [e for e in entries if e["uuid"] not in faults]
        if not todo:
            return {}
        try:
            res = self._execute_module(module, module_args=dict(args, instances=todo), task_vars=task_vars)
        except AnsibleConnectionFailure as exc:
            res = {"unreachable": True, "msg": str(exc)}
        per = res.get("instances") or {}
        for entry in todo:
            outcome = per.get(entry["uuid"])
            if res.get("unreachable"):
                faults[entry["uuid"]] = {"code": "HypervisorUnavailable", "message": "unreachable: %s" % res["msg"]}
            elif outcome is None or not outcome.get("ok"):
                faults[entry["uuid"]] = dict((outcome or {}).get("error") or res.get("error") or {
                    "code": fallback_code, "message": res.get("msg") or "no result"})
        return per

    def power_off_at_once(self, uri: str, plans: list[BuildPlan], task_vars: dict[str, t.Any],
                          faults: dict[str, dict[str, t.Any]]) -> None:
        """Nova keeps the power state: servers that were stopped are powered off again, at once."""
        todo = [p for p in plans if p.uuid not in faults]
        if not todo:
            return
        try:  # the power module takes no plans: called as it is, not through run_step_module
            per = self._execute_module(POWER_MODULE, module_args={"uri": uri, "timeout": 0, "instances": [
                {"uuid": p.uuid, "domain_name": p.domain_name, "action": "stop"} for p in todo]},
                task_vars=task_vars)
        except AnsibleConnectionFailure as exc:
            per = {"msg": "unreachable: %s" % exc}
        for p in todo:
            if not ((per.get("instances") or {}).get(p.uuid) or {}).get("ok"):
                faults[p.uuid] = ((per.get("instances") or {}).get(p.uuid) or {}).get("error") or {
                    "code": "InstancePowerOffFailure", "message": per.get("msg") or "no result"}


def with_pool_paths(args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
    """The block device options from the host's variables, unless the task gives them."""
    args.setdefault("base_pool_path", task_vars.get("stratus_base_pool_path", DEFAULT_BASE_POOL_PATH))
    if "instance_pool_path" not in args and task_vars.get("stratus_instance_pool_path"):
        args["instance_pool_path"] = task_vars["stratus_instance_pool_path"]
    return args


def with_domain_options(args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
    """The spawn options from the host's variables, unless the task gives them."""
    args.setdefault("domain_type", task_vars.get("stratus_domain_type", "auto"))
    if "stratus_spawn_parallel" in task_vars:
        args.setdefault("parallel", task_vars["stratus_spawn_parallel"])
    return args


def remember_disks(conn: t.Any, uuid: str, disks: list[dict[str, t.Any]]) -> None:
    """The block device step's disk paths go into the plan: the spawn step and the delete walk read them."""
    row = conn.execute(instances.select().where(instances.c.uuid == uuid)).first()
    plan = read_plan(row.plan).with_disks(disks)
    conn.execute(instances.update().where(instances.c.uuid == uuid).values(plan=plan.to_dict()))
