"""The identity store of `stratus api` (cli/stratus_cli/api/identity.py) on SQLite and PostgreSQL, and the
`stratus identity` commands: argon2 hashes, hashed tokens, expiry, revocation, roles read at each use."""
from __future__ import annotations

import datetime as dt
import json
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import identity_tokens, identity_users
from stratus_cli import app as cli
from stratus_cli.api import identity

PASSWORD = "correct horse battery staple 7!"


def _setup(url: str) -> tuple[t.Any, t.Any]:
    with store.transaction(url) as conn:
        identity.create_project(conn, "demo", "demo")
        identity.create_project(conn, "other")
        identity.create_user(conn, "alice", PASSWORD, default_project="demo")
        identity.add_role(conn, "alice", "demo", "member")
        return identity.find_user(conn, "alice"), identity.find_project(conn, "demo")


def test_passwords_are_argon2_hashes_and_tokens_are_sha256(db_url: str) -> None:
    user, project = _setup(db_url)
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    with store.transaction(db_url) as conn:
        identity.authenticate(conn, user, PASSWORD)
        token = identity.issue_token(conn, user, project)
    assert token.secret and len(token.secret) >= 40 and token.roles == ["member"]
    with store.transaction(db_url) as conn:
        stored = [r.token_hash for r in conn.execute(sa.select(identity_tokens))]
        assert stored == [identity.token_hash(token.secret)] and token.secret not in stored
        again = identity.validate_token(conn, token.secret)
    assert (again.user["name"], again.project["id"], again.roles) == ("alice", "demo", ["member"])
    assert again.expires_at - again.issued_at == identity.DEFAULT_TOKEN_TTL


def test_bad_password_unknown_user_and_disabled_user_are_unauthorized(db_url: str) -> None:
    user, _project = _setup(db_url)
    with store.transaction(db_url) as conn:
        with pytest.raises(identity.IdentityError) as bad:
            identity.authenticate(conn, user, PASSWORD + "x")
        assert bad.value.status == 401 and PASSWORD not in bad.value.message
        with pytest.raises(identity.IdentityError) as nobody:
            identity.authenticate(conn, identity.user_by_name_or_none(conn, None, "mallory"), PASSWORD)
        assert nobody.value.status == 401
        conn.execute(identity_users.update().values(enabled=False))
        with pytest.raises(identity.IdentityError):
            identity.authenticate(conn, identity.find_user(conn, "alice"), PASSWORD)


def test_forged_expired_and_revoked_tokens_and_a_removed_role_are_refused(db_url: str) -> None:
    user, project = _setup(db_url)
    with store.transaction(db_url) as conn:
        good = identity.issue_token(conn, user, project)
        expired = identity.issue_token(conn, user, project, ttl=dt.timedelta(seconds=-1))
        revoked = identity.issue_token(conn, user, project)
        identity.revoke_token(conn, revoked.secret)
    with store.transaction(db_url) as conn:
        for secret in ("forged-" + "x" * 40, expired.secret, revoked.secret, "", "y" * 300):
            with pytest.raises(identity.IdentityError) as refused:
                identity.validate_token(conn, secret)
            assert refused.value.status == 401
        identity.validate_token(conn, good.secret)
        identity.remove_role(conn, "alice", "demo", "member")
        with pytest.raises(identity.IdentityError):
            identity.validate_token(conn, good.secret)


def test_a_token_needs_a_role_on_its_project(db_url: str) -> None:
    user, _project = _setup(db_url)
    with store.transaction(db_url) as conn:
        with pytest.raises(identity.IdentityError) as refused:
            identity.issue_token(conn, user, identity.find_project(conn, "other"))
    assert refused.value.status == 401


def test_delete_user_revokes_its_tokens_and_assignments(db_url: str) -> None:
    user, project = _setup(db_url)
    with store.transaction(db_url) as conn:
        token = identity.issue_token(conn, user, project)
        identity.delete_user(conn, "alice")
        assert identity.list_roles(conn) == [] and identity.list_users(conn) == []
        row = conn.execute(sa.select(identity_tokens)).one()
        assert row.revoked_at is not None
        with pytest.raises(identity.IdentityError):
            identity.validate_token(conn, token.secret)


BAD_INPUT: list[tuple[t.Callable[[t.Any], t.Any], str]] = [
    (lambda c: identity.create_project(c, "bad name"), "name"),
    (lambda c: identity.create_project(c, "x", "id/../etc"), "id"),
    (lambda c: identity.create_project(c, "demo"), "name"),
    (lambda c: identity.create_user(c, "bob", ""), "password"),
    (lambda c: identity.create_user(c, "bob", "pw", default_project="nowhere"), "default_project"),
    (lambda c: identity.add_role(c, "alice", "demo", "owner"), "role"),
    (lambda c: identity.add_role(c, "ghost", "demo", "member"), "user"),
    (lambda c: identity.remove_role(c, "alice", "demo", "admin"), "role"),
]


def test_bad_input_is_refused_with_a_field_and_nothing_written(db_url: str) -> None:
    _setup(db_url)
    with store.transaction(db_url) as conn:
        before = (identity.list_projects(conn), identity.list_users(conn), identity.list_roles(conn))
    for call, field in BAD_INPUT:
        with pytest.raises(identity.IdentityError) as refused:
            with store.transaction(db_url) as conn:
                call(conn)
        assert refused.value.field == field and refused.value.status in (400, 404, 409)
    with store.transaction(db_url) as conn:
        assert (identity.list_projects(conn), identity.list_users(conn), identity.list_roles(conn)) == before


def test_cli_identity_commands_json_and_passwords_never_printed(tmp_path: Path) -> None:
    runner = CliRunner()
    state = ["--state-dir", str(tmp_path / "state")]
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")

    def run(*args: str, **kw: t.Any) -> t.Any:
        return runner.invoke(cli.app, state + list(args), **kw)

    assert run("identity", "project", "create", "demo", "--id", "demo").exit_code == 0
    made = run("identity", "user", "create", "alice", "--password-file", str(pw), "-o", "json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["user"]["name"] == "alice" and PASSWORD not in made.output
    from_stdin = run("identity", "user", "create", "bob", "--password-file", "-", input="s3cret\n")
    assert from_stdin.exit_code == 0, from_stdin.output
    assert run("identity", "role", "add", "member", "--user", "alice", "--project", "demo").exit_code == 0
    listed = json.loads(run("identity", "role", "list", "-o", "json").stdout)["role_assignments"]
    assert [(r["user"], r["project"], r["role"]) for r in listed] == [("alice", "demo", "member")]
    bad = run("identity", "role", "add", "owner", "--user", "alice", "--project", "demo")
    assert bad.exit_code == 1 and "InvalidInput" in bad.output
    users = json.loads(run("identity", "user", "list", "-o", "json").stdout)["users"]
    assert sorted(u["name"] for u in users) == ["alice", "bob"]
    assert run("identity", "user", "delete", "bob").exit_code == 0
    assert [u["name"] for u in json.loads(run("identity", "user", "list", "-o", "json").stdout)["users"]] == ["alice"]
    gone = run("identity", "user", "delete", "bob")
    assert gone.exit_code == 1 and "NotFound" in gone.output
    # the store holds the hash, never the password
    db = b"".join(p.read_bytes() for p in (tmp_path / "state").glob("stratus.db*"))  # with the WAL
    assert PASSWORD.encode() not in db and b"$argon2id$" in db
