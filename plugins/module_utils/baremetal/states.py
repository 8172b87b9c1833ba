# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ironic's provision states and the verbs that move a node between them: the one table.

A verb runs from one of its ``sources`` through a transient state (``via``) and ends in
``success`` or ``failure`` (the fault is the node's ``last_error``). A verb asked of a node
already in its ``success`` state changes nothing (the actions are idempotent); from any other
state it is refused (``NodeInvalidState``, nothing changed). A verb may also start from its own
transient state: a run killed half-way leaves the node there, and running the verb again
finishes it. Maintenance is a flag with a reason, not a state (Ironic's way).

Stdlib only: the controller and a conductor host both read it.
"""
from __future__ import annotations

import typing as t

ENROLL = "enroll"
VERIFYING = "verifying"
MANAGEABLE = "manageable"
INSPECTING = "inspecting"
INSPECT_FAILED = "inspect failed"
CLEANING = "cleaning"
CLEAN_FAILED = "clean failed"
AVAILABLE = "available"
DEPLOYING = "deploying"
DEPLOY_FAILED = "deploy failed"
ACTIVE = "active"
DELETING = "deleting"

STABLE = (ENROLL, MANAGEABLE, INSPECT_FAILED, CLEAN_FAILED, AVAILABLE, DEPLOY_FAILED, ACTIVE)
TRANSIENT = (VERIFYING, INSPECTING, CLEANING, DEPLOYING, DELETING)
ALL = STABLE + TRANSIENT


class Verb(t.NamedTuple):
    name: str
    sources: t.Tuple[str, ...]
    via: t.Optional[str]  # the transient state while the work runs (None: a plain move)
    success: str
    failure: str
    by_user: bool  # an operator's action (stratus baremetal node ...), else the server pipeline's


# Ironic's graph (ironic/common/states.py), the verbs Stratus has.
VERBS: t.Dict[str, Verb] = {v.name: v for v in (
    Verb("manage", (ENROLL, INSPECT_FAILED, CLEAN_FAILED, AVAILABLE), VERIFYING, MANAGEABLE, ENROLL, True),
    Verb("inspect", (MANAGEABLE, INSPECT_FAILED), INSPECTING, MANAGEABLE, INSPECT_FAILED, True),
    Verb("provide", (MANAGEABLE,), CLEANING, AVAILABLE, CLEAN_FAILED, True),
    Verb("deploy", (AVAILABLE, DEPLOY_FAILED), DEPLOYING, ACTIVE, DEPLOY_FAILED, False),
    # a server's delete (and a failed deploy's clean-up): the node is cleaned on its way back
    Verb("undeploy", (ACTIVE, DEPLOY_FAILED), DELETING, CLEANING, CLEAN_FAILED, False),
    Verb("clean", (CLEANING,), None, AVAILABLE, CLEAN_FAILED, False),
)}

# available -> manageable needs no BMC call (Ironic's manage from available is a plain move)
PLAIN_MOVES = {("manage", AVAILABLE)}


class Move(t.NamedTuple):
    verb: str
    current: str
    changed: bool  # False: the node is where the verb leads already
    via: t.Optional[str]  # the transient state to record before the work (None: none, or nothing to do)
    success: str
    failure: str


def plan_move(verb: str, current: str) -> Move:
    """What ``verb`` does to a node in ``current``; ValueError when Ironic does not allow it.

    The caller turns ValueError into NodeInvalidState with the node's name; the message names
    the states the verb is allowed from.
    """
    spec = VERBS.get(verb)
    if spec is None:
        raise ValueError("unknown verb %r (one of: %s)" % (verb, ", ".join(sorted(VERBS))))
    if current not in ALL:
        raise ValueError("unknown provision state %r" % current)
    if current == spec.success and current not in spec.sources:
        return Move(verb, current, False, None, spec.success, spec.failure)
    if current in spec.sources or (spec.via is not None and current == spec.via):
        via = None if (verb, current) in PLAIN_MOVES else spec.via
        return Move(verb, current, True, via, spec.success, spec.failure)
    raise ValueError("%s is not allowed in provision state %r (allowed from: %s)"
                     % (verb, current, ", ".join(spec.sources)))
