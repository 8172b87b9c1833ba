"""Identity in the state store: projects, users, role assignments and tokens (Keystone v3's subset).

Passwords are kept as argon2 hashes (argon2-cffi); a token is a random 256-bit string given once to the
client, and the store keeps only its sha256, so reading the store signs nobody in. A token is valid while
it is neither expired nor revoked and its user still has a role on its project; the roles a token carries
are read at each use, so a removed role takes effect at once (Keystone revokes such tokens too).
Every name and id is full-matched before it reaches the store; nothing here logs or returns a password.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import typing as t
import uuid

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from stratus_cli.api.collection import ensure_importable

ensure_importable()
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import (  # noqa: E402
    identity_projects as projects, identity_role_assignments as assignments, identity_tokens as tokens,
    identity_users as users,
)

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

ROLES = ("admin", "member", "reader")
DOMAIN = {"id": "default", "name": "Default"}
DEFAULT_TOKEN_TTL = dt.timedelta(hours=1)
# Ids reach the caller (compute_api/caller.py's rule), the store and URLs: a subset of that rule.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
MAX_PASSWORD = 4096
_HASHER = PasswordHasher()
# Verified when the user does not exist, so a wrong name costs what a wrong password does.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class IdentityError(Exception):
    """A refusal: code (Keystone's or the CLI's), message, the field, and the HTTP status the API answers."""

    def __init__(self, code: str, message: str, field: t.Optional[str], status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.status = code, message, field, status


def _invalid(field: str, why: str) -> IdentityError:
    return IdentityError("InvalidInput", "%s: %s" % (field, why), field, 400)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back: the store writes UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def checked_name(value: t.Any, field: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise _invalid(field, "must be 1 to 64 letters, digits or _.@- (starting with a letter or digit)")
    return value


def checked_id(value: t.Any, field: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise _invalid(field, "must be 1 to 64 letters, digits or _.@- (starting with a letter or digit)")
    return value


def checked_role(value: t.Any, field: str = "role") -> str:
    if value not in ROLES:
        raise _invalid(field, "must be one of %s" % ", ".join(ROLES))
    return str(value)


def checked_password(value: t.Any, field: str = "password") -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_PASSWORD:
        raise _invalid(field, "must be 1 to %d characters" % MAX_PASSWORD)
    return value


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


# --- projects -------------------------------------------------------------------------------------------

def _project_view(row: t.Any) -> dict[str, t.Any]:
    return {"id": row.id, "name": row.name, "description": row.description, "enabled": bool(row.enabled),
            "domain_id": DOMAIN["id"]}


def create_project(conn: Connection, name: str, project_id: t.Optional[str] = None,
                   description: str = "") -> dict[str, t.Any]:
    """A project; its id is a new uuid's hex unless given (an inventory's existing project id, say)."""
    name = checked_name(name, "name")
    ident = checked_id(project_id, "id") if project_id is not None else uuid.uuid4().hex
    if not isinstance(description, str) or len(description) > 255:
        raise _invalid("description", "must be at most 255 characters")
    taken = conn.execute(sa.select(projects.c.id).where(sa.or_(projects.c.id == ident, projects.c.name == name)))
    if taken.first() is not None:
        raise IdentityError("Conflict", "a project with the id %s or the name %s exists" % (ident, name), "name", 409)
    conn.execute(projects.insert().values(id=ident, name=name, description=description, enabled=True,
                                          created_at=now()))
    return {"id": ident, "name": name, "description": description, "enabled": True, "domain_id": DOMAIN["id"]}


def list_projects(conn: Connection) -> list[dict[str, t.Any]]:
    return [_project_view(r) for r in conn.execute(sa.select(projects).order_by(projects.c.name))]


def _find(conn: Connection, table: t.Any, kind: str, ref: t.Any, field: str) -> t.Any:
    """A row of projects or users by id, else by name; IdentityError(NotFound) when neither."""
    if isinstance(ref, str) and _ID.fullmatch(ref):
        for column in (table.c.id, table.c.name):
            row = conn.execute(sa.select(table).where(column == ref)).first()
            if row is not None:
                return row
    raise IdentityError("NotFound", "Could not find %s: %s." % (kind, _shown(ref)), field, 404)


def find_project(conn: Connection, ref: str, field: str = "project") -> t.Any:
    return _find(conn, projects, "project", ref, field)


def _shown(ref: t.Any) -> str:
    """A reference for a message: what was asked, when it follows the rules, else a placeholder."""
    return ref if isinstance(ref, str) and _NAME.fullmatch(ref) else "<invalid>"


# --- users ----------------------------------------------------------------------------------------------

def _user_view(row: t.Any) -> dict[str, t.Any]:
    return {"id": row.id, "name": row.name, "enabled": bool(row.enabled), "domain_id": DOMAIN["id"],
            "default_project_id": row.default_project_id}


def create_user(conn: Connection, name: str, password: str, user_id: t.Optional[str] = None,
                default_project: t.Optional[str] = None) -> dict[str, t.Any]:
    name = checked_name(name, "name")
    password = checked_password(password)
    ident = checked_id(user_id, "id") if user_id is not None else uuid.uuid4().hex
    project_id = find_project(conn, default_project, "default_project").id if default_project else None
    taken = conn.execute(sa.select(users.c.id).where(sa.or_(users.c.id == ident, users.c.name == name)))
    if taken.first() is not None:
        raise IdentityError("Conflict", "a user with the id %s or the name %s exists" % (ident, name), "name", 409)
    conn.execute(users.insert().values(id=ident, name=name, password_hash=_HASHER.hash(password),
                                       default_project_id=project_id, enabled=True, created_at=now()))
    return {"id": ident, "name": name, "enabled": True, "domain_id": DOMAIN["id"], "default_project_id": project_id}


def list_users(conn: Connection) -> list[dict[str, t.Any]]:
    return [_user_view(r) for r in conn.execute(sa.select(users).order_by(users.c.name))]


def find_user(conn: Connection, ref: str, field: str = "user") -> t.Any:
    return _find(conn, users, "user", ref, field)


def delete_user(conn: Connection, ref: str) -> dict[str, t.Any]:
    """The user goes, with its role assignments; its tokens are revoked (kept for the audit trail)."""
    row = find_user(conn, ref)
    conn.execute(tokens.update().where(tokens.c.user_id == row.id, tokens.c.revoked_at.is_(None))
                 .values(revoked_at=now()))
    conn.execute(assignments.delete().where(assignments.c.user_id == row.id))
    conn.execute(users.delete().where(users.c.id == row.id))
    return _user_view(row)


# --- role assignments -----------------------------------------------------------------------------------

def add_role(conn: Connection, user: str, project: str, role: str) -> dict[str, t.Any]:
    role = checked_role(role)
    user_row, project_row = find_user(conn, user), find_project(conn, project)
    exists = conn.execute(sa.select(assignments.c.role).where(
        assignments.c.user_id == user_row.id, assignments.c.project_id == project_row.id,
        assignments.c.role == role)).first()
    if exists is None:
        conn.execute(assignments.insert().values(user_id=user_row.id, project_id=project_row.id, role=role,
                                                 created_at=now()))
    return {"user_id": user_row.id, "user": user_row.name, "project_id": project_row.id,
            "project": project_row.name, "role": role, "changed": exists is None}


def remove_role(conn: Connection, user: str, project: str, role: str) -> dict[str, t.Any]:
    role = checked_role(role)
    user_row, project_row = find_user(conn, user), find_project(conn, project)
    gone = conn.execute(assignments.delete().where(
        assignments.c.user_id == user_row.id, assignments.c.project_id == project_row.id,
        assignments.c.role == role)).rowcount
    if not gone:
        raise IdentityError("NotFound", "user %s has no role %s on project %s" % (user_row.name, role,
                                                                                  project_row.name), "role", 404)
    return {"user_id": user_row.id, "user": user_row.name, "project_id": project_row.id,
            "project": project_row.name, "role": role, "changed": True}


def list_roles(conn: Connection, user: t.Optional[str] = None,
               project: t.Optional[str] = None) -> list[dict[str, t.Any]]:
    query = (sa.select(assignments.c.user_id, users.c.name.label("user"), assignments.c.project_id,
                       projects.c.name.label("project"), assignments.c.role)
             .join(users, users.c.id == assignments.c.user_id)
             .join(projects, projects.c.id == assignments.c.project_id))
    if user is not None:
        query = query.where(assignments.c.user_id == find_user(conn, user).id)
    if project is not None:
        query = query.where(assignments.c.project_id == find_project(conn, project).id)
    rows = conn.execute(query.order_by(projects.c.name, users.c.name, assignments.c.role))
    return [dict(r._mapping) for r in rows]


def roles_on(conn: Connection, user_id: str, project_id: str) -> list[str]:
    rows = conn.execute(sa.select(assignments.c.role).where(assignments.c.user_id == user_id,
                                                            assignments.c.project_id == project_id))
    return sorted(r.role for r in rows)


# --- authentication and tokens --------------------------------------------------------------------------

class Token(t.NamedTuple):
    """A valid token: who, where, with which roles, until when (the secret itself only when just issued)."""

    user: dict[str, t.Any]
    project: dict[str, t.Any]
    roles: list[str]
    issued_at: dt.datetime
    expires_at: dt.datetime
    audit_id: str
    secret: t.Optional[str] = None


def unauthorized(message: str = "The request you have made requires authentication.") -> IdentityError:
    return IdentityError("Unauthorized", message, None, 401)


def verify_password(user_row: t.Any, password: str) -> bool:
    """The password is the user's (argon2 verify), or Unauthorized; a missing user costs the same time. It
    touches no store, so that callers verify outside any transaction (SQLite's write lock is taken at BEGIN,
    and argon2 is slow by design). True when the stored hash wants a rehash (rehash_password)."""
    stored = user_row.password_hash if user_row is not None else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise unauthorized()
    if user_row is None or not user_row.enabled:
        raise unauthorized()
    return bool(_HASHER.check_needs_rehash(stored))


def rehash_password(conn: Connection, user_row: t.Any, password: str) -> None:
    conn.execute(users.update().where(users.c.id == user_row.id).values(password_hash=_HASHER.hash(password)))


def authenticate(conn: Connection, user_row: t.Any, password: str) -> None:
    """verify_password, and the rehash it asks for, in the caller's transaction."""
    if verify_password(user_row, password):
        rehash_password(conn, user_row, password)


