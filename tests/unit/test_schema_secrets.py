"""Schema errors never echo a secret: admin_pass, user data, file contents, the store URL."""
from __future__ import annotations

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import schema

SECRET = "S3cret-Value-9d1"


@pytest.mark.parametrize("field, value, path", [
    ("admin_pass", [SECRET], "admin_pass"),
    ("admin_pass", {"k": SECRET}, "admin_pass"),
    ("user_data", SECRET + "!", "user_data"),
    ("personality", [{"path": "/etc/x", "contents": SECRET + "!"}], "personality[0].contents"),
])
def test_invalid_secret_is_not_in_the_message(field: str, value: object, path: str) -> None:
    with pytest.raises(StratusError) as err:
        schema.validate_request({"name": "s", "flavor": "1", "image": "i", field: value})
    assert err.value.code == "InvalidRequest" and err.value.field == path
    assert SECRET not in err.value.message and "********" in err.value.message
