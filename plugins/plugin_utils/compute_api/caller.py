# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who is asking: resolved in one place, for every controller front end.

The caller (user, project, roles) comes from one place the operator controls, in this order:

1. the environment, ``STRATUS_USER_ID``, ``STRATUS_PROJECT_ID`` and ``STRATUS_ROLES`` (comma
   separated): what an AWX credential's ``env`` injector and the stratus CLI's
   ``--user/--project/--role`` set, and what no job launcher can change;
2. else the ``stratus_context`` variable (``{user_id, project_id, roles}``) of the inventory or
   the playbook. It is never accepted as an extra variable (``launch.py``).

A request never names its caller, and a context has no ``is_admin``: admin is a role that
policy recognises (``context_is_admin``, ``role:admin`` by default), decided from the roles.
docs/trust-model.md says the whole model.
"""
from __future__ import annotations

import os
import re
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer

CONTEXT_VAR = "stratus_context"
ENV_USER, ENV_PROJECT, ENV_ROLES = "STRATUS_USER_ID", "STRATUS_PROJECT_ID", "STRATUS_ROLES"
CONTEXT_KEYS = ("user_id", "project_id", "roles")
DEFAULT_ROLES = ("member",)
# Ids reach the store, messages and the domain XML's metadata: printable, no space, no markup.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,254}")
_ROLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
WHERE = ("the %s variable of the inventory, the environment (%s, %s, %s: an AWX credential or "
         "the CLI's --user/--project/--role)" % (CONTEXT_VAR, ENV_USER, ENV_PROJECT, ENV_ROLES))


def _refuse(field: str, why: str) -> StratusError:
    return StratusError("InvalidCatalog", "%s: %s" % (field, why), field)


def checked_context(ctx: t.Any, source: str = CONTEXT_VAR) -> dict[str, t.Any]:
    """``{user_id, project_id, roles}`` with every value full-matched; anything else is refused."""
    if not isinstance(ctx, t.Mapping):
        raise _refuse(source, "must be a mapping of user_id, project_id and roles")
    for key in ctx:
        if key not in CONTEXT_KEYS:
            why = ("is not accepted: admin is a role that policy recognises (context_is_admin), not a flag"
                   if key == "is_admin" else "is not a context key (user_id, project_id, roles)")
            raise _refuse("%s.%s" % (source, key), why)
    out: dict[str, t.Any] = {}
    for key in ("user_id", "project_id"):
        value = ctx.get(key)
        if value in (None, ""):
            raise StratusError("PolicyNotAuthorized", "%s.%s: the caller's %s is required" % (source, key, key),
                               "%s.%s" % (source, key))
        if not isinstance(value, str) or not _ID.fullmatch(value):
            raise _refuse("%s.%s" % (source, key), "must be 1 to 255 letters, digits or _.@:+- (starting with a "
                          "letter or digit)")
        out[key] = value
    roles = ctx.get("roles", list(DEFAULT_ROLES))
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, (list, tuple)):
        raise _refuse(source + ".roles", "must be a list of role names")
    for i, role in enumerate(roles):
        if not isinstance(role, str) or not _ROLE.fullmatch(role):
            raise _refuse("%s.roles[%d]" % (source, i), "must be 1 to 64 letters, digits or _.:- (starting with a "
                          "letter or digit)")
    out["roles"] = list(roles)
    return out


def context_from_environment(environ: t.Mapping[str, str]) -> t.Optional[dict[str, t.Any]]:
    """The context an AWX credential or the CLI put in the environment, or None when none is set."""
    user, project, roles = (environ.get(name, "").strip() for name in (ENV_USER, ENV_PROJECT, ENV_ROLES))
    if not (user or project or roles):
        return None
    if not (user and project):
        missing = ENV_PROJECT if user else ENV_USER
        raise StratusError("PolicyNotAuthorized", "%s is set but %s is not: the environment names the caller "
                           "with both" % (ENV_USER if user else ENV_PROJECT, missing), missing)
    role_list = [r.strip() for r in roles.split(",") if r.strip()] or list(DEFAULT_ROLES)
    return checked_context({"user_id": user, "project_id": project, "roles": role_list}, "environment")


class Caller:
    """The checked caller with its policy credentials (Nova's RequestContext, for our front ends)."""

    def __init__(self, ctx: t.Mapping[str, t.Any], enforcer: Enforcer) -> None:
        ctx = checked_context(ctx)
        self.user_id: str = ctx["user_id"]
        self.project_id: str = ctx["project_id"]
        self.roles: list[str] = ctx["roles"]
        self.enforcer = enforcer
        self.creds = enforcer.credentials(ctx)
        self.is_admin = bool(self.creds["is_admin"])

    def target(self, **extra: t.Any) -> dict[str, t.Any]:
        return dict({"project_id": self.project_id, "user_id": self.user_id}, **extra)

    def authorize(self, rule: str, target: t.Optional[t.Mapping[str, t.Any]] = None,
                  field: t.Optional[str] = None) -> None:
        self.enforcer.authorize(rule, self.target() if target is None else target, self.creds, field)

    def can(self, rule: str, target: t.Optional[t.Mapping[str, t.Any]] = None) -> bool:
        return self.enforcer.check(rule, self.target() if target is None else target, self.creds)


def resolve_context(variable: t.Any, environ: t.Optional[t.Mapping[str, str]] = None) -> dict[str, t.Any]:
    """The caller's context: the environment's when set, else the (templated) stratus_context variable."""
    from_env = context_from_environment(os.environ if environ is None else environ)
    if from_env is not None:
        return from_env
    if variable in (None, {}, ""):
        raise StratusError("PolicyNotAuthorized", "nobody is asking: name the caller in %s" % WHERE, CONTEXT_VAR)
    return checked_context(variable)


def resolve(variable: t.Any, policy_overrides: t.Optional[t.Mapping[str, str]],
            environ: t.Optional[t.Mapping[str, str]] = None) -> Caller:
    """The Caller of a run, with Nova's policy defaults plus the operator's overrides."""
    return Caller(resolve_context(variable, environ), Enforcer(policy_overrides or None))
