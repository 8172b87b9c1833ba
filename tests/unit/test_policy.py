from __future__ import annotations

import typing as t

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import policy

CREATE = "os_compute_api:servers:create"
DELETE = "os_compute_api:servers:delete"


@pytest.fixture
def enforcer() -> policy.Enforcer:
    return policy.Enforcer()


def creds(enf: policy.Enforcer, *roles: str, project: str = "p1", user: str = "u1", **extra: t.Any) -> dict:
    return enf.credentials(dict(user_id=user, project_id=project, roles=list(roles), **extra))


# ---------------------------------------------------------------- Nova matrix


@pytest.mark.parametrize("roles, allowed", [
    (("member",), True),
    (("manager",), True),
    (("admin",), True),
    (("Member",), True),  # role names are case-insensitive
    (("reader",), False),
    ((), False),
    (("ops",), False),
])
def test_create_in_own_project(enforcer: policy.Enforcer, roles: tuple, allowed: bool) -> None:
    c = creds(enforcer, *roles)
    assert enforcer.check(CREATE, None, c) is allowed
    assert enforcer.check(CREATE, {"project_id": "p1"}, c) is allowed


@pytest.mark.parametrize("roles, project, allowed", [
    (("member",), "p1", True),
    (("reader",), "p1", False),
    (("member",), "p2", False),
    (("manager",), "p2", False),
    (("admin",), "p1", True),
    (("admin",), "p2", True),
])
def test_delete_targets_the_instance_project(enforcer: policy.Enforcer, roles: tuple, project: str,
                                             allowed: bool) -> None:
    instance = {"project_id": "p1", "user_id": "owner"}
    assert enforcer.check(DELETE, instance, creds(enforcer, *roles, project=project)) is allowed


@pytest.mark.parametrize("rule", [
    "os_compute_api:servers:create:forced_host",
    "os_compute_api:servers:create:zero_disk_flavor",
    "compute:servers:create:requested_destination",
    "os_compute_api:servers:index:get_all_tenants",
    "network:attach_external_network",
    # Ironic's node rules (the baremetal_node modules, the CLI's `baremetal node ...`)
    "baremetal:node:list", "baremetal:node:get", "baremetal:node:set_provision_state",
    "baremetal:node:set_maintenance", "baremetal:node:clear_maintenance",
])
def test_admin_only_rules(enforcer: policy.Enforcer, rule: str) -> None:
    assert enforcer.check(rule, None, creds(enforcer, "admin"))
    assert not enforcer.check(rule, None, creds(enforcer, "manager"))
    assert not enforcer.check(rule, None, creds(enforcer, "member"))


def test_reader_can_show_but_not_update(enforcer: policy.Enforcer) -> None:
    reader = creds(enforcer, "reader")
    assert enforcer.check("os_compute_api:servers:show", {"project_id": "p1"}, reader)
    assert not enforcer.check("os_compute_api:servers:show", {"project_id": "p2"}, reader)
    assert not enforcer.check("os_compute_api:servers:update", {"project_id": "p1"}, reader)


def test_server_group_rules(enforcer: policy.Enforcer) -> None:
    own, other = {"project_id": "p1"}, {"project_id": "p9"}
    admin = creds(enforcer, "admin")
    assert enforcer.check("os_compute_api:os-server-groups:create", None, creds(enforcer, "member"))
    assert not enforcer.check("os_compute_api:os-server-groups:create", None, creds(enforcer, "reader"))
    assert enforcer.check("os_compute_api:os-server-groups:delete", other, admin)
    assert not enforcer.check("os_compute_api:os-server-groups:delete", other, creds(enforcer, "member"))
    assert enforcer.check("os_compute_api:os-server-groups:index", own, creds(enforcer, "reader"))
    assert not enforcer.check("os_compute_api:os-server-groups:show", other, creds(enforcer, "reader"))


def test_authorize_raises_nova_message(enforcer: policy.Enforcer) -> None:
    enforcer.authorize(CREATE, None, creds(enforcer, "member"))
    with pytest.raises(StratusError) as err:
        enforcer.authorize(CREATE, None, creds(enforcer, "reader"), field="server")
    assert err.value.code == "PolicyNotAuthorized"
    assert err.value.message == "Policy doesn't allow os_compute_api:servers:create to be performed."
    assert err.value.field == "server"


def test_unknown_rule_is_a_key_error(enforcer: policy.Enforcer) -> None:
    with pytest.raises(KeyError):
        enforcer.check("os_compute_api:servers:nope", None, creds(enforcer, "admin"))
    with pytest.raises(KeyError):
        enforcer.authorize("os_compute_api:servers:nope", None, creds(enforcer, "admin"))


# ---------------------------------------------------------------- credentials


def test_credentials_expand_implied_roles(enforcer: policy.Enforcer) -> None:
    assert creds(enforcer, "ADMIN")["roles"] == ["admin", "manager", "member", "reader"]
    assert creds(enforcer, "member", "ops")["roles"] == ["member", "ops", "reader"]
    assert creds(enforcer, "reader")["roles"] == ["reader"]


