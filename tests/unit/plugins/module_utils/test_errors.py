# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugins/module_utils/errors.py: the one error type and the failed result built from it."""
from __future__ import annotations

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.errors import ERROR_CODES, StratusError, error_result


def test_unknown_code_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown error code 'NoSuchError'"):
        raise StratusError("NoSuchError", "whatever")


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_every_known_code_is_accepted(code: str) -> None:
    exc = StratusError(code, "message")
    assert exc.code == code
    assert isinstance(exc, Exception)


def test_to_dict_carries_code_message_and_field() -> None:
    exc = StratusError("FlavorNotFound", "Flavor m1.huge could not be found.", "flavor")
    assert exc.to_dict() == {"code": "FlavorNotFound", "message": "Flavor m1.huge could not be found.", "field": "flavor"}
    assert StratusError("InternalError", "boom").to_dict() == {"code": "InternalError", "message": "boom", "field": None}


def test_str_names_the_field_only_when_there_is_one() -> None:
    assert str(StratusError("InvalidRequest", "bad name", "name")) == "InvalidRequest: bad name (field: name)"
    assert str(StratusError("NoValidHost", "no host")) == "NoValidHost: no host"


def test_error_result_is_a_failed_result_with_the_error() -> None:
    exc = StratusError("QuotaExceeded", "Quota exceeded for instances", "max_count")
    result = error_result(exc)
    assert result == {
        "failed": True,
        "msg": "QuotaExceeded: Quota exceeded for instances (field: max_count)",
        "error": {"code": "QuotaExceeded", "message": "Quota exceeded for instances", "field": "max_count"},
    }


def test_error_result_takes_extra_keys_and_they_may_override() -> None:
    exc = StratusError("Conflict", "differs")
    result = error_result(exc, changed=False, servers=[], msg="custom")
    assert result["changed"] is False
    assert result["servers"] == []
    assert result["msg"] == "custom"
    assert result["error"]["code"] == "Conflict"
