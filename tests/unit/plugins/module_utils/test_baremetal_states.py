# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugins/module_utils/baremetal/states.py: Ironic's provision states and the verbs between them."""
from __future__ import annotations

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import states


@pytest.mark.parametrize("verb, current, via, success", [
    ("manage", states.ENROLL, states.VERIFYING, states.MANAGEABLE),
    ("manage", states.CLEAN_FAILED, states.VERIFYING, states.MANAGEABLE),
    ("inspect", states.MANAGEABLE, states.INSPECTING, states.MANAGEABLE),
    ("provide", states.MANAGEABLE, states.CLEANING, states.AVAILABLE),
    ("deploy", states.AVAILABLE, states.DEPLOYING, states.ACTIVE),
    ("undeploy", states.ACTIVE, states.DELETING, states.CLEANING),
    ("clean", states.CLEANING, None, states.AVAILABLE),
])
def test_a_verb_moves_through_its_transient_state(verb: str, current: str, via: str, success: str) -> None:
    move = states.plan_move(verb, current)
    assert move.changed and move.via == via and move.success == success


@pytest.mark.parametrize("verb, current", [("manage", states.MANAGEABLE), ("provide", states.AVAILABLE)])
def test_a_verb_where_it_leads_already_changes_nothing(verb: str, current: str) -> None:
    move = states.plan_move(verb, current)
    assert not move.changed and move.via is None


def test_manage_from_available_is_a_plain_move() -> None:
    move = states.plan_move("manage", states.AVAILABLE)
    assert move.changed and move.via is None and move.success == states.MANAGEABLE


@pytest.mark.parametrize("verb", ["manage", "inspect", "provide", "deploy"])
def test_a_verb_killed_half_way_can_be_run_again(verb: str) -> None:
    via = states.VERBS[verb].via
    assert states.plan_move(verb, via).changed


@pytest.mark.parametrize("verb, current", [
    ("provide", states.ENROLL), ("inspect", states.AVAILABLE), ("deploy", states.MANAGEABLE),
    ("manage", states.ACTIVE), ("undeploy", states.AVAILABLE),
])
def test_a_verb_ironic_does_not_allow_is_refused_with_the_states_it_needs(verb: str, current: str) -> None:
    with pytest.raises(ValueError, match="allowed from"):
        states.plan_move(verb, current)


def test_unknown_verbs_and_states_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown verb"):
        states.plan_move("fly", states.ENROLL)
    with pytest.raises(ValueError, match="unknown provision state"):
        states.plan_move("manage", "floating")
