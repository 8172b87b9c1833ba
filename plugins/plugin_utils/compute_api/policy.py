# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small policy engine speaking oslo.policy's rule language, with Nova's server defaults.

Grammar of a rule string (keywords are case-insensitive)::

    rule     := <empty> | or_expr
    or_expr  := and_expr ("or" and_expr)*
    and_expr := not_expr ("and" not_expr)*
    not_expr := "not" not_expr | atom
    atom     := "(" or_expr ")" | check
    check    := "@" | "!" | "rule:" NAME | "role:" VALUE | KEY ":" VALUE | QUOTED ":" VALUE

``KEY`` names a credential attribute, dotted for nested dicts (``token.domain.id``).
``VALUE`` is ``%(target_key)s`` (taken from the target; a missing key fails the check)
or a literal: ``True``/``False``, an integer, a quoted string, else the bare word.
A quoted literal on the left (``'admin':%(role)s``) is compared with the target instead.

Every rule is parsed and cross-checked when the Enforcer is built, so a typo in an
operator's override is refused up front instead of silently denying every request.
"""
from __future__ import annotations

import re
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

# Nova's defaults since the 2023.1 "new RBAC" switch (nova/policies/base.py and friends).
_ADMIN = "rule:context_is_admin"
_MEMBER = "rule:project_member_api"
_MEMBER_OR_ADMIN = "rule:project_member_or_admin"
_READER_OR_ADMIN = "rule:project_reader_or_admin"

NOVA_DEFAULT_RULES: dict[str, str] = {
    "context_is_admin": "role:admin",
    "admin_api": _ADMIN,
    "service_api": "role:service",
    "project_member_api": "role:member and project_id:%(project_id)s",
    "project_reader_api": "role:reader and project_id:%(project_id)s",
    "project_manager_api": "role:manager and project_id:%(project_id)s",
    "project_member_or_admin": "rule:project_member_api or rule:context_is_admin",
    "project_reader_or_admin": "rule:project_reader_api or rule:context_is_admin",
    "project_manager_or_admin": "rule:project_manager_api or rule:context_is_admin",
    # Servers.
    "os_compute_api:servers:index": _READER_OR_ADMIN,
    "os_compute_api:servers:detail": _READER_OR_ADMIN,
    "os_compute_api:servers:show": _READER_OR_ADMIN,
    "os_compute_api:servers:index:get_all_tenants": _ADMIN,
    "os_compute_api:servers:detail:get_all_tenants": _ADMIN,
    "os_compute_api:servers:show:host_status": _ADMIN,
    "os_compute_api:servers:create": _MEMBER_OR_ADMIN,
    "os_compute_api:servers:create:attach_volume": _MEMBER_OR_ADMIN,
    "os_compute_api:servers:create:attach_network": _MEMBER_OR_ADMIN,
    "os_compute_api:servers:create:trusted_certs": _MEMBER_OR_ADMIN,
    "os_compute_api:servers:create:forced_host": _ADMIN,
    "compute:servers:create:requested_destination": _ADMIN,
    "os_compute_api:servers:create:zero_disk_flavor": _ADMIN,
    "network:attach_external_network": _ADMIN,
    "os_compute_api:servers:update": _MEMBER_OR_ADMIN,
    "os_compute_api:servers:delete": _MEMBER_OR_ADMIN,
    # Server actions (day 2, compute_api/server_actions.py).
    "os_compute_api:servers:stop": _MEMBER_OR_ADMIN,
    "os_compute_api:servers:start": _MEMBER_OR_ADMIN,
    "os_compute_api:servers:reboot": _MEMBER_OR_ADMIN,
    "os_compute_api:servers:rebuild": _MEMBER_OR_ADMIN,
    "os_compute_api:os-evacuate": _ADMIN,
    "os_compute_api:servers:resize": _MEMBER_OR_ADMIN,
    "os_compute_api:servers:confirm_resize": _MEMBER_OR_ADMIN,
    "os_compute_api:servers:revert_resize": _MEMBER_OR_ADMIN,
    "os_compute_api:os-migrate-server:migrate": _ADMIN,
    "os_compute_api:os-migrate-server:migrate_live": _ADMIN,
    "os_compute_api:os-migrations:index": _ADMIN,
    "os_compute_api:os-deferred-delete:restore": _MEMBER_OR_ADMIN,
    "os_compute_api:os-deferred-delete:force": _MEMBER_OR_ADMIN,
    "os_compute_api:os-console-output": _MEMBER_OR_ADMIN,
    # Key pairs (nova/policies/keypairs.py): a user's own, or any user's for an admin (2.10's user_id).
    "os_compute_api:os-keypairs:index": "(" + _ADMIN + ") or user_id:%(user_id)s",
    "os_compute_api:os-keypairs:create": "(" + _ADMIN + ") or user_id:%(user_id)s",
    "os_compute_api:os-keypairs:delete": "(" + _ADMIN + ") or user_id:%(user_id)s",
    "os_compute_api:os-keypairs:show": "(" + _ADMIN + ") or user_id:%(user_id)s",
    # Server groups. Create is member-only in Nova: the group always lands in the
    # caller's own project, so "or admin of another project" would mean nothing.
    "os_compute_api:os-server-groups:create": _MEMBER,
    "os_compute_api:os-server-groups:delete": _MEMBER_OR_ADMIN,
    "os_compute_api:os-server-groups:index": _READER_OR_ADMIN,
    "os_compute_api:os-server-groups:index:all_projects": _ADMIN,
    "os_compute_api:os-server-groups:show": _READER_OR_ADMIN,
    # Flavors' extra specs, limits and availability zones (`stratus api`, docs/api.md). Listing flavors has no
    # rule in Nova; a flavor's extra specs are shown to readers of the project (2.61's flavor body too).
    "os_compute_api:os-flavor-extra-specs:index": _READER_OR_ADMIN,
    "os_compute_api:os-flavor-extra-specs:show": _READER_OR_ADMIN,
    "os_compute_api:limits": "@",
    "os_compute_api:limits:other_project": _ADMIN,
    "os_compute_api:os-availability-zone:list": "@",
    "os_compute_api:os-availability-zone:detail": _ADMIN,
    # Hypervisors, compute services, quota sets and instance actions (hypervisor_info, quota_info, server_info,
    # and `stratus api`; docs/api.md). Quota updates have rules as Nova's, though the API refuses them (inventory).
    "os_compute_api:os-hypervisors:list": _ADMIN,
    "os_compute_api:os-hypervisors:list-detail": _ADMIN,
    "os_compute_api:os-hypervisors:show": _ADMIN,
    "os_compute_api:os-hypervisors:statistics": _ADMIN,
    "os_compute_api:os-hypervisors:search": _ADMIN,
    "os_compute_api:os-hypervisors:uptime": _ADMIN,
    "os_compute_api:os-hypervisors:servers": _ADMIN,
    "os_compute_api:os-aggregates:index": _ADMIN,
    "os_compute_api:os-services:list": _ADMIN,
    "os_compute_api:os-services:update": _ADMIN,
    "os_compute_api:os-quota-sets:show": _READER_OR_ADMIN,
    "os_compute_api:os-quota-sets:detail": _READER_OR_ADMIN,
    "os_compute_api:os-quota-sets:defaults": "@",
    "os_compute_api:os-quota-sets:update": _ADMIN,
    "os_compute_api:os-quota-sets:delete": _ADMIN,
    "os_compute_api:os-instance-actions:list": _READER_OR_ADMIN,
    "os_compute_api:os-instance-actions:show": _READER_OR_ADMIN,
    "os_compute_api:os-instance-actions:events": _ADMIN,
    # Neutron's rule for a project's network quotas (neutron/conf/policies/quotas.py: its readers, or admin)
    "get_quota": _READER_OR_ADMIN,
    # Bare-metal nodes: Ironic's rule names (ironic/common/policy.py), admin by default here
    # (Ironic's system-scoped reader/member roles are Keystone's; Stratus has projects only).
    "baremetal:node:list": _ADMIN,
    "baremetal:node:get": _ADMIN,
    "baremetal:node:set_provision_state": _ADMIN,
    "baremetal:node:set_maintenance": _ADMIN,
    "baremetal:node:clear_maintenance": _ADMIN,
}

# Keystone's default implied roles (admin => manager => member => reader). Nova's
# defaults name only the weakest role that suffices ("role:member"), relying on
# Keystone to put the implied roles into the token; we have no Keystone, so the
# credentials builder expands them the same way.
IMPLIED_ROLES: dict[str, tuple[str, ...]] = {
    "admin": ("manager",),
    "manager": ("member",),
    "member": ("reader",),
}

_TARGET_REF = re.compile(r"%\(([^)]*)\)s")
_INT = re.compile(r"[+-]?\d+")
_MISSING = object()

Resolver = t.Callable[[str], t.Optional["Check"]]


class PolicySyntaxError(ValueError):
    """A rule string that does not parse; the message says what and at which column."""


# ---------------------------------------------------------------- values


def _lookup(data: t.Any, path: str) -> t.Any:
    """Value at a dotted path in nested mappings, or _MISSING.

    None counts as missing: otherwise a caller without a project would "own"
    every target without one, since both sides would read "None".
    """
    if isinstance(data, t.Mapping) and path in data:
        return _MISSING if data[path] is None else data[path]
    for part in path.split("."):
        if not isinstance(data, t.Mapping) or part not in data:
            return _MISSING
        data = data[part]
    return _MISSING if data is None else data


def _literal(text: str) -> t.Union[str, int, bool]:
    if text in ("True", "False"):
        return text == "True"
    if _INT.fullmatch(text):
        return int(text)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _same(literal: t.Union[str, int, bool], actual: t.Any) -> bool:
    """Compare a rule literal with a credential, in the literal's type."""
    if isinstance(literal, bool):
        if isinstance(actual, str):
            return actual.strip().lower() == str(literal).lower()
        return isinstance(actual, bool) and actual is literal
    if isinstance(literal, int):
        if isinstance(actual, bool):
            return False
        if isinstance(actual, str) and _INT.fullmatch(actual.strip()):
            return int(actual) == literal
        return isinstance(actual, int) and actual == literal
    return literal == str(actual)


