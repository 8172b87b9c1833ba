"""Smoke-test the lab images under QEMU TCG (no KVM needed, no host network).

1. Boots stratus-guest.qcow2 (through a throw-away qcow2 overlay) with a
   config drive from build_config_drive(), attached as an IDE cdrom on the
   ``pc`` machine, and waits for the guest's ready line; checks name, uuid,
   a DHCP address from QEMU's isolated user network, the disks line and the
   user_data checksum.
2. The same with the config drive as a second virtio disk.
3. Boots stratus-bench.qcow2 for a few seconds after QEMU is up (its QMP socket
   is there) and checks QEMU keeps running (QMP query-status says "running").

Usage: python lab/image/smoke_boot.py [--images build/images] [--timeout 300]
Exit status 0 only if every check passed; prints the seconds to ready.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
CONFIG_DRIVE_PY = REPO_ROOT / "plugins" / "module_utils" / "compute" / "config_drive.py"

READY_RE = re.compile(r"STRATUS-GUEST ready name=(\S+) uuid=(\S+) ip=(\S+)")
DISKS_RE = re.compile(r"STRATUS-GUEST disks((?: \S+=\d+)*)")
USER_DATA_RE = re.compile(r"STRATUS-GUEST user_data bytes=(\d+) sha256=(\S+)")
IPV4_RE = re.compile(r"\d{1,3}(\.\d{1,3}){3}")


class SmokeError(Exception):
    pass


def load_config_drive_module() -> ModuleType:
    """Import config_drive.py by path (it lives in the collection tree)."""
    spec = importlib.util.spec_from_file_location("stratus_config_drive", CONFIG_DRIVE_PY)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def make_overlay(base: Path, overlay: Path) -> None:
    # The overlay takes every guest write; the built image stays untouched.
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                    "-b", str(base), str(overlay)], check=True)


def qemu_base_cmd(serial: Path) -> list[str]:
    return ["qemu-system-x86_64", "-accel", "tcg", "-machine", "pc", "-m", "256",
            "-smp", "1", "-display", "none", "-nodefaults", "-no-reboot",
            "-serial", "file:%s" % serial]


def start_qemu(cmd: list[str], log: Path) -> subprocess.Popen:
    with log.open("wb") as fp:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fp, stderr=subprocess.STDOUT)


def stop_qemu(proc: subprocess.Popen) -> None:
    """Stop only the QEMU we started, by its own PID."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for_ready(proc: subprocess.Popen, serial: Path, timeout: float) -> tuple[float, str]:
    """Seconds until the ready line appeared, and the serial output so far."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        text = serial.read_text(errors="replace") if serial.exists() else ""
        if READY_RE.search(text):
            return time.monotonic() - start, text
        if proc.poll() is not None:
            raise SmokeError("qemu exited with %s before the ready line" % proc.returncode)
        time.sleep(0.2)
    raise SmokeError("no ready line within %.0f s" % timeout)


def check_guest_output(text: str, meta: dict, user_data: bytes, expect_disks: list[str]) -> str:
    name, uuid, ip = READY_RE.search(text).groups()
    problems = []
    if name != meta["name"]:
        problems.append("name=%s, expected %s" % (name, meta["name"]))
    if uuid != meta["uuid"]:
        problems.append("uuid=%s, expected %s" % (uuid, meta["uuid"]))
    if not IPV4_RE.fullmatch(ip):
        problems.append("no DHCP address (ip=%s)" % ip)
    disks_m = DISKS_RE.search(text)
    disks = dict(d.split("=") for d in disks_m.group(1).split()) if disks_m else {}
    for dev in expect_disks:
        if int(disks.get(dev, 0)) <= 0:
            problems.append("disk %s missing or empty in %s" % (dev, disks))
    ud = USER_DATA_RE.search(text)
    want_sum = hashlib.sha256(user_data).hexdigest()
    if not ud or int(ud.group(1)) != len(user_data) or ud.group(2) != want_sum:
        problems.append("user_data line %r, expected bytes=%d sha256=%s"
                        % (ud.group(0) if ud else None, len(user_data), want_sum))
    if problems:
        raise SmokeError("; ".join(problems))
    return "name=%s uuid=%s ip=%s disks=%s" % (name, uuid, ip, disks)


def sample_inputs(variant: str) -> tuple[dict, dict, bytes]:
    meta = {
        "uuid": "5d6c2b1e-0c3a-4f7e-9a51-%012d" % (1 if variant == "cdrom" else 2),
        "name": "smoke-%s" % variant,
        "hostname": "smoke-%s" % variant,
        "availability_zone": "nova",
        "project_id": "p-smoke",
        "launch_index": 0,
        "public_keys": {"lab": "ssh-ed25519 AAAAC3Nza lab@stratus"},
        "keys": [{"name": "lab", "type": "ssh", "data": "ssh-ed25519 AAAAC3Nza lab@stratus"}],
        "meta": {"name": "not-the-server-name", "role": "smoke"},
        "devices": [],
    }
    network = {"links": [{"id": "eth0", "type": "phy"}],
               "networks": [{"id": "n0", "link": "eth0", "type": "ipv4_dhcp"}],
               "services": []}
    user_data = b"#cloud-config\nhostname: smoke-%s\n" % variant.encode()
    return meta, network, user_data


def boot_guest(images: Path, work: Path, variant: str, timeout: float) -> float:
    cd = load_config_drive_module()
    meta, network, user_data = sample_inputs(variant)
    iso = work / ("config-%s.iso" % variant)
    iso.write_bytes(cd.build_config_drive(meta, network, user_data))
    overlay = work / ("guest-%s.qcow2" % variant)
    make_overlay(images / "stratus-guest.qcow2", overlay)
    serial = work / ("serial-%s.log" % variant)
    cmd = qemu_base_cmd(serial) + [
        "-drive", "file=%s,if=virtio,format=qcow2" % overlay,
        "-netdev", "user,id=net0,restrict=on",
        "-device", "virtio-net-pci,netdev=net0",
    ]
    if variant == "cdrom":
        # IDE cdrom on the pc machine's PIIX controller: Nova's default.
        cmd += ["-drive", "file=%s,if=ide,media=cdrom,format=raw,readonly=on" % iso]
        expect = ["vda", "sr0"]
    else:
        cmd += ["-drive", "file=%s,if=virtio,format=raw,readonly=on" % iso]
        expect = ["vda", "vdb"]
    proc = start_qemu(cmd, work / ("qemu-%s.log" % variant))
    try:
        seconds, text = wait_for_ready(proc, serial, timeout)
        summary = check_guest_output(text, meta, user_data, expect)
    except SmokeError as exc:
        tail = (serial.read_text(errors="replace") if serial.exists() else "")[-2000:]
        raise SmokeError("%s boot: %s\n--- serial tail ---\n%s" % (variant, exc, tail)) from None
    finally:
        stop_qemu(proc)
    print("PASS guest/%s: ready after %.1f s (%s)" % (variant, seconds, summary), flush=True)
    return seconds


def qmp_status(sock_path: Path) -> str:
    """QMP query-status over the unix socket: 'running', 'paused', ..."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(sock_path))
        reader = s.makefile("r")
        reader.readline()  # greeting
        for cmd in ({"execute": "qmp_capabilities"}, {"execute": "query-status"}):
            s.sendall(json.dumps(cmd).encode() + b"\n")
            while True:
                reply = json.loads(reader.readline())
                if "return" in reply or "error" in reply:
                    break
        return reply.get("return", {}).get("status", "error: %s" % reply)


