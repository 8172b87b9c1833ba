"""Launch Instance and Key pairs through `stratus api`'s application in process (stratus_lab.asgi.Browser, no
server, no browser): the form becomes Nova's create body, a refusal comes back at the field it names (the
over-quota count too) with the values kept but the user data, "Will it fit?" writes nothing, key pairs are
imported, created (the private key shown once) and deleted, every form needs its CSRF token, and hostile
names and metadata are rendered as text. The real browser: tests/integration/test_dashboard_launch_browser.py."""
from __future__ import annotations

import base64
import json
import re
import typing as t
from pathlib import Path

import pytest

from stratus_cli.api import app as api_app, identity
from stratus_cli.dashboard import launch
from stratus_lab.asgi import Browser, request

from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

from test_api_explain import _row_counts
import test_api_servers
from test_api_servers import CAPACITY, IMAGE, NETWORK, VARIABLES

launched = test_api_servers.launched  # the fixture

PASSWORD = "a-password-long-enough"
PUBLIC_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx3xqwIhXqUo8h2mXTb0DdF0kYQ6cTHyQKcG3SJPW8F alice@laptop")
XSS = '<script>alert("x")</script>'


@pytest.fixture
def app(tmp_path: Path, launched: list[dict[str, t.Any]]) -> t.Any:  # noqa: F811
    store_url = "sqlite:///%s" % (tmp_path / "s.db")
    with store.transaction(store_url) as conn:
        for project in ("pa", "pb"):
            identity.create_project(conn, project, project)
        for user, project, role in (("alice", "pa", "member"), ("bob", "pb", "member")):
            identity.create_user(conn, user, PASSWORD, default_project=project)
            identity.add_role(conn, user, project, role)
    config = api_app.Config(store_url=store_url, variables=VARIABLES, inventories=["hosts.yml"],
                            hypervisors=["hv1", "hv2"], hostvars={"hv1": dict(CAPACITY), "hv2": dict(CAPACITY)})
    built = api_app.build_app(config)
    built.state.store_url = store_url
    return built


@pytest.fixture
def alice(app: t.Any) -> Browser:
    browser = Browser(app)
    browser.log_in("alice", PASSWORD)
    return browser


def _form(**extra: t.Any) -> dict[str, t.Any]:
    return dict({"name": "web", "count": "1", "boot_source": "image", "image": IMAGE, "flavor": "1",
                 "networks": [NETWORK], "volume_size": "1"}, **extra)


def _error_at(page: str, name: str) -> str:
    found = re.search(r'id="error-%s" role="alert">([^<]*)<' % re.escape(name), page)
    return found.group(1) if found else ""


def _sent(launched: list[dict[str, t.Any]]) -> dict[str, t.Any]:  # noqa: F811
    return launched[-1]["extravars"]["stratus_servers"][0]


def test_the_form_shows_the_choices_and_the_quota_left(alice: Browser) -> None:
    page = alice.get("/dashboard/launch")
    assert page.status == 200, page.text[:300]
    assert 'name="explain"' in page.text and "cirros" in page.text and "net1" in page.text
    assert "Quota left: 3 instances" in page.text
    assert re.search(r'data-flavor="m1.huge">.*?<td>yes</td>', page.text, re.S)
    # two of m1.huge (64 vCPUs each) would break the vCPU quota (100): marked so, against the count asked
    page = alice.post("/dashboard/launch", _form(count="2", explain="1"), csrf_from="/dashboard/launch")
    assert re.search(r'data-flavor="m1.huge">.*?no: vCPUs</span>', page.text, re.S)
    assert re.search(r'data-flavor="m1.tiny">.*?<td>yes</td>', page.text, re.S)


