"""The stratus command: typer over ansible-runner over the stratus.compute playbooks."""
from __future__ import annotations

import base64
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import click
import typer
import typer.core
import yaml

from stratus_cli import __version__, output, runner
from stratus_cli.errors import EXIT_USAGE, CliError, report
from stratus_cli.identity_cli import identity_app
from stratus_cli.keys_groups_cli import keypair_app, server_group_app
from stratus_cli.output import Format
from stratus_cli.settings import Settings

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
SERVER = "stratus.compute.server"
SERVER_ACTION = "stratus.compute.server_action"


def _usage_exit(exc: click.UsageError) -> typer.Exit:
    """A command-line mistake, said like every other error (with the usage line above it); exit 2."""
    if exc.ctx is not None:
        print(exc.ctx.get_usage(), file=sys.stderr)
        print("Try '%s %s' for help." % (exc.ctx.command_path, exc.ctx.help_option_names[0]), file=sys.stderr)
    field = None
    if isinstance(exc, click.NoSuchOption):
        field = exc.option_name
    elif isinstance(exc, (click.BadParameter, click.MissingParameter)) and exc.param is not None:
        field = (exc.param.opts or [exc.param.name])[0]
    report(CliError("InvalidInput", exc.format_message(), field, exit_code=EXIT_USAGE))
    return typer.Exit(EXIT_USAGE)


class StratusGroup(typer.core.TyperGroup):
    """The one edge where every failure becomes `error: CODE: message (field: F)` and an exit code."""

    def make_context(self, info_name: t.Optional[str], args: list[str], parent: t.Optional[click.Context] = None,
                     **extra: t.Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise  # plain `stratus`: the help, as click shows it
        except click.UsageError as exc:
            raise _usage_exit(exc)

    def invoke(self, ctx: click.Context) -> t.Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise _usage_exit(exc)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except CliError as exc:
            report(exc)
            raise typer.Exit(exc.exit_code)
        except KeyboardInterrupt:
            print("stratus: interrupted", file=sys.stderr)
            raise typer.Exit(130)
        except Exception as exc:  # a bug: one line, never a traceback
            report(CliError("InternalError", "%s: %s" % (type(exc).__name__, exc)))
            raise typer.Exit(1)


EPILOG = """Examples:

  stratus lab up --hypervisors 2

  stratus server create --name web --flavor m1.tiny --image stratus-guest --network demo --count 2

  stratus server create -f servers.yml --output json | jq -r '.servers[].id'

  stratus server list -o json | jq -r '.servers[] | [.name, .status] | @tsv'

  stratus server explain --name big --flavor m1.small --image stratus-guest --count 50

  stratus server delete web-1 web-2

  stratus --user root --project ops --role admin hypervisor list

  stratus --user root --project ops --role admin baremetal node manage node1

Exit codes: 0 ok, 1 a request or the run failed (the error code is printed), 2 usage error.
Environment: STRATUS_DB_URL or STRATUS_STATE_DIR (the state store), STRATUS_INVENTORY, STRATUS_LAB_DIR,
STRATUS_USER_ID / STRATUS_PROJECT_ID / STRATUS_ROLES (who asks), STRATUS_OUTPUT, STRATUS_COLLECTION_DIR."""

app = typer.Typer(cls=StratusGroup, help="Stratus: Nova's server-boot pipeline on plain libvirt hosts.",
                  epilog=EPILOG, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
server_app = typer.Typer(help="Create, list, show, explain and delete servers; stop, start, reboot, rebuild, "
                              "resize, migrate and evacuate them.",
                         no_args_is_help=True)
hypervisor_app = typer.Typer(help="Hypervisor capacity and usage; disable and enable for scheduling (admin).",
                             no_args_is_help=True)
quota_app = typer.Typer(help="The project's quota.", no_args_is_help=True)
lab_app = typer.Typer(help="The local lab of namespaced libvirt hypervisors (a checkout, as root).",
                      no_args_is_help=True)
awx_app = typer.Typer(help="AWX/Tower helpers.", no_args_is_help=True)
baremetal_app = typer.Typer(help="Bare-metal nodes (admin).", no_args_is_help=True)
node_app = typer.Typer(help="Bare-metal nodes through Ironic's provision states: list, show, manage, inspect, "
                            "provide, maintenance (admin).", no_args_is_help=True)
baremetal_app.add_typer(node_app, name="node")
app.add_typer(server_app, name="server")
app.add_typer(hypervisor_app, name="hypervisor")
app.add_typer(quota_app, name="quota")
app.add_typer(lab_app, name="lab")
app.add_typer(baremetal_app, name="baremetal")
app.add_typer(awx_app, name="awx")
app.add_typer(identity_app, name="identity")
app.add_typer(keypair_app, name="keypair")
server_app.add_typer(server_group_app, name="group")

OutputOpt = t.Annotated[Format, typer.Option("--output", "-o", envvar="STRATUS_OUTPUT", case_sensitive=False,
                                             help="table (for people), json or yaml (for scripts).")]
CheckOpt = t.Annotated[bool, typer.Option("--check", help="Decide and report only: nothing is written or built.")]
WaitOpt = t.Annotated[bool, typer.Option(
    "--wait/--no-wait", help="Wait until the hypervisor is done (the default), or return once the action is "
                             "recorded, with the servers in their task_state; `stratus server wait` follows them.")]


def _version(value: bool) -> None:
    if value:
        print("stratus %s" % __version__)
        raise typer.Exit(0)


@app.callback()
def main_options(
    ctx: typer.Context,
    inventory: t.Annotated[t.Optional[list[str]], typer.Option(
        "--inventory", "-i", envvar="STRATUS_INVENTORY", show_default=False,
        help="Inventory source (repeatable); default: the lab's inventory.yml plus the collection's "
             "inventory/demo.yml (the demo catalog).")] = None,
    lab_dir: t.Annotated[t.Optional[str], typer.Option(
        "--lab-dir", envvar="STRATUS_LAB_DIR", help="The lab's state directory; default <collection>/.lab.")] = None,
    db_url: t.Annotated[t.Optional[str], typer.Option(
        "--db-url", envvar="STRATUS_DB_URL", show_envvar=True,
        help="State store URL (postgresql://... or sqlite:///...).")] = None,
    state_dir: t.Annotated[t.Optional[str], typer.Option(
        "--state-dir", envvar="STRATUS_STATE_DIR",
        help="Directory of the SQLite state store; default <lab dir>/store, as `make demo` uses.")] = None,
    playbook_dir: t.Annotated[t.Optional[str], typer.Option(
        "--playbook-dir", envvar="STRATUS_PLAYBOOK_DIR",
        help="Run the playbooks of this directory instead of the collection's.")] = None,
    user: t.Annotated[t.Optional[str], typer.Option(
        "--user", envvar="STRATUS_USER_ID", help="Who asks: user id (default: the inventory's stratus_context).")
    ] = None,
    project: t.Annotated[t.Optional[str], typer.Option(
        "--project", envvar="STRATUS_PROJECT_ID", help="Who asks: project id.")] = None,
    role: t.Annotated[t.Optional[list[str]], typer.Option(
        "--role", envvar="STRATUS_ROLES", help="Who asks: a role (repeatable; default member).")] = None,
    quiet: t.Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines on stderr.")] = False,
    version: t.Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                            help="Print the version and exit.")] = False,
) -> None:
    """Stratus: Nova's server-boot pipeline on plain libvirt hosts, driven through ansible-runner.

    Progress (per play, task and host) goes to stderr; the result goes to stdout as a table, JSON or YAML.
    """
    roles = [r.strip() for item in (role or []) for r in item.split(",") if r.strip()]
    ctx.obj = Settings(inventories=list(inventory or []), lab_dir=lab_dir, db_url=db_url, state_dir=state_dir,
                       playbook_dir=playbook_dir, user_id=user, project_id=project, roles=roles, quiet=quiet)
    ctx.obj.context()  # --user without --project (or the reverse) is a usage error, said before anything runs


