"""Action races: two actions on one server at once; one wins, the other is refused and changes nothing.

Servers are made by the real decision play (play 1 of provision.yml, as the concurrency scenario runs
it) and marked ACTIVE as a finished build would be (lifecycle.mark_active), on hypervisors that exist
only in the inventory. Each round starts, for every pair of conflicting actions, both actions on one
server at the same moment as separate processes: ansible-playbook runs of server_action.yml's first play
(check and record; its later plays would contact the hypervisors), and for stop vs hard reboot one side
through the real `stratus server ... --no-wait` (its playbook directory holds that same first play). A
barrier (ready files, then one go file) lines the processes up just before their action task. After the
round the store is checked with SQL: exactly one new instance action per server, the winner's; the
loser refused with InstanceInvalidState (field action); the task_state the winner's; nothing else
written (plan, flavor, image, host, claim, addresses, leftovers, events, migration records) unless the
winner writes it. The moves (resize vs live migration; migrate vs live migration in the full run) race
on hypervisors that exist only in the inventory: the record play never contacts them.
On a real SQLite file and on a real PostgreSQL server.
"""
from __future__ import annotations

import copy
import json
import subprocess
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
import yaml

from stratus_lab import ansible_run, scenario, store
from stratus_lab.paths import ROOT, VENV_BIN

from ansible_collections.stratus.compute.plugins.plugin_utils.conductor import lifecycle
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import compute_services
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as collection_store

OWNER = {"user_id": "u-pr", "project_id": "pr", "roles": ["member"]}
ADMIN = {"user_id": "u-ops", "project_id": "ops", "roles": ["admin"]}
OPS_MEMBER = {"user_id": "u-ops-member", "project_id": "ops", "roles": ["member"]}
NEW_IMAGE_ID = "22222222-3333-4444-8555-666666666666"
RESIZED_FLAVOR = "m1.small"
DOWN_HOST = "hv1"  # forced down for the evacuations; the evacuated servers were placed there first
# hypervisors of the inventory only (never contacted), with what a live migration's request checks: each
# host's migration URI and the destination's migration address
HOSTS = {"hv%d" % k: {"stratus_migration_uri": "qemu+tcp://10.81.251.%d/system" % k,
                      "stratus_migration_address": "10.81.251.%d" % k} for k in (1, 2, 3)}
CAPACITY = {"stratus_vcpus": 64, "stratus_memory_mb": 65536, "stratus_local_gb": 2000}
CATALOG = {
    "stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 128, "disk": 1},
                        {"id": "2", "name": RESIZED_FLAVOR, "vcpus": 2, "ram": 256, "disk": 2}],
    "stratus_images": [{"id": ansible_run.IMAGE_ID, "name": "cirros", "disk_format": "qcow2"},
                       {"id": NEW_IMAGE_ID, "name": "cirros-new", "disk_format": "qcow2"}],
    "stratus_networks": [{"id": "5b2f0c1e-3333-4a57-8a8f-0d5b6c2f4e03", "name": "race", "cidr": "10.81.0.0/22"}],
    "stratus_quotas": {"defaults": {"instances": 500, "cores": 1000, "ram": 1024000}},
}

# Before the action task: say ready, then wait for the go file (every process of the round waits on it).
BARRIER = {"name": "Wait for the start of the race", "changed_when": False, "ansible.builtin.command": {"argv": [
    "{{ ansible_playbook_python }}", "-c",
    "import pathlib, sys, time\n"
    "pathlib.Path(sys.argv[1]).touch()\n"
    "deadline = time.monotonic() + 900\n"
    "while not pathlib.Path(sys.argv[2]).exists() and time.monotonic() < deadline:\n"
    "    time.sleep(0.002)\n",
    "{{ race_ready }}", "{{ race_go }}"]}}
