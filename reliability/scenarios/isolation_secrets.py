"""Isolation and secrets: project A cannot reach project B's servers; secrets never show.

Isolation: play 1 of provision.yml makes servers for project A (alice) and project B (bob) in a
SQLite store; then alice, a member of A, tries to list, show, change and delete B's servers
through every front end: the server module, server_info, the inventory plugin
stratus.compute.servers (ansible-inventory) and the stratus CLI. Forced hosts
(availability_zone az:host, host) are tried as a member and as an admin.

Secrets: the real provision.yml runs at -vvv, with an Ansible log file, through ansible-playbook and
through the CLI (ansible-runner, its artifacts kept), against a PostgreSQL URL that carries a
password, for a server with admin_pass and user data (user data is treated as secret: it often
carries credentials), plus refused requests and an unreachable store. None of the secrets may
appear in any output, log, runner event or in the store's action log. The hypervisors run their
modules locally against libvirt's in-memory test:///default driver (the plans do travel to them).
The SQLite file must be mode 0600, and the lab's SSH must pin host keys (the lab's inventory, stratus_lab.lab).
"""
from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import tempfile
import typing as t
from pathlib import Path

from stratus_lab import ansible_run, scenario, store
from stratus_lab import lab as labmod
from stratus_lab.lab import LabError
from stratus_lab.paths import ROOT, VENV_BIN

import sqlalchemy as sa

ALICE = {"user_id": "alice", "project_id": "pa", "roles": ["member"]}
BOB = {"user_id": "bob", "project_id": "pb", "roles": ["member"]}
ADMIN = {"user_id": "root", "project_id": "ops", "roles": ["admin"]}
NETWORK_ID = "8d3c1a0e-6a7e-4a57-8a8f-0d5b6c2f4e99"
ADMIN_PASS = "Adm1n-Pass-7f3e9c"
USER_DATA_PLAIN = "#cloud-config\npassword: UsrData-Secret-41d2\n"
USER_DATA = base64.b64encode(USER_DATA_PLAIN.encode()).decode()
DB_PASSWORD = "Db-Pass-0b8a55"
SECRETS = {"admin_pass": ADMIN_PASS, "user_data (base64)": USER_DATA, "user_data (decoded)": "UsrData-Secret-41d2",
           "database password": DB_PASSWORD}
CATALOG = {
    "stratus_context": ALICE,
    "stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 256, "disk": 1}],
    "stratus_images": [{"id": ansible_run.IMAGE_ID, "name": "cirros", "disk_format": "qcow2"}],
    "stratus_networks": [{"id": NETWORK_ID, "name": "net1", "cidr": "10.77.0.0/24"}],
}
HOSTS = {"hv1": {"stratus_availability_zone": "az1"}, "hv2": {"stratus_availability_zone": "az2"}}
CAPACITY = {"stratus_vcpus": 8, "stratus_memory_mb": 8192, "stratus_local_gb": 80}
TINY = {"flavor": "m1.tiny", "image": "cirros", "networks": [{"name": "net1"}]}

PLAYBOOK = """---
- name: Requests, each answer kept
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Request
      stratus.compute.server: "{{ item }}"
      loop: "{{ scenario_requests | default([]) }}"
      loop_control:
        label: "{{ item.name }}"
      register: stratus_answers_raw
      ignore_errors: true

    - name: Read
      stratus.compute.server_info: "{{ item }}"
      loop: "{{ scenario_reads | default([]) }}"
      register: stratus_reads_raw
      ignore_errors: true

    - name: Write the answers
      check_mode: false
      ansible.builtin.copy:
        dest: "{{ answers_file }}"
        mode: "0600"
        content: "{{ {'requests': stratus_answers_raw.results | default([]),
                      'reads': stratus_reads_raw.results | default([])} | to_json }}"
"""


