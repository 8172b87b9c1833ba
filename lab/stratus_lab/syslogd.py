"""A lab hypervisor's system log: syslog(3) datagrams on /dev/log, each written whole to a file.

    syslogd.py --socket /dev/log --out /var/log/messages --pid-file FILE [--require-overlay]

The lab (stratus_lab.lab) runs it as a script in each hypervisor's network and mount namespaces,
where /dev is a private overlay (so /dev/log exists in that namespace only). It is what a hypervisor's rsyslog or journald is to
Stratus: Ansible writes every module's "Invoked with ..." line there, dnsmasq its DHCP lines.

Not busybox syslogd: that one cuts every message at about 1 KiB (the read buffer it is built
with), and a step module's invocation line is many KiB, so a secret late in it would never show
in the log and a test looking for leaks there would pass for nothing. This one keeps up to 256 KiB
per message, more than a syslog(3) datagram can carry here.

With --require-overlay it refuses to start unless the socket's directory is on an overlay mount:
started by mistake outside the lab's namespace, it would create /dev/log on the machine itself.
The parent returns once the socket is bound and the daemon's PID is in FILE; SIGTERM stops it and
removes the socket.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import sys
import time
import typing as t

from stratus_lab.lab import parse_mountinfo  # one reader of mountinfo

MAX_MESSAGE = 256 * 1024
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
              "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
              "local5", "local6", "local7")
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
PRI = re.compile(rb"<(\d{1,3})>")


def fstype_of(path: str) -> str:
    """The file system type of the mount that holds `path` (the longest mount point above it)."""
    best, fstype = "", ""
    with open("/proc/self/mountinfo") as handle:
        for target, kind in parse_mountinfo(handle.read()):
            inside = path == target or path.startswith(target.rstrip("/") + "/")
            if inside and len(target) >= len(best):
                best, fstype = target, kind
    return fstype


def format_line(datagram: bytes, now: float) -> str:
    """One log line: local time, facility.severity, then the message as the client sent it
    (its own timestamp and tag), line breaks escaped so a message stays one line."""
    match = PRI.match(datagram)
    level = "user.notice"
    if match:
        pri = int(match.group(1))
        facility = FACILITIES[pri >> 3] if pri >> 3 < len(FACILITIES) else str(pri >> 3)
        level = "%s.%s" % (facility, SEVERITIES[pri & 7])
        datagram = datagram[match.end():]
    text = datagram.rstrip(b"\0\n").decode("utf-8", "replace").replace("\\", "\\\\").replace("\n", "\\n")
    return "%s %s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now)), level, text)


def bind(path: str) -> socket.socket:
    if os.path.exists(path) or os.path.islink(path):
        os.unlink(path)  # a socket left by an earlier run (in the overlay's upper layer)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o666)
    return sock


def serve(sock: socket.socket, out: t.TextIO, socket_path: str) -> None:
    def stop(_signum: int, _frame: t.Any) -> None:
        try:
            os.unlink(socket_path)
        except OSError:
            pass
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        try:
            datagram = sock.recv(MAX_MESSAGE)
        except InterruptedError:
            continue
        out.write(format_line(datagram, time.time()))
        out.flush()


def main(argv: t.Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="syslogd.py", description=__doc__.splitlines()[0])
    parser.add_argument("--socket", default="/dev/log")
    parser.add_argument("--out", default="/var/log/messages")
    parser.add_argument("--pid-file", required=True)
    parser.add_argument("--require-overlay", action="store_true",
                        help="refuse unless the socket's directory is on an overlay mount")
    parser.add_argument("--foreground", action="store_true")
    args = parser.parse_args(argv)
    where = os.path.dirname(args.socket) or "."
    if args.require_overlay and fstype_of(os.path.realpath(where)) != "overlay":
        print("syslogd.py: refusing to create %s: %s is not a private overlay here" % (args.socket, where),
              file=sys.stderr)
        return 2
    try:
        sock = bind(args.socket)
        out = open(args.out, "a", encoding="utf-8")
    except OSError as exc:
        print("syslogd.py: %s" % exc, file=sys.stderr)
        return 1
    if not args.foreground:
        pid = os.fork()
        if pid:
            with open(args.pid_file + ".part", "w") as handle:
                handle.write("%d\n" % pid)
            os.replace(args.pid_file + ".part", args.pid_file)
            return 0
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
    else:
        with open(args.pid_file, "w") as handle:
            handle.write("%d\n" % os.getpid())
    serve(sock, out, args.socket)
    return 0


if __name__ == "__main__":
    sys.exit(main())