def _settings(ctx: typer.Context) -> Settings:
    obj = ctx.find_object(Settings)
    return obj if obj is not None else Settings()


def _usage(message: str, field: t.Optional[str] = None) -> CliError:
    return CliError("InvalidInput", message, field, exit_code=EXIT_USAGE)


# --- requests ------------------------------------------------------------------------------------------

def _pairs(values: t.Optional[list[str]], option: str) -> dict[str, str]:
    out = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise _usage("%s takes KEY=VALUE, got %r" % (option, value), option)
        out[key] = val
    return out


def _load_requests(path: Path) -> list[dict[str, t.Any]]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise _usage("cannot read %s: %s" % (path, exc.strerror or exc), "--file")
    except yaml.YAMLError as exc:
        raise _usage("%s is not YAML: %s" % (path, str(exc).splitlines()[0]), "--file")
    if isinstance(data, dict) and "stratus_servers" in data:
        data = data["stratus_servers"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) for r in data):
        raise _usage("%s must hold a server request (a mapping with name, flavor, ...) or a list of them" % path,
                     "--file")
    for i, req in enumerate(data):
        if not req.get("name"):
            raise _usage("%s: request %d has no name" % (path, i), "--file")
        if "context" in req:
            # the same refusal as the server module's: a request never names its caller
            raise CliError("InvalidRequest", "%s: request %d names a caller (context): who asks comes from "
                           "--user/--project/--role or the inventory's stratus_context" % (path, i),
                           "stratus_servers[%d].context" % i, exit_code=EXIT_USAGE)
    return data


def _flag_request(name: t.Optional[str], flavor: t.Optional[str], image: t.Optional[str],
                  network: t.Optional[list[str]], count: t.Optional[int], min_count: t.Optional[int],
                  max_count: t.Optional[int], availability_zone: t.Optional[str], key_name: t.Optional[str],
                  metadata: t.Optional[list[str]], tag: t.Optional[list[str]], description: t.Optional[str],
                  user_data: t.Optional[Path], hint: t.Optional[list[str]], config_drive: t.Optional[bool],
                  host: t.Optional[str]) -> dict[str, t.Any]:
    if not name:
        raise _usage("give --name (and --flavor, --image, ...) or --file", "--name")
    if not flavor:
        raise _usage("--flavor is required with --name", "--flavor")
    req: dict[str, t.Any] = {"name": name, "flavor": flavor}
    if image:
        req["image"] = image
    if network:
        if len(network) == 1 and network[0] in ("auto", "none"):
            req["networks"] = network[0]
        else:
            req["networks"] = [{"uuid": n} if UUID_RE.fullmatch(n) else {"name": n} for n in network]
    if count is not None and (min_count is not None or max_count is not None):
        raise _usage("--count is --min-count and --max-count at once; give one or the others", "--count")
    if count is not None:
        req["min_count"] = req["max_count"] = count
    if min_count is not None:
        req["min_count"] = min_count
    if max_count is not None:
        req["max_count"] = max_count
    for key, value in (("availability_zone", availability_zone), ("key_name", key_name),
                       ("description", description), ("host", host)):
        if value is not None:
            req[key] = value
    if metadata:
        req["metadata"] = _pairs(metadata, "--metadata")
    if tag:
        req["tags"] = list(tag)
    if hint:
        req["scheduler_hints"] = _pairs(hint, "--hint")
    if config_drive is not None:
        req["config_drive"] = config_drive
    if user_data is not None:
        try:
            req["user_data"] = base64.b64encode(user_data.read_bytes()).decode()
        except OSError as exc:
            raise _usage("cannot read %s: %s" % (user_data, exc.strerror or exc), "--user-data")
    return req


def _requests(file: t.Optional[Path], **flags: t.Any) -> list[dict[str, t.Any]]:
    given = [k for k, v in flags.items() if v not in (None, [], False)]
    if file is not None:
        if given:
            raise _usage("--file and --%s do not go together" % given[0].replace("_", "-"), "--file")
        return _load_requests(file)
    return [_flag_request(**flags)]


# --- results -------------------------------------------------------------------------------------------

def _fault_error(server: t.Mapping[str, t.Any]) -> CliError:
    fault = server.get("fault") or {}
    if not isinstance(fault, dict):
        fault = {"message": str(fault)}
    return CliError(str(fault.get("code") or "BuildAbortException"),
                    "%s: %s" % (server.get("name"), fault.get("message") or "the build failed"))


def _raise_errors(errors: list[CliError]) -> None:
    if errors:
        first = errors[0]
        first.more = errors[1:]
        raise first


def _request_results(result: runner.RunResult) -> tuple[list[dict[str, t.Any]], list[CliError]]:
    done, errors = [], []
    for res in result.results(SERVER):
        name = (res.get("item") or {}).get("name") if isinstance(res.get("item"), dict) else None
        if res["_failed"]:
            error = res.get("error")
            if not isinstance(error, dict):
                error = {"code": "RunnerError", "message": res.get("msg")}
            errors.append(CliError.from_result(error, name))
        else:
            done.append(dict(res, _name=name))
    return done, errors


def _count(value: t.Any) -> int:
    try:
        return max(int(value or 1), 1)
    except (TypeError, ValueError):
        return 1


def _report(result: runner.RunResult) -> t.Optional[list[dict[str, t.Any]]]:
    """The servers play 3 read back from the store, if it ran."""
    reports = [r for r in result.results("stratus.compute.server_info") if not r["_failed"]]
    return reports[-1].get("servers") if reports else None


def _emit_servers(data: dict[str, t.Any], errors: list[CliError], result: runner.RunResult, fmt: Format) -> None:
    """Print the servers with the run's errors (the run's own failure when nothing else says why); exit 1 on any."""
    if not errors and not result.ok:
        generic = result.error()
        if generic is not None:
            errors.append(generic)
    if errors:
        data["errors"] = [e.to_dict() for e in errors]
    output.emit(data, fmt, output.servers_table)
    _raise_errors(errors)


def _run_servers(ctx: typer.Context, requests: list[dict[str, t.Any]], check: bool, fmt: Format,
                 deleting: bool = False) -> None:
    result = runner.run_playbook(_settings(ctx), "provision.yml", {"stratus_servers": requests}, check=check)
    done, errors = _request_results(result)
    decided = [s for r in done for s in r.get("servers") or []]
    report_servers = None if check else _report(result)
    if deleting:
        still = {s["id"]: s for s in report_servers or []}
        servers = []
        for s in decided:
            s = dict(still.get(s.get("id"), s))
            if report_servers is not None and s.get("id") not in still:
                s.update(status="DELETED", vm_state="deleted", task_state=None)
            servers.append(s)
        found = {r["_name"] for r in done if r.get("servers")}
        data: dict[str, t.Any] = {"servers": servers, "not_found": [r["_name"] for r in done
                                                                    if r["_name"] not in found]}
    else:
        servers = report_servers if report_servers is not None else decided
        errors += [_fault_error(s) for s in servers if s.get("vm_state") == "error"]
        data = {"servers": servers}
    data.update(changed=any(r.get("changed") for r in done), check=check)
    _emit_servers(data, errors, result, fmt)


