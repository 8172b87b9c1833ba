"""`stratus keypair` and `stratus server group` (cli/stratus_cli/keys_groups_cli.py): the store's key pairs and
server groups with the API's rules, the caller from --user/--project, a generated private key only in its new
0600 file (removed when the create is refused), JSON output."""
from __future__ import annotations

import json
import stat
import typing as t
from pathlib import Path

import yaml
from typer.testing import CliRunner

from stratus_cli import app as cli

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICw0lSMbdGLGPsbzhY6ZmLpxET4XuLYWzoKpAQ9heoiI alice@example"
CATALOG = {"stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 256, "disk": 1}],
           "stratus_keypairs": {"alice": [{"name": "ops", "public_key": PUBLIC_KEY}]},
           "stratus_quotas": {"defaults": {"server_groups": 1}}}


def test_keypair_and_server_group_commands(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.yml"
    hosts.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {"ansible_connection": "local"}},
                                             "vars": CATALOG}}))
    public = tmp_path / "k.pub"
    public.write_text(PUBLIC_KEY + "\n")
    runner = CliRunner()

    def run(user: str, project: str, *args: str) -> t.Any:
        return runner.invoke(cli.app, ["-i", str(hosts), "--state-dir", str(tmp_path / "state"), "--user", user,
                                       "--project", project, *args])

    made = run("alice", "p1", "keypair", "create", "gen", "--private-key", str(tmp_path / "gen.pem"), "-o", "json")
    assert made.exit_code == 0, made.output
    private = (tmp_path / "gen.pem").read_text()
    assert private.startswith("-----BEGIN RSA PRIVATE KEY-----") and private.splitlines()[1] not in made.output
    assert stat.S_IMODE((tmp_path / "gen.pem").stat().st_mode) == 0o600
    assert run("alice", "p1", "keypair", "create", "imp", "--public-key", str(public)).exit_code == 0
    listed = json.loads(run("alice", "p1", "keypair", "list", "-o", "json").stdout)["keypairs"]
    assert [(k["name"], k["source"]) for k in listed] == [("gen", "store"), ("imp", "store"), ("ops", "catalog")]
    assert json.loads(run("bob", "p2", "keypair", "list", "-o", "json").stdout)["keypairs"] == []
    # refused: the name the catalog gives alice; the private key's file does not stay behind
    shadow = run("alice", "p1", "keypair", "create", "ops", "--private-key", str(tmp_path / "ops.pem"))
    assert shadow.exit_code == 1 and "KeyPairExists" in shadow.output and not (tmp_path / "ops.pem").exists()
    assert run("alice", "p1", "keypair", "delete", "gen").exit_code == 0
    assert "Conflict" in run("alice", "p1", "keypair", "delete", "ops").output

    group = run("alice", "p1", "server", "group", "create", "g1", "--policy", "anti-affinity",
                "--max-server-per-host", "2", "-o", "json")
    assert group.exit_code == 0, group.output
    made_group = json.loads(group.stdout)["server_group"]
    assert (made_group["rules"], made_group["members"]) == ({"max_server_per_host": 2}, [])
    over = run("alice", "p1", "server", "group", "create", "g2", "--policy", "affinity")
    assert over.exit_code == 1 and "QuotaExceeded" in over.output
    assert json.loads(run("bob", "p2", "server", "group", "list", "-o", "json").stdout)["server_groups"] == []
    assert "InstanceGroupNotFound" in run("bob", "p2", "server", "group", "delete", made_group["id"]).output
    assert run("alice", "p1", "server", "group", "delete", made_group["id"]).exit_code == 0
    assert json.loads(run("alice", "p1", "server", "group", "list", "-o", "json").stdout)["server_groups"] == []
