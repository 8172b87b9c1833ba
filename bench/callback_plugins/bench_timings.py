# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wall seconds per task (from its start to the next task's), written as JSON for bench.py.

The benchmark enables it with ANSIBLE_CALLBACKS_ENABLED=bench_timings and names the file in
BENCH_TIMINGS_FILE; it is the profile that says where a run's time goes.
"""
from __future__ import annotations

import json
import os
import time
import typing as t

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timings
type: aggregate
short_description: wall seconds per task, as JSON
description: Writes each task's wall seconds and the playbook's start-up seconds to BENCH_TIMINGS_FILE.
requirements: [enable in the callbacks_enabled setting]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timings"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._loaded = time.time()
        self._tasks: list[dict[str, t.Any]] = []
        self._current: t.Optional[dict[str, t.Any]] = None
        self._first_task: t.Optional[float] = None

    def _close(self) -> None:
        if self._current is not None:
            self._current["seconds"] = round(time.time() - self._current.pop("start"), 3)
            self._tasks.append(self._current)
            self._current = None

    def v2_playbook_on_task_start(self, task: t.Any, is_conditional: bool) -> None:
        self._close()
        now = time.time()
        if self._first_task is None:
            self._first_task = now
        self._current = {"task": task.get_name(), "start": now}

    def v2_playbook_on_handler_task_start(self, task: t.Any) -> None:
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        self._close()
        path = os.environ.get("BENCH_TIMINGS_FILE")
        if not path:
            return
        summary: dict[str, float] = {}
        for task in self._tasks:
            summary[task["task"]] = round(summary.get(task["task"], 0.0) + task["seconds"], 3)
        with open(path, "w") as handle:
            json.dump({"until_first_task": round((self._first_task or time.time()) - self._loaded, 3),
                       "tasks": self._tasks, "by_name": summary}, handle, indent=1)