def _record_play_done(events: list[dict[str, t.Any]]) -> bool:
    """server_action.yml's first play (check and record) is over: the second play has started."""
    return sum(1 for e in events if e.get("event") == "playbook_on_play_start") >= 2


def _act(ctx: typer.Context, actions: list[dict[str, t.Any]], check: bool = False, wait: bool = True
         ) -> tuple[list[dict[str, t.Any]], list[CliError], runner.RunResult, set[str]]:
    """server_action.yml for these actions: the servers as the store then has them, the errors (refusals,
    faults, actions their hypervisor never did), the run, and the uuids whose action was recorded."""
    if wait or check:
        result = runner.run_playbook(_settings(ctx), "server_action.yml", {"stratus_actions": actions}, check=check)
    else:
        result = runner.run_playbook_detached(_settings(ctx), "server_action.yml", {"stratus_actions": actions},
                                              _record_play_done)
    done, errors = [], []
    for res in result.results(SERVER_ACTION):
        item = res.get("item") if isinstance(res.get("item"), dict) else {}
        if isinstance(res.get("error"), dict):  # refused: nothing changed (the playbook goes on with the others)
            errors.append(CliError.from_result(res["error"], item.get("server")))
        elif res["_failed"]:
            errors.append(CliError("RunnerError", "%s: %s" % (item.get("server"), res.get("msg") or "failed")))
        else:
            done.append(res)
    acted = {u for r in done for u in r.get("server_uuids") or []}
    reported = {s["id"]: s for s in (None if check else _report(result)) or []}
    servers = [reported.get(r["server"]["id"], r["server"]) for r in done]
    for s in servers:  # an action of this run that failed (its fault), or that its hypervisor never did
        if check or s["id"] not in acted or (not wait and s["id"] not in reported):
            continue
        if s.get("fault"):
            errors.append(_fault_error(s))
        elif s.get("task_state"):
            errors.append(CliError("InstanceInvalidState", "%s: still %s: its hypervisor did not do it"
                                   % (s.get("name"), s.get("task_state"))))
    return servers, errors, result, acted


def _run_actions(ctx: typer.Context, names: list[str], action: str, check: bool, fmt: Format,
                 wait: bool = True, **options: t.Any) -> None:
    """server_action.yml for one action (with its options: reboot_type, image) on each named server;
    the servers as the store then has them. Without `wait` the run goes on in the background once the
    actions are recorded (Nova's API answers then): the servers are shown in their task_state."""
    given = {k: v for k, v in options.items() if v is not None}
    servers, errors, result, acted = _act(ctx, [dict({"server": n, "action": action}, **given) for n in names],
                                          check, wait)
    data = {"servers": servers, "changed": bool(acted), "check": check}
    if not wait and not check:
        data["wait"] = False  # the hypervisor steps go on: `stratus server wait` follows them
    _emit_servers(data, errors, result, fmt)


def _info(ctx: typer.Context, playbook: str, extravars: dict[str, t.Any], action: str) -> dict[str, t.Any]:
    """Run a read-only playbook; the last result of `action`, or its error."""
    result = runner.run_playbook(_settings(ctx), playbook, extravars)
    results = result.results(action)
    if results and results[-1]["_failed"]:
        res = results[-1]
        raise CliError.from_result(res["error"] if isinstance(res.get("error"), dict)
                                   else {"code": "RunnerError", "message": res.get("msg")})
    if not results:
        raise result.error() or CliError("RunnerError", "%s returned nothing" % action)
    return results[-1]


# --- server --------------------------------------------------------------------------------------------

FileOpt = t.Annotated[t.Optional[Path], typer.Option(
    "--file", "-f", help="YAML file: one server request or a list (the options of stratus.compute.server).")]
NameOpt = t.Annotated[t.Optional[str], typer.Option("--name", help="Server name (with --count N: name-1..name-N).")]
FlavorOpt = t.Annotated[t.Optional[str], typer.Option("--flavor", help="Flavor name or id.")]
ImageOpt = t.Annotated[t.Optional[str], typer.Option("--image", help="Image name or id.")]
NetworkOpt = t.Annotated[t.Optional[list[str]], typer.Option(
    "--network", help="Network name or uuid (repeatable), or auto / none.")]
CountOpt = t.Annotated[t.Optional[int], typer.Option("--count", min=1, help="Exactly N servers.")]
MinOpt = t.Annotated[t.Optional[int], typer.Option("--min-count", min=1, help="At least N servers.")]
MaxOpt = t.Annotated[t.Optional[int], typer.Option("--max-count", min=1, help="At most N servers.")]
AzOpt = t.Annotated[t.Optional[str], typer.Option("--availability-zone", "--az", help="Zone, or zone:host (admin).")]
KeyOpt = t.Annotated[t.Optional[str], typer.Option("--key-name", help="Key pair name.")]
MetaOpt = t.Annotated[t.Optional[list[str]], typer.Option("--metadata", help="KEY=VALUE (repeatable).")]
TagOpt = t.Annotated[t.Optional[list[str]], typer.Option("--tag", help="Server tag (repeatable).")]
DescOpt = t.Annotated[t.Optional[str], typer.Option("--description", help="Free-form description.")]
UserDataOpt = t.Annotated[t.Optional[Path], typer.Option("--user-data", help="File to pass as user data.")]
HintOpt = t.Annotated[t.Optional[list[str]], typer.Option("--hint", help="Scheduler hint KEY=VALUE (repeatable).")]
DriveOpt = t.Annotated[t.Optional[bool], typer.Option("--config-drive/--no-config-drive",
                                                      help="Attach a config drive (default yes).")]
HostOpt = t.Annotated[t.Optional[str], typer.Option("--host", help="Ask for this hypervisor (admin).")]
AllProjectsOpt = t.Annotated[bool, typer.Option("--all-projects", help="Every project (admin).")]
HostsOpt = t.Annotated[t.Optional[list[str]], typer.Option("--host", help="Only this hypervisor (repeatable).")]
KeepStoreOpt = t.Annotated[bool, typer.Option("--keep-store", help="Keep the lab's state store (<lab dir>/store).")]


@server_app.command("create", epilog="""Examples:

  stratus server create --name web --flavor m1.tiny --image stratus-guest --network demo --count 3

  stratus server create -f servers.yml -o json

  stratus server create --name web --flavor m1.tiny --image stratus-guest --check""")
def server_create(ctx: typer.Context, file: FileOpt = None, name: NameOpt = None, flavor: FlavorOpt = None,
                  image: ImageOpt = None, network: NetworkOpt = None, count: CountOpt = None,
                  min_count: MinOpt = None, max_count: MaxOpt = None, availability_zone: AzOpt = None,
                  key_name: KeyOpt = None, metadata: MetaOpt = None, tag: TagOpt = None,
                  description: DescOpt = None, user_data: UserDataOpt = None, hint: HintOpt = None,
                  config_drive: DriveOpt = None, host: HostOpt = None, check: CheckOpt = False,
                  fmt: OutputOpt = Format.table) -> None:
    """Create servers: checks, policy, quota, schedule and claims, then the build on the hypervisors.

    A request that matches what exists changes nothing. Exits 1 with the error code (NoValidHost,
    QuotaExceeded, FlavorNotFound, ...) when a request is refused or a server ends in ERROR.
    """
    requests = _requests(file, name=name, flavor=flavor, image=image, network=network, count=count,
                         min_count=min_count, max_count=max_count, availability_zone=availability_zone,
                         key_name=key_name, metadata=metadata, tag=tag, description=description,
                         user_data=user_data, hint=hint, config_drive=config_drive, host=host)
    _run_servers(ctx, requests, check, fmt)