ANSWERS = {"name": "Write the answers", "ansible.builtin.copy": {
    "dest": "{{ answers_file }}", "mode": "0600",
    "content": "{{ stratus_action_requests.results | map('dict2items') | map('selectattr', 'key', 'in', ['item', "
               "'changed', 'error', 'server', 'request_id', 'server_uuids', 'hosts', 'move_first', 'move_then', "
               "'live_destinations', 'exception']) "
               "| map('items2dict') | list | to_json }}"}}


def record_play(race: t.Optional[dict[str, str]] = None, answers: bool = True) -> list[dict[str, t.Any]]:
    """server_action.yml's first play (check and record), as the repository has it, with the barrier
    before its request task and (for ansible-playbook runs) a task that writes the action task's results."""
    play = copy.deepcopy(yaml.safe_load((ROOT / "playbooks" / "server_action.yml").read_text())[0])
    at = next((k for k, task in enumerate(play["tasks"]) if "stratus.compute.server_action" in task), None)
    if at is None:
        raise scenario.CannotRun("server_action.yml's first play no longer requests the actions (server_action)")
    # the barrier right before the request (the tasks before it, such as the confirm window's, run first); the
    # tasks after it only hand the recorded work to the hypervisor plays, which a record play has none of
    play["tasks"] = play["tasks"][:at] + [BARRIER, play["tasks"][at]] + ([ANSWERS] if answers else [])
    if race is not None:
        play["vars"] = dict(race)
    return [play]


@dataclass(frozen=True)
class Side:
    label: str                 # the figure's name of this side
    action: dict[str, t.Any]   # the stratus_actions item, without its server
    caller: dict[str, t.Any]
    instance_action: str       # what the action log records when it wins
    task_state: str


@dataclass(frozen=True)
class Pair:
    name: str
    a: Side
    b: Side
    evacuated: bool = False     # its servers live on DOWN_HOST
    cli: bool = False           # one side through the stratus CLI (alternating which)
    full_only: bool = False     # not in the --quick rounds (make test's time)

    @property
    def same_action(self) -> bool:
        return self.a.action == self.b.action


STOP = Side("stop", {"action": "stop"}, OWNER, "stop", "powering-off")
LIVE_MIGRATE = Side("live_migrate", {"action": "live_migrate"}, ADMIN, "live-migration", "migrating")
# the moves: what each records (the migration record's type, its first status, the events at the request)
MOVES = {"resize": ("resize", "pre-migrating", []), "migrate": ("migration", "pre-migrating", []),
         "live_migrate": ("live-migration", "queued", ["conductor_live_migrate_instance"])}
PAIRS = [
    Pair("stop_vs_reboot_hard", STOP, Side("reboot_hard", {"action": "reboot", "reboot_type": "hard"}, OWNER,
                                           "reboot", "rebooting_hard"), cli=True),
    Pair("stop_vs_rebuild", STOP, Side("rebuild", {"action": "rebuild", "image": "cirros-new"}, OWNER, "rebuild",
                                       "rebuilding")),
    # the same action twice: the second takes the first over (a rerun resumes it), one record
    Pair("reboot_soft_twice", Side("reboot_soft", {"action": "reboot", "reboot_type": "soft"}, OWNER, "reboot",
                                   "rebooting"),
         Side("reboot_soft", {"action": "reboot", "reboot_type": "soft"}, OWNER, "reboot", "rebooting")),
    Pair("evacuate_vs_stop", Side("evacuate", {"action": "evacuate"}, ADMIN, "evacuate", "rebuilding"),
         Side("stop", {"action": "stop"}, OPS_MEMBER, "stop", "powering-off"), evacuated=True),
    # evacuate and rebuild share their task_state (rebuilding): neither may take the other over
    Pair("rebuild_vs_evacuate", Side("rebuild", {"action": "rebuild", "image": "cirros-new"}, OPS_MEMBER, "rebuild",
                                     "rebuilding"),
         Side("evacuate", {"action": "evacuate"}, ADMIN, "evacuate", "rebuilding"), evacuated=True),
    # two moves: the loser may neither take the winner's migration record over nor add its own
    Pair("resize_vs_live_migrate", Side("resize", {"action": "resize", "flavor": RESIZED_FLAVOR}, OWNER, "resize",
                                        "resize_prep"), LIVE_MIGRATE),
    Pair("migrate_vs_live_migrate", Side("migrate", {"action": "migrate"}, ADMIN, "migrate", "resize_prep"),
         LIVE_MIGRATE, full_only=True),
]