def test_the_form_becomes_novas_create_body(app: t.Any, alice: Browser,
                                            launched: list[dict[str, t.Any]]) -> None:  # noqa: F811
    user_data = "#cloud-config\npassword: s3cr3t-user-data\n"
    reply = alice.post("/dashboard/launch", _form(count="2", user_data=user_data, metadata="role=web\n\ntier = 1",
                                                  boot_source="volume", volume_size="2",
                                                  delete_on_terminate="on"), csrf_from="/dashboard/launch")
    assert reply.status == 303 and reply.location.startswith("/dashboard/launch?launched="), reply.text[:500]
    sent = _sent(launched)
    assert sent["min_count"] == sent["max_count"] == 2 and sent["metadata"] == {"role": "web", "tier": "1"}
    assert base64.b64decode(sent["user_data"]).decode() == user_data
    assert sent["block_device_mapping_v2"] == [{"boot_index": 0, "uuid": IMAGE, "source_type": "image",
                                                "destination_type": "volume", "volume_size": 2,
                                                "delete_on_termination": True}]
    assert "image" not in sent and sent["networks"] == [{"uuid": NETWORK}]
    shown = alice.get(reply.location)
    assert shown.status == 200 and 'id="launched"' in shown.text and "web-1" in shown.text
    assert "s3cr3t" not in shown.text
    # another project's user given the same page: the API's 404 for that id, so no notice and nothing of it
    bob = Browser(app)
    bob.log_in("bob", PASSWORD)
    other = bob.get(reply.location)
    assert other.status == 200 and 'id="launched"' not in other.text and "web-1" not in other.text


def test_the_key_pair_and_server_group_chosen_go_with_the_request(app: t.Any, alice: Browser,
                                                                  launched: list[dict[str, t.Any]]) -> None:  # noqa: F811
    token = alice.cookies["stratus_session"]
    headers = {"x-auth-token": token, "content-type": "application/json"}
    group = request(app, "POST", "/v2.1/os-server-groups", headers, json.dumps(
        {"server_group": {"name": "spread", "policies": ["anti-affinity"]}}).encode()).json()["server_group"]
    alice.post("/dashboard/keypairs/import", {"name": "laptop", "public_key": PUBLIC_KEY},
               csrf_from="/dashboard/keypairs")
    page = alice.get("/dashboard/launch").text
    assert '<option value="laptop">laptop</option>' in page and '>spread</option>' in page
    reply = alice.post("/dashboard/launch", _form(key_name="laptop", server_group=group["id"]),
                       csrf_from="/dashboard/launch")
    assert reply.status == 303, reply.text[:2000]
    sent = _sent(launched)
    assert sent["key_name"] == "laptop" and sent["scheduler_hints"] == {"group": group["id"]}


def test_an_over_quota_count_is_refused_at_the_count_field_with_the_values_kept(
        app: t.Any, alice: Browser, launched: list[dict[str, t.Any]]) -> None:  # noqa: F811
    before = _row_counts(app.state.store_url)
    reply = alice.post("/dashboard/launch", _form(name="big", count="5", user_data="s3cr3t-user-data",
                                                  metadata="k=v"), csrf_from="/dashboard/launch")
    assert reply.status == 403
    assert _error_at(reply.text, "count").startswith("Quota exceeded for instances: Requested 5, but already used 0 "
                                                     "of 3 instances")
    assert 'id="count" name="count" value="5"' in reply.text and 'value="big"' in reply.text
    assert "no: instances" in reply.text and ">k=v</textarea>" in reply.text
    assert 'aria-invalid="true" aria-describedby="error-count"' in reply.text
    assert "s3cr3t-user-data" not in reply.text and 'id="user-data-note"' in reply.text
    assert launched == []
    after = _row_counts(app.state.store_url)  # nothing made: only the refusal's action-log entry
    assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {"instance_actions": 1}


