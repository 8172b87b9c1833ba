"""End-to-end: bare-metal servers through the user's own provision.yml, on the lab's real BMCs.

One lab: one hypervisor and three nodes (node1 and node2 Redfish, node3 IPMI) behind sushy-tools and
virtualbmc in the BMC namespace; the demo catalog's bm.small flavor and stratus-guest image (its kernel and
initramfs). The operator manages and provides the nodes; then provision.yml with three bare-metal servers
and a virtual one: the bare-metal servers are ACTIVE, two on the Redfish nodes (virtual media) and one on
the IPMI node (PXE), each node's console shows the config drive's name and uuid and the store's address; a
rerun changes nothing; one more is NoValidHost with every node's reason; the delete leaves every node
available, powered off, no medium inserted, no DHCP entry, no medium or PXE file. The other front ends:
`stratus server create --flavor bm.small` and an AWX job (ansible-runner, the survey's answers, its
flavor among the survey's choices) build and delete bare-metal servers too. A request's status: stopped stops a
bare-metal server through its node's BMC (forced after the graceful window), a rerun changes nothing, status:
active starts it, and server_action.yml soft- and hard-reboots it; the node boots it again each time. The BMC
password is in no output or log.

Its own prefix, subnet and state dir (no other test uses stxw / 10.248; STRATUS_E2E_BM_PREFIX, _SUBNET and
_STATE override them); one lab bring-up. Needs root.
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import subprocess
import typing as t
from pathlib import Path

import ansible_runner
import pytest
import sushy

from stratus_lab import inventory_overlay
from stratus_lab.console import ALIVE
from stratus_lab.ansible_run import playbook_argv, recap, run_merged
from stratus_lab.baremetal import BmcHost, bmc_of
from stratus_lab.lab import load_lab, node_driver
from stratus_lab.paths import DEMO_INVENTORY, ROOT
from stratus_lab.session import LabSession
from stratus_lab.store import rows as store_rows, sqlite_url
from wait_helpers import wait_until  # tests/wait_helpers.py

# Overridable so that a second run of this module (a helper's) can share the machine with the lead's.
STATE = Path(os.environ.get("STRATUS_E2E_BM_STATE", "/tmp/stratus-bm-wire"))
PREFIX = os.environ.get("STRATUS_E2E_BM_PREFIX", "stxw")
SUBNET = os.environ.get("STRATUS_E2E_BM_SUBNET", "10.248")
STRATUS = ROOT / ".venv" / "bin" / "stratus"
ADMIN = ("--user", "root", "--project", "ops", "--role", "admin")
MEMBER = ("--user", "demo", "--project", "demo", "--role", "member")
# The demo project's member asks for the servers (the node network `baremetal` is the demo project's).
DEMO = {"user_id": "demo", "project_id": "demo", "roles": ["member"]}
# The first Redfish GET of a System can take ~60 s on 2 cores (libvirtd probing QEMU); far above it.
FIRST_ANSWER_S = 240.0
# A node booting its deploy medium under TCG: ~10-25 s from power on; far above it.
BOOT_S = 900.0
BM = {"name": "bm", "flavor": "bm.small", "image": "stratus-guest", "networks": [{"name": "baremetal"}],
      "min_count": 3, "max_count": 3}
VM = {"name": "vm", "flavor": "m1.tiny", "image": "stratus-guest"}
ACTIONS = ROOT / "playbooks" / "server_action.yml"
# The lab's guest ignores ACPI: a short graceful window (Nova's shutdown_timeout) keeps the stop quick.
# 1 s still asks the OS first (the event says the node was forced off after it) and saves the stop and the soft
# reboot 4 s each.
SHUTDOWN_TIMEOUT = {"stratus_shutdown_timeout": 1}
ONE_MORE = {"name": "bm-more", "flavor": "bm.small", "image": "stratus-guest", "networks": [{"name": "baremetal"}],
            "explain": True}

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(shutil.which("/usr/sbin/libvirtd") is None, reason="libvirtd not installed"),
    pytest.mark.skipif(not STRATUS.exists(), reason="the CLI is not installed (make setup installs it)"),
]

SHOWN: list[str] = []  # every output of the module's commands: the password must be in none


@pytest.fixture(scope="module")
def lab() -> t.Iterator[LabSession]:
    # A fresh store: the lab's down keeps the state dir's SQLite store, and the nodes' event log of an earlier run
    # of this module would be counted by its checks (the delete's clean events)
    shutil.rmtree(STATE / "store", ignore_errors=True)
    with LabSession(STATE, PREFIX, SUBNET, hypervisors=1, baremetal=3, caller=DEMO) as session:
        wait_until(lambda: redfish_system("node1") is not None, "the Redfish emulator to answer",
                   timeout=FIRST_ANSWER_S, interval=1)
        yield session


def lab_json() -> dict[str, t.Any]:
    return json.loads((STATE / "lab.json").read_text())


def record(name: str) -> dict[str, t.Any]:
    return next(n for n in lab_json()["nodes"] if n["name"] == name)


def password() -> str:
    return Path(lab_json()["nodes"][0]["password_file"]).read_text().strip()


def redfish_system(name: str) -> t.Optional[t.Any]:
    rec = record(name)
    try:
        client = sushy.Sushy(f"{rec['redfish_address']}/redfish/v1",
                             auth=sushy.auth.BasicAuth(username=rec["username"], password=password()))
        return client.get_system(rec["redfish_path"])
    except sushy.exceptions.ConnectionError:
        return None


def bmc() -> BmcHost:
    return bmc_of(load_lab(STATE))


def rows(query: str) -> list[tuple]:
    return [tuple(row) for row in store_rows(sqlite_url(STATE / "store"), query)]


def run_stratus(lab: LabSession, *args: str, caller: t.Sequence[str] = ADMIN) -> str:
    """The CLI against the lab (its inventory and store); by default as the operator (ADMIN's flags),
    not the demo member the provision runs are asked by."""
    env = {k: v for k, v in lab.env.items() if k not in ("STRATUS_USER_ID", "STRATUS_PROJECT_ID", "STRATUS_ROLES")}
    env["STRATUS_LAB_DIR"] = str(STATE)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "cli"), os.environ.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([str(STRATUS), *caller, *args], capture_output=True, text=True, env=env,
                          cwd=str(STATE), timeout=1500, check=False)
    SHOWN.extend([proc.stdout, proc.stderr])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def stratus(lab: LabSession, *args: str, caller: t.Sequence[str] = ADMIN) -> dict[str, t.Any]:
    out = run_stratus(lab, *args, "-o", "json", caller=caller)
    return json.loads(out) if out.strip() else {}


def provision(lab: LabSession, servers: list[dict[str, t.Any]],
              catalog: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Any:
    run = run_merged(lab.provision_argv(servers, catalog), lab.env, 1500)
    SHOWN.append(run.stdout)
    return run


def node_rows() -> dict[str, tuple]:
    return {r[0]: r[1:] for r in rows("select name, provision_state, instance_uuid, last_error from baremetal_nodes")}


def console(name: str) -> str:
    return bmc().node_console(name).read_text(errors="replace") if bmc().node_console(name).exists() else ""


def console_but_heartbeats(name: str) -> list[str]:
    """The node's console lines but the guest's heartbeats (it prints one every 5 s), complete lines only."""
    text = console(name)
    lines = text.splitlines()
    if lines and not text.endswith("\n"):
        lines.pop()  # the line being written
    return [line for line in lines if not ALIVE.search(line)]


def test_the_nodes_are_managed_and_provided(lab: LabSession) -> None:
    """The first manage enrolls every node of the inventory; then the other commands run side by side, one run per
    node as two operators' would (they share no node): the module's time pays for its power test's soft reboot."""
    stratus(lab, "baremetal", "node", "manage", "node1")
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        for verb, names in (("manage", ("node2", "node3")), ("provide", ("node1", "node2", "node3"))):
            list(pool.map(lambda name, v=verb: stratus(lab, "baremetal", "node", v, name), names))
    assert {n: r[0] for n, r in node_rows().items()} == {"node1": "available", "node2": "available",
                                                         "node3": "available"}


def tftp_files() -> list[str]:
    """The PXE files of nodes and instances in the node network's TFTP root (boot.ipxe and images aside)."""
    root = Path(lab_json()["tftp_root"])
    return sorted(str(p.relative_to(root)) for d in ("pxe", "instances") if (root / d).is_dir()
                  for p in (root / d).rglob("*") if p.is_file() and not p.name.startswith("."))


def node_power(name: str) -> str:
    return bmc().virsh("domstate", name).stdout.strip()


def test_three_bare_metal_servers_and_a_virtual_one_are_built(lab: LabSession) -> None:
    run = provision(lab, [BM, VM])
    assert run.returncode == 0, run.stdout[-4000:]
    servers = rows("select i.uuid, i.name, i.host, i.vm_state, i.power_state, a.address, a.mac from instances i "
                   "join ip_allocations a on a.instance_uuid = i.uuid where i.deleted = '' order by i.name")
    assert [(s[1], s[2], s[3]) for s in servers] == [("bm-1", "node1", "active"), ("bm-2", "node2", "active"),
                                                     ("bm-3", "node3", "active"), ("vm", "hv1", "active")]
    for uuid, name, node, _vm_state, power, ip, mac in servers[:3]:
        assert power == "running"
        assert mac == record(node)["nics"][0]["mac"]  # the node's own NIC
        ready = f"STRATUS-GUEST ready name={name} uuid={uuid} ip={ip}"
        wait_until(lambda n=node, line=ready: line in console(n), f"{node} to boot {name}", timeout=BOOT_S, interval=1)
        events = rows("select e.event, e.result from instance_actions_events e join instance_actions a "
                      "on a.id = e.action_id where a.instance_uuid = '%s' order by e.id" % uuid)
        assert events == [("conductor_schedule_and_build_instances", "Success"),
                          ("compute_allocate_network", "Success"),
                          ("compute_prep_block_device", "Success"), ("compute_spawn", "Success")]
    states = node_rows()
    assert states["node1"][:2] == ("active", servers[0][0]) and states["node2"][:2] == ("active", servers[1][0])
    assert states["node3"][:2] == ("active", servers[2][0])
    media = sorted(p.name for p in Path(lab_json()["media_dir"]).iterdir())
    assert media == sorted(f"{s[0]}.iso" for s in servers[:2])  # virtual media for the Redfish nodes
    # PXE for the IPMI node: its script by MAC and the instance's config drive cpio
    node3_mac = record("node3")["nics"][0]["mac"].replace(":", "-")
    assert tftp_files() == [f"instances/{servers[2][0]}/config-2.cpio", f"pxe/{node3_mac}.ipxe"]
    assert all(oct((Path(lab_json()["media_dir"]) / m).stat().st_mode & 0o777) == "0o640" for m in media)


def test_a_rerun_changes_nothing(lab: LabSession) -> None:
    before = console_but_heartbeats("node1")
    run = provision(lab, [BM, VM])
    assert run.returncode == 0, run.stdout[-4000:]
    assert all(v["changed"] == 0 for v in recap(run.stdout).values()), run.stdout[-3000:]
    assert console_but_heartbeats("node1") == before  # not booted again (only heartbeats came)


def test_the_inventory_plugin_lists_bare_metal_servers_by_node(lab: LabSession) -> None:
    listed = lab.servers_inventory(DEMO)
    for name, node in (("bm-1", "node1"), ("bm-2", "node2"), ("bm-3", "node3")):
        assert f"server-{name}" in listed[f"baremetal_node_{node}"]["hosts"], listed  # host_prefix
        assert "baremetal" in json.dumps(listed["_meta"]["hostvars"][f"server-{name}"]["stratus_driver"])
    assert "server-vm" in listed["hypervisor_hv1"]["hosts"]


def test_one_more_is_no_valid_host_naming_each_node(lab: LabSession) -> None:
    run = provision(lab, [ONE_MORE])
    assert run.returncode != 0
    assert "NoValidHost" in run.stdout and "There are not enough bare-metal nodes available" in run.stdout
    held = [r[0] for r in rows("select instance_uuid from baremetal_nodes where instance_uuid is not null")]
    assert len(held) == 3  # every node, the IPMI one too (PXE), is claimed: each named with its holder
    for uuid in held:
        assert f"the node is claimed by instance {uuid}" in run.stdout, run.stdout[-4000:]
    assert not rows("select uuid from instances where name = 'bm-more' and deleted = ''")


def test_delete_gives_every_node_back(lab: LabSession) -> None:
    uuids = [r[0] for r in rows("select uuid from instances where name like 'bm-%' and deleted = ''")]
    run = provision(lab, [dict(BM, state="absent"), dict(VM, state="absent")])
    assert run.returncode == 0, run.stdout[-4000:]
    assert not rows("select uuid from instances where deleted = ''")
    assert node_rows() == {n: ("available", None, None) for n in ("node1", "node2", "node3")}
    for name in ("node1", "node2"):
        system = redfish_system(name)
        assert system is not None and system.power_state == sushy.PowerState.OFF
        cd = system.virtual_media.get_member(f"{record(name)['redfish_path']}/VirtualMedia/Cd")
        assert not cd.inserted
    assert not [p for p in bmc().node_dhcp_hosts.iterdir() if not p.name.startswith(".")]
    assert node_power("node3") == "shut off"
    assert not [p for p in Path(lab_json()["media_dir"]).iterdir() if any(u in p.name for u in uuids)]
    assert tftp_files() == []
    cleaned = rows("select node, to_state, result from baremetal_node_events where event = 'clean' order by id")
    assert sorted(cleaned) == [("node1", "available", "success"), ("node2", "available", "success"),
                               ("node3", "available", "success")]


def wait_ready(server: t.Mapping[str, t.Any]) -> None:
    """The node's console shows the server's config drive (name, uuid) and the store's address."""
    (ip,) = [a["addr"] for addrs in server["addresses"].values() for a in addrs]
    ready = f"STRATUS-GUEST ready name={server['name']} uuid={server['id']} ip={ip}"
    wait_until(lambda: ready in console(server["host"]), f"{server['host']} to boot {server['name']}",
               timeout=BOOT_S, interval=1)


def test_the_cli_creates_and_deletes_a_bare_metal_server(lab: LabSession) -> None:
    created = stratus(lab, "server", "create", "--name", "bm-cli", "--flavor", "bm.small", "--image",
                      "stratus-guest", "--network", "baremetal", caller=MEMBER)
    (server,) = created["servers"]
    assert server["status"] == "ACTIVE" and server["host"] in ("node1", "node2", "node3"), created
    wait_ready(server)
    shown = stratus(lab, "server", "show", "bm-cli", caller=MEMBER)["server"]
    assert (shown["id"], shown["host"], shown["driver"]) == (server["id"], server["host"], "baremetal"), shown
    assert node_rows()[server["host"]][:2] == ("active", server["id"])
    stratus(lab, "server", "delete", "bm-cli", caller=MEMBER)
    assert node_rows() == {n: ("available", None, None) for n in ("node1", "node2", "node3")}


def awx_job(lab: LabSession, ident: str, answers: t.Mapping[str, t.Any]) -> t.Any:
    """provision_survey.yml as an AWX job template runs it: ansible-runner on a private data dir, the
    survey's answers as extra vars, the caller and store from the Stratus credential (environment),
    the collection from the project's requirements, the job template's inventory."""
    pdd = STATE / "awx" / ident
    shutil.rmtree(pdd, ignore_errors=True)
    collection = pdd / "requirements_collections" / "ansible_collections" / "stratus" / "compute"
    collection.parent.mkdir(parents=True)
    collection.symlink_to(ROOT, target_is_directory=True)
    envvars = {k: v for k, v in lab.env.items() if k.startswith("STRATUS_")}
    envvars.update(ANSIBLE_COLLECTIONS_PATH=str(pdd / "requirements_collections"), ANSIBLE_HOST_KEY_CHECKING="False",
                   ANSIBLE_CONFIG=lab.env["ANSIBLE_CONFIG"],
                   PATH="%s:%s" % (ROOT / ".venv" / "bin", os.environ.get("PATH", "")))
    runner = ansible_runner.run(private_data_dir=str(pdd), project_dir=str(ROOT),
                                playbook="playbooks/provision_survey.yml", inventory=[str(lab.inventory),
                                                                                      str(DEMO_INVENTORY)],
                                extravars=dict(answers), envvars=envvars, ident=ident, quiet=True, timeout=1500)
    SHOWN.append(runner.stdout.read() if runner.stdout else "")
    return runner


def test_an_awx_survey_job_creates_and_deletes_a_bare_metal_server(lab: LabSession) -> None:
    spec = json.loads(run_stratus(lab, "awx", "survey"))  # the survey of the lab's inventory
    questions = {q["variable"]: q for q in spec["spec"]}
    assert "bm.small" in questions["stratus_survey_flavor"]["choices"]
    answers = {"stratus_survey_name": "bm-awx", "stratus_survey_flavor": "bm.small",
               "stratus_survey_image": "stratus-guest", "stratus_survey_networks": "baremetal"}
    for variable, answer in answers.items():  # AWX takes only an answer among the choices
        assert questions[variable]["type"] != "multiplechoice" or answer in questions[variable]["choices"]
    runner = awx_job(lab, "create", answers)
    assert runner.status == "successful", SHOWN[-1][-4000:]
    ((uuid, node, vm_state),) = rows("select uuid, host, vm_state from instances where name = 'bm-awx' "
                                     "and deleted = ''")
    assert vm_state == "active" and node_rows()[node][:2] == ("active", uuid)
    (ip,) = [r[0] for r in rows("select address from ip_allocations where instance_uuid = '%s'" % uuid)]
    wait_ready({"name": "bm-awx", "id": uuid, "host": node, "addresses": {"baremetal": [{"addr": ip}]}})
    runner = awx_job(lab, "delete", {"stratus_survey_name": "bm-awx", "stratus_survey_state": "absent"})
    assert runner.status == "successful", SHOWN[-1][-4000:]
    assert not rows("select uuid from instances where name = 'bm-awx' and deleted = ''")
    assert node_rows() == {n: ("available", None, None) for n in ("node1", "node2", "node3")}


def server_action(lab: LabSession, server: str, action: str, reboot_type: t.Optional[str] = None) -> None:
    item = dict({"server": server, "action": action}, **({"reboot_type": reboot_type} if reboot_type else {}))
    overlay = inventory_overlay.write(STATE / "actions-overlay", SHUTDOWN_TIMEOUT)
    run = run_merged(playbook_argv(ACTIONS, [lab.inventory, DEMO_INVENTORY, overlay], {"stratus_actions": [item]}),
                     lab.env, 900)
    SHOWN.append(run.stdout)
    assert run.returncode == 0, run.stdout[-4000:]


def powered(node: str, on: bool) -> bool:
    """The node's power as libvirt runs its domain, as the store's node row has it and, on a Redfish node (node1
    and node2, as the lab's inventory drives them), as its BMC says (node3's BMC is IPMI: not asked here)."""
    ((row_power,),) = rows("select power_state from baremetal_nodes where name = '%s'" % node)
    if (node_power(node), row_power) != (("running", "power on") if on else ("shut off", "power off")):
        return False
    if node_driver(int(node.removeprefix("node")), len(lab_json()["nodes"])) != "redfish":
        return True
    system = redfish_system(node)
    return system is not None and system.power_state == (sushy.PowerState.ON if on else sushy.PowerState.OFF)


def test_a_bare_metal_server_keeps_its_status_and_is_rebooted_soft_and_hard(lab: LabSession) -> None:
    """Through its node's BMC; the node boots the server again (its boot device and medium or PXE files stay).
    The request's status: stopped (at its build: the deploy powers the node on, the power play stops it), a rerun
    that changes nothing, status: active, then server_action.yml's soft reboot (the guest ignores ACPI: forced
    after the graceful window, then on) and hard reboot."""
    server = {"name": "bm-power", "flavor": "bm.small", "image": "stratus-guest", "networks": [{"name": "baremetal"}]}

    def keep(status: str) -> t.Any:
        run = provision(lab, [dict(server, status=status)], SHUTDOWN_TIMEOUT)
        assert run.returncode == 0, run.stdout[-4000:]
        return run

    keep("stopped")
    ((uuid, node, ip),) = rows("select i.uuid, i.host, a.address from instances i join ip_allocations a on "
                               "a.instance_uuid = i.uuid where i.name = 'bm-power' and i.deleted = ''")
    ready = f"STRATUS-GUEST ready name=bm-power uuid={uuid} ip={ip}"

    def state() -> tuple:
        ((vm_state, task_state, power_state, fault),) = rows(
            "select vm_state, task_state, power_state, fault from instances where uuid = '%s'" % uuid)
        return vm_state, task_state, power_state, json.loads(fault) if fault else None

    def actions() -> list[tuple]:
        return rows("select a.action, e.event, e.result, e.details from instance_actions a "
                    "join instance_actions_events e on e.action_id = a.id "
                    "where a.instance_uuid = '%s' order by e.id" % uuid)

    def booted_again(after: str, boots: int) -> None:
        wait_until(lambda: console(node).count(ready) > boots, f"{node} to boot bm-power again after {after}",
                   timeout=BOOT_S, interval=1)

    assert state() == ("stopped", None, "shutdown", None) and powered(node, on=False)
    assert actions()[-1] == ("stop", "compute_stop_instance", "Success", "forced off after the shutdown timeout")
    logged = actions()
    run = keep("stopped")  # kept: nothing to do
    assert all(v["changed"] == 0 for v in recap(run.stdout).values()), run.stdout[-3000:]
    assert actions() == logged and state()[0] == "stopped" and powered(node, on=False)

    boots = console(node).count(ready)
    keep("active")
    assert state() == ("active", None, "running", None) and powered(node, on=True)
    assert actions()[-1] == ("start", "compute_start_instance", "Success", None)
    booted_again("status: active", boots)
    for reboot_type, details in (("soft", "soft reboot fell back to hard"), ("hard", None)):
        boots = console(node).count(ready)
        server_action(lab, "bm-power", "reboot", reboot_type)
        assert state() == ("active", None, "running", None) and powered(node, on=True)
        assert actions()[-1] == ("reboot", "compute_reboot_instance", "Success", details)
        booted_again(f"a {reboot_type} reboot", boots)
    assert [a[0] for a in actions()[-4:]] == ["stop", "start", "reboot", "reboot"]
    assert node_rows()[node][:2] == ("active", uuid)
    gone = provision(lab, [dict(server, state="absent")])
    assert gone.returncode == 0, gone.stdout[-4000:]
    assert node_rows() == {n: ("available", None, None) for n in ("node1", "node2", "node3")}


def wrong_password_overlay() -> Path:
    """An inventory source after the others: node1's BMC password is wrong (its host variable wins)."""
    overlay = STATE / "wrong-password"
    overlay.mkdir(exist_ok=True)
    (overlay / "hosts.yml").write_text(json.dumps({"all": {"children": {"baremetal_nodes": {"hosts": {
        "node1": {"stratus_bm_password": "not-the-bmc-password"}}}}}}))
    return overlay


def test_a_node_whose_bmc_refuses_is_left_for_the_next(lab: LabSession) -> None:
    """node1's BMC refuses the credentials: its deploy fails, the server is rescheduled onto node2
    (its alternate) and built there; node1 ends in clean failed with the fault, until the operator's
    manage and provide."""
    server = {"name": "bm-retry", "flavor": "bm.small", "image": "stratus-guest", "networks": [{"name": "baremetal"}]}
    argv = lab.provision_argv([server]) + ["-i", str(wrong_password_overlay())]
    run = run_merged(argv, lab.env, 1500)
    SHOWN.append(run.stdout)
    assert run.returncode == 0, run.stdout[-4000:]
    ((uuid, node, vm_state, attempts),) = rows("select uuid, host, vm_state, attempts from instances "
                                               "where name = 'bm-retry' and deleted = ''")
    assert (node, vm_state, attempts) == ("node2", "active", 2)
    events = rows("select e.event, e.host, e.result from instance_actions_events e join instance_actions a "
                  "on a.id = e.action_id where a.instance_uuid = '%s' order by e.id" % uuid)
    assert ("compute_spawn", "node1", "Error") in events and events[-1] == ("compute_spawn", "node2", "Success")
    state, holder, fault = node_rows()["node1"]
    assert (state, holder) == ("clean failed", None) and fault.startswith("BMCAuthFailed")
    SHOWN.append(fault)
    gone = provision(lab, [dict(server, state="absent")])
    assert gone.returncode == 0, gone.stdout[-4000:]
    assert node_rows()["node2"] == ("available", None, None)
    for verb in ("manage", "provide"):
        stratus(lab, "baremetal", "node", verb, "node1")
    assert node_rows()["node1"] == ("available", None, None)


def test_the_bmc_password_is_in_no_output_or_log(lab: LabSession) -> None:
    secret = password()
    texts = list(SHOWN) + [p.read_text(errors="replace") for p in (STATE / "bmc" / "logs").glob("*.log")]
    texts += [json.dumps(rows("select * from baremetal_node_events")),
              json.dumps(rows("select * from instances"), default=str)]
    assert texts and not any(secret in text for text in texts)
