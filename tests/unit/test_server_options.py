"""schemas/server.json is the one source of the server request's options; every copy is generated or checked.

- The server module's request options (names, types, elements, choices, required, defaults, descriptions)
  are generated from it (schemas/gen_server_doc.py, `make server-doc`).
- The secret options (x-stratus-secret) are the ones playbooks/decide.yml passes apart from the loop item,
  the ones a build plan moves into its no_log option (plan_secrets.py), and the ones errors mask.
- Every flag of `stratus server create` (and `explain`) maps to a schema property of its type; the
  properties the CLI leaves to `-f file` are listed here, so a new property needs a decision.
"""
from __future__ import annotations

import importlib.util
import json
import typing as t
from pathlib import Path

import click
import jsonschema
import pytest
import typer
import yaml

from ansible_collections.stratus.compute.plugins.module_utils.compute import plan_secrets
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import schema

from stratus_cli import app as cli

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> t.Any:
    spec = importlib.util.spec_from_file_location("gen_server_doc", ROOT / "schemas" / "gen_server_doc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()
SERVER_SCHEMA = json.loads((ROOT / "schemas" / "server.json").read_text())
SECRETS = set(GEN.secret_options())

# Flags that are not request fields: where the requests come from, check mode, the output format.
NOT_REQUEST_FLAGS = {"file", "check", "fmt"}
# A flag whose request field has another name.
FLAG_FIELDS = {"network": ("networks",), "count": ("min_count", "max_count"), "tag": ("tags",),
               "hint": ("scheduler_hints",)}
# What the CLI leaves to `-f file` (structured, secret, admin-only or not a creation's concern).
LEFT_TO_FILE = {
    "create": {"state", "status", "block_device_mapping_v2", "personality", "security_groups", "admin_pass",
               "hypervisor_hostname", "hostname", "trusted_image_certificates", "recreate", "allow_resize",
               "allow_rebuild", "explain"},
    "explain": {"state", "status", "block_device_mapping_v2", "personality", "security_groups", "admin_pass",
                "hypervisor_hostname", "hostname", "trusted_image_certificates", "recreate", "allow_resize",
                "allow_rebuild", "explain",
                "user_data", "description", "config_drive"},
}
# click's parameter type -> the JSON type the request field must admit
CLICK_JSON_TYPES = {click.types.StringParamType: "string", click.types.IntParamType: "integer",
                    click.types.BoolParamType: "boolean",
                    click.types.Path: "string"}  # a file flag (--user-data) sends the file's base64 text


def test_module_doc_is_generated_from_the_schema() -> None:
    source = (ROOT / "plugins" / "modules" / "server.py").read_text()
    assert GEN.render(source) == source, "plugins/modules/server.py is stale: run make server-doc"


def test_module_documents_every_request_option_and_only_those_plus_its_own() -> None:
    source = (ROOT / "plugins" / "modules" / "server.py").read_text()
    documented = yaml.safe_load(source.split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0])["options"]
    assert {k: v for k, v in documented.items() if k in SERVER_SCHEMA["properties"]} == GEN.request_options()
    # the module's own options, which the action plugin keeps out of the request
    assert set(documented) - set(SERVER_SCHEMA["properties"]) == {"request", "db_url"}


def test_the_custom_keywords_keep_the_schema_valid_and_are_ignored_by_the_validator() -> None:
    jsonschema.Draft202012Validator.check_schema(SERVER_SCHEMA)
    schema.validate_request({"name": "s", "flavor": "1", "admin_pass": "p", "user_data": "YQ==",
                             "personality": [{"path": "/a", "contents": "YQ=="}], "min_count": "2"})


def test_secret_options_are_marked_in_the_schema() -> None:
    assert SECRETS == {"admin_pass", "user_data", "personality"}
    # masked in errors: the marked properties at any depth (a file's contents too), and the store URL
    assert schema.SECRET_FIELDS == SECRETS | {"contents", "db_url"}


# A secret option -> the part of the build plan's config drive it becomes (conductor/build_plan.py).
DRIVE_PARTS = {"admin_pass": "admin_pass", "user_data": "user_data", "personality": "files"}