@pytest.mark.parametrize("changes, field, words", [
    ({"flavor": "404"}, "flavor", "Flavor"),
    ({"image": "not-an-image"}, "image", "image"),
    ({"networks": ["nope"]}, "networks", "nope"),
    ({"count": "two"}, "count", "whole number"),
    ({"metadata": "no equals sign"}, "metadata", "key=value"),
    ({"boot_source": "volume", "volume_size": "big"}, "volume_size", "volume_size"),
    ({"key_name": "missing"}, "key_name", "key_name"),
    ({"name": ""}, "name", "name"),
])
def test_each_refusal_is_shown_at_its_field(alice: Browser, launched: list[dict[str, t.Any]],  # noqa: F811
                                            changes: dict[str, t.Any], field: str, words: str) -> None:
    reply = alice.post("/dashboard/launch", _form(**changes), csrf_from="/dashboard/launch")
    assert 400 <= reply.status < 500 and words in _error_at(reply.text, field), (reply.status, reply.text[:3000])
    assert launched == []


def test_user_data_the_api_refuses_is_not_echoed(alice: Browser) -> None:
    user_data = "s3cr3t" * 8500  # 51000 bytes: past Nova's 65535 characters once base64-encoded
    reply = alice.post("/dashboard/launch", _form(user_data=user_data), csrf_from="/dashboard/launch")
    assert reply.status == 400 and "user_data" in _error_at(reply.text, "user_data")
    encoded = base64.b64encode(user_data.encode()).decode()
    assert "s3cr3t" not in reply.text and encoded[:40] not in reply.text


def test_will_it_fit_shows_the_schedulers_explain_and_writes_nothing(
        app: t.Any, alice: Browser, launched: list[dict[str, t.Any]]) -> None:  # noqa: F811
    alice.get("/dashboard/launch")
    before = _row_counts(app.state.store_url)
    reply = alice.post("/dashboard/launch", _form(explain="1", user_data="s3cr3t-user-data"),
                       csrf_from="/dashboard/launch")
    assert reply.status == 200 and 'id="explain-result"' in reply.text
    assert "Yes: 1 instance would be placed" in reply.text
    assert reply.text.count('<tr class="passed">') == 2 and "s3cr3t-user-data" not in reply.text
    reply = alice.post("/dashboard/launch", _form(explain="1", flavor="2"), csrf_from="/dashboard/launch")
    assert reply.status == 200 and 'id="explain-verdict">No: No valid host' in reply.text
    assert reply.text.count('<tr class="rejected">') == 2 and "rejected by" in reply.text
    assert _row_counts(app.state.store_url) == before and launched == []


def test_keypairs_import_create_once_and_delete(app: t.Any, alice: Browser) -> None:
    page = alice.get("/dashboard/keypairs")
    assert page.status == 200 and "No key pairs yet." in page.text
    reply = alice.post("/dashboard/keypairs/import", {"name": "laptop", "public_key": PUBLIC_KEY},
                       csrf_from="/dashboard/keypairs")
    assert reply.status == 303 and reply.location == "/dashboard/keypairs"
    listed = alice.get("/dashboard/keypairs").text
    assert 'data-keypair="laptop"' in listed and "ssh" in listed and re.search(r"<code>([0-9a-f]{2}:){15}", listed)
    # a bad key and a taken name: at their fields, the values kept
    reply = alice.post("/dashboard/keypairs/import", {"name": "bad", "public_key": "ssh-rsa AAAA"},
                       csrf_from="/dashboard/keypairs")
    assert reply.status == 400 and _error_at(reply.text, "import-public_key")
    assert ">ssh-rsa AAAA</textarea>" in reply.text
    reply = alice.post("/dashboard/keypairs/import", {"name": "laptop", "public_key": PUBLIC_KEY},
                       csrf_from="/dashboard/keypairs")
    assert reply.status == 409 and "already exists" in _error_at(reply.text, "import-name")
    # generated: the private key on that answer only, no-store
    reply = alice.post("/dashboard/keypairs/create", {"name": "made"}, csrf_from="/dashboard/keypairs")
    assert reply.status == 201 and "-----BEGIN RSA PRIVATE KEY-----" in reply.text
    assert reply.headers["cache-control"] == "no-store" and 'id="private-key-warning"' in reply.text
    assert "PRIVATE KEY" not in alice.get("/dashboard/keypairs").text
    token = alice.cookies["stratus_session"]
    api_list = request(app, "GET", "/v2.1/os-keypairs", {"x-auth-token": token}).json()
    assert "private_key" not in json.dumps(api_list) and len(api_list["keypairs"]) == 2
    reply = alice.post("/dashboard/keypairs/delete", {"name": "laptop"}, csrf_from="/dashboard/keypairs")
    assert reply.status == 303 and 'data-keypair="laptop"' not in alice.get("/dashboard/keypairs").text
    # another user's key pair by name: the API's 404, nothing deleted
    bob = Browser(app)
    bob.log_in("bob", PASSWORD)
    assert bob.post("/dashboard/keypairs/delete", {"name": "made"}, csrf_from="/dashboard/keypairs").status == 404
    assert 'data-keypair="made"' in alice.get("/dashboard/keypairs").text