@server_app.command("delete", epilog="""Examples:

  stratus server delete web-1 web-2

  stratus server list -o json | jq -r '.servers[].name' | xargs stratus server delete""")
def server_delete(ctx: typer.Context, names: t.Annotated[list[str], typer.Argument(help="Server names.")],
                  check: CheckOpt = False, fmt: OutputOpt = Format.table) -> None:
    """Delete servers by name: the build walked backwards, then IPs, claims and volumes released.

    Deleting a server that does not exist changes nothing (it is listed under not_found).
    """
    _run_servers(ctx, [{"name": n, "state": "absent"} for n in names], check, fmt, deleting=True)


ServersArg = t.Annotated[list[str], typer.Argument(help="Server names (in your project) or uuids.")]


@server_app.command("stop", epilog="""Examples:

  stratus server stop web-1 web-2""")
def server_stop(ctx: typer.Context, names: ServersArg, check: CheckOpt = False, wait: WaitOpt = True,
                fmt: OutputOpt = Format.table) -> None:
    """Stop servers (Nova's os-stop): an ACPI shutdown, powered off when the guest has not stopped within the
    hypervisor's shutdown timeout. From ACTIVE or ERROR; a stopped server is left as it is. Waits until done,
    unless --no-wait.
    """
    _run_actions(ctx, names, "stop", check, fmt, wait)


@server_app.command("start", epilog="""Examples:

  stratus server start web-1""")
def server_start(ctx: typer.Context, names: ServersArg, check: CheckOpt = False, wait: WaitOpt = True,
                 fmt: OutputOpt = Format.table) -> None:
    """Start stopped servers (Nova's os-start); an active one is left as it is. Waits until done, unless
    --no-wait."""
    _run_actions(ctx, names, "start", check, fmt, wait)


@server_app.command("reboot", epilog="""Examples:

  stratus server reboot web-1

  stratus server reboot --hard web-1""")
def server_reboot(ctx: typer.Context, names: ServersArg,
                  hard: t.Annotated[bool, typer.Option("--hard", help="Power cycle (Nova's HARD reboot); also "
                                                       "of a stopped or ERROR server.")] = False,
                  check: CheckOpt = False, wait: WaitOpt = True, fmt: OutputOpt = Format.table) -> None:
    """Reboot servers (Nova's reboot): soft (ACPI, hard when the guest does not stop in time) of an ACTIVE
    server, or --hard. Waits until done, unless --no-wait."""
    _run_actions(ctx, names, "reboot", check, fmt, wait, reboot_type="hard" if hard else "soft")


@server_app.command("rebuild", epilog="""Examples:

  stratus server rebuild web-1 --image stratus-guest""")
def server_rebuild(ctx: typer.Context, names: ServersArg,
                   image: t.Annotated[str, typer.Option("--image", help="Image name or id of the new root disk.")],
                   check: CheckOpt = False, wait: WaitOpt = True, fmt: OutputOpt = Format.table) -> None:
    """Rebuild servers (Nova's rebuild): a new root disk from the image and a new config drive; the same uuid,
    IPs, volumes and host. From ACTIVE, SHUTOFF (stays stopped) or ERROR. Waits until done, unless --no-wait."""
    _run_actions(ctx, names, "rebuild", check, fmt, wait, image=image)


@server_app.command("evacuate", epilog="""Examples:

  stratus --user root --project ops --role admin hypervisor down hv3

  stratus --user root --project ops --role admin server evacuate web-1 --host hv2""")
def server_evacuate(ctx: typer.Context, names: ServersArg,
                    host: t.Annotated[t.Optional[str], typer.Option(
                        "--host", help="The new host (checked by the filters unless --force); default: the "
                                       "scheduler's pick.")] = None,
                    force: t.Annotated[bool, typer.Option("--force", help="Skip the filters for --host.")] = False,
                    check: CheckOpt = False, wait: WaitOpt = True, fmt: OutputOpt = Format.table) -> None:
    """Move servers off a host that is down (Nova's evacuate; admin): rebuilt on another host from their plans,
    same uuid and IPs; the old host is cleaned when it is back. Waits until done, unless --no-wait."""
    _run_actions(ctx, names, "evacuate", check, fmt, wait, host=host, force=True if force else None)


@server_app.command("resize", epilog="""Examples:

  stratus server resize web-1 --flavor m1.small

  stratus server confirm-resize web-1""")
def server_resize(ctx: typer.Context, names: ServersArg,
                  flavor: t.Annotated[str, typer.Option("--flavor", help="The new flavor's name or id.")],
                  check: CheckOpt = False, wait: WaitOpt = True, fmt: OutputOpt = Format.table) -> None:
    """Resize servers (Nova's resize) to a new flavor: the scheduler picks a host for it, the server is powered
    off, its disks are copied there and it starts with the new flavor (the root disk grows, never shrinks). It
    waits in VERIFY_RESIZE for confirm-resize or revert-resize. From ACTIVE or SHUTOFF (stays stopped). Waits
    until done, unless --no-wait."""
    _run_actions(ctx, names, "resize", check, fmt, wait, flavor=flavor)


@server_app.command("confirm-resize", epilog="""Examples:

  stratus server confirm-resize web-1""")
def server_confirm_resize(ctx: typer.Context, names: ServersArg, check: CheckOpt = False, wait: WaitOpt = True,
                          fmt: OutputOpt = Format.table) -> None:
    """Confirm a resize or cold migration (Nova's confirmResize): the old host's copy and claim go; the server is
    ACTIVE or SHUTOFF. Waits until done, unless --no-wait."""
    _run_actions(ctx, names, "confirm_resize", check, fmt, wait)


@server_app.command("revert-resize", epilog="""Examples:

  stratus server revert-resize web-1""")
def server_revert_resize(ctx: typer.Context, names: ServersArg, check: CheckOpt = False, wait: WaitOpt = True,
                         fmt: OutputOpt = Format.table) -> None:
    """Revert a resize or cold migration (Nova's revertResize): back on the old host with the old flavor and
    disks; the new host's copy goes. Waits until done, unless --no-wait."""
    _run_actions(ctx, names, "revert_resize", check, fmt, wait)


@server_app.command("migrate", epilog="""Examples:

  stratus --user root --project ops --role admin server migrate web-1

  stratus --user root --project ops --role admin server migrate web-1 --host hv2""")
def server_migrate(ctx: typer.Context, names: ServersArg,
                   host: t.Annotated[t.Optional[str], typer.Option(
                       "--host", help="The new host (checked by the filters); default: the scheduler's pick.")] = None,
                   check: CheckOpt = False, wait: WaitOpt = True, fmt: OutputOpt = Format.table) -> None:
    """Cold-migrate servers to another host (Nova's migrate; admin): powered off, disks copied, started there with
    the same flavor, uuid and IPs; then confirm-resize or revert-resize. Waits until done, unless --no-wait."""
    _run_actions(ctx, names, "migrate", check, fmt, wait, host=host)


