"""The stratus CLI without ansible: usage errors, exit codes, --help, output formats, with a fake runner."""
from __future__ import annotations

import json
import os
import typing as t
from pathlib import Path

import pytest
import yaml

from typer.testing import CliRunner

# setup/bootstrap.sh installs the CLI into this checkout's .venv, editable
from stratus_cli import app as cli
from stratus_cli import output, runner
from stratus_cli import survey
from stratus_cli.survey import catalog_of, survey_spec

ROOT = Path(__file__).resolve().parents[2]

SERVER = {"id": "0b1f0000-0000-4000-8000-000000000001", "name": "web-1", "project_id": "demo", "user_id": "demo",
          "host": "hv1", "availability_zone": None, "flavor": {"id": "1", "name": "m1.tiny"}, "image": "img",
          "vm_state": "active", "task_state": None, "power_state": "running", "fault": None, "metadata": {},
          "tags": [], "description": None, "status": "ACTIVE",
          "addresses": {"demo": [{"addr": "10.240.0.10", "mac": "fa:16:3e:00:00:01"}]}, "block_devices": []}


def event(name: str, action: str, res: dict[str, t.Any], host: str = "localhost", **data: t.Any) -> dict[str, t.Any]:
    return {"event": name, "event_data": dict({"host": host, "task_action": action, "res": res, "task": "t"}, **data)}


class FakeRunner:
    """Stands in for runner.run_playbook: records the calls, answers with canned events."""

    def __init__(self, events: list[dict[str, t.Any]], status: str = "successful", tail: str = "") -> None:
        self.events, self.status, self.tail = events, status, tail
        self.calls: list[dict[str, t.Any]] = []

    def __call__(self, settings: t.Any, playbook: str, extravars: t.Optional[dict[str, t.Any]] = None,
                 check: bool = False, limit: t.Optional[str] = None) -> runner.RunResult:
        self.calls.append({"playbook": playbook, "extravars": extravars, "check": check, "settings": settings})
        return runner.RunResult(self.status, 0 if self.status == "successful" else 2, self.events, self.tail)


@pytest.fixture()
def invoke(monkeypatch: pytest.MonkeyPatch) -> t.Callable[..., t.Any]:
    for key in [k for k in os.environ if k.startswith("STRATUS_")]:
        monkeypatch.delenv(key)

    def run(args: list[str], fake: t.Optional[FakeRunner] = None) -> t.Any:
        if fake is not None:
            monkeypatch.setattr(runner, "run_playbook", fake)
        return CliRunner().invoke(cli.app, args)
    return run


def ok_create(servers: list[dict[str, t.Any]]) -> FakeRunner:
    return FakeRunner([
        event("runner_item_on_ok", "stratus.compute.server",
              {"changed": True, "servers": servers, "item": {"name": "web"}, "_ansible_item_label": "web"}),
        event("runner_on_ok", "stratus.compute.server_info", {"changed": False, "servers": servers}),
        {"event": "playbook_on_stats", "event_data": {"artifact_data": {"stratus_servers_created": servers}}},
    ])