def user_by_name_or_none(conn: Connection, user_id: t.Optional[str], name: t.Optional[str]) -> t.Any:
    if user_id is not None:
        if not isinstance(user_id, str) or not _ID.fullmatch(user_id):
            return None
        return conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return None
    return conn.execute(sa.select(users).where(users.c.name == name)).first()


def issue_token(conn: Connection, user_row: t.Any, project_row: t.Any,
                ttl: dt.timedelta = DEFAULT_TOKEN_TTL) -> Token:
    """A new token scoped to the project, or Unauthorized when the user has no role there."""
    roles = roles_on(conn, user_row.id, project_row.id)
    if not roles or not project_row.enabled:
        raise unauthorized("User %s has no access to project %s" % (user_row.id, project_row.id))
    purge_expired(conn)
    secret = secrets.token_urlsafe(32)
    issued = now()
    audit_id = secrets.token_urlsafe(16)[:22]
    conn.execute(tokens.insert().values(token_hash=token_hash(secret), audit_id=audit_id, user_id=user_row.id,
                                        project_id=project_row.id, issued_at=issued, expires_at=issued + ttl))
    return Token(_user_view(user_row), _project_view(project_row), roles, issued, issued + ttl, audit_id, secret)


def validate_token(conn: Connection, secret: t.Optional[str]) -> Token:
    """The token's identity now, or Unauthorized: unknown (forged), expired, revoked, user or project gone,
    no role left."""
    if not secret or len(secret) > 256:
        raise unauthorized()
    row = conn.execute(sa.select(tokens).where(tokens.c.token_hash == token_hash(secret))).first()
    if row is None or row.revoked_at is not None or _aware(row.expires_at) <= now():
        raise unauthorized()
    user_row = conn.execute(sa.select(users).where(users.c.id == row.user_id)).first()
    project_row = conn.execute(sa.select(projects).where(projects.c.id == row.project_id)).first()
    if user_row is None or project_row is None or not user_row.enabled or not project_row.enabled:
        raise unauthorized()
    roles = roles_on(conn, user_row.id, project_row.id)
    if not roles:
        raise unauthorized()
    return Token(_user_view(user_row), _project_view(project_row), roles, _aware(row.issued_at),
                 _aware(row.expires_at), row.audit_id)


def revoke_token(conn: Connection, secret: str) -> None:
    """Revoke a valid token (validate_token first: an invalid one is NotFound to the API)."""
    conn.execute(tokens.update().where(tokens.c.token_hash == token_hash(secret), tokens.c.revoked_at.is_(None))
                 .values(revoked_at=now()))


def purge_expired(conn: Connection, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Drop tokens expired for a while (their rows only serve the audit trail until then)."""
    return int(conn.execute(tokens.delete().where(tokens.c.expires_at < now() - older_than)).rowcount or 0)
