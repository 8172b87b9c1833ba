# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugins/module_utils/scheduler/weighers: Nova's weight normalisation."""
from __future__ import annotations

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.scheduler.weighers import normalize


def test_empty_stays_empty() -> None:
    assert normalize([]) == []


@pytest.mark.parametrize("values", [[5.0], [3.0, 3.0, 3.0], [-1.5, -1.5]])
def test_all_equal_values_become_zero(values: list[float]) -> None:
    assert normalize(values) == [0.0] * len(values)


def test_range_maps_onto_zero_to_one_in_order() -> None:
    assert normalize([2048.0, 4096.0, 3072.0]) == [0.0, 1.0, 0.5]


def test_negative_values_and_order_is_kept() -> None:
    values = [-10.0, 0.0, 30.0, 10.0]
    out = normalize(values)
    assert out == [0.0, 0.25, 1.0, 0.5]
    assert sorted(range(len(values)), key=values.__getitem__) == sorted(range(len(out)), key=out.__getitem__)


def test_input_is_not_modified() -> None:
    values = [1.0, 2.0]
    normalize(values)
    assert values == [1.0, 2.0]
