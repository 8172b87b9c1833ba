# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugins/module_utils/hostname.py: the one rule for a server's hostname (RFC 1123)."""
from __future__ import annotations

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.hostname import (
    MAX_LENGTH, hostname_problem, invalid_hostname_message, is_hostname,
)


@pytest.mark.parametrize("name", [
    "a", "A", "7", "web", "Web-1", "0day", "a-b-c", "a--b", "web.example.com", "x" * 63,
    ".".join(["a" * 63] * 3) + "." + "a" * 61,   # 253 characters
])
def test_valid(name: str) -> None:
    assert is_hostname(name) and hostname_problem(name) is None


@pytest.mark.parametrize("name, words", [
    ("", "it is empty"),
    ("a_b", "'_' is not allowed in it"),
    ("web\n", "'\\n' is not allowed in it"),
    ("\nweb", "'\\n' is not allowed in it"),
    ("a b", "' ' is not allowed in it"),
    ("a,b", "',' is not allowed in it"),
    ("caf\u00e9", "'\u00e9' is not allowed in it"),
    ("..", "it has an empty label"),
    (".a", "it has an empty label"),
    ("a.", "it has an empty label"),
    ("a..b", "it has an empty label"),
    ("-a", "its label -a starts with a hyphen"),
    ("a-", "its label a- ends with a hyphen"),
    ("web.-a", "its label -a starts with a hyphen"),
    ("x" * 64, "is 64 characters long, more than 63"),
    ("a." + "x" * 64, "is 64 characters long, more than 63"),
    (".".join(["a" * 63] * 4), "it is 255 characters long, more than 253"),
])
def test_invalid_says_why(name: str, words: str) -> None:
    assert not is_hostname(name)
    assert words in hostname_problem(name)
    assert invalid_hostname_message(name).startswith("Not a valid hostname: ")


def test_not_a_string() -> None:
    assert not is_hostname(None) and not is_hostname(5)
    assert MAX_LENGTH == 253