class Value:
    """The right-hand side of a check: a %(target)s template or a literal."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.refs = _TARGET_REF.findall(text)

    def resolve(self, target: t.Mapping[str, t.Any]) -> t.Any:
        """The value for this target, or _MISSING when a referenced key is absent."""
        if not self.refs:
            return _literal(self.text)
        found = {ref: _lookup(target, ref) for ref in self.refs}
        if any(v is _MISSING for v in found.values()):
            return _MISSING
        return _TARGET_REF.sub(lambda m: str(found[m.group(1)]), self.text)

    def __str__(self) -> str:
        return self.text


# ---------------------------------------------------------------- check nodes


class Check:
    """A node of a parsed rule; evaluates to a bool for (target, creds)."""

    def __call__(self, target: t.Mapping[str, t.Any], creds: t.Mapping[str, t.Any], resolve: Resolver) -> bool:
        raise NotImplementedError

    def children(self) -> t.Sequence["Check"]:
        return ()


class TrueCheck(Check):
    def __call__(self, target: t.Mapping[str, t.Any], creds: t.Mapping[str, t.Any], resolve: Resolver) -> bool:
        return True

    def __str__(self) -> str:
        return "@"


class FalseCheck(Check):
    def __call__(self, target: t.Mapping[str, t.Any], creds: t.Mapping[str, t.Any], resolve: Resolver) -> bool:
        return False

    def __str__(self) -> str:
        return "!"


class RuleCheck(Check):
    """rule:<name> — another rule; an unknown name is False, as in oslo."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, target: t.Mapping[str, t.Any], creds: t.Mapping[str, t.Any], resolve: Resolver) -> bool:
        rule = resolve(self.name)
        return rule is not None and rule(target, creds, resolve)

    def __str__(self) -> str:
        return "rule:%s" % self.name


