"""Waiting in tests: for a condition, with a generous deadline, never for a fixed time.

A test that sleeps a fixed time and then looks assumes how fast the machine is; on a busy one (two
cores, loaded) the thing has not happened yet. `wait_until` polls until the condition holds, so a
wait costs only the time the condition takes, and the deadline is there only to fail a test that
would otherwise hang. A wait cannot show that something did NOT happen: wait for a positive signal
sent after it would have happened (a marker) instead.
"""
from __future__ import annotations

import time
import typing as t

T = t.TypeVar("T")

# The suite must pass on a loaded two-core machine: far above what anything takes there.
DEADLINE = 60.0


def wait_until(predicate: t.Callable[[], T], what: str, timeout: float = DEADLINE, interval: float = 0.02) -> T:
    """The first true value of `predicate()`, asked every `interval` s; AssertionError naming `what` when
    it is still false after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("waited %.0f s for %s" % (timeout, what))
        time.sleep(interval)