@dataclass
class Racer:
    side: Side
    server: str
    proc: subprocess.Popen
    ready: Path
    answers: t.Optional[Path]  # ansible-playbook's answers file; None: a CLI call (its stdout)
    log: Path
    answer: t.Optional[dict[str, t.Any]] = None  # the action's result, or its error

    @property
    def via(self) -> str:
        return "playbook" if self.answers is not None else "cli"


class Backend:
    def __init__(self, sc: scenario.Scenario, name: str, db_url: str, work: Path, pairs: list[Pair]) -> None:
        self.sc, self.name, self.db_url, self.work, self.pairs = sc, name, db_url, work, pairs
        work.mkdir(parents=True, exist_ok=True)
        self.inventory = ansible_run.write_yaml(work / "hosts.yml", ansible_run.controller_inventory(
            CATALOG, HOSTS, CAPACITY))
        (work / "create.yml").write_text(ansible_run.DECIDE_PLAYBOOK)  # play 1 of provision.yml
        ansible_run.write_yaml(work / "record.yml", record_play())
        self.engine = store.open_engine(db_url)
        self.seq = 0
        self.servers: dict[str, list[str]] = {}   # pair -> one server name per round
        self.owners: dict[str, tuple[str, str]] = {}  # server name -> (its uuid, its project)

    def figure(self, key: str, by: int = 1) -> None:
        self.sc.count(key, by)
        self.sc.count("%s.%s" % (self.name, key), by)

    def q(self, sql: str, **params: t.Any) -> list[t.Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))

    # --- the servers: made by the decision play, ACTIVE as after their build --------------------------------

    def create(self, caller: dict[str, t.Any], requests: list[dict[str, t.Any]]) -> None:
        vars_file = self.work / ("create-%s.json" % caller["project_id"])
        vars_file.write_text(json.dumps({"stratus_servers": requests}))
        ansible_run.run(ansible_run.playbook_argv(self.work / "create.yml", [self.inventory], None,
                                                  ["-e", "@%s" % vars_file]),
                        ansible_run.env(db_url=self.db_url, caller=caller), timeout=1800)

    def make_servers(self, rounds: int) -> None:
        tiny = {"flavor": "m1.tiny", "image": "cirros", "networks": [{"name": "race"}]}
        for pair in self.pairs:
            self.servers[pair.name] = ["%s-%d" % (pair.name.replace("_", "-"), r) for r in range(rounds)]
        # the evacuated ones first, forced onto the host that then goes down (admin's ":host"), in ops
        self.create(ADMIN, [dict(tiny, name=n, availability_zone=":%s" % DOWN_HOST)
                            for p in self.pairs if p.evacuated for n in self.servers[p.name]])
        with collection_store.transaction(self.db_url, locked=True) as conn:
            compute_services.set_forced_down(conn, DOWN_HOST, True, ADMIN["user_id"])
        self.create(OWNER, [dict(tiny, name=n) for p in self.pairs if not p.evacuated for n in self.servers[p.name]])
        with collection_store.transaction(self.db_url, locked=True) as conn:
            for (uuid,) in conn.execute(sa.text("SELECT uuid FROM instances WHERE deleted = ''")):
                lifecycle.mark_active(conn, uuid)
        made = self.q("SELECT uuid, name, project_id, host, vm_state, task_state FROM instances WHERE deleted = ''")
        self.owners = {r.name: (r.uuid, r.project_id) for r in made}
        wanted = sum(len(v) for v in self.servers.values())
        if len(made) != wanted or any(r.vm_state != "active" or r.task_state is not None for r in made):
            raise scenario.CannotRun("%s: %d of %d servers made ACTIVE" % (self.name, len(made), wanted))
        on_down = {r.name for r in made if r.host == DOWN_HOST}
        evacuated = {n for p in self.pairs if p.evacuated for n in self.servers[p.name]}
        if on_down != evacuated:
            raise scenario.CannotRun("%s: the servers on %s are %s, not the ones to evacuate"
                                     % (self.name, DOWN_HOST, sorted(on_down ^ evacuated)))

    # --- one round: every pair at once ------------------------------------------------------------------

    def start(self, side: Side, server: str, go: Path, cli: bool) -> Racer:
        self.seq += 1
        ready = self.work / ("ready-%d" % self.seq)
        log = self.work / ("run-%d.log" % self.seq)
        # a caller of another project (an admin) names the server by its uuid: names are looked up in one's project
        uuid, project = self.owners[server]
        ref = server if project == side.caller["project_id"] else uuid
        item = dict(side.action, server=ref)
        race = {"race_ready": str(ready), "race_go": str(go)}
        if not cli:
            answers = self.work / ("answers-%d.json" % self.seq)
            vars_file = self.work / ("vars-%d.json" % self.seq)
            vars_file.write_text(json.dumps(dict(race, stratus_actions=[item], answers_file=str(answers))))
            argv = ansible_run.playbook_argv(self.work / "record.yml", [self.inventory], None,
                                             ["-e", "@%s" % vars_file])
            proc = ansible_run.start(argv, ansible_run.env(db_url=self.db_url, caller=side.caller), log)
            return Racer(side, server, proc, ready, answers, log)
        # the CLI's own path (--no-wait: it answers once the action is recorded) with a playbook directory
        # whose server_action.yml is the record play: no hypervisor is contacted
        playbooks = self.work / ("cli-playbooks-%d" % self.seq)
        ansible_run.write_yaml(playbooks / "server_action.yml", record_play(race, answers=False))
        args = ["--project", side.caller["project_id"], "--user", side.caller["user_id"],
                "--role", ",".join(side.caller["roles"]), "server"]
        if side.action["action"] == "reboot":
            args += ["reboot"] + (["--hard"] if side.action.get("reboot_type") == "hard" else [])
        else:
            args += [side.action["action"]]
        args += ["--no-wait", ref, "--output", "json"]
        env = ansible_run.env(db_url=self.db_url, STRATUS_INVENTORY=str(self.inventory),
                              STRATUS_PLAYBOOK_DIR=str(playbooks))
        with log.open("w") as err:
            proc = subprocess.Popen([str(VENV_BIN / "stratus"), "-q", *args], cwd=str(self.work), env=env,
                                    stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)
        return Racer(side, server, proc, ready, None, log)

    def race_round(self, rnd: int) -> None:
        go = self.work / ("go-%d" % rnd)
        before = self.snapshot()
        racers: list[tuple[Pair, list[Racer]]] = []
        for k, pair in enumerate(self.pairs):
            server = self.servers[pair.name][rnd]
            # the CLI takes side a on even rounds, side b on odd ones (its start is slower: the barrier evens it)
            cli_side = (rnd + k) % 2 if pair.cli else None
            racers.append((pair, [self.start(side, server, go, cli_side == i)
                                  for i, side in enumerate((pair.a, pair.b))]))
        everyone = [r for _p, rs in racers for r in rs]
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and not all(r.ready.exists() or r.proc.poll() is not None
                                                      for r in everyone):
            time.sleep(0.02)
        lined_up = all(r.ready.exists() for r in everyone)
        go.touch()
        self.sc.check("every_racer_reached_the_start", lined_up, "%s round %d: %s" % (
            self.name, rnd, [str(r.log) for r in everyone if not r.ready.exists()]))
        for r in everyone:
            self.collect(r)
        after = self.snapshot()
        raced = {r.server for r in everyone}
        for pair, (a, b) in racers:
            self.judge(pair, a, b, before, after, "%s %s round %d" % (self.name, pair.name, rnd))
        untouched = [n for n in before if n not in raced and before[n] != after.get(n)]
        self.sc.check("other_servers_untouched", not untouched, "%s round %d: %s" % (self.name, rnd, untouched))

    def collect(self, r: Racer) -> None:
        """Wait for a racer and read its action's result."""
        self.figure("processes")
        if r.answers is not None:
            try:
                rc = r.proc.wait(timeout=900)
            except subprocess.TimeoutExpired:
                ansible_run.kill_group(r.proc)
                rc = None
            text = r.log.read_text(errors="replace")
            self.sc.check("every_run_finished", rc == 0, "%s: exit %s: %s" % (r.log, rc, text[-600:]))
            try:
                results = json.loads(r.answers.read_text())
                r.answer = results[0]
            except (OSError, ValueError, IndexError) as exc:
                self.sc.check("every_run_answered", False, "%s: %s" % (r.answers, exc))
                return
            self.sc.check("no_tracebacks", "Traceback" not in str(r.answer.get("exception") or ""),
                          str(r.answer.get("exception"))[-600:])
            return
        self.figure("cli_calls")
        try:
            out = r.proc.communicate(timeout=900)[0]
        except subprocess.TimeoutExpired:
            ansible_run.kill_group(r.proc)
            out = ""
        err = r.log.read_text(errors="replace")
        self.sc.check("no_tracebacks", "Traceback" not in err, err[-600:])
        try:
            doc = json.loads(out)
        except ValueError:
            self.sc.check("every_run_answered", False, "%s: stdout %r, stderr %s" % (r.log, out[-300:], err[-300:]))
            return
        errors = doc.get("errors") or []
        servers = doc.get("servers") or []
        # the CLI's exit says the same as its document: 0 with the server, 1 with the errors
        self.sc.check("cli_exit_matches_its_answer", (r.proc.returncode == 0) == (not errors),
                      "%s: exit %s, %s" % (r.log, r.proc.returncode, out[-300:]))
        r.answer = {"error": errors[0]} if errors else {"changed": doc.get("changed"),
                                                        "server": servers[0] if servers else None}

    # --- the store, before and after ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, dict[str, t.Any]]:
        """Per live server (by name) everything an action may write: its row, claim, addresses, leftovers,
        action log and events."""
        def by_uuid(sql: str) -> dict[str, list[tuple[t.Any, ...]]]:
            out: dict[str, list[tuple[t.Any, ...]]] = {}
            for row in self.q(sql):
                out.setdefault(row[0], []).append(tuple(norm(v) for v in row[1:]))
            return {k: sorted(v, key=repr) for k, v in out.items()}

        claims = by_uuid("SELECT instance_uuid, host, project_id, vcpus, memory_mb, disk_gb FROM resource_claims")
        addresses = by_uuid("SELECT instance_uuid, network_id, address, mac, vif_index FROM ip_allocations")
        leftovers = by_uuid("SELECT instance_uuid, host, vcpus, memory_mb, disk_gb, addresses, reason FROM leftovers")
        actions = by_uuid("SELECT instance_uuid, id, action, request_id, project_id, user_id FROM instance_actions")
        events = by_uuid("SELECT a.instance_uuid, e.id, e.event, e.host, e.result FROM instance_actions_events e "
                         "JOIN instance_actions a ON a.id = e.action_id")
        moves = by_uuid("SELECT instance_uuid, id, migration_type, source_compute, dest_compute, status, old_flavor, "
                        "new_flavor, vcpus, memory_mb, disk_gb FROM migrations")
        out = {}
        for row in self.q("SELECT uuid, name, host, flavor, image_id, plan, vm_state, task_state, power_state, "
                          "fault, deleted FROM instances"):
            out[row.name] = {
                "uuid": row.uuid, "host": row.host, "flavor": norm(row.flavor), "image_id": row.image_id,
                "plan": norm(row.plan), "vm_state": row.vm_state, "task_state": row.task_state,
                "power_state": row.power_state, "fault": norm(row.fault), "deleted": row.deleted,
                "claims": claims.get(row.uuid, []), "addresses": addresses.get(row.uuid, []),
                "leftovers": leftovers.get(row.uuid, []), "actions": actions.get(row.uuid, []),
                "events": events.get(row.uuid, []), "migrations": moves.get(row.uuid, [])}
        return out

    # --- the invariants of one pair's round ----------------------------------------------------------------

    def judge(self, pair: Pair, a: Racer, b: Racer, before: dict[str, t.Any], after: dict[str, t.Any],
              tag: str) -> None:
        self.figure("%s.rounds" % pair.name)
        old, new = before[a.server], after[a.server]
        if a.answer is None or b.answer is None:
            return  # every_run_answered failed already
        actions = [x for x in new["actions"] if x not in old["actions"]]
        self.sc.check("exactly_one_action_recorded", len(actions) == 1 and len(new["actions"]) == len(old["actions"]) + 1,
                      "%s: new actions %s" % (tag, actions))
        if len(actions) != 1:
            return
        _id, recorded, request_id, project_id, user_id = actions[0]
        accepted = [r for r in (a, b) if not r.answer.get("error")]
        refused = [r for r in (a, b) if r.answer.get("error")]
        if pair.same_action:
            # both accepted: the second took the first over; one record, the first's request
            self.sc.check("same_action_both_accepted", len(accepted) == 2 and all(
                r.answer.get("changed") and (r.answer.get("server") or {}).get("task_state") == r.side.task_state
                for r in accepted), "%s: %s / %s" % (tag, a.answer, b.answer))
            ids = [r.answer.get("request_id") for r in (a, b)]
            self.sc.check("same_action_one_record_of_one_request", recorded == pair.a.instance_action
                          and request_id in ids, "%s: recorded %s %s, requests %s" % (tag, recorded, request_id, ids))
            winner = next((r for r in (a, b) if r.answer.get("request_id") == request_id), a)
            self.figure("%s.won.first_%s" % (pair.name, "a" if winner is a else "b"))
        else:
            self.sc.check("one_accepted_one_refused", len(accepted) == 1 and len(refused) == 1,
                          "%s: %s: %s / %s: %s" % (tag, a.side.label, a.answer, b.side.label, b.answer))
            if len(accepted) != 1 or len(refused) != 1:
                return
            winner, loser = accepted[0], refused[0]
            error = loser.answer["error"]
            self.sc.check("loser_refused_InstanceInvalidState", (error.get("code"), error.get("field"))
                          == ("InstanceInvalidState", "action"), "%s: %s got %s" % (tag, loser.side.label, error))
            self.sc.check("loser_names_the_winners_task_state", winner.side.task_state in str(error.get("message")),
                          "%s: %s" % (tag, error.get("message")))
            self.sc.check("winner_recorded", recorded == winner.side.instance_action and (
                winner.via == "cli" or request_id == winner.answer.get("request_id")),
                "%s: %s won, the log has %s %s" % (tag, winner.side.label, recorded, request_id))
            self.figure("%s.won.%s" % (pair.name, winner.side.label))
            self.figure("%s.won_via_%s" % (pair.name, winner.via))
            self.figure("refused_InstanceInvalidState")
        # the hypervisors the rest of server_action.yml would hand the action to: the server's (new) host; a
        # move's source and destination (its claim's new host)
        claimed = [c[0] for c in new["claims"]]
        handed = [handed_to(r.side, r.answer) == hands_to(r.side, new["host"], claimed)
                  for r in accepted if r.via == "playbook"]
        self.sc.check("winner_names_the_servers_host", all(handed),
                      "%s: host %s, claim on %s, %s" % (tag, new["host"], claimed, [r.answer for r in accepted]))
        self.sc.check("recorded_for_the_callers_project", (project_id, user_id) == (
            winner.side.caller["project_id"], winner.side.caller["user_id"]), "%s: %s %s" % (tag, project_id, user_id))
        self.check_writes(winner.side, old, new, tag)

    def check_writes(self, winner: Side, old: dict[str, t.Any], new: dict[str, t.Any], tag: str) -> None:
        """The server after the round is the server before it with only the winner's writes."""
        self.sc.check("task_state_is_the_winners", new["task_state"] == winner.task_state,
                      "%s: task_state %s, %s won" % (tag, new["task_state"], winner.label))
        expected = dict(old, task_state=winner.task_state, actions=new["actions"])
        if winner.label == "rebuild":  # the new root disk's image in the plan and the row; nothing else
            expected["image_id"] = NEW_IMAGE_ID
            expected["plan"] = new["plan"]
            self.sc.check("rebuild_writes_only_the_image", rebuilt_plan(old["plan"]) == rebuilt_plan(new["plan"])
                          and (new["plan"].get("image") or {}).get("id") == NEW_IMAGE_ID,
                          "%s: plan %s -> %s" % (tag, old["plan"], new["plan"]))
        if winner.label == "evacuate":  # the server and its claim on another host; the old one's leftover
            moved_to = new["host"]
            self.sc.check("evacuate_moves_server_and_claim", moved_to not in (None, DOWN_HOST)
                          and [c[0] for c in new["claims"]] == [moved_to]
                          and [c[1:] for c in new["claims"]] == [c[1:] for c in old["claims"]]
                          and len(new["leftovers"]) == len(old["leftovers"]) + 1
                          and all(x[0] == DOWN_HOST for x in new["leftovers"]),
                          "%s: host %s, claims %s, leftovers %s" % (tag, moved_to, new["claims"], new["leftovers"]))
            expected.update(host=moved_to, claims=new["claims"], leftovers=new["leftovers"])
            new_events = [e[1] for e in new["events"] if e not in old["events"]]
            self.sc.check("evacuate_one_event", new_events == ["conductor_rebuild_server"], "%s: %s" % (tag, new_events))
            expected["events"] = new["events"]
        if winner.label in MOVES:
            self.check_move(winner, old, new, expected, tag)
        diff = sorted(k for k in expected if expected[k] != new.get(k))
        self.sc.check("no_partial_write", not diff, "%s: %s won, and %s changed: %s" % (
            tag, winner.label, diff, {k: (old.get(k), new.get(k)) for k in diff}))

    def check_move(self, winner: Side, old: dict[str, t.Any], new: dict[str, t.Any], expected: dict[str, t.Any],
                   tag: str) -> None:
        """A move's writes: one migration record from the server's host to another, the claim moved there
        (a resize's: the new flavor's sizes), a resize's flavor and plan; `expected` takes them."""
        migration_type, status, events = MOVES[winner.label]
        records = [m for m in new["migrations"] if m not in old["migrations"]]
        dest = [c[0] for c in new["claims"]]
        resized = winner.label == "resize"
        flavor = next(f for f in CATALOG["stratus_flavors"] if f["name"] == RESIZED_FLAVOR) if resized else old["flavor"]
        sizes = (flavor["vcpus"], flavor["ram"], flavor["disk"]) if resized else None
        self.sc.check("move_one_record_and_its_claim", len(records) == 1 and len(dest) == 1 and (
            records[0][1:5] == (migration_type, old["host"], dest[0], status)) and dest[0] != old["host"]
            and [records[0][7:]] == [c[2:] for c in old["claims"]]  # the source holds the old sizes
            and [c[1:] for c in new["claims"]] == [
                c[1:2] + (sizes or c[2:]) for c in old["claims"]],  # the old sizes, or the new flavor's
            "%s: %s won: records %s, claims %s -> %s" % (tag, winner.label, records, old["claims"], new["claims"]))
        new_events = [e[1] for e in new["events"] if e not in old["events"]]
        self.sc.check("move_events", new_events == events, "%s: %s" % (tag, new_events))
        expected.update(migrations=new["migrations"], claims=new["claims"], events=new["events"])
        if resized:
            self.sc.check("resize_writes_flavor_and_root_disk", new["flavor"].get("name") == RESIZED_FLAVOR
                          and resized_plan(old["plan"]) == resized_plan(new["plan"])
                          and new["plan"].get("flavor", {}).get("name") == RESIZED_FLAVOR,
                          "%s: flavor %s, plan %s -> %s" % (tag, new["flavor"], old["plan"], new["plan"]))
            expected.update(flavor=new["flavor"], plan=new["plan"])


