# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A harness's lab: brought up with its own state dir, prefix and addresses (two labs with the same
ones collide), driven, and always taken down:

    with LabSession(Path("/tmp/stratus-e2e-prov"), "stxp", "10.233", hypervisors=2) as lab:
        lab.provision(servers, catalog)           # provision.yml against the lab, the demo inventory
        lab.host(1).in_namespaces("virsh list")   # hv1 (stratus_lab.host)
        lab.rows("select count(*) from instances")

The lab itself is `python -m stratus_lab` (stratus_lab.lab), run as a command: it needs root, holds
its state dir's lock and prints what it did.
"""
from __future__ import annotations

import json
import signal
import shutil
import subprocess
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from stratus_lab import ansible_run, inventory_overlay, store
from stratus_lab.host import Host
from stratus_lab.lab import LabError
from stratus_lab.lock import lab_lock
from stratus_lab.paths import DEMO_INVENTORY, PROVISION, ROOT, SERVER_ACTION, VENV_BIN, VENV_PYTHON


def lab_command(*args: str, state: Path) -> list[str]:
    """`python -m stratus_lab ARGS --state-dir STATE` with this checkout's .venv."""
    return [str(VENV_PYTHON), "-m", "stratus_lab", *args, "--state-dir", str(state)]


def _interrupt(signum: int, _frame: t.Any) -> None:
    raise KeyboardInterrupt("signal %d" % signum)


