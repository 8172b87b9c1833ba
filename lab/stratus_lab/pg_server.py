# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throwaway PostgreSQL cluster for the tests (stdlib only).

The cluster lives in one short directory (default /tmp/stratus-pg-test): data in
``data/``, the server log in ``log``, the unix socket beside them. It listens on
no TCP port and trusts local socket connections, so it is reachable only by the
``postgres`` OS user and root (the directory is 0700). Durability is switched off
for speed: the data is thrown away anyway.

    python -m stratus_lab.pg_server start|stop|url [STATE_DIR]

As a module: ``start``, ``stop``, ``url``, ``fresh_database`` and ``shared``
(what the pytest fixture uses: the last test session out stops the server).
"""
from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
import typing as t
import urllib.parse
from pathlib import Path

DEFAULT_STATE_DIR = Path(os.environ.get("STRATUS_PG_STATE_DIR") or "/tmp/stratus-pg-test")
DATABASE = "stratus_test"
PORT = 5432  # only names the socket file: no TCP listener, so no clash with a system server
OS_USER = "postgres"  # postgres refuses to run as root
SUPERUSER = "postgres"
# Its presence marks the directory as ours (safe to wipe); its content is our postmaster's pid.
PID_FILE = "stratus-pg-test.pid"
SOCKET_PATH_MAX = 107  # sizeof(sun_path) - 1 on Linux
_DBNAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PgServerError(RuntimeError):
    pass


def bindir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin that has the server tools."""
    found = []
    for path in glob.glob("/usr/lib/postgresql/*/bin"):
        version = os.path.basename(os.path.dirname(path))
        if all(os.access(os.path.join(path, tool), os.X_OK) for tool in ("initdb", "pg_ctl", "postgres", "psql")):
            found.append((tuple(int(p) for p in re.findall(r"\d+", version)), Path(path)))
    if not found:
        raise PgServerError("PostgreSQL server binaries (initdb, pg_ctl, postgres, psql) not found under "
                            "/usr/lib/postgresql/*/bin: install the Debian package 'postgresql' "
                            "(setup/apt-packages.txt), or run only SQLite tests with STRATUS_TEST_BACKENDS=sqlite")
    return max(found)[1]


def url(state_dir: Path = DEFAULT_STATE_DIR, database: str = DATABASE) -> str:
    """The SQLAlchemy URL of ``database`` on the cluster in ``state_dir``."""
    return "postgresql+psycopg://%s@/%s?host=%s" % (SUPERUSER, database, urllib.parse.quote(str(state_dir), safe="/"))


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []  # a normal user runs the server as itself
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        raise PgServerError("OS user %r missing (the Debian package 'postgresql-common' creates it)" % OS_USER) from None
    return ["runuser", "-u", OS_USER, "--"] if shutil.which("runuser") else \
        ["setpriv", "--reuid", OS_USER, "--regid", OS_USER, "--init-groups", "--"]