def handed_to(side: Side, answer: dict[str, t.Any]) -> tuple[t.Any, ...]:
    """The hosts an accepted request hands to the rest of server_action.yml."""
    if side.label in ("resize", "migrate"):
        return answer.get("move_first"), answer.get("move_then")
    if side.label == "live_migrate":
        return answer.get("hosts"), answer.get("live_destinations")
    return (answer.get("hosts"),)


def hands_to(side: Side, host: str, claimed: list[str]) -> tuple[t.Any, ...]:
    """What handed_to must be after the round: a move's source (the server's host) and destination (its claim's)."""
    if side.label in MOVES:
        return [host], claimed
    return ([host],)


def resized_plan(plan: dict[str, t.Any]) -> dict[str, t.Any]:
    """A plan without what a resize changes (the flavor, the root disk's size)."""
    out = dict(plan, flavor=None)
    out["block_devices"] = [dict(d, size_bytes=None) if d.get("kind") == "image" else d
                            for d in plan.get("block_devices") or []]
    return out


def rebuilt_plan(plan: dict[str, t.Any]) -> dict[str, t.Any]:
    """A plan without what a rebuild changes (the image, and the root disk's image and format)."""
    out = dict(plan, image=None)
    out["block_devices"] = [dict(d, image_id=None, base_format=None) for d in plan.get("block_devices") or []]
    return out


