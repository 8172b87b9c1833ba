"""A hypervisor disabled and enabled (Nova's os-services update) against a real store (SQLite and
PostgreSQL): the status and reason kept, what the scheduler's host states and the views then say."""
from __future__ import annotations

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.host_states import host_states
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.policy import Enforcer
from ansible_collections.stratus.compute.plugins.plugin_utils.conductor.services import set_host_service
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import host_usage
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

ADMIN = Caller({"user_id": "root", "project_id": "ops", "roles": ["admin"]}, Enforcer(None))
MEMBER = Caller({"user_id": "alice", "project_id": "p1", "roles": ["member"]}, Enforcer(None))
HOSTS = ["hv1", "hv2"]
HOSTVARS = {"hv1": {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40},
            "hv2": {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 40, "stratus_disabled": True}}


def services(db_url: str) -> dict[str, dict]:
    with store.transaction(db_url) as conn:
        used = host_usage.usage(conn)
    return {hs.host: hs.service for hs in host_states(HOSTS, HOSTVARS, None, used)}


def test_disable_enable_and_what_the_scheduler_sees(db_url: str) -> None:
    assert services(db_url)["hv1"] == {"disabled": False, "up": True}
    assert services(db_url)["hv2"]["disabled"]  # the inventory's stratus_disabled
    check = set_host_service(ADMIN, HOSTS, "hv1", True, "firmware", db_url, check_mode=True)
    assert check.changed and check.service["status"] == "disabled" and not services(db_url)["hv1"]["disabled"]
    out = set_host_service(ADMIN, HOSTS, "hv1", True, "firmware", db_url, check_mode=False)
    assert out.changed and (out.service["status"], out.service["disabled_reason"]) == ("disabled", "firmware")
    assert services(db_url)["hv1"] == {"disabled": True, "up": True, "disabled_reason": "firmware"}
    assert not set_host_service(ADMIN, HOSTS, "hv1", True, None, db_url, check_mode=False).changed
    assert set_host_service(ADMIN, HOSTS, "hv1", True, "new disks", db_url, check_mode=False).changed
    out = set_host_service(ADMIN, HOSTS, "hv1", False, None, db_url, check_mode=False)
    assert out.changed and out.service["status"] == "enabled" and out.service["updated_by"] == "root"
    assert services(db_url)["hv1"] == {"disabled": False, "up": True}
    assert not set_host_service(ADMIN, HOSTS, "hv1", False, None, db_url, check_mode=False).changed


@pytest.mark.parametrize("caller, host, disabled, reason, code, field", [
    (MEMBER, "hv1", True, None, "PolicyNotAuthorized", "host"),
    (ADMIN, "hv9", True, None, "ComputeHostNotFound", "host"),
    (ADMIN, "hv1", False, "why", "InvalidRequest", "reason"),
    (ADMIN, "hv1", True, "x" * 256, "InvalidRequest", "reason"),
    (ADMIN, "hv1", True, "two\nlines", "InvalidRequest", "reason"),
])
def test_refusals_change_nothing(db_url: str, caller: Caller, host: str, disabled: bool, reason: str, code: str,
                                 field: str) -> None:
    with pytest.raises(StratusError) as err:
        set_host_service(caller, HOSTS, host, disabled, reason, db_url, check_mode=False)
    assert (err.value.code, err.value.field) == (code, field)
    assert services(db_url)["hv1"] == {"disabled": False, "up": True}
