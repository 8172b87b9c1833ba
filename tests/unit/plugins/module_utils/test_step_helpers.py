# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the hypervisor steps: the per-instance loop run in parallel, the base image checksums."""
from __future__ import annotations

import hashlib
import json
import os
import threading

from ansible_collections.stratus.compute.plugins.module_utils.compute.common import per_instance
from ansible_collections.stratus.compute.plugins.module_utils.compute.steps import base_checksums_path, images_needed
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError


def _instances(n):
    return [{"uuid": "u%02d" % i} for i in range(n)]


def test_parallel_runs_the_first_alone_then_the_rest_together():
    lock = threading.Lock()
    running = {"now": 0, "peak": 0}
    order = []
    # The eight after the first meet four at a time: each waits (a generous deadline, not a fixed
    # time: on a busy machine threads start late) until four run at once. Fewer workers break the
    # barrier once, and those steps fail.
    four = threading.Barrier(4, timeout=60)

    def step(inst):
        with lock:
            running["now"] += 1
            running["peak"] = max(running["peak"], running["now"])
            order.append(("start", inst["uuid"], running["now"]))
        if inst["uuid"] != "u00":
            four.wait()
        with lock:
            running["now"] -= 1
        return {"changed": True}

    changed, results = per_instance(_instances(9), step, workers=4)
    assert changed
    assert list(results) == ["u%02d" % i for i in range(9)]  # reported in the plan's order
    assert all(r["ok"] for r in results.values()), results
    assert order[0] == ("start", "u00", 1)
    assert running["peak"] == 4


def test_one_failure_stays_that_instance_s_in_parallel():
    def step(inst):
        if inst["uuid"] == "u03":
            raise StratusError("BuildAbortException", "no room", "block_device_mapping_v2")
        if inst["uuid"] == "u05":
            raise RuntimeError("libvirt went away")
        return {"changed": False}

    changed, results = per_instance(_instances(7), step, workers=3)
    assert not changed
    assert results["u03"]["error"]["code"] == "BuildAbortException"
    assert results["u05"]["error"] == {"code": "BuildAbortException", "message": "libvirt went away", "field": None}
    assert "Traceback" in results["u05"]["exception"]
    assert [u for u, r in results.items() if r["ok"]] == ["u00", "u01", "u02", "u04", "u06"]


def test_serial_by_default():
    seen = []
    per_instance(_instances(4), lambda inst: seen.append(threading.get_ident()) or {"changed": False})
    assert len(set(seen)) == 1


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_images_needed_compares_checksums_and_caches_them(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    (base / "img-a").write_bytes(b"A" * 1000)
    (base / "img-b").write_bytes(b"old")
    wanted = {"img-a": _sha(b"A" * 1000), "img-b": _sha(b"new"), "img-c": _sha(b"c")}
    assert images_needed(wanted, str(base)) == ["img-b", "img-c"]
    cache = json.loads(open(base_checksums_path(str(base))).read())
    assert cache["img-a"]["sha256"] == wanted["img-a"]
    assert not os.path.exists(base / ".base-sha256.json")  # never inside the pool directory

    # An unchanged file is not read again: a poisoned cache entry with the same key is believed...
    cache["img-a"]["sha256"] = "0" * 64
    open(base_checksums_path(str(base)), "w").write(json.dumps(cache))
    assert images_needed({"img-a": wanted["img-a"]}, str(base)) == ["img-a"]
    # ...and a changed file (new size and mtime) is read again.
    (base / "img-a").write_bytes(b"A" * 1001)
    assert images_needed({"img-a": _sha(b"A" * 1001)}, str(base)) == []


def test_images_needed_survives_a_broken_cache(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    (base / "img").write_bytes(b"x")
    open(base_checksums_path(str(base)), "w").write("{not json")
    assert images_needed({"img": _sha(b"x")}, str(base)) == []


def _converge_params(tmp_path, n=3, **extra):
    base = tmp_path / "base"
    base.mkdir(exist_ok=True)
    return dict({"uri": "test:///default", "state": "present", "instances": _instances(n),
                 "base_pool_path": str(base), "uploads": {}, "image_checksums": {}}, **extra)


def test_converge_runs_the_three_steps_and_carries_the_disks(tmp_path, monkeypatch):
    from ansible_collections.stratus.compute.plugins.module_utils.compute import steps
    calls = []

    def fake(step, fail=None, disks=False, changed=()):
        def runner(params):
            calls.append((step, [i["uuid"] for i in params["instances"]], [i.get("disks") for i in params["instances"]]))
            out = {}
            for inst in params["instances"]:
                if inst["uuid"] == fail:
                    out[inst["uuid"]] = {"ok": False, "changed": False, "error": {"code": "BuildAbortException",
                                                                                  "message": "boom", "field": None}}
                else:
                    out[inst["uuid"]] = dict({"ok": True, "changed": inst["uuid"] in changed},
                                             **({"disks": [{"path": "/d/" + inst["uuid"]}]} if disks else {}))
            return {"changed": bool(changed), "instances": out}
        return runner

    monkeypatch.setattr(steps, "run_network", fake("network", fail="u01"))
    monkeypatch.setattr(steps, "run_block_devices", fake("block_devices", disks=True))
    monkeypatch.setattr(steps, "run_domain", fake("domain", changed=("u02",)))
    res = steps.run_converge(_converge_params(tmp_path))
    assert [c[0] for c in calls] == ["network", "block_devices", "domain"]
    assert calls[1][1] == ["u00", "u02"]  # u01 failed the network step: no further step
    assert calls[2][2] == [[{"path": "/d/u00"}], [{"path": "/d/u02"}]]  # the spawn step gets this call's disks
    assert res["changed"] is True
    assert res["instances"]["u01"]["step"] == "network" and not res["instances"]["u01"]["ok"]
    assert res["instances"]["u02"] == {"ok": True, "changed": True, "disks": [{"path": "/d/u02"}]}


def test_converge_asks_for_missing_images_before_touching_anything(tmp_path, monkeypatch):
    from ansible_collections.stratus.compute.plugins.module_utils.compute import steps

    def never(params):
        raise AssertionError("no step may run before the images are there")

    for name in ("run_network", "run_block_devices", "run_domain"):
        monkeypatch.setattr(steps, name, never)
    res = steps.run_converge(_converge_params(tmp_path, image_checksums={"img": _sha(b"x")}))
    assert res == {"changed": False, "images_needed": ["img"], "instances": {}}


def test_converge_refuses_to_delete(tmp_path):
    from ansible_collections.stratus.compute.plugins.module_utils.compute import steps
    try:
        steps.run_converge(_converge_params(tmp_path, state="absent"))
    except StratusError as exc:
        assert exc.to_dict()["field"] == "state"
    else:
        raise AssertionError("state=absent accepted")