def _run(cmd: list[str], cwd: Path, as_server: bool = True) -> None:
    # cwd: the server user cannot always enter the caller's directory (initdb fails on that).
    proc = subprocess.run((_as_server_user() if as_server else []) + cmd, cwd=cwd, check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise PgServerError("%s failed (exit %d):\n%s" % (os.path.basename(cmd[0]), proc.returncode,
                                                          proc.stdout.strip()))


def _psql(state_dir: Path, *sql: str) -> None:
    cmd = [str(bindir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(state_dir),
           "-p", str(PORT), "-U", SUPERUSER, "-d", "postgres"]
    for statement in sql:
        cmd += ["-c", statement]  # each -c is its own transaction: CREATE DATABASE needs that
    _run(cmd, state_dir, as_server=False)


def _postmaster_pid(state_dir: Path) -> t.Optional[int]:
    """The pid of a live postgres serving ``state_dir/data``, from its postmaster.pid."""
    try:
        pid = int((state_dir / "data" / "postmaster.pid").read_text().split("\n", 1)[0])
        cmdline = Path("/proc/%d/cmdline" % pid).read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    # A recycled pid of some other process must not count as ours.
    data = str(state_dir / "data").encode()
    return pid if os.path.basename(cmdline[0]) in (b"postgres", b"postmaster") and data in cmdline else None


def is_running(state_dir: Path = DEFAULT_STATE_DIR) -> bool:
    """Our server is up and fully set up (the pid file is written last)."""
    pid = _postmaster_pid(state_dir)
    try:
        return pid is not None and int((state_dir / PID_FILE).read_text()) == pid
    except (OSError, ValueError):
        return False


def _check_ours(state_dir: Path) -> None:
    if state_dir.exists() and not (state_dir / PID_FILE).exists() and any(state_dir.iterdir()):
        raise PgServerError("%s exists but was not made by stratus_lab.pg_server; not touching it" % state_dir)


def _alive(pid: int) -> bool:
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return False
    # A zombie has exited already; the daemonized postmaster's parent (init) reaps it when it likes.
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _shutdown(state_dir: Path, mode: str) -> None:
    pid = _postmaster_pid(state_dir)
    if pid is None:
        return
    try:
        _run([str(bindir() / "pg_ctl"), "-D", str(state_dir / "data"), "-m", mode, "-w", "-t", "30", "stop"],
             state_dir)
    except PgServerError:
        # pg_ctl could not do it (say the data dir is damaged): signal the pid we verified is ours.
        os.kill(pid, signal.SIGQUIT)
    if not _wait_gone(pid, 10):
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 10)


def _wipe(state_dir: Path) -> None:
    _check_ours(state_dir)
    _shutdown(state_dir, "immediate")
    shutil.rmtree(state_dir, ignore_errors=True)


def start(state_dir: Path = DEFAULT_STATE_DIR) -> str:
    """Start the cluster in ``state_dir`` unless it runs already; return the URL of ``stratus_test``."""
    state_dir = Path(os.path.abspath(state_dir))
    if is_running(state_dir):
        return url(state_dir)
    socket = state_dir / (".s.PGSQL.%d" % PORT)
    if len(str(socket).encode()) > SOCKET_PATH_MAX:
        raise PgServerError("socket path %s is longer than %d bytes: use a shorter state directory"
                            % (socket, SOCKET_PATH_MAX))
    tools = bindir()
    # Anything here is a stale or half-made cluster (say pytest was killed): start over.
    _wipe(state_dir)
    state_dir.mkdir(mode=0o700, parents=True)
    (state_dir / PID_FILE).touch(0o644)
    if _as_server_user():
        entry = pwd.getpwnam(OS_USER)
        os.chown(state_dir, entry.pw_uid, entry.pw_gid)
    data = state_dir / "data"
    _run([str(tools / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth-local=trust", "--auth-host=reject",
          "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], state_dir)
    settings = {
        "listen_addresses": "''",
        "unix_socket_directories": "'%s'" % str(state_dir).replace("'", "''"),
        "port": str(PORT),
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }
    with open(data / "postgresql.conf", "a") as conf:  # root may write it; postgres keeps ownership
        conf.write("\n# stratus_lab.pg_server\n" + "".join("%s = %s\n" % kv for kv in settings.items()))
    _run([str(tools / "pg_ctl"), "-D", str(data), "-l", str(state_dir / "log"), "-w", "-t", "60", "start"],
         state_dir)
    _psql(state_dir, 'CREATE DATABASE "%s"' % DATABASE)
    pid = _postmaster_pid(state_dir)
    if pid is None:
        raise PgServerError("postgres started but is not running; see %s" % (state_dir / "log"))
    (state_dir / PID_FILE).write_text("%d\n" % pid)
    return url(state_dir)


def stop(state_dir: Path = DEFAULT_STATE_DIR) -> None:
    """Stop the cluster in ``state_dir`` (no other) and remove the directory."""
    state_dir = Path(os.path.abspath(state_dir))
    if not state_dir.exists():
        return
    _check_ours(state_dir)
    _shutdown(state_dir, "fast")
    shutil.rmtree(state_dir)


def fresh_database(base_url: str, name: str) -> str:
    """Create an empty database ``name`` (dropped first if it exists) beside ``base_url``'s; return its URL."""
    if not _DBNAME.match(name):
        raise PgServerError("database name %r: use 1-63 of [a-z0-9_], not starting with a digit" % name)
    host = urllib.parse.parse_qs(urllib.parse.urlsplit(base_url).query).get("host", [""])[0]
    if not host:
        raise PgServerError("%s has no ?host=<socket dir>: not a URL from stratus_lab.pg_server" % base_url)
    state_dir = Path(host)
    _psql(state_dir, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name, 'CREATE DATABASE "%s"' % name)
    return url(state_dir, name)


# Two bytes of one lock file (POSIX locks: they vanish with a killed process, so
# a crashed session never blocks the others): byte 0 serialises starting and
# stopping; every session holds byte 1 shared while it uses the server.
_MUTEX, _USERS = 0, 1


def _lock_path(state_dir: Path) -> str:
    # Beside the state dir, not in it: the directory itself is wiped and recreated.
    return str(state_dir) + ".lock"


def _range(fd: int, cmd: int, byte: int) -> None:
    fcntl.lockf(fd, cmd, 1, byte)


def _mutex(state_dir: Path) -> int:
    """An fd of the lock file holding the start/stop mutex."""
    path = _lock_path(state_dir)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        _range(fd, fcntl.LOCK_EX, _MUTEX)
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            return fd
        os.close(fd)  # the last user removed the file while we waited: lock the new one


def _stop_if_unused(state_dir: Path, fd: int) -> bool:
    """Under the mutex: stop the cluster and drop the lock file unless a session uses it."""
    try:
        # Atomically turns our own shared hold (if any) into an exclusive one.
        _range(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, _USERS)
    except OSError:
        return False
    stop(state_dir)
    os.unlink(_lock_path(state_dir))
    return True


@contextlib.contextmanager
def shared(state_dir: Path = DEFAULT_STATE_DIR) -> t.Iterator[str]:
    """Use the cluster for the duration of the block, starting it if needed.

    Parallel test sessions share one server; the last one out stops it.
    """
    state_dir = Path(os.path.abspath(state_dir))
    fd = _mutex(state_dir)
    try:
        try:
            database_url = start(state_dir)
            _range(fd, fcntl.LOCK_SH, _USERS)
        finally:
            _range(fd, fcntl.LOCK_UN, _MUTEX)
        yield database_url
        _range(fd, fcntl.LOCK_EX, _MUTEX)
        _stop_if_unused(state_dir, fd)
    finally:
        os.close(fd)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[1] not in ("start", "stop", "url"):
        print("usage: %s start|stop|url [STATE_DIR]   (default %s)" % (argv[0], DEFAULT_STATE_DIR), file=sys.stderr)
        return 2
    state_dir = Path(os.path.abspath(argv[2] if len(argv) == 3 else DEFAULT_STATE_DIR))
    try:
        if argv[1] == "url":
            print(url(state_dir))
            return 0 if is_running(state_dir) else 1
        fd = _mutex(state_dir)
        try:
            if argv[1] == "start":
                print(start(state_dir))
            elif not _stop_if_unused(state_dir, fd):
                print("pg_server: %s is in use by a running test session" % state_dir, file=sys.stderr)
                return 1
        finally:
            os.close(fd)
    except PgServerError as exc:
        print("pg_server: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