@dataclass
class LabSession:
    state: Path
    prefix: str
    subnet_base: str
    hypervisors: int = 3
    db_url: t.Optional[str] = None                 # None: SQLite in <state>/store
    caller: t.Optional[t.Mapping[str, t.Any]] = None  # the caller of every run (None: stratus_context)
    lock_up: bool = False                          # bring it up holding the lab lock (a CPU-heavy phase)
    forget_state: bool = False                     # down also removes the state dir (logs, overlays)
    baremetal: int = 0                             # bare-metal nodes behind the lab's BMCs (stratus_lab.baremetal)
    _handlers: dict[int, t.Any] = field(default_factory=dict, init=False, repr=False)

    # --- life cycle ---------------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The one environment of this lab's commands and runs: its store, its caller."""
        return ansible_run.env(store_dir=self.state / "store", db_url=self.db_url, caller=self.caller)

    def lab(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        """`python -m stratus_lab ARGS` for this lab's state dir."""
        proc = subprocess.run(lab_command(*args, state=self.state), cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise LabError("stratus_lab %s: %s" % (" ".join(args[:2]), (proc.stderr or proc.stdout).strip()[-2000:]))
        return proc

    def up(self) -> None:
        """A fresh lab: whatever an earlier run left in the state dir is taken down first."""
        self.down()
        argv: tuple[str, ...] = ("up", "--hypervisors", str(self.hypervisors), "--prefix", self.prefix,
                                 "--subnet-base", self.subnet_base)
        if self.baremetal:
            argv += ("--baremetal", str(self.baremetal))
        if self.lock_up:
            with lab_lock():
                self.lab(*argv)
        else:
            self.lab(*argv)
        if self.db_url:
            store.reset(self.db_url)

    def down(self) -> None:
        if (self.state / "lab.json").exists():
            self.lab("down", check=False)
        if self.forget_state:
            shutil.rmtree(self.state, ignore_errors=True)

    def __enter__(self) -> "LabSession":
        self._handlers = {s: signal.signal(s, _interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
        try:
            self.up()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        # Down even when interrupted: a second signal is ignored while the lab is taken apart.
        previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            self.down()
        finally:
            for s, h in {**previous, **self._handlers}.items():
                signal.signal(s, h)

    # --- its parts ----------------------------------------------------------------------------------

    @property
    def inventory(self) -> Path:
        return self.state / "inventory.yml"

    @property
    def key(self) -> Path:
        return self.state / "ssh" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.state / "ssh" / "known_hosts"

    def host_numbers(self) -> list[int]:
        return list(range(1, self.hypervisors + 1))

    def host_names(self) -> list[str]:
        return ["hv%d" % k for k in self.host_numbers()]

    def host(self, k: int) -> Host:
        return Host(self.state, k)

    def address(self, k: int) -> str:
        return "%s.%d.2" % (self.subnet_base, k)

    def daemon(self, action: str, daemon: str, k: int) -> None:
        """Stop or start one daemon of hvK (the fault drills); a stopped sshd's SSH master is closed too."""
        self.lab("daemon", action, daemon, "--hv", str(k))
        if daemon == "sshd" and action == "stop":
            self.host(k).close_ssh_master()

    # --- runs and the store -------------------------------------------------------------------------

    def provision_argv(self, servers: list[dict[str, t.Any]], catalog: t.Optional[t.Mapping[str, t.Any]] = None,
                       playbook: Path = PROVISION, options: t.Sequence[str] = ()) -> list[str]:
        """`playbook` (provision.yml) for these requests, with the lab's and the demo's inventories;
        `catalog` variables go in an inventory overlay after them (never extra variables)."""
        return self.playbook_argv(playbook, {"stratus_servers": servers}, catalog, options)

    def playbook_argv(self, playbook: Path, launch: t.Mapping[str, t.Any],
                      catalog: t.Optional[t.Mapping[str, t.Any]] = None, options: t.Sequence[str] = ()) -> list[str]:
        """`playbook` with `launch` as its extra variables, the lab's and the demo's inventories, then
        `catalog` variables in an inventory overlay after them."""
        inventories = [self.inventory, DEMO_INVENTORY]
        if catalog:
            inventories.append(inventory_overlay.write(self.state / "catalog-overlay", catalog))
        return ansible_run.playbook_argv(playbook, inventories, launch, options)

    def actions_argv(self, actions: list[dict[str, t.Any]],
                     catalog: t.Optional[t.Mapping[str, t.Any]] = None) -> list[str]:
        """server_action.yml for these `stratus_actions`, as `stratus server ...` runs it."""
        return self.playbook_argv(SERVER_ACTION, {"stratus_actions": actions}, catalog)

    def server_actions(self, actions: list[dict[str, t.Any]], catalog: t.Optional[t.Mapping[str, t.Any]] = None,
                       timeout: float = 900) -> ansible_run.RunResult:
        return ansible_run.run_merged(self.actions_argv(actions, catalog), self.env, timeout)

    def killed_server_actions(self, actions: list[dict[str, t.Any]], catalog: t.Optional[t.Mapping[str, t.Any]],
                              kill_after: float, log: Path) -> ansible_run.KilledRun:
        """server_action.yml SIGKILLed (its whole process group) `kill_after` seconds after its start."""
        return ansible_run.killed_run(self.actions_argv(actions, catalog), self.env, kill_after, log)

    def provision(self, servers: list[dict[str, t.Any]], catalog: t.Optional[t.Mapping[str, t.Any]] = None,
                  timeout: float = 900) -> ansible_run.RunResult:
        return ansible_run.run_merged(self.provision_argv(servers, catalog), self.env, timeout)

    def start_provision(self, servers: list[dict[str, t.Any]], catalog: t.Optional[t.Mapping[str, t.Any]],
                        log: Path) -> subprocess.Popen:
        """provision.yml in a process group of its own, its output going to `log` as it comes."""
        return ansible_run.start(self.provision_argv(servers, catalog), self.env, log)

    def killed_provision(self, servers: list[dict[str, t.Any]], catalog: t.Optional[t.Mapping[str, t.Any]],
                         kill_after: float, log: Path) -> ansible_run.KilledRun:
        """provision.yml SIGKILLed (its whole process group) `kill_after` seconds after its start."""
        return ansible_run.killed_run(self.provision_argv(servers, catalog), self.env, kill_after, log)

    def servers_inventory(self, context: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """`ansible-inventory --list` of the stratus.compute.servers plugin on this lab's store, as `context` sees it."""
        source = self.state / "servers.stratus.yml"
        source.write_text(json.dumps({"plugin": "stratus.compute.servers", "db_url": self.store_url,
                                      "context": dict(context)}))
        proc = subprocess.run([str(VENV_BIN / "ansible-inventory"), "-i", str(source), "--list"], capture_output=True,
                              text=True, env=self.env, cwd=str(self.state), timeout=300, check=False)
        if proc.returncode != 0:
            raise LabError("ansible-inventory of the servers plugin: %s" % proc.stderr[-2000:])
        return json.loads(proc.stdout)

    @property
    def store_url(self) -> str:
        return self.db_url or "sqlite:///%s" % (self.state / "store" / "stratus.db")

    def rows(self, query: str, **params: t.Any) -> list[t.Any]:
        return store.rows(self.store_url, query, **params)