def _server_now(ctx: typer.Context, name: str) -> dict[str, t.Any]:
    extra: dict[str, t.Any] = {"stratus_all_projects": True}
    if UUID_RE.fullmatch(name):
        extra["stratus_server_uuids"] = [name]
    else:
        extra["stratus_server_name"] = name
        extra["stratus_all_projects"] = False
    servers = _info(ctx, "server_list.yml", extra, "stratus.compute.server_info").get("servers") or []
    if len(servers) != 1:
        raise CliError("InstanceNotFound" if not servers else "NoUniqueMatch",
                       "Instance %s could not be found." % name if not servers
                       else "%d servers are named %s; use the uuid" % (len(servers), name), "name")
    return servers[0]


@server_app.command("wait", epilog="""Examples:

  stratus server stop --no-wait web-1 web-2 && stratus server wait web-1 web-2""")
def server_wait(ctx: typer.Context, names: ServersArg,
                timeout: t.Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait in all.")] = 600,
                fmt: OutputOpt = Format.table) -> None:
    """Wait until each server's action is over (no task_state): after a --no-wait action. Exits 1 when one
    ended with a fault, or is still under way at the timeout."""
    deadline = time.monotonic() + timeout
    servers: dict[str, dict[str, t.Any]] = {}
    pending = list(names)
    while pending:
        for name in list(pending):
            server = _server_now(ctx, name)
            servers[name] = server
            if not server.get("task_state"):
                pending.remove(name)
        if pending and time.monotonic() >= deadline:
            break
        if pending:
            time.sleep(2)  # a poll interval: each look is a playbook run of its own
    errors = [_fault_error(s) for s in servers.values() if s.get("fault") and not s.get("task_state")]
    errors += [CliError("Timeout", "%s: still %s after %ss" % (n, servers[n].get("task_state"), timeout), "name")
               for n in pending]
    output.emit({"servers": [servers[n] for n in names]} | ({"errors": [e.to_dict() for e in errors]}
                                                            if errors else {}), fmt, output.servers_table)
    _raise_errors(errors)


@server_app.command("live-migrate", epilog="""Examples:

  stratus --user root --project ops --role admin server live-migrate web-1

  stratus --user root --project ops --role admin server live-migrate web-1 --host hv2 -o json""")
def server_live_migrate(ctx: typer.Context, names: ServersArg,
                        host: t.Annotated[t.Optional[str], typer.Option(
                            "--host", help="The destination (checked by the filters unless --force); default: "
                                           "the scheduler's pick.")] = None,
                        force: t.Annotated[bool, typer.Option("--force", help="Skip the filters for --host.")] = False,
                        check: CheckOpt = False, wait: WaitOpt = True, fmt: OutputOpt = Format.table) -> None:
    """Move running servers to another hypervisor without stopping them (Nova's live migration; admin): libvirt
    copies their memory and local disks; same uuid and IPs. An ACTIVE server only. A server already on --host
    by a live migration is left as it is. Waits until done, unless --no-wait; a failed one stays on its host,
    ACTIVE, with the fault."""
    _run_actions(ctx, names, "live_migrate", check, fmt, wait, host=host, force=True if force else None)


@server_app.command("list", epilog="""Examples:

  stratus server list

  stratus server list -o json | jq -r '.servers[] | [.name, .status, .host] | @tsv'""")
def server_list(ctx: typer.Context, all_projects: AllProjectsOpt = False, fmt: OutputOpt = Format.table) -> None:
    """List the servers of the caller's project."""
    res = _info(ctx, "server_list.yml", {"stratus_all_projects": all_projects}, "stratus.compute.server_info")
    output.emit({"servers": res.get("servers") or []}, fmt, output.servers_table)


@server_app.command("show", epilog="""Examples:

  stratus server show web-1

  stratus server show web-1 -o json | jq .server.fault""")
def server_show(ctx: typer.Context, name: t.Annotated[str, typer.Argument(help="Server name or uuid.")],
                all_projects: AllProjectsOpt = False,
                fmt: OutputOpt = Format.table) -> None:
    """Show one server, with its fault and action log."""
    extra: dict[str, t.Any] = {"stratus_server_actions": True, "stratus_all_projects": all_projects}
    if UUID_RE.fullmatch(name):
        extra["stratus_server_uuids"] = [name]
    else:
        extra["stratus_server_name"] = name
    servers = _info(ctx, "server_list.yml", extra, "stratus.compute.server_info").get("servers") or []
    if not servers:
        raise CliError("InstanceNotFound", "Instance %s could not be found." % name, "name")
    if len(servers) > 1:
        raise CliError("NoUniqueMatch", "%d servers are named %s (in projects %s); use the uuid" % (
            len(servers), name, ", ".join(sorted({s.get("project_id") for s in servers}))), "name")
    output.emit({"server": servers[0]}, fmt, output.server_detail)


@server_app.command("explain", epilog="""Examples:

  stratus server explain --name big --flavor m1.small --image stratus-guest --count 40

  stratus server explain -f request.yml -o json | jq '.hosts'""")
def server_explain(ctx: typer.Context, file: FileOpt = None, name: NameOpt = None, flavor: FlavorOpt = None,
                   image: ImageOpt = None, network: NetworkOpt = None, count: CountOpt = None,
                   min_count: MinOpt = None, max_count: MaxOpt = None, availability_zone: AzOpt = None,
                   key_name: KeyOpt = None, metadata: MetaOpt = None, tag: TagOpt = None,
                   hint: HintOpt = None, host: HostOpt = None, fmt: OutputOpt = Format.table) -> None:
    """Why a request would (not) be scheduled: per host, the filter that rejected it or its weights.

    Runs the request in check mode with explain, so nothing is written. Exits 1 (with the error
    code, usually NoValidHost) when the request would not be scheduled.
    """
    requests = _requests(file, name=name, flavor=flavor, image=image, network=network, count=count,
                         min_count=min_count, max_count=max_count, availability_zone=availability_zone,
                         key_name=key_name, metadata=metadata, tag=tag, description=None, user_data=None,
                         hint=hint, config_drive=None, host=host)
    if len(requests) != 1:
        raise _usage("explain takes one request; %s holds %d" % (file, len(requests)), "--file")
    request = requests[0]
    result = runner.run_playbook(_settings(ctx), "explain.yml", {"stratus_request": request})
    results = result.results(SERVER)
    if not results:
        raise result.error() or CliError("RunnerError", "the server request returned nothing")
    res = results[-1]
    error = res.get("error") if res["_failed"] and isinstance(res.get("error"), dict) else None
    if res["_failed"] and error is None:
        error = {"code": "RunnerError", "message": res.get("msg")}
    if error is not None and "explain" not in res:
        raise CliError.from_result(error)
    data = {"name": request["name"], "scheduled": error is None,
            "instances": _count(request.get("max_count") or request.get("min_count")),
            "placements": [s["host"] for s in res.get("servers") or [] if s.get("host")],
            "hosts": res.get("explain") or {}, "error": error}
    output.emit(data, fmt, output.explain_table)
    if error is not None:
        raise CliError.from_result(error)


# --- hypervisor, quota ---------------------------------------------------------------------------------

@hypervisor_app.command("list", epilog="""Examples:

  stratus --user root --project ops --role admin hypervisor list

  stratus hypervisor list -o json | jq '.hypervisors[] | {h: .hypervisor_hostname, free: (.capacity.vcpus - .vcpus_used)}'""")
def hypervisor_list(ctx: typer.Context, host: HostsOpt = None, fmt: OutputOpt = Format.table) -> None:
    """Capacity and usage per hypervisor, drawn as bars: used vs (total - reserved) * allocation ratio."""
    extra = {"stratus_hypervisors": list(host)} if host else {}
    res = _info(ctx, "hypervisor_list.yml", extra, "stratus.compute.hypervisor_info")
    output.emit({"hypervisors": res.get("hypervisors") or []}, fmt, output.hypervisors_table)