class Context:
    def __init__(self, sc: scenario.Scenario) -> None:
        self.sc = sc
        self.work = sc.work
        # not made here: the collection creates the directory and the file itself
        self.db_url = "sqlite:///%s" % (self.work / "store" / "stratus.db")
        self.inventory = ansible_run.write_yaml(self.work / "hosts.yml", ansible_run.controller_inventory(
            CATALOG, HOSTS, CAPACITY, local_hypervisors=self.work / "pools"))
        (self.work / "play.yml").write_text(PLAYBOOK)
        self.seq = 0

    def play(self, requests: list[dict[str, t.Any]] = (), reads: list[dict[str, t.Any]] = (), check: bool = False,
             db_url: t.Optional[str] = None, caller: t.Optional[t.Mapping[str, t.Any]] = None,
             extra_vars: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
        """The requests and reads as `caller` (default alice; named by the environment, as an AWX credential does)."""
        self.seq += 1
        answers = self.work / ("answers-%d.json" % self.seq)
        extra = dict(extra_vars or {}, scenario_requests=list(requests), scenario_reads=list(reads),
                     answers_file=str(answers))
        vars_file = self.work / ("vars-%d.json" % self.seq)
        vars_file.write_text(json.dumps(extra))
        cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(self.inventory), str(self.work / "play.yml"),
               "-e", "@%s" % vars_file] + (["--check"] if check else [])
        env = ansible_run.env(STRATUS_DB_URL=db_url or self.db_url, **ansible_run.caller_env(caller or ALICE))
        proc = ansible_run.run(cmd, env, timeout=600, check=False, cwd=self.work)
        try:
            return json.loads(answers.read_text())
        except (OSError, ValueError):
            raise scenario.CannotRun("playbook gave no answers: %s" % (proc.stdout + proc.stderr)[-1500:])

    def cli(self, ctx: t.Mapping[str, t.Any], *args: str, **env: str) -> subprocess.CompletedProcess:
        who = ["--user", ctx["user_id"], "--project", ctx["project_id"], "--role", ",".join(ctx["roles"])]
        extra = {"STRATUS_INVENTORY": str(self.inventory), "STRATUS_DB_URL": self.db_url}
        extra.update(env)
        return ansible_run.run([str(VENV_BIN / "stratus"), "-q", *who, *args, "-o", "json"], ansible_run.env(**extra),
                               timeout=600, check=False, cwd=self.work)

    def live(self) -> list[t.Any]:
        engine = store.open_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.text(
                    "SELECT uuid, name, project_id, task_state, metadata FROM instances WHERE deleted = ''")))
        finally:
            engine.dispose()

    def provision(self, servers: list[dict[str, t.Any]], *args: str, db_url: t.Optional[str] = None,
                  caller: t.Optional[t.Mapping[str, t.Any]] = None, **env: str) -> subprocess.CompletedProcess:
        """The real provision.yml (its hypervisor play against test:///default), as `caller`."""
        vars_file = self.work / ("provision-%d.json" % self.seq)
        self.seq += 1
        vars_file.write_text(json.dumps({"stratus_servers": servers}))
        return ansible_run.run([str(VENV_BIN / "ansible-playbook"), *args, "-i", str(self.inventory),
                                str(ROOT / "playbooks" / "provision.yml"), "-e", "@%s" % vars_file],
                               ansible_run.env(db_url=db_url or self.db_url, caller=caller or ALICE, **env),
                               timeout=600, check=False, cwd=self.work)


def code_of(answer: t.Mapping[str, t.Any]) -> t.Optional[str]:
    error = answer.get("error")
    return error.get("code") if isinstance(error, dict) else None


# --- isolation ----------------------------------------------------------------------------------------------