class RoleCheck(Check):
    """role:<name> — case-insensitive membership in creds["roles"]."""

    def __init__(self, value: Value) -> None:
        self.value = value

    def __call__(self, target: t.Mapping[str, t.Any], creds: t.Mapping[str, t.Any], resolve: Resolver) -> bool:
        wanted = self.value.resolve(target)
        if wanted is _MISSING:
            return False
        return str(wanted).lower() in {str(r).lower() for r in creds.get("roles") or ()}

    def __str__(self) -> str:
        return "role:%s" % self.value


class GenericCheck(Check):
    """<creds key>:<value> — a credential attribute against a literal or the target."""

    def __init__(self, key: str, value: Value) -> None:
        self.key = key
        self.value = value

    def __call__(self, target: t.Mapping[str, t.Any], creds: t.Mapping[str, t.Any], resolve: Resolver) -> bool:
        expected = self.value.resolve(target)
        actual = _lookup(creds, self.key)
        if expected is _MISSING or actual is _MISSING:
            return False
        return _same(expected, actual)

    def __str__(self) -> str:
        return "%s:%s" % (self.key, self.value)


class LiteralCheck(Check):
    """'<literal>':<value> — a constant against the target, creds unused."""

    def __init__(self, literal: str, value: Value) -> None:
        self.literal = literal
        self.value = value

    def __call__(self, target: t.Mapping[str, t.Any], creds: t.Mapping[str, t.Any], resolve: Resolver) -> bool:
        other = self.value.resolve(target)
        return other is not _MISSING and self.literal == str(other)

    def __str__(self) -> str:
        return "%r:%s" % (self.literal, self.value)


