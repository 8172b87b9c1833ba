# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugins/module_utils/baremetal/resource_class.py: Nova's rule for an Ironic node's resource class."""
from __future__ import annotations

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.baremetal.resource_class import (
    is_prefixed, normalize_resource_class,
)


@pytest.mark.parametrize("name, placement", [
    ("baremetal", "CUSTOM_BAREMETAL"),
    ("baremetal.small", "CUSTOM_BAREMETAL_SMALL"),
    ("baremetal-small-2", "CUSTOM_BAREMETAL_SMALL_2"),
    ("Gold_Tier", "CUSTOM_GOLD_TIER"),
    ("a..b--c", "CUSTOM_A_B_C"),  # a run of other characters is one underscore
    ("x.", "CUSTOM_X_"),
])
def test_nova_normalises_a_resource_class(name: str, placement: str) -> None:
    assert normalize_resource_class(name) == placement


def test_the_prefix_is_always_added_so_a_prefixed_name_is_flagged() -> None:
    assert normalize_resource_class("CUSTOM_GOLD") == "CUSTOM_CUSTOM_GOLD"
    assert is_prefixed("CUSTOM_GOLD") and is_prefixed("custom_gold")
    assert not is_prefixed("customer") and not is_prefixed("gold")