def isolation(c: Context) -> None:
    sc = c.sc
    made = c.play([dict(TINY, name="a-web")])["requests"] + \
        c.play([dict(TINY, name="b-db", metadata={"o": "b"})], caller=BOB)["requests"]
    sc.check("setup_created_both", all(not a.get("failed") for a in made), str(made)[:800])
    b_uuid = next(r.uuid for r in c.live() if r.name == "b-db" and r.project_id == "pb")
    attempts: dict[str, str] = {}

    # the server module: delete, change and re-create B's server as alice
    out = c.play([{"name": "b-db", "state": "absent"}, dict(TINY, name="b-db", metadata={"o": "alice"})])
    b_row = next((r for r in c.live() if r.uuid == b_uuid), None)
    untouched = b_row is not None and b_row.task_state != "deleting" and b_row.project_id == "pb" and \
        (b_row.metadata if isinstance(b_row.metadata, dict) else json.loads(b_row.metadata)) == {"o": "b"}
    deleted_nothing = not out["requests"][0].get("changed") and not out["requests"][0].get("servers")
    attempts["module_delete"] = "no such server in A (nothing changed)" if deleted_nothing else "CHANGED B"
    attempts["module_change"] = "made A's own b-db, B's untouched" if untouched else "B CHANGED"
    sc.check("module_cannot_delete_or_change_other_project", deleted_nothing and untouched,
             "%s / %s" % (out["requests"][0], b_row))
    # alice's own b-db goes again, for real (the delete walk), so that A holds a-web only
    gone = c.provision([{"name": "b-db", "state": "absent"}])
    own_b = [r for r in c.live() if r.project_id == "pa" and r.name == "b-db"]
    sc.check("setup_own_delete", gone.returncode == 0 and not own_b, gone.stdout[-800:])

    # server_info: list, by name, by uuid, all projects, refusals, actions
    reads = c.play(reads=[{}, {"name": "b-db"}, {"uuids": [b_uuid], "actions": True}, {"all_projects": True},
                          {"refusals": True}])["reads"]
    listed = {s["project_id"] for r in reads[:3] for s in r.get("servers") or []}
    attempts["server_info_list_show"] = "own project only" if listed <= {"pa"} else "SAW %s" % listed
    attempts["server_info_all_projects"] = "refused %s" % code_of(reads[3])
    sc.check("server_info_own_project_only", listed <= {"pa"} and not any(
        s["id"] == b_uuid for r in reads[:3] for s in r.get("servers") or []), str(reads[:3])[:800])
    sc.check("server_info_all_projects_needs_admin", code_of(reads[3]) == "PolicyNotAuthorized", str(reads[3])[:400])
    sc.check("server_info_refusals_own_project_only", all(
        r.get("project_id") == "pa" for r in reads[4].get("refusals") or []), str(reads[4])[:400])

    # the inventory plugin
    source = ansible_run.write_yaml(c.work / "alice.stratus.yml",
                                    {"plugin": "stratus.compute.servers", "db_url": c.db_url, "context": ALICE})
    proc = ansible_run.run([str(VENV_BIN / "ansible-inventory"), "-i", str(source), "--list"], ansible_run.env(),
                           timeout=600, check=False, cwd=c.work)
    try:
        hostvars = json.loads(proc.stdout).get("_meta", {}).get("hostvars", {})
    except ValueError:
        hostvars = None
    seen = sorted(json.dumps(v.get("stratus_project_id")) for v in (hostvars or {}).values())
    ok = hostvars is not None and bool(hostvars) and all("pa" in p for p in seen) and "b-db" not in hostvars
    attempts["inventory_plugin"] = "own project only" if ok else "SAW %s" % seen
    sc.check("inventory_plugin_own_project_only", ok, proc.stdout[-600:] + proc.stderr[-600:])

    # the CLI: list, show by name and uuid, delete, all projects
    listing = c.cli(ALICE, "server", "list")
    show_uuid = c.cli(ALICE, "server", "show", b_uuid)
    show_name = c.cli(ALICE, "server", "show", "b-db")
    delete = c.cli(ALICE, "server", "delete", "b-db", STRATUS_PLAYBOOK_DIR=str(ROOT / "playbooks"))
    all_projects = c.cli(ALICE, "server", "list", "--all-projects")
    try:
        cli_names = [s["name"] for s in json.loads(listing.stdout)["servers"]]
    except (ValueError, KeyError):
        cli_names = ["?"]
    attempts["cli_list"] = "own project only" if cli_names == ["a-web"] else "SAW %s" % cli_names
    attempts["cli_show"] = "rc %d / %d: %s" % (show_uuid.returncode, show_name.returncode,
                                               show_uuid.stderr.strip()[-120:])
    attempts["cli_delete"] = "rc %d: %s" % (delete.returncode, (delete.stdout + delete.stderr).strip()[-160:])
    attempts["cli_all_projects"] = "rc %d: %s" % (all_projects.returncode, all_projects.stderr.strip()[-120:])
    sc.check("cli_list_own_project_only", cli_names == ["a-web"], listing.stdout[-400:] + listing.stderr[-400:])
    sc.check("cli_show_other_project_not_found", show_uuid.returncode == 1 and show_name.returncode == 1
             and "InstanceNotFound" in show_uuid.stderr + show_name.stderr, show_uuid.stderr + show_name.stderr)
    sc.check("cli_all_projects_needs_admin", all_projects.returncode == 1 and "PolicyNotAuthorized"
             in all_projects.stderr, all_projects.stderr[-300:])
    still = next((r for r in c.live() if r.uuid == b_uuid), None)
    sc.check("cli_cannot_delete_other_project", still is not None and still.task_state != "deleting",
             attempts["cli_delete"])
    for proc in (listing, show_uuid, show_name, delete, all_projects):
        sc.check("cli_no_traceback", "Traceback" not in proc.stderr, proc.stderr[-400:])

    # forced hosts and requested destinations need admin
    forced = c.play([dict(TINY, name="f1", availability_zone="az1:hv1"),
                     dict(TINY, name="f2", availability_zone="az1:hv1:hv1"),
                     dict(TINY, name="f3", availability_zone=":hv2"),
                     dict(TINY, name="f4", host="hv1")], check=True)["requests"] + \
        c.play([dict(TINY, name="f5", availability_zone="az1:hv1")], check=True, caller=ADMIN)["requests"]
    codes = [code_of(a) for a in forced]
    attempts["forced_host_member"] = ", ".join(str(x) for x in codes[:4])
    attempts["forced_host_admin"] = "accepted on %s" % [s.get("host") for s in forced[4].get("servers") or []]
    sc.check("forced_host_needs_admin", codes[:4] == ["PolicyNotAuthorized"] * 4, str(codes))
    sc.check("forced_host_admin_may", not forced[4].get("failed") and
             [s.get("host") for s in forced[4].get("servers") or []] == ["hv1"], str(forced[4])[:400])
    identity(c, attempts, b_uuid)
    sc.figures["isolation_attempts"] = attempts