def test_credentials_is_admin_decided_by_policy_only(enforcer: policy.Enforcer) -> None:
    assert creds(enforcer, "admin")["is_admin"] is True
    assert creds(enforcer, "member")["is_admin"] is False
    # a context that calls itself admin is not believed (issue 15, item 2)
    assert creds(enforcer, "member", is_admin=True)["is_admin"] is False
    assert creds(enforcer, "admin", is_admin=False)["is_admin"] is True
    ops_admin = policy.Enforcer({"context_is_admin": "role:ops"})
    assert creds(ops_admin, "ops")["is_admin"] is True
    assert creds(ops_admin, "admin")["is_admin"] is False


def test_default_target_is_the_caller(enforcer: policy.Enforcer) -> None:
    c = creds(enforcer, "member", project="p7", user="u7")
    assert enforcer.default_target(c) == {"project_id": "p7", "user_id": "u7"}


def test_caller_without_project_owns_nothing(enforcer: policy.Enforcer) -> None:
    c = enforcer.credentials({"user_id": "u1", "project_id": None, "roles": ["member"]})
    assert not enforcer.check(CREATE, {"project_id": None}, c)
    assert not enforcer.check(CREATE, None, c)


# ---------------------------------------------------------------- overrides


def test_override_create_admin_only() -> None:
    enf = policy.Enforcer({CREATE: "rule:admin_api"})
    assert enf.rules[CREATE] == "rule:admin_api"
    assert not enf.check(CREATE, None, creds(enf, "member"))
    assert enf.check(CREATE, None, creds(enf, "admin"))


@pytest.mark.parametrize("text, roles, allowed", [
    ("@", (), True),
    ("", (), True),
    ("   ", (), True),
    ("!", ("admin",), False),
    ("not !", (), True),
    ("not @", ("admin",), False),
])
def test_override_always_and_never(text: str, roles: tuple, allowed: bool) -> None:
    enf = policy.Enforcer({CREATE: text})
    assert enf.check(CREATE, None, creds(enf, *roles)) is allowed


@pytest.mark.parametrize("roles, user, allowed", [
    (("ops",), "bob", True),
    (("member",), "alice", True),
    (("member",), "bob", False),
    (("reader",), "alice", False),
])
def test_override_with_parens_and_not(roles: tuple, user: str, allowed: bool) -> None:
    enf = policy.Enforcer({CREATE: "role:ops or (role:member and not user_id:bob)"})
    assert enf.check(CREATE, None, creds(enf, *roles, user=user)) is allowed


def test_new_rule_can_be_added_and_referenced() -> None:
    enf = policy.Enforcer({"ops": "role:ops", DELETE: "rule:ops OR rule:project_member_or_admin"})
    assert enf.check("ops", None, creds(enf, "ops"))
    assert enf.check(DELETE, {"project_id": "p9"}, creds(enf, "ops"))
    assert not enf.check(DELETE, {"project_id": "p9"}, creds(enf, "member"))


# ---------------------------------------------------------------- rule language


def check(text: str, target: dict, cred: dict) -> bool:
    return policy.parse_rule(text)(target, cred, lambda name: None)


def test_precedence_not_and_or() -> None:
    assert str(policy.parse_rule("a:1 or b:2 and not c:3")) == "(a:1 or (b:2 and not c:3))"
    assert str(policy.parse_rule("(a:1 or b:2) and c:3")) == "((a:1 or b:2) and c:3)"
    assert str(policy.parse_rule("NOT not a:1 AnD b:2")) == "(not not a:1 and b:2)"
    # "or" binds loosest: true or (false and false) is true.
    assert check("@ or ! and !", {}, {})
    assert not check("(@ or !) and !", {}, {})


@pytest.mark.parametrize("text, cred, allowed", [
    ("is_admin:True", {"is_admin": True}, True),
    ("is_admin:True", {"is_admin": False}, False),
    ("is_admin:True", {"is_admin": "true"}, True),
    ("is_admin:True", {"is_admin": 1}, False),
    ("is_admin:False", {"is_admin": False}, True),
    ("is_admin:True", {}, False),
    ("level:3", {"level": 3}, True),
    ("level:3", {"level": "3"}, True),
    ("level:3", {"level": 4}, False),
    ("level:1", {"level": True}, False),
    ("name:'a b'", {"name": "a b"}, True),
    ("name:\"a b\"", {"name": "a c"}, False),
    ("name:bob", {"name": "bob"}, True),
    ("name:bob", {"name": "Bob"}, False),
    ("token.domain.id:d1", {"token": {"domain": {"id": "d1"}}}, True),
    ("token.domain.id:d1", {"token": {"domain": {"id": "d2"}}}, False),
    ("token.domain.id:d1", {"token": "flat"}, False),
])
def test_generic_checks_with_literals(text: str, cred: dict, allowed: bool) -> None:
    assert check(text, {}, cred) is allowed


