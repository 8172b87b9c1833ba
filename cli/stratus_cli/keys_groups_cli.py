"""`stratus keypair` and `stratus server group`: key pairs and server groups in the state store, as `stratus api`
makes them (docs/api.md, "Key pairs and server groups"), with the same code (compute_api/keypairs.py,
server_groups.py) and so the same rules, policy and quotas; the catalog's are listed beside them.

These commands open the store in process (no playbook runs) and read the inventory's catalog once (-i), as
`stratus api` does. Who asks is --user/--project/--role or the inventory's stratus_context. A generated
private key goes to a new 0600 file (--private-key), never to the output.
"""
from __future__ import annotations

import contextlib
import os
import typing as t
from pathlib import Path

import typer

from stratus_cli import output
from stratus_cli.errors import EXIT_USAGE, CliError
from stratus_cli.identity_cli import OutputOpt, identity_transaction
from stratus_cli.output import Format
from stratus_cli.settings import Settings

keypair_app = typer.Typer(help="Key pairs of the caller's user (the store's, and the catalog's listed beside them).",
                          no_args_is_help=True)
server_group_app = typer.Typer(help="Server groups of the caller's project (the store's, and the catalog's listed "
                                    "beside them).", no_args_is_help=True)


class Cloud(t.NamedTuple):
    catalog: t.Any
    quotas: t.Mapping[str, t.Any]
    caller: t.Any


def _cloud(ctx: typer.Context) -> Cloud:
    """The inventory's catalog, quotas and policy, and the caller (--user/--project/--role, else the inventory's
    stratus_context)."""
    from stratus_cli.api.collection import ensure_importable
    from stratus_cli.inventory import controller_vars, inventory_listing

    ensure_importable()
    from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import caller as callers
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer

    settings = ctx.find_object(Settings) or Settings()
    sources = settings.inventory_sources()
    variables = controller_vars(inventory_listing(sources), sources)
    try:
        context = settings.context() or callers.resolve_context(variables.get(callers.CONTEXT_VAR), {})
        return Cloud(Catalog(variables), variables.get("stratus_quotas") or {},
                     callers.Caller(context, Enforcer(variables.get("stratus_policy") or None)))
    except StratusError as exc:
        raise CliError(exc.code, exc.message, exc.field)