def test_a_build_plan_moves_every_secret_option_out_of_its_logged_arguments() -> None:
    assert set(DRIVE_PARTS) == SECRETS
    uuid = "6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11"
    drive = {"meta_data": {"uuid": uuid, "name": "s", "hostname": "s", "meta": {}, "admin_pass": "p4ss"},
             "network_data": {"links": [], "networks": [], "services": []}, "user_data": "YQ==",
             "files": [{"path": "/a", "contents": "YQ=="}]}
    plan = {"uuid": uuid, "name": "s", "domain_name": "instance-" + uuid, "vm_state": "building",
            "flavor": {"vcpus": 1, "ram": 128}, "block_devices": [], "nics": [], "config_drive": drive}
    (bare,), secrets = plan_secrets.split([plan])
    assert set(secrets[uuid]) == set(DRIVE_PARTS.values())
    assert "p4ss" not in json.dumps(bare) and "YQ==" not in json.dumps(bare)


def test_a_bad_injected_file_is_not_echoed() -> None:
    secret = "c2VjcmV0LWZpbGU="
    with pytest.raises(StratusError) as err:
        schema.validate_request({"name": "s", "flavor": "1", "personality": [{"contents": secret, "mode": "x"}]})
    assert secret not in err.value.message


def _server_tasks(playbook: str) -> list[dict[str, t.Any]]:
    plays = yaml.safe_load((ROOT / "playbooks" / playbook).read_text())
    return [task for play in plays for task in play.get("tasks") or [] if "stratus.compute.server" in task]


def test_decide_passes_the_secret_options_apart_from_the_loop_item() -> None:
    (task,) = _server_tasks("decide.yml")
    args = task["stratus.compute.server"]
    assert set(args) == {"request"} | SECRETS
    for option in SECRETS:
        assert args[option] == "{{ stratus_servers[stratus_index].%s | default(omit) }}" % option
    dropped = task["loop"].split("map('rejectattr', 'key', 'in', ", 1)[1].split(")", 1)[0]
    assert set(yaml.safe_load(dropped)) == SECRETS
    assert task["loop_control"]["index_var"] == "stratus_index"


def test_provision_decides_with_decide_yml() -> None:
    plays = yaml.safe_load((ROOT / "playbooks" / "provision.yml").read_text())
    assert plays[0]["ansible.builtin.import_playbook"] == "decide.yml"
    assert not _server_tasks("provision.yml")


def test_explain_passes_its_one_request_whole_without_a_loop() -> None:
    # Without a loop no item is shown (-v) or kept in the runner's events, so secrets may ride in the request.
    (task,) = _server_tasks("explain.yml")
    assert "loop" not in task and task["stratus.compute.server"]["request"] == "{{ stratus_request }}"


def _json_types(node: t.Mapping[str, t.Any]) -> set[str]:
    """Every JSON type a schema node admits (through $ref, oneOf and anyOf)."""
    node = GEN.resolve(node)
    found = set(GEN.json_types(node))
    for branch in (node.get("oneOf") or []) + (node.get("anyOf") or []):
        found |= _json_types(branch)
    return found


def _command(name: str) -> click.Command:
    group = typer.main.get_command(cli.app)
    assert isinstance(group, click.Group)
    server = group.commands["server"]
    assert isinstance(server, click.Group)
    return server.commands[name]


@pytest.mark.parametrize("command", sorted(LEFT_TO_FILE))
def test_every_cli_flag_is_a_schema_property_of_its_type(command: str) -> None:
    properties = SERVER_SCHEMA["properties"]
    mapped: set[str] = set()
    for param in _command(command).params:
        if not isinstance(param, click.Option) or param.name in NOT_REQUEST_FLAGS:
            continue
        assert param.name is not None
        for field in FLAG_FIELDS.get(param.name, (param.name,)):
            assert field in properties, "--%s: no request field %s in schemas/server.json" % (param.name, field)
            admits = _json_types(properties[field])
            if param.multiple:  # repeated: a list, or KEY=VALUE pairs as a mapping
                assert admits & {"array", "object"}, "--%s: %s takes no list" % (param.name, field)
            else:
                wanted = next(v for cls, v in CLICK_JSON_TYPES.items() if isinstance(param.type, cls))
                assert wanted in admits, "--%s is %s, %s admits %s" % (param.name, wanted, field, sorted(admits))
            mapped.add(field)
    assert set(properties) - mapped == LEFT_TO_FILE[command]
