# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hypervisor's step lock: one changing step at a time, a bounded wait, then an error with a code."""
from __future__ import annotations

import multiprocessing
import os

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.compute.common import host_lock
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError


def _hold(path: str, ready: "multiprocessing.synchronize.Event", release: "multiprocessing.synchronize.Event") -> None:
    with host_lock(path):
        ready.set()
        release.wait(600)  # set once the test has tried; the deadline only ends a holder left behind


def test_a_second_step_waits_then_fails_with_a_code(tmp_path):
    path = str(tmp_path / "lock" / "compute.lock")
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(path, ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(StratusError) as err:
            with host_lock(path, timeout=0.5):
                pass
        assert err.value.code == "HypervisorUnavailable" and path in err.value.message
    finally:
        release.set()
        holder.join(60)
    with host_lock(path, timeout=60):  # free again once the holder is gone
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