def _set_service(ctx: typer.Context, host: str, check: bool, fmt: Format, **change: t.Any) -> None:
    """hypervisor_service.yml with the change (disabled and reason, or forced_down) for one host."""
    res = _change_service(ctx, host, check, **change)
    output.emit({"service": res.get("service"), "changed": bool(res.get("changed")), "check": check},
                fmt, output.service_line)


def _change_service(ctx: typer.Context, host: str, check: bool = False, **change: t.Any) -> dict[str, t.Any]:
    """hypervisor_service.yml's result for the change, or its error."""
    extra: dict[str, t.Any] = {"stratus_hypervisor": host}
    extra.update(("stratus_hypervisor_" + k, v) for k, v in change.items() if v is not None)
    result = runner.run_playbook(_settings(ctx), "hypervisor_service.yml", extra, check=check)
    results = result.results("stratus.compute.hypervisor_service")
    if not results or results[-1]["_failed"]:
        res = results[-1] if results else {}
        raise (CliError.from_result(res["error"]) if isinstance(res.get("error"), dict)
               else result.error() or CliError("RunnerError", "hypervisor_service.yml returned nothing"))
    return results[-1]


HostArg = t.Annotated[str, typer.Argument(help="The hypervisor (a host of the hypervisors group).")]


@hypervisor_app.command("disable", epilog="""Examples:

  stratus --user root --project ops --role admin hypervisor disable hv2 --reason "firmware update"
""")
def hypervisor_disable(ctx: typer.Context, host: HostArg,
                       reason: t.Annotated[t.Optional[str], typer.Option("--reason", help="Why (one line).")] = None,
                       check: CheckOpt = False, fmt: OutputOpt = Format.table) -> None:
    """Take a hypervisor out of scheduling (Nova's os-services disable; admin): its servers stay, no new one lands."""
    _set_service(ctx, host, check, fmt, disabled=True, reason=reason)


@hypervisor_app.command("enable", epilog="""Examples:

  stratus --user root --project ops --role admin hypervisor enable hv2
""")
def hypervisor_enable(ctx: typer.Context, host: HostArg, check: CheckOpt = False,
                      fmt: OutputOpt = Format.table) -> None:
    """Put a disabled hypervisor back into scheduling (Nova's os-services enable; admin)."""
    _set_service(ctx, host, check, fmt, disabled=False)


@hypervisor_app.command("down", epilog="""Examples:

  stratus --user root --project ops --role admin hypervisor down hv3
""")
def hypervisor_down(ctx: typer.Context, host: HostArg, check: CheckOpt = False, fmt: OutputOpt = Format.table) -> None:
    """Say a hypervisor is down (Nova's force-down; admin), after fencing it: evacuate may then move its servers."""
    _set_service(ctx, host, check, fmt, forced_down=True)


@hypervisor_app.command("up", epilog="""Examples:

  stratus --user root --project ops --role admin hypervisor up hv3
""")
def hypervisor_up(ctx: typer.Context, host: HostArg, check: CheckOpt = False, fmt: OutputOpt = Format.table) -> None:
    """Say a forced-down hypervisor is up again (admin); its leftovers are cleaned by the next run there."""
    _set_service(ctx, host, check, fmt, forced_down=False)


def _servers_on(ctx: typer.Context, host: str) -> list[dict[str, t.Any]]:
    servers = _info(ctx, "server_list.yml", {"stratus_all_projects": True}, "stratus.compute.server_info")
    return [s for s in servers.get("servers") or [] if s.get("host") == host]


def _why(server: t.Mapping[str, t.Any], errors: list[CliError]) -> str:
    """What kept a server from moving: its refusal or fault (errors name it by uuid or name), else its state."""
    for err in errors:
        if err.message.startswith(("%s: " % server["id"], "%s: " % server.get("name"))):
            return "%s: %s" % (err.code, err.message.split(": ", 1)[1])
    if server.get("fault"):
        return "%s: %s" % (server["fault"].get("code"), server["fault"].get("message"))
    return "still %s%s" % (server.get("status"), " (%s)" % server["task_state"] if server.get("task_state") else "")


@hypervisor_app.command("drain", epilog="""Examples:

  stratus --user root --project ops --role admin hypervisor drain hv2 --reason "kernel update"

  stratus --user root --project ops --role admin hypervisor enable hv2     # after the work""")
def hypervisor_drain(ctx: typer.Context, host: HostArg,
                     reason: t.Annotated[t.Optional[str], typer.Option("--reason", help="Why (one line).")] = None,
                     fmt: OutputOpt = Format.table) -> None:
    """Empty a hypervisor for maintenance (admin): disable it, live-migrate its ACTIVE servers, cold-migrate the
    rest (SHUTOFF ones, and those whose live migration failed) and confirm those, then report what could not
    move and why (ERROR, VERIFY_RESIZE, an action under way, no valid host). The host stays disabled.
    Exits 1 when a server is left on it."""
    quiet = _settings(ctx).quiet

    def say(text: str) -> None:
        if not quiet:
            print("stratus: drain %s: %s" % (host, text), file=sys.stderr, flush=True)

    service = _change_service(ctx, host, disabled=True, reason=reason or "draining").get("service")
    servers = _servers_on(ctx, host)
    say("disabled; %d server(s) on it" % len(servers))
    left: dict[str, str] = {}
    live = [s for s in servers if s.get("vm_state") == "active" and not s.get("task_state")]
    cold = [s for s in servers if s.get("vm_state") == "stopped" and not s.get("task_state")]
    for s in servers:
        if s not in live and s not in cold:
            left[s["id"]] = ("VERIFY_RESIZE: confirm or revert it first" if s.get("vm_state") == "resized"
                             else _why(s, []))
    moved: list[dict[str, t.Any]] = []
    errors: list[CliError] = []
    if live:
        say("live-migrating %d server(s): %s" % (len(live), ", ".join(s["name"] for s in live)))
        _servers, errors, _result, _acted = _act(ctx, [{"server": s["id"], "action": "live_migrate"} for s in live])
        now = {s["id"]: s for s in _servers_on(ctx, host)}
        for s in live:
            if s["id"] in now:  # still here: cold migration is the fallback (Nova's drain scripts do the same)
                say("%s did not move live (%s): cold migration" % (s["name"], _why(now[s["id"]], errors)))
                cold.append(now[s["id"]])
            else:
                moved.append({"server": s["name"], "id": s["id"], "how": "live"})
    if cold:
        say("cold-migrating %d server(s): %s" % (len(cold), ", ".join(s["name"] for s in cold)))
        after, errors, _result, _acted = _act(ctx, [{"server": s["id"], "action": "migrate"} for s in cold])
        waiting = [s for s in after if s.get("vm_state") == "resized" and s.get("host") != host]
        if waiting:
            say("confirming %d migration(s)" % len(waiting))
            _confirmed, confirm_errors, _result, _acted = _act(
                ctx, [{"server": s["id"], "action": "confirm_resize"} for s in waiting])
            errors += confirm_errors
        now = {s["id"]: s for s in _servers_on(ctx, host)}
        for s in cold:
            if s["id"] in now:
                left[s["id"]] = _why(now[s["id"]], errors)
            else:
                moved.append({"server": s["name"], "id": s["id"], "how": "cold"})
    final = {s["id"]: s for s in _servers_on(ctx, host)}
    for uuid in final:  # whatever is still there, the reason for each
        left.setdefault(uuid, _why(final[uuid], errors))
    hosts = {s["id"]: s.get("host") for s in _info(ctx, "server_list.yml", {"stratus_all_projects": True},
                                                   "stratus.compute.server_info").get("servers") or []}
    for m in moved:
        m["to"] = hosts.get(m["id"])
    data = {"host": host, "service": service, "moved": moved,
            "not_moved": [{"server": final[u]["name"] if u in final else u, "id": u, "why": why}
                          for u, why in left.items()]}
    say("%d moved, %d left" % (len(moved), len(data["not_moved"])))
    output.emit(data, fmt, output.drain_table)
    if data["not_moved"]:
        raise CliError("DrainIncomplete", "%d server(s) left on %s: %s" % (
            len(data["not_moved"]), host, "; ".join("%s: %s" % (n["server"], n["why"]) for n in data["not_moved"])),
            "host")


