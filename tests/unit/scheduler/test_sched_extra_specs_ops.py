"""The extra-spec operators (cases after Nova's test_extra_specs_ops)."""
from __future__ import annotations

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.extra_specs_ops import match

FEATURES = str(["sse4", "avx", "aes"])


@pytest.mark.parametrize("value, requirement, expected", [
    ("7", "7", True),                       # no operator: equal strings
    ("", "7", False),
    ("8", "7", False),
    ("777", "7", False),
    ("9", "> 7", False),                    # not an operator: the whole text must be equal
    ("250", "= 250", True),                 # '=' means at least
    ("251", "= 250", True),
    ("25", "= 250", False),
    ("25", "=", False),                     # an operator without an operand
    ("250", "s== 250", True),
    ("2500", "s== 250", False),
    ("2500", "s!= 250", True),
    ("250", "s!= 250", False),
    ("2000", "s>= 345", False),             # string order: '2' < '3'
    ("345", "s>= 2000", True),
    ("3456", "s<= 2000", False),
    ("3", "s< 25", False),
    ("25", "s> 3", False),
    ("b", "s> a", True),
    ("a", "s< b", True),
    ("98765432", "<in> 65", True),          # substring
    ("98765432", "<in> 98765432", True),
    ("98765432", "<in> 98765432 <in>", True),
    ("98705432", "<in> 65", False),
    ("98705432", "<in> 65 <in>", False),
    ("21", "<or> 20 <or> 21", True),
    ("21", "<or> 20 <or> 21 <or>", True),
    ("22", "<or> 20 <or> 21", False),
    ("22", "<or> 20 <or> 21 <or>", False),
    ("3", "<= 12", True),
    ("13", "<= 12", False),
    ("5", ">= 2", True),
    ("1", ">= 2", False),
    ("2", "== 2.0", True),
    ("2", "!= 2.0", False),
    ("x", ">= 2", False),                   # not a number: no match (rather than an error)
    (FEATURES, "<all-in> sse4 aes", True),
    (FEATURES, "<all-in> avx", True),
    (FEATURES, "<all-in>  neon", False),
    (FEATURES, "<all-in> neon sve", False),
    (FEATURES, "<all-in> neon aes", False),
])
def test_match(value: str, requirement: str, expected: bool) -> None:
    assert match(value, requirement) is expected


def test_a_missing_value_matches_only_without_operator() -> None:
    assert match(None, ">= 1") is False
    assert match(None, "<or> a <or> b") is False
