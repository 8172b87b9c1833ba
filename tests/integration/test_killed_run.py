"""The lab toolkit's kill (stratus_lab.ansible_run.kill_tree): a killed run is killed whole.

ansible-core's workers call setsid(), so SIGKILL of a run's process group alone leaves the worker
of the running task going on; the crash-recovery and bare-metal scenarios need the kill of a crash.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from stratus_lab import ansible_run

# A leader that starts a child which leaves the group (as ansible-core's WorkerProcess does) and a grandchild.
LEADER = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import os, subprocess, sys, time; os.setsid(); "
    "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); "
    "open(sys.argv[1], 'w').write('%d %d' % (os.getpid(), g.pid)); time.sleep(300)", sys.argv[1]])
time.sleep(300)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_kill_tree_kills_what_left_the_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    proc = subprocess.Popen([sys.executable, "-c", LEADER, str(pids)], start_new_session=True)
    deadline = time.monotonic() + 60
    while not (pids.exists() and pids.read_text().strip()):
        assert time.monotonic() < deadline, "the child did not start"
        time.sleep(0.05)
    child, grandchild = (int(p) for p in pids.read_text().split())
    assert os.getsid(child) != os.getsid(proc.pid)  # out of the run's group and session
    assert set(ansible_run.descendants(proc.pid)) >= {child, grandchild}
    ansible_run.kill_group(proc)
    deadline = time.monotonic() + 30
    while alive(child) or alive(grandchild):
        assert time.monotonic() < deadline, "a descendant survived the kill"
        time.sleep(0.05)
    assert proc.returncode is not None
