"""The provision playbook against a real lab: libvirtd + QEMU in namespaces, real ansible-playbook."""
from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import typing as t
from pathlib import Path

import pytest

from stratus_lab import console, inventory_overlay
from stratus_lab.ansible_run import playbook_argv, recap, task_lines  # noqa: F401  (test_faults takes recap from here)
from stratus_lab.host import Host, dhcp_entries_command  # noqa: F401  (test_faults takes it from here)
from stratus_lab.paths import DEMO_INVENTORY, ROOT
from stratus_lab.session import LabSession
from stratus_lab.store import sqlite_url, rows as store_rows_of
from wait_helpers import wait_until  # tests/wait_helpers.py

pytestmark = pytest.mark.lab

STATE = Path("/tmp/stratus-e2e-prov")


def run(cmd: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%s):\n%s\n%s" % (cmd[:3], proc.returncode, proc.stdout[-4000:],
                                                          proc.stderr[-2000:]))
    return proc


@pytest.fixture(scope="module")
def lab() -> t.Iterator[LabSession]:
    with LabSession(STATE, "stxp", "10.233", hypervisors=2) as session:
        yield session


def playbook(lab: LabSession, name: str, extra: dict, catalog: t.Optional[dict] = None,
             options: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """A playbook with these extra vars (launch inputs) and ansible-playbook `options`; `catalog`
    variables (the caller's `stratus_context` too) go in an inventory overlay."""
    inventories = [lab.inventory, DEMO_INVENTORY]
    if catalog:
        inventories.append(inventory_overlay.write(lab.state / "catalog-overlay", catalog))
    return run(playbook_argv(ROOT / "playbooks" / ("%s.yml" % name), inventories, extra, options), lab.env,
               check=False)


def store_rows(query: str) -> list[tuple]:
    return [tuple(row) for row in store_rows_of(sqlite_url(STATE / "store"), query)]


def console_line(uuid: str, host: str, timeout: float = 150) -> str:
    return console_line_in(STATE, uuid, host, timeout)


def console_line_in(state: Path, uuid: str, host: str, timeout: float = 150) -> str:
    """The guest's ready line from its serial console log in the lab state dir `state`."""
    line = console.ready_line(state, uuid, host, timeout)
    if not line:
        raise AssertionError("no ready line in the console log of %s on %s" % (uuid, host))
    return line


def guest_report(state: Path, uuid: str, host: str, timeout: float = 150) -> list[str]:
    """Every `STRATUS-GUEST ...` line the guest printed, its ready line last."""
    lines = console.guest_report(state, uuid, host, timeout)
    if not lines:
        raise AssertionError("no ready line in the console log of %s on %s" % (uuid, host))
    return lines


SERVERS = [{"name": "e2e", "flavor": "m1.small", "image": "stratus-guest", "networks": [{"name": "demo"}],
            "min_count": 2, "metadata": {"suite": "e2e"}}]


def test_build_boots_guests_with_their_data_and_address(lab):
    first = playbook(lab, "provision", {"stratus_servers": SERVERS})
    assert first.returncode == 0, first.stdout[-3000:]
    rows = store_rows("select i.uuid, i.name, i.host, i.vm_state, a.address from instances i "
                      "join ip_allocations a on a.instance_uuid = i.uuid order by i.name")
    assert [r[1] for r in rows] == ["e2e-1", "e2e-2"]
    assert {r[3] for r in rows} == {"active"}
    assert {r[2] for r in rows} == {"hv1", "hv2"}  # RAM weigher spreads them
    for uuid, name, host, _status, ip in rows:
        assert console_line(uuid, host) == "STRATUS-GUEST ready name=%s uuid=%s ip=%s" % (name, uuid, ip)
    events = store_rows("select e.event, e.result from instance_actions_events e join instance_actions a "
                        "on a.id = e.action_id where a.instance_uuid = '%s' order by e.id" % rows[0][0])
    assert events == [("conductor_schedule_and_build_instances", "Success"), ("compute_allocate_network", "Success"),
                      ("compute_prep_block_device", "Success"), ("compute_spawn", "Success")]


def test_rerun_changes_nothing(lab):
    again = playbook(lab, "provision", {"stratus_servers": SERVERS})
    assert again.returncode == 0, again.stdout[-3000:]
    assert all(v["changed"] == 0 for v in recap(again.stdout).values()), again.stdout[-2000:]
    # Every server is built: one converge call per host, the three steps skipped.
    assert sorted(task_lines(again.stdout, "Check and repair built servers")) == ["ok: [hv1]", "ok: [hv2]"]
    for step in ("Network step", "Block device step", "Spawn step"):
        assert sorted(task_lines(again.stdout, step)) == ["skipping: [hv1]", "skipping: [hv2]"], again.stdout[-3000:]


def test_rerun_repairs_drift_in_one_call(lab):
    """A stopped domain and a lost DHCP entry on a built server: the next run puts both back."""
    (uuid, host, mac, network), = store_rows(
        "select i.uuid, i.host, a.mac, json_extract(i.plan, '$.nics[0].libvirt_network') from instances i "
        "join ip_allocations a on a.instance_uuid = i.uuid where i.name = 'e2e-1'")
    k = int(host[2:])
    on_host(k, "virsh -q destroy %s" % uuid)
    # The entry is a file in the network's dnsmasq hosts directory (libvirt's XML has only the placeholder).
    entry = "/var/lib/libvirt/dnsmasq/%s.hostsdir/%s" % (network, mac.replace(":", "-"))
    assert mac not in on_host(k, "virsh net-dumpxml %s" % network)
    assert on_host(k, "cat %s" % entry).startswith(mac + ",")
    on_host(k, "rm %s" % entry)
    assert on_host(k, "virsh domstate %s" % uuid).strip() == "shut off"
    assert mac not in on_host(k, dhcp_entries_command(network))

    fixed = playbook(lab, "provision", {"stratus_servers": SERVERS})
    assert fixed.returncode == 0, fixed.stdout[-3000:]
    assert "changed: [%s]" % host in task_lines(fixed.stdout, "Check and repair built servers"), fixed.stdout[-3000:]
    assert on_host(k, "virsh domstate %s" % uuid).strip() == "running"
    assert mac in on_host(k, dhcp_entries_command(network))
    assert store_rows("select vm_state, task_state from instances where uuid = '%s'" % uuid) == [("active", None)]

    again = playbook(lab, "provision", {"stratus_servers": SERVERS})
    assert all(v["changed"] == 0 for v in recap(again.stdout).values()), again.stdout[-2000:]


def test_missing_image_file_ends_in_honest_error_with_nothing_held(lab, tmp_path):
    images = [{"id": "0b7c0f5e-0000-4000-8000-000000000001", "name": "gone", "disk_format": "qcow2",
               "file": str(tmp_path / "no-such-image.qcow2")}]
    bad = playbook(lab, "provision", {"stratus_servers": [
        {"name": "broken", "flavor": "m1.tiny", "image": "gone", "networks": [{"name": "demo"}]}]},
        catalog={"stratus_images": images})
    assert bad.returncode != 0
    (uuid, vm_state, fault), = store_rows("select uuid, vm_state, fault from instances where name = 'broken'")
    assert vm_state == "error"
    assert json.loads(fault)["code"] == "ImageNotFound"
    assert store_rows("select count(*) from resource_claims where instance_uuid = '%s'" % uuid) == [(0,)]
    assert store_rows("select count(*) from ip_allocations where instance_uuid = '%s'" % uuid) == [(0,)]


# --- secrets (admin password, user data, injected files) never reach a hypervisor's system log ----------

ADMIN_PASS = "E2e-Adm1n-Pass-3c9d"
USER_DATA_PLAIN = b"#cloud-config\npassword: E2eUserData-Secret-58a1\n"
FILE_PLAIN = b"api_token = E2ePersonality-Secret-7d2e\n"
INJECTED = {"path": "/etc/stratus/injected.conf", "contents": base64.b64encode(FILE_PLAIN).decode()}
SECRET_SERVER = {"name": "sec", "flavor": "m1.tiny", "image": "stratus-guest", "networks": [{"name": "demo"}],
                 "admin_pass": ADMIN_PASS, "user_data": base64.b64encode(USER_DATA_PLAIN).decode(),
                 "personality": [INJECTED]}
SECRETS = {"admin_pass": ADMIN_PASS, "user_data (base64)": SECRET_SERVER["user_data"],
           "user_data (decoded)": "E2eUserData-Secret-58a1", "personality (base64)": INJECTED["contents"],
           "personality (decoded)": "E2ePersonality-Secret-7d2e"}
STEP_MODULES = ("compute_network", "compute_block_devices", "compute_domain")


def syslog_of(host: str) -> str:
    """The hypervisor's system log (the lab runs a syslog daemon in each hypervisor's namespaces)."""
    path = STATE / host / "root" / "var" / "log" / "messages"
    return path.read_text(errors="replace") if path.exists() else ""


def leaked(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


def test_secrets_reach_the_guest_and_no_log_or_result(lab):
    built = playbook(lab, "provision", {"stratus_servers": [SECRET_SERVER]}, options=("-vvv",))
    assert built.returncode == 0, built.stdout[-3000:]
    (uuid, host), = store_rows("select uuid, host from instances where name = 'sec' and deleted = ''")
    report = guest_report(STATE, uuid, host)
    # The config drive has them all: the user data, and the injected file where Nova puts it.
    assert "STRATUS-GUEST user_data bytes=%d sha256=%s" % (
        len(USER_DATA_PLAIN), hashlib.sha256(USER_DATA_PLAIN).hexdigest()) in report
    assert [line for line in report if line.startswith("STRATUS-GUEST file ")] == [
        "STRATUS-GUEST file path=%s sha256=%s" % (INJECTED["path"], hashlib.sha256(FILE_PLAIN).hexdigest())]
    # On the host the config drive carries them too (as Nova's does): only root may read it.
    modes = on_host(int(host[-1]), "stat -c '%%a %%n' /var/lib/libvirt/stratus/instances/%s-disk.config-*.iso" % uuid)
    assert modes.split()[0] == "600", modes
    gone = playbook(lab, "provision", {"stratus_servers": [{"name": "sec", "state": "absent"}]}, options=("-vvv",))
    assert gone.returncode == 0, gone.stdout[-3000:]
    # The results the controller got back (printed whole at -vvv) hold none of them.
    assert leaked(built.stdout + built.stderr + gone.stdout + gone.stderr) == []
    for k in (1, 2):
        assert leaked(syslog_of("hv%d" % k)) == [], "hv%d's system log shows secrets" % k
    # And the log works: Ansible wrote each step's invocation there, with this server's plan in it.
    lines = syslog_of(host).splitlines()
    for module in STEP_MODULES:
        invoked = [ln for ln in lines if "%s: Invoked with" % module in ln and uuid in ln]
        assert len(invoked) >= 2, "no invocation of %s for %s in %s's log" % (module, uuid, host)  # build, delete
    assert any("compute_block_devices: Invoked" in ln and "secrets=NOT_LOGGING_PARAMETER" in ln for ln in lines)


# --- a deleted server's DHCP lease does not keep its address from the next server ---------------------

ADMIN = {"user_id": "operator", "project_id": "demo", "roles": ["admin"]}
FIXED_IP = "10.240.0.150"
PINNED = {"name": "pinned", "flavor": "m1.tiny", "image": "stratus-guest", "availability_zone": "az1:hv1",
          "networks": [{"name": "demo", "fixed_ip": FIXED_IP}]}


def leases_on(host: str) -> str:
    """What the network's dnsmasq has leased on `host` (libvirt's lease files, one per bridge)."""
    found = (STATE / host / "root" / "var" / "lib" / "libvirt" / "dnsmasq").glob("*.status")
    return "".join(path.read_text(errors="replace") for path in found)


def test_a_deleted_servers_lease_does_not_keep_its_address_from_the_next(lab):
    """Same fixed IP, same host (a forced host: admin), built, deleted, built again: the second
    guest must get the address by DHCP although the first one's MAC had leased it."""
    admin = {"stratus_context": ADMIN}  # the caller for the whole run, from the inventory
    first = playbook(lab, "provision", {"stratus_servers": [PINNED]}, admin)
    assert first.returncode == 0, first.stdout[-3000:]
    (old_uuid, host, old_mac), = store_rows("select i.uuid, i.host, a.mac from instances i join ip_allocations a "
                                            "on a.instance_uuid = i.uuid where i.name = 'pinned' and i.deleted = ''")
    assert host == "hv1"
    assert console_line(old_uuid, host).endswith("ip=%s" % FIXED_IP)
    wait_until(lambda: old_mac in leases_on(host), "the lease of %s in %s's dnsmasq" % (old_mac, host))

    gone = playbook(lab, "provision", {"stratus_servers": [{"name": "pinned", "state": "absent"}]}, admin)
    assert gone.returncode == 0, gone.stdout[-3000:]
    wait_until(lambda: old_mac not in leases_on(host), "dnsmasq to release the lease of %s" % old_mac)

    again = playbook(lab, "provision", {"stratus_servers": [PINNED]}, admin)
    assert again.returncode == 0, again.stdout[-3000:]
    (uuid, new_host, mac), = store_rows("select i.uuid, i.host, a.mac from instances i join ip_allocations a "
                                        "on a.instance_uuid = i.uuid where i.name = 'pinned' and i.deleted = ''")
    assert (new_host, uuid != old_uuid, mac != old_mac) == (host, True, True)
    assert console_line(uuid, host) == "STRATUS-GUEST ready name=pinned uuid=%s ip=%s" % (uuid, FIXED_IP)

    cleanup = playbook(lab, "provision", {"stratus_servers": [{"name": "pinned", "state": "absent"}]}, admin)
    assert cleanup.returncode == 0, cleanup.stdout[-3000:]


def on_host(k: int, command: str, state: Path = STATE) -> str:
    """A shell command on hvK of the lab in `state` (over its SSH, with its pinned host key)."""
    return Host(state, k).ssh(command).stdout


def test_delete_walks_back_and_leaves_nothing(lab):
    built = store_rows("select i.uuid, i.host, a.mac from instances i join ip_allocations a "
                       "on a.instance_uuid = i.uuid where i.name like 'e2e-%' and i.deleted = ''")
    assert len(built) == 2
    gone = playbook(lab, "provision", {"stratus_servers": [
        {"name": "e2e", "state": "absent", "max_count": 2},
        {"name": "broken", "state": "absent"}]})  # an ERROR server deletes too
    assert gone.returncode == 0, gone.stdout[-3000:]
    assert store_rows("select count(*) from instances where deleted = ''") == [(0,)]
    assert store_rows("select count(*) from resource_claims") == [(0,)]
    assert store_rows("select count(*) from ip_allocations") == [(0,)]
    for uuid, host, mac in built:
        k = int(host[-1])
        assert uuid not in on_host(k, "virsh -q -c qemu:///system list --all --uuid")
        assert uuid not in on_host(k, "virsh -q -c qemu:///system vol-list stratus-instances")
        assert mac not in on_host(k, dhcp_entries_command("stratus-demo"))
        events = store_rows("select e.event, e.result from instance_actions_events e join instance_actions a "
                            "on a.id = e.action_id where a.instance_uuid = '%s' and a.action = 'delete' "
                            "order by e.id" % uuid)
        assert events == [("compute_shutdown_instance", "Success"), ("compute_cleanup_volumes", "Success"),
                          ("compute_deallocate_network", "Success")]
    again = playbook(lab, "provision", {"stratus_servers": [{"name": "e2e", "state": "absent", "max_count": 2}]})
    assert again.returncode == 0, again.stdout[-3000:]
    assert all(v["changed"] == 0 for v in recap(again.stdout).values()), again.stdout[-2000:]