def identity(c: Context, attempts: dict[str, str], b_uuid: str) -> None:
    """Alice tries to be someone else: in the request, in a module option, as an extra var, in a CLI file."""
    sc = c.sc
    before = len(c.live())
    named = c.play([dict(TINY, name="i1", availability_zone="az1:hv1", context=ADMIN),
                    {"name": "b-db", "state": "absent", "context": BOB}])["requests"]
    codes = [(code_of(a), (a.get("error") or {}).get("field")) for a in named]
    attempts["request_names_its_caller"] = str(codes)
    sc.check("request_cannot_name_its_caller", codes == [("InvalidRequest", "context")] * 2, str(named)[:600])
    read_as = c.play(reads=[{"context": ADMIN, "all_projects": True}])["reads"][0]
    attempts["server_info_context_option"] = "refused %s" % code_of(read_as)
    sc.check("read_module_takes_no_caller", code_of(read_as) == "InvalidRequest" and not read_as.get("servers"),
             str(read_as)[:400])
    launch = c.play([dict(TINY, name="i2", availability_zone="az1:hv1")],
                    extra_vars={"stratus_context": ADMIN, "stratus_policy": {"context_is_admin": "@"}})["requests"]
    attempts["extra_var_overrides"] = "refused %s" % [code_of(a) for a in launch]
    sc.check("launcher_cannot_override_identity_or_policy", [code_of(a) for a in launch] == ["Forbidden"],
             str(launch)[:400])
    req_file = ansible_run.write_yaml(c.work / "cli-as-admin.yml", [dict(TINY, name="i3", context=ADMIN)])
    cli = c.cli(ALICE, "server", "create", "-f", str(req_file))
    attempts["cli_request_file_context"] = "rc %d: %s" % (cli.returncode, cli.stderr.strip()[-120:])
    sc.check("cli_request_file_cannot_name_caller", cli.returncode != 0 and "InvalidRequest" in cli.stderr
             and "Traceback" not in cli.stderr, cli.stderr[-300:])
    still = next((r for r in c.live() if r.uuid == b_uuid), None)
    sc.check("identity_attempts_changed_nothing", len(c.live()) == before and still is not None
             and still.task_state != "deleting", "%d live before, %d after" % (before, len(c.live())))