@quota_app.command("show", epilog="""Examples:

  stratus quota show

  stratus quota show -o json | jq '.quota_set.instances'""")
def quota_show(ctx: typer.Context,
               project_id: t.Annotated[t.Optional[str], typer.Option(
                   "--project-id", help="Another project's quota (admin).")] = None,
               for_user: t.Annotated[t.Optional[str], typer.Option(
                   "--for-user", help="Per-user limits and usage of this user.")] = None,
               fmt: OutputOpt = Format.table) -> None:
    """Limit, in use and reserved per resource (Nova's quota-sets detail)."""
    extra = {k: v for k, v in (("stratus_quota_project", project_id), ("stratus_quota_user", for_user)) if v}
    res = _info(ctx, "quota_show.yml", extra, "stratus.compute.quota_info")
    output.emit({"project_id": res.get("project_id"), "user_id": res.get("user_id"),
                 "quota_set": res.get("quota_set") or {}}, fmt, output.quota_table)


# --- bare-metal nodes ----------------------------------------------------------------------------------

NODE_MODULE = "stratus.compute.baremetal_node"
NodeArg = t.Annotated[str, typer.Argument(help="The node (a host of the inventory group baremetal_nodes).")]


def _node_move(ctx: typer.Context, node: str, extravars: dict[str, t.Any], check: bool, fmt: Format) -> None:
    """Run baremetal_node.yml; the node after the move, or the refusal (nothing changed) / the BMC's fault."""
    result = runner.run_playbook(_settings(ctx), "baremetal_node.yml", dict(extravars, stratus_baremetal_node=node),
                                 check=check)
    results = result.results(NODE_MODULE)
    if not results:
        raise result.error() or CliError("RunnerError", "%s returned nothing" % NODE_MODULE)
    res = results[-1]
    error = res.get("error") if isinstance(res.get("error"), dict) else None
    if res["_failed"] and error is None:
        error = {"code": "RunnerError", "message": res.get("msg")}
    if "node" not in res:  # refused: nothing changed
        raise CliError.from_result(error or {"code": "RunnerError", "message": res.get("msg")})
    data: dict[str, t.Any] = {"node": res["node"], "changed": bool(res.get("changed")), "check": check,
                              "moves": res.get("moves") or [], "enrolled": res.get("enrolled") or [],
                              "departed": res.get("departed") or []}
    if error is not None:  # the BMC's fault, recorded as the node's last_error
        data["errors"] = [error]
    output.emit(data, fmt, output.node_detail)
    if error is not None:
        raise CliError.from_result(error)


@node_app.command("list", epilog="""Examples:

  stratus --user root --project ops --role admin baremetal node list

  stratus baremetal node list -o json | jq -r '.nodes[] | [.name, .provision_state] | @tsv'""")
def node_list(ctx: typer.Context, fmt: OutputOpt = Format.table) -> None:
    """The nodes: the inventory's, with their provision state, power state, maintenance and last error."""
    res = _info(ctx, "baremetal_node_list.yml", {}, "stratus.compute.baremetal_node_info")
    output.emit({"nodes": res.get("nodes") or []}, fmt, output.nodes_table)


@node_app.command("show", epilog="""Examples:

  stratus baremetal node show node1

  stratus baremetal node show node1 -o json | jq .node.events""")
def node_show(ctx: typer.Context, node: NodeArg, fmt: OutputOpt = Format.table) -> None:
    """One node, with what inspection found and its event log."""
    res = _info(ctx, "baremetal_node_list.yml", {"stratus_baremetal_node": node, "stratus_baremetal_events": True},
                "stratus.compute.baremetal_node_info")
    nodes = res.get("nodes") or []
    if not nodes:
        raise CliError("NodeNotFound", "Node %s could not be found." % node, "name")
    output.emit({"node": nodes[0]}, fmt, output.node_detail)


def _verb_command(verb: str, summary: str) -> None:
    def command(ctx: typer.Context, node: NodeArg, check: CheckOpt = False, fmt: OutputOpt = Format.table) -> None:
        _node_move(ctx, node, {"stratus_baremetal_action": verb}, check, fmt)

    command.__doc__ = summary
    node_app.command(verb, epilog="Examples:\n\n  stratus baremetal node %s node1\n\n"
                                  "  stratus baremetal node %s node1 --check -o json" % (verb, verb))(command)


_verb_command("manage", "enroll -> verifying -> manageable: the BMC answers, the credentials are right, the power "
                        "state is readable (from available: a plain move). A BMC fault leaves the node in enroll "
                        "with last_error, and exits 1 with its code (BMCAuthFailed, BMCUnreachable, ...).")
_verb_command("inspect", "manageable -> inspecting -> manageable: CPUs, memory and NICs read from the BMC and "
                         "recorded, with where they differ from the inventory (a fault: inspect failed).")
_verb_command("provide", "manageable -> cleaning -> available: powered off, virtual media ejected (a fault: clean "
                         "failed). A node in maintenance is refused (NodeInMaintenance).")


@node_app.command("maintenance", epilog="""Examples:

  stratus baremetal node maintenance node2 on --reason "replacing a DIMM"

  stratus baremetal node maintenance node2 off""")
def node_maintenance(ctx: typer.Context, node: NodeArg,
                     state: t.Annotated[str, typer.Argument(help="on or off.",
                                                            click_type=click.Choice(["on", "off"]))],
                     reason: t.Annotated[t.Optional[str], typer.Option(
                         "--reason", help="Why (required with on).")] = None,
                     check: CheckOpt = False, fmt: OutputOpt = Format.table) -> None:
    """Put the node in maintenance (with a reason) or take it out; off clears what this command set,
    not the inventory's stratus_bm_maintenance."""
    if state == "on" and not reason:
        raise _usage("maintenance on needs --reason", "--reason")
    if state == "off" and reason:
        raise _usage("--reason goes with on only", "--reason")
    extravars: dict[str, t.Any] = {"stratus_baremetal_maintenance": state == "on"}
    if reason:
        extravars["stratus_baremetal_reason"] = reason
    _node_move(ctx, node, extravars, check, fmt)


# --- lab -----------------------------------------------------------------------------------------------

def _lab_script(settings: Settings, *parts: str) -> Path:
    path = settings.collection.joinpath(*parts)
    if not path.is_file():
        raise CliError("ConfigurationError", "%s not found: the lab needs a checkout of the repository" % path,
                       "STRATUS_COLLECTION_DIR")
    return path