@pytest.mark.parametrize("text, target, allowed", [
    ("user_id:%(user_id)s", {"user_id": "u1"}, True),
    ("user_id:%(user_id)s", {"user_id": "u2"}, False),
    ("user_id:%(user_id)s", {}, False),
    ("user_id:%(owner.id)s", {"owner": {"id": "u1"}}, True),
    ("user_id:%(owner.id)s", {"owner": {"id": "u2"}}, False),
    ("user_id:%(owner.id)s", {"owner.id": "u1"}, True),
    ("'member':%(role)s", {"role": "member"}, True),
    ("'member':%(role)s", {"role": "reader"}, False),
    ("'member':%(role)s", {}, False),
    ("role:%(role)s", {"role": "MEMBER"}, True),
    ("role:%(role)s", {"role": "admin"}, False),
])
def test_checks_against_target(text: str, target: dict, allowed: bool) -> None:
    assert check(text, target, {"user_id": "u1", "roles": ["member"]}) is allowed


def test_undefined_rule_evaluates_false_like_oslo() -> None:
    assert not check("rule:nope", {}, {})
    assert check("not rule:nope", {}, {})


@pytest.mark.parametrize("text, fragment", [
    ("(role:a", "unbalanced '(' at column 1"),
    ("role:a)", "unbalanced ')' at column 7"),
    ("role:a and", "expected a check after 'and' at column 11, got end of rule"),
    ("or role:a", "expected a check at column 1, got 'or'"),
    ("not", "expected a check after 'not' at column 4"),
    ("()", "expected a check after '(' at column 2, got ')'"),
    ("role:a role:b", "unexpected 'role:b' at column 8 (missing 'and'/'or'?)"),
    ("role:a and admin", "'admin' at column 12 is not a check"),
    ("role:", "missing value after ':'"),
    (":x", "missing key before ':'"),
    ("name:'abc", "unterminated quote at column 6"),
    ("project_id:%(project_id", "unterminated %(...)s at column 12"),
    ("project_id:%(project_id)", "malformed target reference"),
    ("rule:%(x)s", "cannot use the target"),
    ("'a'b:c", "stray text after quoted literal"),
])
def test_parse_errors_say_what_and_where(text: str, fragment: str) -> None:
    with pytest.raises(policy.PolicySyntaxError) as err:
        policy.parse_rule(text)
    assert fragment in str(err.value)


def test_valid_rules_do_parse() -> None:
    for text in ("role:a", "(role:a)", "((role:a)) or @", "project_id:%(project_id)s", "x:'a b' and y:1"):
        policy.parse_rule(text)


# ---------------------------------------------------------------- construction


def refused(overrides: dict, source: str = "stratus_policy") -> StratusError:
    with pytest.raises(StratusError) as err:
        policy.Enforcer(overrides, source=source)
    assert err.value.code == "InvalidCatalog"
    return err.value


def test_bad_rule_refused_with_path() -> None:
    err = refused({CREATE: "role:member and"}, source="site.policy")
    assert err.field == "site.policy.%s" % CREATE
    assert err.message.startswith("site.policy.%s: expected a check after 'and'" % CREATE)


def test_non_string_rule_refused() -> None:
    err = refused({CREATE: 42})
    assert err.field == "stratus_policy.%s" % CREATE
    assert "must be a string" in err.message


def test_undefined_reference_refused_at_construction() -> None:
    err = refused({CREATE: "rule:project_member_or_admn"})
    assert err.field == "stratus_policy.%s" % CREATE
    assert "references undefined rule 'project_member_or_admn'" in err.message
    policy.Enforcer({CREATE: "rule:project_member_or_admin"})  # the spelled-right one is fine


@pytest.mark.parametrize("overrides, loop", [
    ({"a": "rule:b", "b": "rule:a"}, "a -> b -> a"),
    ({"a": "rule:a or @"}, "a -> a"),
    ({"context_is_admin": "rule:admin_api"}, "context_is_admin -> admin_api -> context_is_admin"),
])
def test_cycle_refused_at_construction(overrides: dict, loop: str) -> None:
    err = refused(overrides)
    first = loop.split(" -> ")[0]
    assert err.field == "stratus_policy.%s" % first
    assert err.message == "stratus_policy.%s: rule cycle %s" % (first, loop)


def test_diamond_is_not_a_cycle() -> None:
    enf = policy.Enforcer({"a": "rule:b and rule:c", "b": "rule:d", "c": "rule:d", "d": "@"})
    assert enf.check("a", {}, {})


def test_defaults_are_not_mutated_by_overrides() -> None:
    policy.Enforcer({CREATE: "!"})
    assert policy.NOVA_DEFAULT_RULES[CREATE] == "rule:project_member_or_admin"
    enf = policy.Enforcer()
    assert enf.check(CREATE, None, creds(enf, "member"))