def test_help_shows_examples_and_exit_codes(invoke: t.Callable[..., t.Any]) -> None:
    result = invoke(["--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output and "Exit codes:" in result.output
    for sub in (["server", "create", "--help"], ["server", "explain", "--help"], ["hypervisor", "list", "--help"]):
        res = invoke(sub)
        assert res.exit_code == 0 and "Examples:" in res.output, sub


def test_usage_errors_exit_2(invoke: t.Callable[..., t.Any], tmp_path: Path) -> None:
    fake = FakeRunner([])
    assert invoke([], fake).exit_code == 2
    assert invoke(["server", "frobnicate"], fake).exit_code == 2
    res = invoke(["server", "create"], fake)
    assert res.exit_code == 2 and "error: InvalidInput: give --name" in res.output
    res = invoke(["server", "create", "--name", "x"], fake)
    assert res.exit_code == 2 and "(field: --flavor)" in res.output
    assert invoke(["server", "create", "--name", "x", "--flavor", "f", "--count", "2", "--min-count", "1"],
                  fake).exit_code == 2
    assert invoke(["server", "create", "--name", "x", "--flavor", "f", "--metadata", "novalue"], fake).exit_code == 2
    res = invoke(["server", "list", "--output", "xml"], fake)
    assert res.exit_code == 2 and "(field: --output)" in res.output and "Traceback" not in res.output
    res = invoke(["server", "create", "--bogus"], fake)
    assert res.exit_code == 2 and "error: InvalidInput: No such option '--bogus'" in res.output
    assert "(field: --bogus)" in res.output and "Usage: " in res.output
    res = invoke(["server", "frobnicate"], fake)
    assert "error: InvalidInput: No such command 'frobnicate'." in res.output
    bad = tmp_path / "bad.yml"
    bad.write_text("- [unclosed\n")
    res = invoke(["server", "create", "-f", str(bad)], fake)
    assert res.exit_code == 2 and "is not YAML" in res.output
    good = tmp_path / "one.yml"
    good.write_text("name: a\nflavor: m1.tiny\n")
    assert invoke(["server", "create", "-f", str(good), "--name", "b"], fake).exit_code == 2
    assert invoke(["--user", "alice", "server", "list"], fake).exit_code == 2
    assert fake.calls == [], "no playbook runs on a usage error"


def test_create_from_flags_builds_the_request_and_prints_json(invoke: t.Callable[..., t.Any]) -> None:
    fake = ok_create([SERVER])
    res = invoke(["--user", "u", "--project", "p", "--role", "member,reader", "server", "create", "--name", "web",
                  "--flavor", "m1.tiny", "--image", "stratus-guest", "--network", "demo", "--network",
                  "8d3c1a0e-6a7e-4a57-8a8f-0d5b6c2f4e01", "--count", "2", "--metadata", "a=b", "--tag", "t1",
                  "--no-config-drive", "-o", "json"], fake)
    assert res.exit_code == 0, res.output
    call = fake.calls[0]
    assert call["playbook"] == "provision.yml" and call["check"] is False
    assert call["extravars"] == {"stratus_servers": [{
        "name": "web", "flavor": "m1.tiny", "image": "stratus-guest",
        "networks": [{"name": "demo"}, {"uuid": "8d3c1a0e-6a7e-4a57-8a8f-0d5b6c2f4e01"}],
        "min_count": 2, "max_count": 2, "metadata": {"a": "b"}, "tags": ["t1"], "config_drive": False}]}
    assert call["settings"].context() == {"user_id": "u", "project_id": "p", "roles": ["member", "reader"]}
    data = json.loads(res.stdout)
    assert data["servers"][0]["id"] == SERVER["id"] and data["changed"] is True and "errors" not in data


def test_create_from_file_table_and_yaml(invoke: t.Callable[..., t.Any], tmp_path: Path) -> None:
    reqs = tmp_path / "servers.yml"
    reqs.write_text(yaml.safe_dump({"stratus_servers": [{"name": "a", "flavor": "f"}, {"name": "b", "flavor": "f"}]}))
    fake = ok_create([SERVER])
    res = invoke(["server", "create", "-f", str(reqs), "--check"], fake)
    assert res.exit_code == 0 and fake.calls[0]["check"] is True
    assert [r["name"] for r in fake.calls[0]["extravars"]["stratus_servers"]] == ["a", "b"]
    assert res.stdout.splitlines()[0].split() == ["NAME", "ID", "HOST", "STATUS", "TASK", "IP", "FLAVOR"]
    assert "10.240.0.10" in res.stdout
    res = invoke(["server", "list", "-o", "yaml"], FakeRunner([
        event("runner_on_ok", "stratus.compute.server_info", {"servers": [SERVER]})]))
    assert yaml.safe_load(res.stdout)["servers"][0]["name"] == "web-1"


def test_refused_request_exits_1_with_code_message_field(invoke: t.Callable[..., t.Any]) -> None:
    fake = FakeRunner([
        event("runner_item_on_failed", "stratus.compute.server",
              {"failed": True, "item": {"name": "big"}, "_ansible_item_label": "big",
               "error": {"code": "QuotaExceeded", "message": "Quota exceeded for cores", "field": "max_count"}}),
    ], status="failed")
    res = invoke(["server", "create", "--name", "big", "--flavor", "f", "-o", "json"], fake)
    assert res.exit_code == 1
    assert "error: QuotaExceeded: big: Quota exceeded for cores (field: max_count)" in res.output
    assert "Traceback" not in res.output
    assert json.loads(res.stdout.split("error:")[0])["errors"][0]["code"] == "QuotaExceeded"


def test_server_in_error_exits_1_with_its_fault(invoke: t.Callable[..., t.Any]) -> None:
    broken = dict(SERVER, vm_state="error", status="ERROR",
                  fault={"code": "BuildAbortException", "message": "spawn failed"})
    res = invoke(["server", "create", "--name", "web", "--flavor", "f"], ok_create([broken]))
    assert res.exit_code == 1 and "error: BuildAbortException: web-1: spawn failed" in res.output


def test_runner_failure_without_stratus_error(invoke: t.Callable[..., t.Any]) -> None:
    fake = FakeRunner([], status="failed", tail="ERROR! the playbook could not be found")
    res = invoke(["server", "list"], fake)
    assert res.exit_code == 1 and "error: RunnerError" in res.output and "could not be found" in res.output


def test_unexpected_exception_is_one_line(invoke: t.Callable[..., t.Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: t.Any, **_k: t.Any) -> t.NoReturn:
        raise KeyError("surprise")
    monkeypatch.setattr(runner, "run_playbook", boom)
    res = invoke(["server", "list"])
    assert res.exit_code == 1 and res.output.strip() == "error: InternalError: KeyError: 'surprise'"


def test_show_delete_and_not_found(invoke: t.Callable[..., t.Any]) -> None:
    res = invoke(["server", "show", "web-1", "-o", "json"], FakeRunner([
        event("runner_on_ok", "stratus.compute.server_info", {"servers": [SERVER]})]))
    assert res.exit_code == 0 and json.loads(res.stdout)["server"]["host"] == "hv1"
    res = invoke(["server", "show", "ghost"], FakeRunner([
        event("runner_on_ok", "stratus.compute.server_info", {"servers": []})]))
    assert res.exit_code == 1 and "error: InstanceNotFound: Instance ghost could not be found." in res.output
    fake = FakeRunner([
        event("runner_item_on_ok", "stratus.compute.server",
              {"changed": True, "item": {"name": "web-1", "state": "absent"},
               "servers": [dict(SERVER, task_state="deleting")]}),
        event("runner_item_on_ok", "stratus.compute.server",
              {"changed": False, "item": {"name": "nope", "state": "absent"}, "servers": []}),
        event("runner_on_ok", "stratus.compute.server_info", {"servers": []}),
    ])
    res = invoke(["server", "delete", "web-1", "nope", "-o", "json"], fake)
    assert res.exit_code == 0, res.output
    assert fake.calls[0]["extravars"]["stratus_servers"] == [
        {"name": "web-1", "state": "absent"}, {"name": "nope", "state": "absent"}]
    data = json.loads(res.stdout)
    assert data["servers"][0]["status"] == "DELETED" and data["not_found"] == ["nope"]


def test_explain_no_valid_host(invoke: t.Callable[..., t.Any]) -> None:
    verdicts = {"hv1": {"rejected_by": "RamFilter"},
                "hv2": {"rejected_by": None, "weights": {"RAMWeigher": 1.0, "CPUWeigher": 0.5}, "total": 1.5},
                "hv3": {"rejected_by": "ImagePropertiesFilter",
                        "reason": "the image asks for hw_maxphysaddr_bits 48; the host has 46 (cpu_info.maxphysaddr.bits)"}}
    fake = FakeRunner([event("runner_on_failed", "stratus.compute.server",
                             {"failed": True, "explain": verdicts,
                              "error": {"code": "NoValidHost", "message": "No valid host was found.",
                                        "field": None}})], status="failed")
    res = invoke(["server", "explain", "--name", "big", "--flavor", "m1.big", "-o", "json"], fake)
    assert res.exit_code == 1 and "error: NoValidHost: No valid host was found." in res.output
    assert fake.calls[0]["playbook"] == "explain.yml"
    assert fake.calls[0]["extravars"] == {"stratus_request": {"name": "big", "flavor": "m1.big"}}
    data = json.loads(res.stdout.split("error:")[0])
    assert data["scheduled"] is False and data["hosts"] == verdicts
    res = invoke(["server", "explain", "--name", "big", "--flavor", "m1.big"], fake)
    lines = res.stdout.splitlines()
    assert lines[1].startswith("hv2") and "passed" in lines[1] and "RAM=1" in lines[1]
    assert lines[2].startswith("hv1") and "rejected by RamFilter" in lines[2]
    assert lines[3].startswith("hv3") and "rejected by ImagePropertiesFilter: the image asks for " \
        "hw_maxphysaddr_bits 48; the host has 46" in lines[3]


def test_explain_scheduled(invoke: t.Callable[..., t.Any]) -> None:
    fake = FakeRunner([event("runner_on_ok", "stratus.compute.server",
                             {"changed": True, "servers": [{"name": "x", "host": "hv2"}],
                              "explain": {"hv2": {"rejected_by": None, "weights": {}, "weight": 0.0}}})])
    res = invoke(["server", "explain", "--name", "x", "--flavor", "f", "-o", "json"], fake)
    assert res.exit_code == 0 and json.loads(res.stdout)["placements"] == ["hv2"]


def test_hypervisor_bars_and_quota(invoke: t.Callable[..., t.Any]) -> None:
    hv = {"hypervisor_hostname": "hv1", "availability_zone": "az1", "status": "enabled", "vcpus": 8,
          "vcpus_used": 8, "memory_mb": 8192, "memory_mb_used": 1024, "local_gb": 40, "local_gb_used": 0,
          "running_vms": 4, "capacity": {"vcpus": 32, "memory_mb": 12288, "disk_gb": 40}}
    res = invoke(["hypervisor", "list"], FakeRunner([event("runner_on_ok", "stratus.compute.hypervisor_info",
                                                           {"hypervisors": [hv]})]))
    assert res.exit_code == 0
    assert "[#####...............] 8/32" in res.stdout and "1024/12288" in res.stdout
    denied = FakeRunner([event("runner_on_failed", "stratus.compute.hypervisor_info", {
        "failed": True, "error": {"code": "PolicyNotAuthorized", "message": "Policy doesn't allow it.",
                                  "field": None}})], status="failed")
    res = invoke(["hypervisor", "list"], denied)
    assert res.exit_code == 1 and res.stdout == "" and "error: PolicyNotAuthorized" in res.output
    qs = {"instances": {"limit": 10, "in_use": 3, "reserved": 0}, "ram": {"limit": -1, "in_use": 0, "reserved": 0}}
    res = invoke(["quota", "show", "-o", "json"], FakeRunner([event("runner_on_ok", "stratus.compute.quota_info",
                                                                    {"project_id": "demo", "quota_set": qs})]))
    assert json.loads(res.stdout)["quota_set"]["instances"]["in_use"] == 3
    res = invoke(["quota", "show"], FakeRunner([event("runner_on_ok", "stratus.compute.quota_info",
                                                      {"project_id": "demo", "quota_set": qs})]))
    assert "unlimited" in res.stdout


def test_progress_lines_from_events() -> None:
    lines: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    progress = runner.Progress(stream=t.cast(t.TextIO, Sink()))
    progress({"event": "playbook_on_play_start", "event_data": {"play": "Decide"}})
    progress({"event": "playbook_on_task_start", "event_data": {"task": "Request servers"}})
    progress(event("runner_item_on_ok", "x", {"changed": True, "_ansible_item_label": {"name": "web"}}, host="h"))
    progress(event("runner_on_failed", "x", {"error": {"code": "NoValidHost", "message": "none"}}, host="h"))
    progress(event("runner_on_unreachable", "x", {"msg": "ssh"}, host="hv1"))
    text = "".join(lines)
    assert "== Decide" in text and "-- Request servers" in text and "changed [web]" in text
    assert "failed NoValidHost: none" in text and "UNREACHABLE ssh" in text


def test_bar_and_grid() -> None:
    assert output.usage_bar(0, 10, width=10) == "[..........] 0/10"
    assert output.usage_bar(1, 1000, width=10) == "[#.........] 1/1000"
    assert output.usage_bar(15, 10, width=10) == "[##########] 15/10"
    assert output.usage_bar(3, 7.5, width=10) == "[####......] 3/7.5"
    assert output.grid(["A", "B"], [["x", None]]) == "A  B\nx  -"


def test_survey_spec_from_the_schema() -> None:
    spec = survey_spec(ROOT, "create")
    assert spec["name"] and spec["spec"]
    questions = {q["variable"]: q for q in spec["spec"]}
    assert questions["stratus_survey_name"]["required"] and questions["stratus_survey_flavor"]["required"]
    assert questions["stratus_survey_name"]["type"] == "text" and questions["stratus_survey_name"]["max"] == 255
    assert questions["stratus_survey_min_count"]["type"] == "integer"
    assert questions["stratus_survey_min_count"]["min"] == 1 and questions["stratus_survey_min_count"]["default"] == 1
    assert questions["stratus_survey_config_drive"]["type"] == "multiplechoice"
    assert questions["stratus_survey_config_drive"]["choices"] == ["true", "false"]
    for q in spec["spec"]:
        assert {"question_name", "variable", "type", "required"} <= set(q)
        if q["type"] == "integer" and "default" in q:
            assert isinstance(q["default"], int)
    delete = survey_spec(ROOT, "delete")
    assert [q["variable"] for q in delete["spec"]] == ["stratus_survey_name", "stratus_survey_max_count"]


BM_SPECS = {"resources:CUSTOM_BAREMETAL": "1", "resources:VCPU": "0", "resources:MEMORY_MB": "0",
            "resources:DISK_GB": "0"}


def test_the_survey_offers_the_catalogs_flavors_bare_metal_named() -> None:
    catalog = catalog_of(ROOT, {
        "stratus_flavors": [{"name": "m1.tiny"}, {"name": "bm.small", "extra_specs": BM_SPECS},
                            # two units of a class: refused by every create, so not offered
                            {"name": "bm.two", "extra_specs": dict(BM_SPECS, **{"resources:CUSTOM_BAREMETAL": "2"})}],
        "stratus_images": [{"name": "guest", "disk_format": "qcow2"}, {"name": "guest-kernel", "disk_format": "aki"},
                           {"name": "guest-initrd", "disk_format": "ari"}]})
    assert catalog == survey.Catalog(["m1.tiny", "bm.small"], ["bm.small"], ["guest"])
    questions = {q["variable"]: q for q in survey_spec(ROOT, "create", catalog)["spec"]}
    flavor, image = questions["stratus_survey_flavor"], questions["stratus_survey_image"]
    assert (flavor["type"], flavor["choices"], flavor["default"]) == ("multiplechoice", ["m1.tiny", "bm.small"],
                                                                      "m1.tiny")
    assert "Bare metal, a whole node each: bm.small." in flavor["question_description"]
    assert "min" not in flavor and "max" not in flavor
    assert (image["type"], image["choices"], image["default"], image["required"]) == ("multiplechoice", ["guest"],
                                                                                      "", False)
    plain = catalog_of(ROOT, {"stratus_flavors": [{"name": "m1.tiny"}], "stratus_images": []})
    questions = {q["variable"]: q for q in survey_spec(ROOT, "create", plain)["spec"]}
    assert "Bare metal" not in questions["stratus_survey_flavor"]["question_description"]
    assert questions["stratus_survey_image"]["type"] == "text"  # no image to offer: typed


def test_awx_survey_command(invoke: t.Callable[..., t.Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[list[str]] = []

    def fake_catalog(collection: Path, sources: list[str]) -> survey.Catalog:
        asked.append(sources)
        return survey.Catalog(["m1.tiny", "bm.small"], ["bm.small"], ["guest"])
    monkeypatch.setattr(survey, "inventory_catalog", fake_catalog)
    hosts = tmp_path / "hosts.yml"
    hosts.write_text("{}\n")
    res = invoke(["-i", str(hosts), "awx", "survey"])
    assert res.exit_code == 0 and json.loads(res.stdout)["spec"][0]["variable"] == "stratus_survey_name"
    assert asked == [[str(hosts)]]  # the catalog of -i, the job template's inventory
    assert json.loads(res.stdout)["spec"][1]["choices"] == ["m1.tiny", "bm.small"]
    target = tmp_path / "s.json"
    res = invoke(["awx", "survey", "--kind", "delete", "--file", str(target)])
    assert res.exit_code == 0 and json.loads(target.read_text())["name"] == "Stratus: delete servers"
    assert len(asked) == 1  # a delete asks no flavor
    assert invoke(["awx", "survey", "--kind", "resize"]).exit_code == 2


def test_run_result_parsing() -> None:
    result = runner.RunResult("failed", 2, [
        event("runner_on_failed", "stratus.compute.server", {"results": [{}]}),
        event("runner_item_on_failed", "stratus.compute.server",
              {"_ansible_item_label": "a", "error": {"code": "NoValidHost", "message": "m", "field": None}}),
        event("runner_on_failed", "ansible.builtin.assert", {"msg": "boom"}, ignore_errors=True),
        event("runner_on_unreachable", "x", {"msg": "no route"}, host="hv9"),
    ])
    assert [r["_failed"] for r in result.results("stratus.compute.server")] == [True]
    error = result.error()
    assert error is not None and error.code == "NoValidHost" and error.message == "a: m"
    assert [e.code for e in error.more] == ["RunnerError"] and "hv9 is unreachable" in error.more[0].message


def test_extravars_are_never_rendered_as_templates(tmp_path: Path) -> None:
    """A request is data: a template in it must reach the collection as text, not run on the controller."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    marker = tmp_path / "ran"
    request = {"name": "x{{ lookup('pipe', 'touch %s') }}" % marker, "metadata": {"k": "{{ 6 * 7 }}"},
               "min_count": 2, "tags": ["{{ 1 + 1 }}"]}
    path = tmp_path / "extravars"
    path.write_text(runner.extravars_text({"stratus_servers": [request], "stratus_context": {"user_id": "u"}}))
    loaded = DataLoader().load_from_file(str(path))
    rendered = Templar(loader=DataLoader(), variables=loaded).template(loaded["stratus_servers"])
    assert rendered == [request] and not marker.exists()
    assert loaded["stratus_context"] == {"user_id": "u"}


def test_a_network_is_a_uuid_only_when_all_of_it_is() -> None:
    uuid = "3cb9bc59-5699-4588-a4b1-b87f96708bc6"
    assert cli.UUID_RE.fullmatch(uuid) and not cli.UUID_RE.fullmatch(uuid + "\n")
    assert not cli.UUID_RE.fullmatch(uuid + "-x")


def action_item(server: dict[str, t.Any], action: str, changed: bool = True, **extra: t.Any) -> dict[str, t.Any]:
    res = {"changed": changed, "server": server, "hosts": ["hv1"] if changed else [],
           "server_uuids": [server["id"]] if changed else [], "item": {"server": server["name"], "action": action}}
    res.update(extra)
    return event("runner_item_on_ok", "stratus.compute.server_action", res)


def test_stop_start_reboot_run_server_action_yml(invoke: t.Callable[..., t.Any]) -> None:
    stopped = dict(SERVER, vm_state="stopped", power_state="shutdown", status="SHUTOFF")
    fake = FakeRunner([action_item(dict(SERVER, task_state="powering-off"), "stop"),
                       event("runner_on_ok", "stratus.compute.server_info", {"servers": [stopped]})])
    res = invoke(["server", "stop", "web-1", "-o", "json"], fake)
    assert res.exit_code == 0, res.output
    assert fake.calls[0]["playbook"] == "server_action.yml"
    assert fake.calls[0]["extravars"] == {"stratus_actions": [{"server": "web-1", "action": "stop"}]}
    out = json.loads(res.stdout)
    assert out["changed"] and out["servers"][0]["status"] == "SHUTOFF"
    fake = FakeRunner([action_item(SERVER, "reboot"),
                       event("runner_on_ok", "stratus.compute.server_info", {"servers": [SERVER]})])
    assert invoke(["server", "reboot", "--hard", "web-1", SERVER["id"]], fake).exit_code == 0
    assert fake.calls[0]["extravars"]["stratus_actions"] == [
        {"server": "web-1", "action": "reboot", "reboot_type": "hard"},
        {"server": SERVER["id"], "action": "reboot", "reboot_type": "hard"}]
    fake = FakeRunner([action_item(SERVER, "start", changed=False),
                       event("runner_on_ok", "stratus.compute.server_info", {"servers": [SERVER]})])
    res = invoke(["server", "start", "web-1", "-o", "json"], fake)
    assert res.exit_code == 0 and json.loads(res.stdout)["changed"] is False


def test_a_refused_or_failed_action_exits_1_with_its_code(invoke: t.Callable[..., t.Any]) -> None:
    refused = event("runner_item_on_ok", "stratus.compute.server_action", {
        "changed": False, "failed": False, "item": {"server": "web-1", "action": "start"},
        "error": {"code": "InstanceInvalidState", "message": "Cannot 'start' instance x while it is in vm_state "
                                                             "building", "field": "action"}})
    res = invoke(["server", "start", "web-1"], FakeRunner([refused], status="failed"))
    assert res.exit_code == 1 and "error: InstanceInvalidState: web-1: Cannot 'start' instance" in res.output
    failed = dict(SERVER, vm_state="error", fault={"code": "InstancePowerOnFailure", "message": "no start"})
    fake = FakeRunner([action_item(SERVER, "reboot"),
                       event("runner_on_ok", "stratus.compute.server_info", {"servers": [failed]})], status="failed")
    res = invoke(["server", "reboot", "web-1"], fake)
    assert res.exit_code == 1 and "InstancePowerOnFailure: web-1: no start" in res.output
    soft = {"server": "web-1", "action": "reboot", "reboot_type": "soft"}
    assert fake.calls[0]["extravars"]["stratus_actions"] == [soft]


def test_no_wait_returns_once_the_actions_are_recorded(invoke: t.Callable[..., t.Any],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, t.Any], bool]] = []
    events = [{"event": "playbook_on_play_start", "event_data": {"play": "record"}},
              action_item(dict(SERVER, task_state="powering-off"), "stop"),
              {"event": "playbook_on_play_start", "event_data": {"play": "steps"}}]

    def detached(settings: t.Any, playbook: str, extravars: dict[str, t.Any],
                 accepted: t.Callable[[list[dict[str, t.Any]]], bool]) -> runner.RunResult:
        # the CLI returns when the second play starts: the first (check and record) is over
        calls.append((playbook, extravars, accepted(events[:2])))
        assert accepted(events)
        return runner.RunResult("successful", 0, events)
    monkeypatch.setattr(runner, "run_playbook_detached", detached)
    res = invoke(["server", "stop", "--no-wait", "web-1", "-o", "json"],
                 FakeRunner([]))  # the waiting runner must not be used
    assert res.exit_code == 0, res.output
    assert calls == [("server_action.yml", {"stratus_actions": [{"server": "web-1", "action": "stop"}]}, False)]
    out = json.loads(res.stdout)
    assert out["wait"] is False and out["servers"][0]["task_state"] == "powering-off"


def test_server_wait_polls_until_the_action_is_over(invoke: t.Callable[..., t.Any],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [dict(SERVER, task_state="powering-off"),
               dict(SERVER, vm_state="stopped", status="SHUTOFF", task_state=None)]
    seen: list[dict[str, t.Any]] = []

    def look(settings: t.Any, playbook: str, extravars: t.Optional[dict[str, t.Any]] = None, check: bool = False,
             limit: t.Optional[str] = None) -> runner.RunResult:
        seen.append(dict(extravars or {}))
        server = answers[min(len(seen), len(answers)) - 1]
        return runner.RunResult("successful", 0, [event("runner_on_ok", "stratus.compute.server_info",
                                                        {"servers": [server]})])
    monkeypatch.setattr(runner, "run_playbook", look)
    monkeypatch.setattr(cli.time, "sleep", lambda _s: None)
    res = invoke(["server", "wait", "web-1", "-o", "json"])
    assert res.exit_code == 0, res.output
    assert len(seen) == 2 and seen[0]["stratus_server_name"] == "web-1"
    assert json.loads(res.stdout)["servers"][0]["status"] == "SHUTOFF"
    answers[:] = [dict(SERVER, task_state="powering-off")]  # never over: the timeout says so
    clock = iter(range(0, 10000, 400))
    monkeypatch.setattr(cli.time, "monotonic", lambda: float(next(clock)))
    res = invoke(["server", "wait", "web-1", "--timeout", "1000"])
    assert res.exit_code == 1 and "error: Timeout: web-1: still powering-off" in res.output
    answers[:] = [dict(SERVER, vm_state="error", fault={"code": "InstancePowerOffFailure", "message": "no stop"})]
    res = invoke(["server", "wait", "web-1"])
    assert res.exit_code == 1 and "InstancePowerOffFailure: web-1: no stop" in res.output


def test_rebuild_names_its_image(invoke: t.Callable[..., t.Any]) -> None:
    fake = FakeRunner([action_item(dict(SERVER, task_state="rebuilding"), "rebuild"),
                       event("runner_on_ok", "stratus.compute.server_info", {"servers": [SERVER]})])
    assert invoke(["server", "rebuild", "web-1", "--image", "guest"], fake).exit_code == 0
    assert fake.calls[0]["extravars"] == {"stratus_actions": [{"server": "web-1", "action": "rebuild",
                                                               "image": "guest"}]}
    assert invoke(["server", "rebuild", "web-1"], FakeRunner([])).exit_code == 2  # --image is required


def test_resize_confirm_revert_and_migrate_run_server_action_yml(invoke: t.Callable[..., t.Any]) -> None:
    resized = dict(SERVER, vm_state="resized", status="VERIFY_RESIZE", host="hv2",
                   migration={"type": "resize", "status": "finished", "source": "hv1", "dest": "hv2"})
    fake = FakeRunner([action_item(dict(SERVER, task_state="resize_prep"), "resize", hosts=[], move_first=["hv1"],
                                   move_then=["hv2"]),
                       event("runner_on_ok", "stratus.compute.server_info", {"servers": [resized]})])
    res = invoke(["server", "resize", "web-1", "--flavor", "m1.small", "-o", "json"], fake)
    assert res.exit_code == 0, res.output
    assert fake.calls[0]["extravars"] == {"stratus_actions": [{"server": "web-1", "action": "resize",
                                                               "flavor": "m1.small"}]}
    out = json.loads(res.stdout)
    assert out["servers"][0]["status"] == "VERIFY_RESIZE" and out["servers"][0]["migration"]["dest"] == "hv2"
    assert invoke(["server", "resize", "web-1"], FakeRunner([])).exit_code == 2  # --flavor is required
    for command, action in (("confirm-resize", "confirm_resize"), ("revert-resize", "revert_resize")):
        fake = FakeRunner([action_item(SERVER, action),
                           event("runner_on_ok", "stratus.compute.server_info", {"servers": [SERVER]})])
        assert invoke(["server", command, "web-1"], fake).exit_code == 0
        assert fake.calls[0]["extravars"] == {"stratus_actions": [{"server": "web-1", "action": action}]}
    fake = FakeRunner([action_item(SERVER, "migrate"),
                       event("runner_on_ok", "stratus.compute.server_info", {"servers": [resized]})])
    assert invoke(["server", "migrate", "web-1", "--host", "hv2"], fake).exit_code == 0
    assert fake.calls[0]["extravars"] == {"stratus_actions": [{"server": "web-1", "action": "migrate",
                                                               "host": "hv2"}]}
    refused = event("runner_item_on_ok", "stratus.compute.server_action", {
        "changed": False, "failed": False, "item": {"server": "web-1", "action": "confirm_resize"},
        "error": {"code": "InstanceInvalidState", "message": "Instance has not been resized.", "field": "action"}})
    res = invoke(["server", "confirm-resize", "web-1"], FakeRunner([refused], status="failed"))
    assert res.exit_code == 1 and "InstanceInvalidState: web-1: Instance has not been resized." in res.output


def test_live_migrate_runs_server_action_yml(invoke: t.Callable[..., t.Any]) -> None:
    moved = dict(SERVER, host="hv2")
    fake = FakeRunner([action_item(dict(SERVER, task_state="migrating"), "live_migrate", live_destinations=["hv2"]),
                       event("runner_on_ok", "stratus.compute.server_info", {"servers": [moved]})])
    res = invoke(["server", "live-migrate", "web-1", "--host", "hv2", "--force", "-o", "json"], fake)
    assert res.exit_code == 0, res.output
    assert fake.calls[0]["playbook"] == "server_action.yml"
    assert fake.calls[0]["extravars"] == {"stratus_actions": [{"server": "web-1", "action": "live_migrate",
                                                               "host": "hv2", "force": True}]}
    assert json.loads(res.stdout)["servers"][0]["host"] == "hv2"
    failed = dict(SERVER, fault={"code": "MigrationError", "message": "live migration of x failed: boom"})
    fake = FakeRunner([action_item(SERVER, "live_migrate"),
                       event("runner_on_ok", "stratus.compute.server_info", {"servers": [failed]})], status="failed")
    res = invoke(["server", "live-migrate", "web-1"], fake)
    assert res.exit_code == 1 and "MigrationError: web-1: live migration of x failed: boom" in res.output
    assert fake.calls[0]["extravars"] == {"stratus_actions": [{"server": "web-1", "action": "live_migrate"}]}


def test_server_show_names_a_migration_under_way(invoke: t.Callable[..., t.Any]) -> None:
    moving = dict(SERVER, migration={"type": "migration", "status": "finished", "source": "hv1", "dest": "hv2"})
    res = invoke(["server", "show", "web-1"], FakeRunner([event("runner_on_ok", "stratus.compute.server_info",
                                                                {"servers": [moving]})]))
    assert res.exit_code == 0 and "migration finished: hv1 -> hv2" in res.output


def test_drain_disables_moves_live_then_cold_and_reports_what_is_left(invoke: t.Callable[..., t.Any],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    web = dict(SERVER, id="11111111-1111-4111-8111-111111111111", name="web", host="hv1", vm_state="active")
    db = dict(SERVER, id="22222222-2222-4222-8222-222222222222", name="db", host="hv1", vm_state="active")
    batch = dict(SERVER, id="33333333-3333-4333-8333-333333333333", name="batch", host="hv1", vm_state="stopped",
                 status="SHUTOFF")
    broken = dict(SERVER, id="44444444-4444-4444-8444-444444444444", name="broken", host="hv1", vm_state="error",
                  status="ERROR", fault={"code": "BuildAbortException", "message": "no disk"})
    where = {s["id"]: dict(s) for s in (web, db, batch, broken)}
    calls: list[tuple[str, t.Any]] = []

    def fake(settings: t.Any, playbook: str, extravars: t.Optional[dict[str, t.Any]] = None, check: bool = False,
             limit: t.Optional[str] = None) -> runner.RunResult:
        extravars = extravars or {}
        calls.append((playbook, extravars.get("stratus_actions") or extravars.get("stratus_hypervisor_reason")))
        if playbook == "hypervisor_service.yml":
            return runner.RunResult("successful", 0, [event("runner_on_ok", "stratus.compute.hypervisor_service", {
                "changed": True, "service": {"host": "hv1", "status": "disabled", "disabled_reason": "draining"}})])
        if playbook == "server_list.yml":
            return runner.RunResult("successful", 0, [event("runner_on_ok", "stratus.compute.server_info",
                                                            {"servers": list(where.values())})])
        items = []
        for act in extravars["stratus_actions"]:
            s = where[act["server"]]
            if act["action"] == "live_migrate" and s["name"] == "db":  # db's live migration fails: stays
                s["fault"] = {"code": "MigrationError", "message": "too busy"}
            elif act["action"] in ("live_migrate", "confirm_resize"):
                s.update(host="hv2", vm_state="active" if act["action"] == "live_migrate" else s["vm_state"])
            elif act["action"] == "migrate":
                s.update(host="hv2", vm_state="resized", fault=None)
            items.append(action_item(dict(s), act["action"]))
        return runner.RunResult("successful", 0, items + [event("runner_on_ok", "stratus.compute.server_info",
                                                                {"servers": list(where.values())})])
    monkeypatch.setattr(runner, "run_playbook", fake)
    res = invoke(["--user", "root", "--project", "ops", "--role", "admin", "hypervisor", "drain", "hv1", "-o", "json"])
    assert res.exit_code == 1, res.output  # broken stays: the report says why
    out = json.loads(res.stdout)
    assert sorted((m["server"], m["how"], m["to"]) for m in out["moved"]) == [
        ("batch", "cold", "hv2"), ("db", "cold", "hv2"), ("web", "live", "hv2")]
    assert out["not_moved"] == [{"server": "broken", "id": broken["id"], "why": "BuildAbortException: no disk"}]
    actions = [(p, [(a["server"][:1], a["action"]) for a in x]) for p, x in calls if p == "server_action.yml"]
    assert actions == [("server_action.yml", [("1", "live_migrate"), ("2", "live_migrate")]),
                       ("server_action.yml", [("3", "migrate"), ("2", "migrate")]),
                       ("server_action.yml", [("3", "confirm_resize"), ("2", "confirm_resize")])]
    assert calls[0] == ("hypervisor_service.yml", "draining")
    assert "DrainIncomplete" in res.output
