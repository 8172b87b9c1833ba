"""`stratus identity`: the projects, users and role assignments `stratus api` authenticates (docs/api.md).

These commands open the state store in process (no playbook runs): the same store the API and the
playbooks use (--db-url / --state-dir). A password is read from a prompt or a file, never from an argument
that ps would show, and is never printed.
"""
from __future__ import annotations

import contextlib
import sys
import typing as t
from pathlib import Path

import typer

from stratus_cli import output
from stratus_cli.errors import EXIT_USAGE, CliError
from stratus_cli.output import Format
from stratus_cli.settings import Settings

identity_app = typer.Typer(help="Projects, users and role assignments of `stratus api` (Keystone's), in the "
                                "state store.", no_args_is_help=True)
project_app = typer.Typer(help="Projects.", no_args_is_help=True)
user_app = typer.Typer(help="Users (passwords from a prompt or a file).", no_args_is_help=True)
role_app = typer.Typer(help="Role assignments: a user's admin, member or reader role on a project.",
                       no_args_is_help=True)
identity_app.add_typer(project_app, name="project")
identity_app.add_typer(user_app, name="user")
identity_app.add_typer(role_app, name="role")

OutputOpt = t.Annotated[Format, typer.Option("--output", "-o", envvar="STRATUS_OUTPUT", case_sensitive=False,
                                             help="table (for people), json or yaml (for scripts).")]


def store_url(settings: Settings) -> str:
    """The state store the playbooks of this command line would use (Settings.store_env), as a URL."""
    if settings.db_url:
        return settings.db_url
    directory = Path(settings.store_env()["STRATUS_STATE_DIR"])
    return "sqlite:///" + str(directory / "stratus.db")


@contextlib.contextmanager
def identity_transaction(ctx: typer.Context) -> t.Iterator[t.Any]:
    """A store transaction; identity and store refusals become the CLI's errors (nothing is written)."""
    from stratus_cli.api import identity

    from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
    from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine

    settings = ctx.find_object(Settings) or Settings()
    try:
        with engine.transaction(store_url(settings)) as conn:
            yield conn
    except identity.IdentityError as exc:
        raise CliError(exc.code, exc.message, exc.field)
    except StratusError as exc:
        raise CliError(exc.code, exc.message, exc.field)


def _read_password(password_file: t.Optional[Path]) -> str:
    if password_file is None:
        if not sys.stdin.isatty():
            raise CliError("InvalidInput", "no terminal to prompt for the password: give --password-file "
                           "(- for standard input)", "--password-file", exit_code=EXIT_USAGE)
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    try:
        text = sys.stdin.read() if str(password_file) == "-" else password_file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError("InvalidInput", "cannot read the password file %s: %s"
                       % (password_file, getattr(exc, "strerror", None) or type(exc).__name__), "--password-file",
                       exit_code=EXIT_USAGE)
    # one line, as `echo secret > file` writes it
    password = text[:-1] if text.endswith("\n") else text
    if not password or "\n" in password:
        raise CliError("InvalidInput", "the password file must hold the password on one line", "--password-file",
                       exit_code=EXIT_USAGE)
    return password


def _projects_table(data: t.Mapping[str, t.Any]) -> str:
    rows = [[p["name"], p["id"], "yes" if p["enabled"] else "no", p.get("description")] for p in data["projects"]]
    return output.grid(["NAME", "ID", "ENABLED", "DESCRIPTION"], rows) if rows else "no projects"


def _users_table(data: t.Mapping[str, t.Any]) -> str:
    rows = [[u["name"], u["id"], "yes" if u["enabled"] else "no", u.get("default_project_id")] for u in data["users"]]
    return output.grid(["NAME", "ID", "ENABLED", "DEFAULT PROJECT"], rows) if rows else "no users"


def _roles_table(data: t.Mapping[str, t.Any]) -> str:
    rows = [[r["project"], r["user"], r["role"]] for r in data["role_assignments"]]
    return output.grid(["PROJECT", "USER", "ROLE"], rows) if rows else "no role assignments"


@project_app.command("create", epilog="""Examples:

  stratus identity project create demo --id demo

  stratus identity project create team-a -o json | jq -r .project.id""")
def project_create(ctx: typer.Context, name: t.Annotated[str, typer.Argument(help="The project's name.")],
                   project_id: t.Annotated[t.Optional[str], typer.Option(
                       "--id", help="Its id (default: a new uuid's hex); e.g. the id the inventory's quotas, "
                                    "networks and stratus_context already use.")] = None,
                   description: t.Annotated[str, typer.Option("--description")] = "",
                   fmt: OutputOpt = Format.table) -> None:
    """Create a project."""
    from stratus_cli.api import identity

    with identity_transaction(ctx) as conn:
        project = identity.create_project(conn, name, project_id, description)
    output.emit({"project": project}, fmt, lambda d: _projects_table({"projects": [d["project"]]}))