# --- secrets ------------------------------------------------------------------------------------------------

def find_secrets(sc: scenario.Scenario, where: str, text: str) -> None:
    leaked = [name for name, value in SECRETS.items() if value in text]
    sc.figures.setdefault("secrets_checked_in", []).append(where)
    sc.check("no_secret_in_output", not leaked, "%s shows %s" % (where, ", ".join(leaked)))
    if leaked:
        sc.figures.setdefault("leaks", []).append({"where": where, "what": leaked})


def secrets(c: Context, pg_base_url: str) -> None:
    sc = c.sc
    # a PostgreSQL URL with a password: the test server trusts its socket, so the password is not checked
    url = sa.engine.make_url(pg_base_url).set(password=DB_PASSWORD).render_as_string(hide_password=False)
    request = dict(TINY, name="s-1", admin_pass=ADMIN_PASS, user_data=USER_DATA)
    refused = dict(TINY, name="s-2", flavor="nope", admin_pass=ADMIN_PASS, user_data=USER_DATA)
    bad_type = dict(TINY, name="s-3", admin_pass=[ADMIN_PASS])
    too_long = dict(TINY, name="s-4", admin_pass=ADMIN_PASS * 40, user_data=USER_DATA + "!")
    log_file = c.work / "ansible.log"
    # one run that builds (the plans travel to the hypervisors), one whose requests are all refused
    proc = c.provision([request], "-vvv", db_url=url, ANSIBLE_LOG_PATH=str(log_file))
    refusals = c.provision([refused, bad_type, too_long], "-vvv", db_url=url, ANSIBLE_LOG_PATH=str(log_file))
    out = proc.stdout + proc.stderr + refusals.stdout + refusals.stderr
    sc.check("secrets_run_reached_the_hypervisors", "AnsiballZ_compute_block_devices" in proc.stdout,
             proc.stdout[-1500:])
    sc.check("secrets_refusals_refused", refusals.stdout.count("failed: [localhost] (item=") == 3,
             refusals.stdout[-1500:])
    find_secrets(sc, "ansible-playbook -vvv output", out)
    find_secrets(sc, "ANSIBLE_LOG_PATH log", log_file.read_text() if log_file.exists() else "")

    # the CLI through ansible-runner, its artifacts (events, stdout) kept
    req_file = ansible_run.write_yaml(c.work / "cli-request.yml", [dict(request, name="s-cli")])
    keep_root = Path(tempfile.mkdtemp(prefix="stratus-rel-runs-", dir=str(c.work)))
    cli = c.cli(ALICE, "server", "create", "-f", str(req_file), STRATUS_DB_URL=url, STRATUS_KEEP_RUNS="1",
                TMPDIR=str(keep_root))
    find_secrets(sc, "stratus CLI stdout/stderr", cli.stdout + cli.stderr)
    events = ""
    for path in sorted(keep_root.rglob("*")):
        # env/extravars is the request itself (the input, in a 0700 private dir): not output
        if path.is_file() and path.name != "extravars":
            events += path.read_text(errors="replace")
    sc.check("runner_events_kept", "job_events" in str(list(keep_root.rglob("*"))), str(list(keep_root.rglob("*")))[:300])
    find_secrets(sc, "ansible-runner artifacts (job events, stdout)", events)
    private = [p for p in keep_root.iterdir() if p.is_dir()]
    modes = [stat.S_IMODE(p.stat().st_mode) for p in private]
    sc.check("runner_private_dir_0700", bool(modes) and all(m == 0o700 for m in modes), str(private))

    # an unreachable store: the error names the URL without its password
    bad_url = "postgresql+psycopg://stratus:%s@/nowhere?host=/nonexistent-socket-dir" % DB_PASSWORD
    answer = c.play([dict(TINY, name="s-5")], db_url=bad_url)["requests"][0]
    find_secrets(sc, "error for an unreachable store", json.dumps(answer))
    sc.check("unreachable_store_has_code", code_of(answer) is not None, str(answer)[:300])

    # the store's action log (and faults) on PostgreSQL
    engine = store.open_engine(url)
    try:
        with engine.connect() as conn:
            dump = json.dumps([list(r) for r in conn.execute(sa.text(
                "SELECT a.action, a.message, a.instance_name, a.error_code, e.event, e.result, e.details "
                "FROM instance_actions a LEFT JOIN instance_actions_events e ON e.action_id = a.id"))], default=str)
            faults = json.dumps([r.fault for r in conn.execute(sa.text("SELECT fault FROM instances"))], default=str)
            rows = conn.execute(sa.text("SELECT count(*) FROM instance_actions")).scalar()
    finally:
        engine.dispose()
    sc.check("action_log_written", rows > 0, "no action log rows")
    find_secrets(sc, "the store's action log", dump)
    find_secrets(sc, "the store's faults", faults)
    sc.note("the build plan in the store keeps admin_pass and user data: the config drive step needs them")

    # the SQLite file and its directory
    path = Path(c.db_url[len("sqlite:///"):])
    mode, dir_mode = stat.S_IMODE(path.stat().st_mode), stat.S_IMODE(path.parent.stat().st_mode)
    for extra in (Path(str(path) + "-wal"), Path(str(path) + "-shm")):  # SQLite's WAL files hold rows too
        if extra.exists():
            sc.check("sqlite_wal_files_private", stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0,
                     "%s %s" % (extra.name, oct(stat.S_IMODE(extra.stat().st_mode))))
    sc.figures["sqlite_file_mode"] = oct(mode)
    sc.figures["sqlite_dir_mode"] = oct(dir_mode)
    sc.check("sqlite_file_0600", mode == 0o600, oct(mode))
    sc.check("sqlite_dir_not_world_readable", dir_mode & 0o077 == 0, oct(dir_mode))


