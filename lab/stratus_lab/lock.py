# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one lab lock: held for one CPU-heavy phase of lab work (a benchmark repetition, a reliability
trial), never for a whole run, so that other lab users interleave between phases."""
from __future__ import annotations

import contextlib
import fcntl
import time
import typing as t
from pathlib import Path

LAB_LOCK = Path("/tmp/stratus-lab.lock")


@contextlib.contextmanager
def lab_lock() -> t.Iterator[float]:
    """Hold LAB_LOCK (flock(1) users take the same lock); yields the seconds waited for it."""
    start = time.monotonic()
    with open(LAB_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield time.monotonic() - start
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