def boot_bench(images: Path, work: Path, seconds: float) -> None:
    overlay = work / "bench.qcow2"
    make_overlay(images / "stratus-bench.qcow2", overlay)
    qmp = work / "bench.qmp"
    cmd = qemu_base_cmd(work / "serial-bench.log") + [
        "-drive", "file=%s,if=virtio,format=qcow2" % overlay,
        "-qmp", "unix:%s,server=on,wait=off" % qmp,
    ]
    proc = start_qemu(cmd, work / "qemu-bench.log")
    try:
        # Up first (a loaded machine starts QEMU slowly), then `seconds` of running.
        deadline = time.monotonic() + 60
        while not qmp.exists() and proc.poll() is None:
            if time.monotonic() > deadline:
                raise SmokeError("bench: no QMP socket after 60 s")
            time.sleep(0.1)
        time.sleep(seconds)  # how long it must keep running, not a wait for it
        if proc.poll() is not None:
            raise SmokeError("bench: qemu exited with %s: %s" % (
                proc.returncode, (work / "qemu-bench.log").read_text(errors="replace")[-500:]))
        status = qmp_status(qmp)
        if status != "running":
            raise SmokeError("bench: QMP status %s, expected running" % status)
    finally:
        stop_qemu(proc)
    print("PASS bench: qemu alive after %.0f s, status running" % seconds, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default=str(REPO_ROOT / "build" / "images"))
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds to wait at most per boot (the wait ends at the ready line)")
    parser.add_argument("--bench-seconds", type=float, default=5.0)
    parser.add_argument("--only", choices=("cdrom", "virtio", "bench"), action="append",
                        help="run only these checks (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir with logs")
    args = parser.parse_args()
    images = Path(args.images)
    for tool in ("qemu-system-x86_64", "qemu-img"):
        if shutil.which(tool) is None:
            print("smoke_boot.py: error: %s not found (apt-get install -y qemu-system-x86 "
                  "qemu-utils)" % tool, file=sys.stderr)
            return 1
    for name in ("stratus-guest.qcow2", "stratus-bench.qcow2"):
        if not (images / name).is_file():
            print("smoke_boot.py: error: %s missing: run lab/image/build.py first"
                  % (images / name), file=sys.stderr)
            return 1
    checks = args.only or ["cdrom", "virtio", "bench"]
    work = Path(tempfile.mkdtemp(prefix="stratus-smoke-"))
    failures = 0
    try:
        for check in checks:
            try:
                if check == "bench":
                    boot_bench(images, work, args.bench_seconds)
                else:
                    boot_guest(images, work, check, args.timeout)
            except SmokeError as exc:
                failures += 1
                print("FAIL %s" % exc, flush=True)
    finally:
        if args.keep:
            print("logs kept in %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (len(checks) - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