@project_app.command("list")
def project_list(ctx: typer.Context, fmt: OutputOpt = Format.table) -> None:
    """The projects."""
    from stratus_cli.api import identity

    with identity_transaction(ctx) as conn:
        data = {"projects": identity.list_projects(conn)}
    output.emit(data, fmt, _projects_table)


@user_app.command("create", epilog="""Examples:

  stratus identity user create alice                       # prompts for the password twice

  stratus identity user create ci --password-file ci.pass --project demo""")
def user_create(ctx: typer.Context, name: t.Annotated[str, typer.Argument(help="The user's name.")],
                password_file: t.Annotated[t.Optional[Path], typer.Option(
                    "--password-file", help="Read the password from this file (- for standard input) instead of "
                                            "a prompt.")] = None,
                user_id: t.Annotated[t.Optional[str], typer.Option("--id", help="Its id (default: a new uuid's "
                                                                                "hex).")] = None,
                project: t.Annotated[t.Optional[str], typer.Option(
                    "--project", help="Its default project (name or id).")] = None,
                fmt: OutputOpt = Format.table) -> None:
    """Create a user (its password hashed with argon2)."""
    from stratus_cli.api import identity

    password = _read_password(password_file)
    with identity_transaction(ctx) as conn:
        user = identity.create_user(conn, name, password, user_id, project)
    output.emit({"user": user}, fmt, lambda d: _users_table({"users": [d["user"]]}))


@user_app.command("list")
def user_list(ctx: typer.Context, fmt: OutputOpt = Format.table) -> None:
    """The users."""
    from stratus_cli.api import identity

    with identity_transaction(ctx) as conn:
        data = {"users": identity.list_users(conn)}
    output.emit(data, fmt, _users_table)


@user_app.command("delete")
def user_delete(ctx: typer.Context, name: t.Annotated[str, typer.Argument(help="The user (name or id).")],
                fmt: OutputOpt = Format.table) -> None:
    """Delete a user: its role assignments go, its tokens are revoked."""
    from stratus_cli.api import identity

    with identity_transaction(ctx) as conn:
        user = identity.delete_user(conn, name)
    output.emit({"deleted": user}, fmt, lambda d: "deleted user %s (%s)" % (d["deleted"]["name"], d["deleted"]["id"]))


UserOpt = t.Annotated[str, typer.Option("--user", help="The user (name or id).")]
ProjectOpt = t.Annotated[str, typer.Option("--project", help="The project (name or id).")]
RoleArg = t.Annotated[str, typer.Argument(help="admin, member or reader.")]


def _assignment(ctx: typer.Context, change: t.Callable[..., dict[str, t.Any]], role: str, user: str, project: str,
                fmt: Format) -> None:
    with identity_transaction(ctx) as conn:
        assignment = change(conn, user, project, role)
    output.emit({"role_assignment": assignment}, fmt,
                lambda d: _roles_table({"role_assignments": [d["role_assignment"]]}))


@role_app.command("add", epilog="""Examples:

  stratus identity role add member --user alice --project demo

  stratus identity role add admin --user root --project ops""")
def role_add(ctx: typer.Context, role: RoleArg, user: UserOpt, project: ProjectOpt,
             fmt: OutputOpt = Format.table) -> None:
    """Give a user a role on a project."""
    from stratus_cli.api import identity

    _assignment(ctx, identity.add_role, role, user, project, fmt)


@role_app.command("remove")
def role_remove(ctx: typer.Context, role: RoleArg, user: UserOpt, project: ProjectOpt,
                fmt: OutputOpt = Format.table) -> None:
    """Take a role away (the user's tokens on the project stop working once no role is left)."""
    from stratus_cli.api import identity

    _assignment(ctx, identity.remove_role, role, user, project, fmt)


@role_app.command("list")
def role_list(ctx: typer.Context,
              user: t.Annotated[t.Optional[str], typer.Option("--user", help="Only this user's.")] = None,
              project: t.Annotated[t.Optional[str], typer.Option("--project", help="Only on this project.")] = None,
              fmt: OutputOpt = Format.table) -> None:
    """The role assignments."""
    from stratus_cli.api import identity

    with identity_transaction(ctx) as conn:
        data = {"role_assignments": identity.list_roles(conn, user, project)}
    output.emit(data, fmt, _roles_table)