class NotCheck(Check):
    def __init__(self, operand: Check) -> None:
        self.operand = operand

    def __call__(self, target: t.Mapping[str, t.Any], creds: t.Mapping[str, t.Any], resolve: Resolver) -> bool:
        return not self.operand(target, creds, resolve)

    def children(self) -> t.Sequence[Check]:
        return (self.operand,)

    def __str__(self) -> str:
        return "not %s" % self.operand


class AndCheck(Check):
    def __init__(self, operands: t.Sequence[Check]) -> None:
        self.operands = tuple(operands)

    def __call__(self, target: t.Mapping[str, t.Any], creds: t.Mapping[str, t.Any], resolve: Resolver) -> bool:
        return all(op(target, creds, resolve) for op in self.operands)

    def children(self) -> t.Sequence[Check]:
        return self.operands

    def __str__(self) -> str:
        return "(%s)" % " and ".join(str(op) for op in self.operands)


class OrCheck(Check):
    def __init__(self, operands: t.Sequence[Check]) -> None:
        self.operands = tuple(operands)

    def __call__(self, target: t.Mapping[str, t.Any], creds: t.Mapping[str, t.Any], resolve: Resolver) -> bool:
        return any(op(target, creds, resolve) for op in self.operands)

    def children(self) -> t.Sequence[Check]:
        return self.operands

    def __str__(self) -> str:
        return "(%s)" % " or ".join(str(op) for op in self.operands)


def rule_references(check: Check) -> t.Iterator[str]:
    """Names of every rule:<name> inside a parsed rule."""
    if isinstance(check, RuleCheck):
        yield check.name
    for child in check.children():
        yield from rule_references(child)


# ---------------------------------------------------------------- tokenizer


class Token(t.NamedTuple):
    kind: str  # "(", ")", "and", "or", "not", "check", "end"
    text: str
    column: int  # 1-based, for messages


class Tokenizer:
    """Splits a rule string into parens, keywords and check words.

    A check word may itself contain parens (``%(project_id)s``) and quoted
    strings with spaces, which is why this is not a plain str.split().
    """

    KEYWORDS = ("and", "or", "not")

    def __init__(self, text: str) -> None:
        self.text = text

    def tokens(self) -> list[Token]:
        out: list[Token] = []
        pos, text = 0, self.text
        while pos < len(text):
            char = text[pos]
            if char.isspace():
                pos += 1
            elif char in "()":
                out.append(Token(char, char, pos + 1))
                pos += 1
            else:
                end = self._word_end(pos)
                word = text[pos:end]
                kind = word.lower() if word.lower() in self.KEYWORDS else "check"
                out.append(Token(kind, word, pos + 1))
                pos = end
        out.append(Token("end", "", len(text) + 1))
        return out

    def _word_end(self, pos: int) -> int:
        text = self.text
        while pos < len(text) and not text[pos].isspace() and text[pos] not in "()":
            if text[pos] in "'\"":
                close = text.find(text[pos], pos + 1)
                if close < 0:
                    raise PolicySyntaxError("unterminated quote at column %d" % (pos + 1))
                pos = close + 1
            elif text.startswith("%(", pos):
                close = text.find(")", pos)
                if close < 0:
                    raise PolicySyntaxError("unterminated %%(...)s at column %d" % (pos + 1))
                pos = close + 1
            else:
                pos += 1
        return pos