# --- the lab's SSH ------------------------------------------------------------------------------------------

def lab_ssh(sc: scenario.Scenario) -> None:
    """The lab's inventory and known_hosts for a two-hypervisor lab (keys made here; nothing is started)."""

    state = sc.work / "lab-state"
    state.mkdir(exist_ok=True)
    lab = labmod.Lab(state=state, prefix="stxq", subnet_base="10.241", hypervisors=[1, 2])
    for k in lab.hypervisors:
        hv = lab.hv(k)
        hv.host_key.parent.mkdir(parents=True, exist_ok=True)
        if not hv.host_key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hv.host_key)], check=True)
    known = labmod.known_hosts_text(lab)
    inventory = labmod.inventory_text(lab)
    (state / "inventory.yml").write_text(inventory)
    sshd = labmod.sshd_config(lab, lab.hv(1))

    def pinned_line(k: int) -> str:
        keytype, key = Path("%s.pub" % lab.hv(k).host_key).read_text().split()[:2]
        return "%s %s %s" % (lab.hv(k).addr, keytype, key)

    keys_pinned = all(pinned_line(k) in known for k in lab.hypervisors)
    strict = "StrictHostKeyChecking=yes" in inventory and "UserKnownHostsFile=%s" % lab.known_hosts in inventory
    lax = any(s in inventory.lower() for s in ("stricthostkeychecking=no", "host_key_checking: false",
                                               "userknownhostsfile=/dev/null"))
    cfg = (ROOT / "ansible.cfg").read_text()
    sc.figures["lab_ssh"] = {"known_hosts_pins_each_hypervisor": keys_pinned, "strict_host_key_checking": strict,
                             "ansible_cfg_host_key_checking": "host_key_checking = True" in cfg,
                             "sshd_password_auth": "PasswordAuthentication no" not in sshd}
    sc.check("lab_ssh_pins_host_keys", keys_pinned and strict and not lax, inventory[:600])
    sc.check("ansible_cfg_checks_host_keys", "host_key_checking = True" in cfg)
    sc.check("lab_sshd_keys_only", "PasswordAuthentication no" in sshd and "KbdInteractiveAuthentication no" in sshd)