def _keypair_view(pair: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {k: pair.get(k) for k in ("name", "user_id", "type", "fingerprint", "public_key", "source")}


def _keypairs_table(data: t.Mapping[str, t.Any]) -> str:
    rows = [[p["name"], p["type"], p["fingerprint"], p["source"]] for p in data["keypairs"]]
    return output.grid(["NAME", "TYPE", "FINGERPRINT", "SOURCE"], rows) if rows else "no key pairs"


def _group_view(group: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {k: group.get(k) for k in ("id", "name", "policy", "rules", "project_id", "user_id", "members", "source")}


def _groups_table(data: t.Mapping[str, t.Any]) -> str:
    rows = [[g["name"], g["id"], g["policy"], len(g["members"]), g["project_id"], g["source"]]
            for g in data["server_groups"]]
    return output.grid(["NAME", "ID", "POLICY", "MEMBERS", "PROJECT", "SOURCE"], rows) if rows else "no server groups"


def _read(path: Path, option: str) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError("InvalidInput", "cannot read %s: %s" % (path, getattr(exc, "strerror", None)
                                                               or type(exc).__name__), option, exit_code=EXIT_USAGE)


@contextlib.contextmanager
def _private_file(path: t.Optional[Path]) -> t.Iterator[t.Optional[int]]:
    """A new file for a generated private key, 0600 from its first byte; removed when the create fails."""
    if path is None:
        yield None
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise CliError("InvalidInput", "cannot create %s: %s" % (path, exc.strerror or type(exc).__name__),
                       "--private-key", exit_code=EXIT_USAGE)
    try:
        yield fd
    except BaseException:
        os.close(fd)
        path.unlink()
        raise
    os.close(fd)


def _delete(ctx: typer.Context, remove: t.Callable[[t.Any, t.Any, t.Any, str], None], ref: str, key: str,
            what: str, fmt: Format) -> None:
    """One delete of compute_api (keypairs.delete, server_groups.delete) as the caller, in one transaction."""
    cloud = _cloud(ctx)
    with identity_transaction(ctx) as conn:
        remove(conn, cloud.catalog, cloud.caller, ref)
    output.emit({"deleted": {key: ref}}, fmt, lambda d: "deleted %s %s" % (what, d["deleted"][key]))


@keypair_app.command("create", epilog="""Examples:

  stratus keypair create k1 --private-key k1.pem            # generated: the private key only in k1.pem (0600)

  stratus keypair create k2 --public-key ~/.ssh/id_ed25519.pub -o json""")
def keypair_create(ctx: typer.Context, name: t.Annotated[str, typer.Argument(help="The key pair's name.")],
                   public_key: t.Annotated[t.Optional[Path], typer.Option(
                       "--public-key", help="Import this public key (OpenSSH's one line, or a PEM certificate "
                                            "with --type x509).")] = None,
                   private_key: t.Annotated[t.Optional[Path], typer.Option(
                       "--private-key", help="Generate the key pair and write its private key to this new file "
                                             "(mode 0600); never printed.")] = None,
                   kind: t.Annotated[str, typer.Option("--type", help="ssh or x509.")] = "ssh",
                   fmt: OutputOpt = Format.table) -> None:
    """Create a key pair of your user: import a public key, or generate one."""
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import keypairs

    if (public_key is None) == (private_key is None):
        raise CliError("InvalidInput", "give --public-key (import) or --private-key (generate), one of them",
                       "--public-key", exit_code=EXIT_USAGE)
    text = _read(public_key, "--public-key") if public_key is not None else None
    cloud = _cloud(ctx)
    with _private_file(private_key) as fd:
        with identity_transaction(ctx) as conn:
            pair, secret = keypairs.create(conn, cloud.catalog, cloud.quotas, cloud.caller, name, text, kind)
            if fd is not None and secret is not None:
                os.write(fd, secret.encode("ascii"))
    output.emit({"keypair": _keypair_view(pair)}, fmt, lambda d: _keypairs_table({"keypairs": [d["keypair"]]}))


@keypair_app.command("list")
def keypair_list(ctx: typer.Context, fmt: OutputOpt = Format.table) -> None:
    """Your user's key pairs: the catalog's (stratus_keypairs) and the store's."""
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import keypairs

    cloud = _cloud(ctx)
    with identity_transaction(ctx) as conn:
        data = {"keypairs": [_keypair_view(p) for p in keypairs.listed(conn, cloud.catalog, cloud.caller)]}
    output.emit(data, fmt, _keypairs_table)


@keypair_app.command("delete")
def keypair_delete(ctx: typer.Context, name: t.Annotated[str, typer.Argument(help="The key pair's name.")],
                   fmt: OutputOpt = Format.table) -> None:
    """Delete one of your user's key pairs made through the API or this command (not the catalog's)."""
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import keypairs

    _delete(ctx, keypairs.delete, name, "name", "key pair", fmt)


@server_group_app.command("create", epilog="""Examples:

  stratus server group create spread --policy anti-affinity --max-server-per-host 2 -o json""")
def group_create(ctx: typer.Context, name: t.Annotated[str, typer.Argument(help="The group's name.")],
                 policy: t.Annotated[str, typer.Option(
                     "--policy", help="affinity, anti-affinity, soft-affinity or soft-anti-affinity.")],
                 max_per_host: t.Annotated[t.Optional[int], typer.Option(
                     "--max-server-per-host", min=1, help="The rule max_server_per_host (anti-affinity).")] = None,
                 fmt: OutputOpt = Format.table) -> None:
    """Create a server group in your project."""
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_groups

    cloud = _cloud(ctx)
    rules = {"max_server_per_host": max_per_host} if max_per_host is not None else None
    with identity_transaction(ctx) as conn:
        group = server_groups.create(conn, cloud.catalog, cloud.quotas, cloud.caller, name, policy, rules)
    output.emit({"server_group": _group_view(group)}, fmt,
                lambda d: _groups_table({"server_groups": [d["server_group"]]}))


AllProjectsOpt = t.Annotated[bool, typer.Option("--all-projects", help="Every project's (admin).")]


@server_group_app.command("list")
def group_list(ctx: typer.Context, all_projects: AllProjectsOpt = False, fmt: OutputOpt = Format.table) -> None:
    """Your project's server groups (the catalog's and the store's), with their members."""
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_groups

    cloud = _cloud(ctx)
    with identity_transaction(ctx) as conn:
        groups = server_groups.listed(conn, cloud.catalog, cloud.caller, all_projects)
    output.emit({"server_groups": [_group_view(g) for g in groups]}, fmt, _groups_table)


@server_group_app.command("delete")
def group_delete(ctx: typer.Context, group_id: t.Annotated[str, typer.Argument(help="The group's id.")],
                 fmt: OutputOpt = Format.table) -> None:
    """Delete a server group made through the API or this command (not the catalog's); its members stay."""
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import server_groups

    _delete(ctx, server_groups.delete, group_id, "id", "server group", fmt)