# ---------------------------------------------------------------- parser


class Parser:
    """Recursive descent over Tokenizer output; precedence not > and > or."""

    def __init__(self, text: str) -> None:
        self.tokens = Tokenizer(text).tokens()
        self.pos = 0

    def parse(self) -> Check:
        if self._peek().kind == "end":
            return TrueCheck()  # oslo: an empty rule always passes
        check = self._or()
        tok = self._peek()
        if tok.kind != "end":
            if tok.kind == ")":
                raise PolicySyntaxError("unbalanced ')' at column %d" % tok.column)
            raise PolicySyntaxError("unexpected %r at column %d (missing 'and'/'or'?)" % (tok.text, tok.column))
        return check

    def _peek(self) -> Token:
        return self.tokens[self.pos]

    def _take(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def _or(self) -> Check:
        operands = [self._and()]
        while self._peek().kind == "or":
            self._take()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else OrCheck(operands)

    def _and(self) -> Check:
        operands = [self._not()]
        while self._peek().kind == "and":
            self._take()
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else AndCheck(operands)

    def _not(self) -> Check:
        if self._peek().kind == "not":
            self._take()
            return NotCheck(self._not())
        return self._atom()

    def _atom(self) -> Check:
        tok = self._take()
        if tok.kind == "(":
            inner = self._or()
            close = self._take()
            if close.kind != ")":
                raise PolicySyntaxError("unbalanced '(' at column %d: expected ')' at column %d, got %s"
                                        % (tok.column, close.column, _describe(close)))
            return inner
        if tok.kind == "check":
            return parse_check(tok.text, tok.column)
        previous = self.tokens[self.pos - 2].text if self.pos >= 2 else ""
        after = " after %r" % previous if previous else ""
        raise PolicySyntaxError("expected a check%s at column %d, got %s" % (after, tok.column, _describe(tok)))


def _describe(tok: Token) -> str:
    return "end of rule" if tok.kind == "end" else repr(tok.text)


def _split_check(word: str) -> t.Optional[int]:
    """Index of the ':' separating kind from value, skipping a quoted kind."""
    start = 0
    if word[:1] in ("'", '"'):
        start = word.find(word[0], 1) + 1
    index = word.find(":", start)
    return index if index >= 0 else None


def parse_check(word: str, column: int = 1) -> Check:
    """One check word ("role:admin", "@", ...) into its node."""
    if word == "@":
        return TrueCheck()
    if word == "!":
        return FalseCheck()
    sep = _split_check(word)
    if sep is None:
        raise PolicySyntaxError("%r at column %d is not a check (expected kind:value, '@' or '!')" % (word, column))
    kind, text = word[:sep], word[sep + 1:]
    if not kind:
        raise PolicySyntaxError("missing key before ':' in %r at column %d" % (word, column))
    if not text:
        raise PolicySyntaxError("missing value after ':' in %r at column %d" % (word, column))
    if text.count("%(") != len(_TARGET_REF.findall(text)):
        raise PolicySyntaxError("malformed target reference in %r at column %d (expected %%(key)s)" % (word, column))
    if kind == "rule":
        if _TARGET_REF.search(text):
            raise PolicySyntaxError("rule name %r at column %d cannot use the target" % (text, column))
        return RuleCheck(text)
    if kind == "role":
        return RoleCheck(Value(text))
    if kind[0] in "'\"":
        if len(kind) < 2 or kind[-1] != kind[0]:
            raise PolicySyntaxError("stray text after quoted literal in %r at column %d" % (word, column))
        return LiteralCheck(kind[1:-1], Value(text))
    return GenericCheck(kind, Value(text))


def parse_rule(text: str) -> Check:
    """A whole rule string into a Check tree; raises PolicySyntaxError."""
    return Parser(text).parse()


# ---------------------------------------------------------------- enforcer


class Enforcer:
    """Nova's default rules plus operator overrides, validated once, checked per request."""

    def __init__(self, overrides: t.Optional[t.Mapping[str, str]] = None, source: str = "stratus_policy") -> None:
        self.source = source
        texts = dict(NOVA_DEFAULT_RULES)
        texts.update(overrides or {})
        self._texts = texts
        self._rules = {name: self._parse(name, text) for name, text in texts.items()}
        self._check_references()
        self._check_cycles()

    @property
    def rules(self) -> t.Mapping[str, str]:
        """The effective rule strings, defaults merged with overrides."""
        return dict(self._texts)

    # -- construction

    def _refuse(self, name: str, what: str) -> StratusError:
        path = "%s.%s" % (self.source, name)
        return StratusError("InvalidCatalog", "%s: %s" % (path, what), path)

    def _parse(self, name: t.Any, text: t.Any) -> Check:
        if not isinstance(name, str) or not name:
            raise self._refuse(str(name), "rule name must be a non-empty string")
        if not isinstance(text, str):
            raise self._refuse(name, "rule must be a string, got %s" % type(text).__name__)
        try:
            return parse_rule(text)
        except PolicySyntaxError as exc:
            raise self._refuse(name, str(exc)) from None

    def _check_references(self) -> None:
        # oslo would quietly evaluate these to False; for an operator that is a
        # typo that denies everyone, so refuse it here instead.
        for name, check in self._rules.items():
            for ref in rule_references(check):
                if ref not in self._rules:
                    raise self._refuse(name, "references undefined rule %r" % ref)

    def _check_cycles(self) -> None:
        done: set[str] = set()

        def visit(name: str, path: list[str]) -> None:
            if name in path:
                loop = path[path.index(name):] + [name]
                raise self._refuse(loop[0], "rule cycle %s" % " -> ".join(loop))
            if name in done:
                return
            for ref in rule_references(self._rules[name]):
                visit(ref, path + [name])
            done.add(name)

        for name in self._rules:
            visit(name, [])

    # -- requests

    def credentials(self, ctx: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """Creds from a caller's user, project and roles: roles lower-cased and implied, is_admin decided.

        is_admin is always policy's answer (context_is_admin) for these roles: a context cannot
        declare itself admin, whatever else it carries.
        """
        raw = ctx.get("roles") or ()
        roles = {str(r).strip().lower() for r in ([raw] if isinstance(raw, str) else raw)}
        pending = list(roles)
        while pending:
            for implied in IMPLIED_ROLES.get(pending.pop(), ()):
                if implied not in roles:
                    roles.add(implied)
                    pending.append(implied)
        creds: dict[str, t.Any] = {"roles": sorted(roles), "user_id": ctx.get("user_id"),
                                   "project_id": ctx.get("project_id")}
        # Nova's RequestContext asks context_is_admin; here nobody may answer for it.
        creds["is_admin"] = self.check("context_is_admin", None, creds)
        return creds

    @staticmethod
    def default_target(creds: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """Nova's target when none is given: the caller's own project and user."""
        return {"project_id": creds.get("project_id"), "user_id": creds.get("user_id")}

    def check(self, rule: str, target: t.Optional[t.Mapping[str, t.Any]], creds: t.Mapping[str, t.Any]) -> bool:
        """Whether creds pass rule on target; KeyError for a rule nobody defined."""
        if rule not in self._rules:
            raise KeyError(rule)
        if target is None:
            target = self.default_target(creds)
        return self._rules[rule](target, creds, self._rules.get)

    def authorize(self, rule: str, target: t.Optional[t.Mapping[str, t.Any]], creds: t.Mapping[str, t.Any],
                  field: t.Optional[str] = None) -> None:
        """Raise PolicyNotAuthorized unless creds pass rule on target."""
        if not self.check(rule, target, creds):
            raise StratusError("PolicyNotAuthorized", "Policy doesn't allow %s to be performed." % rule, field)