def _lab_command(*args: str) -> list[str]:
    """`python -m stratus_lab ARGS`: the lab of the checkout's toolkit (setup/bootstrap.sh installs it)."""
    if importlib.util.find_spec("stratus_lab") is None:
        raise CliError("ConfigurationError", "the lab toolkit (stratus_lab) is not installed: the lab needs a "
                       "checkout of the repository set up with `make setup`", "STRATUS_COLLECTION_DIR")
    return [sys.executable, "-m", "stratus_lab", *args]


def _lab_run(argv: list[str], what: str) -> None:
    """Run a lab step with its output on stderr (stdout is for the result)."""
    proc = subprocess.run(argv, stdout=sys.stderr, stderr=sys.stderr, check=False)
    if proc.returncode != 0:
        raise CliError("LabError", "%s failed (exit %d); its output is above" % (what, proc.returncode))


def _lab_status(settings: Settings) -> dict[str, t.Any]:
    proc = subprocess.run(_lab_command("status", "--json", "--state-dir", str(settings.lab)), capture_output=True,
                          text=True, check=False)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise CliError("LabError", "lab status: %s" % (proc.stderr.strip() or proc.stdout.strip()))


def _lab_table(data: t.Mapping[str, t.Any]) -> str:
    rows = [[h.get("name"), h.get("address"), "ok" if h.get("libvirt_reachable") else "UNREACHABLE",
             "ok" if h.get("ssh_port_open") else "CLOSED"] for h in data.get("hypervisors") or []]
    state = "up" if data.get("up") else "not up"
    return (output.grid(["HYPERVISOR", "ADDRESS", "LIBVIRT", "SSH"], rows) + "\n" if rows else "") + \
        "lab %s in %s" % (state, data.get("state_dir"))


@lab_app.command("up", epilog="""Examples:

  sudo .venv/bin/stratus lab up --hypervisors 3""")
def lab_up(ctx: typer.Context,
           hypervisors: t.Annotated[int, typer.Option("--hypervisors", "-n", min=1, max=32,
                                                      help="How many hypervisors.")] = 2,
           prefix: t.Annotated[t.Optional[str], typer.Option("--prefix", help="Namespace name prefix.")] = None,
           subnet_base: t.Annotated[t.Optional[str], typer.Option(
               "--subnet-base", help="First two octets of the hypervisors' /24s (e.g. 10.231).")] = None,
           skip_image: t.Annotated[bool, typer.Option("--skip-image", help="Do not build the guest image.")] = False,
           fmt: OutputOpt = Format.table) -> None:
    """Build the guest image (cached) and start the lab, as `make lab-up` does; writes <lab dir>/inventory.yml."""
    settings = _settings(ctx)
    if not skip_image:
        _lab_run([sys.executable, str(_lab_script(settings, "lab", "image", "build.py"))], "the image build")
    argv = _lab_command("up", "--hypervisors", str(hypervisors), "--state-dir", str(settings.lab))
    if prefix:
        argv += ["--prefix", prefix]
    if subnet_base:
        argv += ["--subnet-base", subnet_base]
    _lab_run(argv, "lab up")
    output.emit(_lab_status(settings), fmt, _lab_table)


@lab_app.command("down")
def lab_down(ctx: typer.Context, keep_store: KeepStoreOpt = False, fmt: OutputOpt = Format.table) -> None:
    """Stop and remove the lab, and its state store, as `make lab-down` does."""
    settings = _settings(ctx)
    _lab_run(_lab_command("down", "--state-dir", str(settings.lab)), "lab down")
    if not keep_store:
        shutil.rmtree(settings.lab / "store", ignore_errors=True)
    output.emit({"state_dir": str(settings.lab), "up": False, "hypervisors": []}, fmt, _lab_table)


@lab_app.command("status")
def lab_status(ctx: typer.Context, fmt: OutputOpt = Format.table) -> None:
    """The lab's hypervisors and whether libvirt and ssh answer."""
    data = _lab_status(_settings(ctx))
    output.emit(data, fmt, _lab_table)
    if not data.get("up"):
        raise typer.Exit(1)


# --- awx -----------------------------------------------------------------------------------------------

@awx_app.command("survey", epilog="""Examples:

  stratus awx survey > create-survey.json

  stratus -i inventories/rack1 awx survey --file create-survey.json

  stratus awx survey --kind delete --file delete-survey.json""")
def awx_survey(ctx: typer.Context,
               kind: t.Annotated[str, typer.Option("--kind", help="create or delete.",
                                                   click_type=click.Choice(["create", "delete"]))] = "create",
               file: t.Annotated[t.Optional[Path], typer.Option("--file", "-f",
                                                                help="Write here instead of stdout.")] = None
               ) -> None:
    """Write the AWX survey spec of the provision_survey.yml job template, from schemas/server.json.

    The flavor and image questions offer the catalog of the inventory (-i; the job template's), bare-metal
    flavors among them."""
    from stratus_cli.survey import inventory_catalog, survey_spec

    settings = _settings(ctx)
    catalog = inventory_catalog(settings.collection, settings.inventory_sources()) if kind == "create" else None
    text = json.dumps(survey_spec(settings.collection, kind, catalog), indent=2) + "\n"
    if file is None:
        sys.stdout.write(text)
        return
    try:
        file.write_text(text)
    except OSError as exc:
        raise CliError("InvalidInput", "cannot write %s: %s" % (file, exc.strerror or exc), "--file")
    print("stratus: wrote %s" % file, file=sys.stderr)


# --- api -------------------------------------------------------------------------------------------------

@app.command("api", epilog="""Examples:

  stratus -i inventory/demo.yml api --port 8774

  stratus --db-url postgresql://stratus@db/stratus api --host 0.0.0.0 --workers 4 --cert api.pem --key api.key

  openstack --os-auth-url http://127.0.0.1:8774/v3 --os-username alice --os-project-name demo \\
    --os-user-domain-name Default --os-project-domain-name Default flavor list""")
def api(ctx: typer.Context,
        host: t.Annotated[str, typer.Option("--host", help="Address to listen on (loopback unless you say so).")
                          ] = "127.0.0.1",
        port: t.Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8774,
        workers: t.Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes.")] = 1,
        cert: t.Annotated[t.Optional[Path], typer.Option("--cert", help="TLS certificate (PEM): serve HTTPS.")
                          ] = None,
        key: t.Annotated[t.Optional[Path], typer.Option("--key", help="The certificate's private key (PEM).")
                         ] = None,
        public_url: t.Annotated[t.Optional[str], typer.Option(
            "--public-url", help="The URL clients reach this server at, for the token's service catalog "
                                 "(default: the URL each request came to).")] = None,
        token_hours: t.Annotated[float, typer.Option("--token-hours", min=0.01, max=168,
                                                     help="How long a token lives.")] = 1.0,
        ) -> None:
    """Serve the Keystone v3 subset and the read-only Nova, Glance and Neutron routes OpenStack's clients need
    (docs/api.md), from the inventory's catalog (-i) and the state store; users from `stratus identity`."""
    from stratus_cli.api.serve import load_config, serve
    from stratus_cli.identity_cli import store_url

    settings = _settings(ctx)
    if public_url is not None and not re.fullmatch(r"https?://[A-Za-z0-9.:\[\]-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?",
                                                   public_url):
        raise _usage("--public-url must be an http(s) URL of a host, a port and a path", "--public-url")
    config = load_config(store_url(settings), settings.inventory_sources(), public_url, int(token_hours * 3600))
    serve(config, host, port, workers, cert, key)


def main() -> None:
    """The `stratus` entry point."""
    try:
        app(prog_name="stratus")
    except KeyboardInterrupt:
        print("stratus: interrupted", file=sys.stderr)
        sys.exit(130)
