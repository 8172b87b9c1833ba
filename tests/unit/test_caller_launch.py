"""Who asks (caller.py) and what a launcher may set (launch.py): the rules, without Ansible."""
from __future__ import annotations

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import caller
from ansible_collections.stratus.compute.plugins.plugin_utils.actions import launch
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer

ALICE = {"user_id": "alice", "project_id": "pa", "roles": ["member"]}
ENV_BOB = {"STRATUS_USER_ID": "bob", "STRATUS_PROJECT_ID": "pb", "STRATUS_ROLES": "reader, member"}


def refusal(fn, *args):  # type: ignore[no-untyped-def]
    with pytest.raises(StratusError) as err:
        fn(*args)
    return err.value


def test_a_context_is_user_project_and_roles_only() -> None:
    assert caller.checked_context(ALICE) == ALICE
    assert caller.checked_context({"user_id": "u", "project_id": "p"})["roles"] == ["member"]
    assert caller.checked_context({"user_id": "u", "project_id": "p", "roles": "admin"})["roles"] == ["admin"]
    err = refusal(caller.checked_context, dict(ALICE, is_admin=True))
    assert err.code == "InvalidCatalog" and err.field == "stratus_context.is_admin" and "role" in err.message
    err = refusal(caller.checked_context, dict(ALICE, token="x"))
    assert err.field == "stratus_context.token"


@pytest.mark.parametrize("bad", ["", "a b", "alice\n", "\nalice", "a<b>", "-x", "a" * 256, 7, None, ["a"]])
def test_ids_are_full_matched(bad: object) -> None:
    err = refusal(caller.checked_context, dict(ALICE, project_id=bad))
    assert err.field == "stratus_context.project_id"
    assert err.code in ("InvalidCatalog", "PolicyNotAuthorized")


@pytest.mark.parametrize("bad", ["admin\n", "ad min", "", 5, {"a": 1}])
def test_roles_are_full_matched(bad: object) -> None:
    assert refusal(caller.checked_context, dict(ALICE, roles=[bad])).field == "stratus_context.roles[0]"


def test_environment_names_the_caller_first() -> None:
    assert caller.context_from_environment({}) is None
    assert caller.resolve_context(ALICE, environ={}) == ALICE
    assert caller.resolve_context(ALICE, environ=ENV_BOB) == {"user_id": "bob", "project_id": "pb",
                                                              "roles": ["reader", "member"]}
    assert caller.context_from_environment({"STRATUS_USER_ID": "u", "STRATUS_PROJECT_ID": "p"})["roles"] == \
        ["member"]
    err = refusal(caller.context_from_environment, {"STRATUS_USER_ID": "u"})
    assert err.code == "PolicyNotAuthorized" and err.field == "STRATUS_PROJECT_ID"
    err = refusal(caller.context_from_environment, {"STRATUS_USER_ID": "u", "STRATUS_PROJECT_ID": "p",
                                                    "STRATUS_ROLES": "admin;drop"})
    assert err.field == "environment.roles[0]"


def test_nobody_asking_is_refused() -> None:
    err = refusal(caller.resolve_context, None, {})
    assert err.code == "PolicyNotAuthorized" and err.field == "stratus_context"


def test_admin_is_what_policy_says_of_the_roles() -> None:
    assert caller.Caller(dict(ALICE, roles=["admin"]), Enforcer()).is_admin
    assert not caller.Caller(ALICE, Enforcer()).is_admin
    assert caller.Caller(dict(ALICE, roles=["ops"]), Enforcer({"context_is_admin": "role:ops"})).is_admin
    with pytest.raises(StratusError):
        caller.Caller(dict(ALICE, is_admin=True), Enforcer())


def test_launch_inputs_pass_and_overrides_are_refused() -> None:
    assert launch.refused(["stratus_servers", "stratus_survey_name", "awx_job_id", "tower_user_name", "out_file"]) \
        == []
    assert launch.refused(["stratus_context", "stratus_servers", "ansible_host", "stratus_db_url"]) == \
        ["ansible_host", "stratus_context", "stratus_db_url"]
    assert launch.refused(["stratus_spawn_parallel"], ["stratus_spawn_parallel"]) == []
    launch.check_extra_vars({}, names=["stratus_servers"])
    launch.check_extra_vars({}, names=[])
    err = refusal(launch.check_extra_vars, {}, ["stratus_policy", "stratus_servers"])
    assert err.code == "Forbidden" and err.field == "stratus_policy"
    err = refusal(launch.check_extra_vars, {"stratus_launch_vars": ["stratus_context"]},
                  ["stratus_launch_vars", "stratus_context"])
    assert err.code == "Forbidden" and err.field == "stratus_launch_vars"
    launch.check_extra_vars({"stratus_launch_vars": ["stratus_spawn_parallel"]}, ["stratus_spawn_parallel"])
    assert refusal(launch.check_extra_vars, {"stratus_launch_vars": "x"}, ["stratus_x"]).code == "InvalidCatalog"


def test_outside_ansible_playbook_no_extra_vars_are_seen() -> None:
    assert launch.extra_var_names() == set()