def lab_syslogs(sc: scenario.Scenario) -> None:
    """A lab of two real hypervisors (stratus_lab.scenario.lab), each with its own system log: the real
    provision.yml builds and deletes a server with admin_pass, user data and an injected file; every
    hypervisor's log must show the step modules' invocation lines and none of the secrets."""
    injected = base64.b64encode(b"api_token = LabPersonality-Secret-6e0f\n").decode()
    secrets = dict(SECRETS, **{"personality (base64)": injected, "personality (decoded)": "LabPersonality-Secret-6e0f"})
    server = {"name": "s-lab", "flavor": "m1.tiny", "image": "stratus-guest", "networks": [{"name": "demo"}],
              "admin_pass": ADMIN_PASS, "user_data": USER_DATA, "personality": [{"path": "/etc/s-lab", "contents": injected}]}
    try:
        with scenario.lab("secrets", hypervisors=2) as lab:
            runs = [lab.provision([server]), lab.provision([{"name": "s-lab", "state": "absent"}])]
            logs = {lab.host(k).name: lab.host(k).syslog.read_text(errors="replace") for k in lab.host_numbers()}
    except (LabError, OSError) as exc:
        sc.check("lab_syslogs_read", False, str(exc))
        return
    sc.check("lab_secrets_runs_succeeded", all(r.returncode == 0 for r in runs), runs[-1].stdout[-1500:])
    invoked = {host: sum("compute_block_devices: Invoked with" in line for line in text.splitlines())
               for host, text in logs.items()}
    sc.figures["lab_syslog_block_step_invocations"] = invoked
    sc.check("lab_syslog_has_step_invocations", sum(invoked.values()) >= 2, str(invoked))
    for host, text in sorted(logs.items()):
        leaked = [name for name, value in secrets.items() if value in text]
        sc.figures.setdefault("secrets_checked_in", []).append("%s's system log (lab)" % host)
        sc.check("no_secret_in_hypervisor_syslog", not leaked, "%s's system log shows %s" % (host, ", ".join(leaked)))


def main(sc: scenario.Scenario) -> None:
    if not (VENV_BIN / "stratus").exists():
        raise scenario.CannotRun("the stratus command is not installed (make setup installs it)")
    sc.figures["backends"] = ["sqlite", "postgresql"]
    c = Context(sc)
    isolation(c)
    with scenario.postgresql() as fresh:
        secrets(c, fresh("secrets"))
    lab_ssh(sc)
    if not sc.quick:
        lab_syslogs(sc)
    sc.figures["secrets"] = sorted(SECRETS)
    sc.figures["leaks"] = sc.figures.get("leaks", [])


if __name__ == "__main__":
    os.umask(0o022)  # as a user's shell would have it: the store must protect itself
    scenario.Scenario("isolation_secrets", __doc__ or "").run(main)