def norm(value: t.Any) -> t.Any:
    """JSON columns as Python values on both backends (SQLite may hand back text)."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def main(sc: scenario.Scenario) -> None:
    if not (VENV_BIN / "stratus").exists():
        raise scenario.CannotRun("the stratus command is not installed (make setup installs it)")
    # quick (make test): two rounds, so that the CLI takes each side of its pairs once
    rounds = 2 if sc.quick else 10
    sc.figures["backends"] = ["sqlite", "postgresql"]
    sc.figures["rounds_per_backend"] = rounds
    pairs = [p for p in PAIRS if not (sc.quick and p.full_only)]
    sc.figures["pairs"] = [p.name for p in pairs]
    for key in ("processes", "cli_calls", "refused_InstanceInvalidState"):
        sc.figures[key] = 0
    with scenario.postgresql() as fresh:
        for name, url in (("sqlite", store.sqlite_url(sc.work / "sqlite-store")),
                          ("postgresql", fresh("action_races"))):
            backend = Backend(sc, name, url, sc.work / name, pairs)
            t0 = time.monotonic()
            backend.make_servers(rounds)
            print("%s: %d servers ACTIVE in %.1fs" % (name, rounds * len(pairs), time.monotonic() - t0), flush=True)
            for rnd in range(rounds):
                t0 = time.monotonic()
                backend.race_round(rnd)
                print("%s round %d: %.1fs" % (name, rnd, time.monotonic() - t0), flush=True)
            backend.engine.dispose()
    for pair in pairs:  # every pair ran in every round on both backends
        sc.check("every_pair_raced", sc.figures.get("%s.rounds" % pair.name) == 2 * rounds, pair.name)


if __name__ == "__main__":
    scenario.Scenario("action_races", __doc__ or "").run(main)