def test_every_form_needs_its_csrf_token(app: t.Any, alice: Browser,
                                         launched: list[dict[str, t.Any]]) -> None:  # noqa: F811
    alice.post("/dashboard/keypairs/import", {"name": "k", "public_key": PUBLIC_KEY}, csrf_from="/dashboard/keypairs")
    before = _row_counts(app.state.store_url)
    for path, form in (("/dashboard/launch", _form()), ("/dashboard/launch", _form(explain="1")),
                       ("/dashboard/keypairs/import", {"name": "k2", "public_key": PUBLIC_KEY}),
                       ("/dashboard/keypairs/create", {"name": "k3"}), ("/dashboard/keypairs/delete", {"name": "k"})):
        for csrf in (None, "0" * 64):
            reply = alice.post(path, dict(form, **({"csrf_token": csrf} if csrf else {})))
            assert reply.status == 403 and "CSRF" in reply.text, path
    assert _row_counts(app.state.store_url) == before and launched == []


def test_hostile_names_and_metadata_are_text(app: t.Any, alice: Browser,
                                             launched: list[dict[str, t.Any]]) -> None:  # noqa: F811
    # refused (no such flavor): the values shown again as text
    reply = alice.post("/dashboard/launch", _form(name=XSS, metadata="k=" + XSS, flavor="404"),
                       csrf_from="/dashboard/launch")
    assert reply.status == 400 and XSS not in reply.text and "&lt;script&gt;" in reply.text
    # accepted (the API takes printable names): the launch notice shows the name as text
    reply = alice.post("/dashboard/launch", _form(name=XSS, metadata="k=" + XSS), csrf_from="/dashboard/launch")
    assert reply.status == 303
    shown = alice.get(reply.location)
    assert 'id="launched"' in shown.text and XSS not in shown.text and "&lt;script&gt;" in shown.text
    reply = alice.post("/dashboard/keypairs/import", {"name": XSS, "public_key": PUBLIC_KEY + XSS},
                       csrf_from="/dashboard/keypairs")
    assert reply.status == 400 and XSS not in reply.text and "&lt;script&gt;" in reply.text
    reply = alice.post("/dashboard/keypairs/create", {"name": XSS}, csrf_from="/dashboard/keypairs")
    assert reply.status == 400 and XSS not in reply.text


def test_a_refusals_field_maps_to_the_forms_input() -> None:
    assert [launch.input_of(f) for f in ("max_count", "min_count", "flavorRef", "networks[0].uuid",
                                         "block_device_mapping_v2[0].volume_size", "block_device_mapping_v2[0].uuid",
                                         "block_device_mapping_v2", "os:scheduler_hints.group", None, "bogus")] == [
        "count", "count", "flavor", "networks", "volume_size", "image", "boot_source", "server_group", None, None]
