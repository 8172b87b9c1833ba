"""`stratus api`'s pure parts: microversion negotiation, Nova/Glance/Neutron bodies per version, the error
bodies, and the edge (an ASGI call without a server): a bug is Nova's 500 body, never its text."""
from __future__ import annotations

import asyncio
import json
import typing as t
from pathlib import Path

import pytest

from stratus_cli.api import app as api_app, edge
from stratus_cli.api import errors, microversion, views
from stratus_cli.api.errors import ApiError

FLAVOR = {"id": "7", "name": "m1.x", "vcpus": 2, "ram": 512, "disk": 5, "swap": 0, "extra_specs": {"hw:a": 1}}


@pytest.mark.parametrize("headers, version", [
    ({}, (2, 1)),
    ({"openstack-api-version": "compute 2.60"}, (2, 60)),
    ({"openstack-api-version": "volume 3.5, compute 2.55"}, (2, 55)),
    ({"openstack-api-version": "volume 3.5", "x-openstack-nova-api-version": "2.40"}, (2, 40)),
    ({"x-openstack-nova-api-version": "2.61"}, (2, 61)),
    ({"openstack-api-version": "compute latest"}, (2, 61)),
])
def test_negotiated_versions(headers: dict[str, str], version: tuple[int, int]) -> None:
    assert microversion.negotiate(headers) == version


@pytest.mark.parametrize("asked, status", [("2.62", 406), ("2.0", 406), ("3.1", 406), ("2.x", 400), ("02.1", 400),
                                           ("<script>", 400)])
def test_refused_versions(asked: str, status: int) -> None:
    with pytest.raises(ApiError) as refused:
        microversion.negotiate({"x-openstack-nova-api-version": asked})
    assert refused.value.status == status and "<script>" not in refused.value.message


def test_flavor_bodies_follow_the_microversion() -> None:
    old = views.flavor_detail(FLAVOR, "http://h", (2, 1), extra_specs=True)
    assert "description" not in old and "extra_specs" not in old and old["swap"] == ""
    assert old["links"][0]["href"] == "http://h/v2.1/flavors/7" and old["OS-FLV-EXT-DATA:ephemeral"] == 0
    mid = views.flavor_detail(FLAVOR, "http://h", (2, 55), extra_specs=True)
    assert mid["description"] is None and "extra_specs" not in mid
    new = views.flavor_detail(dict(FLAVOR, swap=64), "http://h", (2, 61), extra_specs=True)
    assert new["extra_specs"] == {"hw:a": "1"} and new["swap"] == 64
    assert "extra_specs" not in views.flavor_detail(FLAVOR, "http://h", (2, 61), extra_specs=False)
    assert set(views.flavor_brief(FLAVOR, "http://h", (2, 1))) == {"id", "name", "links"}


def test_limits_drop_network_and_personality_keys_as_nova_does() -> None:
    quota = {r: {"limit": 10, "in_use": 1, "reserved": 0} for r in (
        "instances", "cores", "ram", "metadata_items", "injected_files", "injected_file_content_bytes",
        "injected_file_path_bytes", "key_pairs", "server_groups", "server_group_members")}
    deprecated = {"floating_ips": -1, "security_groups": -1, "security_group_rules": -1}
    at = {v: views.limits(quota, deprecated, v)["limits"]["absolute"] for v in ((2, 1), (2, 36), (2, 57))}
    assert "maxTotalFloatingIps" in at[(2, 1)] and "maxTotalFloatingIps" not in at[(2, 36)]
    assert "maxPersonality" in at[(2, 36)] and "maxPersonality" not in at[(2, 57)]
    assert at[(2, 57)]["totalInstancesUsed"] == 1 and at[(2, 57)]["maxTotalInstances"] == 10


def test_a_subnet_without_pools_gets_neutrons_default_range() -> None:
    net = {"id": "n1", "name": "n", "cidr": "10.9.0.0/29", "gateway": "10.9.0.1", "dhcp": True,
           "allocation_pools": [], "shared": True, "external": False, "project_id": None}
    sub = views.subnet(net)
    assert sub["allocation_pools"] == [{"start": "10.9.0.2", "end": "10.9.0.6"}]
    assert sub["id"] == views.subnet_id("n1") and views.network(net)["subnets"] == [sub["id"]]


@pytest.mark.parametrize("path, key", [("/v3/auth/tokens", "error"), ("/v2.1/flavors", "itemNotFound"),
                                       ("/network/v2.0/networks", "NeutronError"), ("/image/v2/images", "message")])
def test_each_service_gets_its_error_body(path: str, key: str) -> None:
    assert key in errors.body(errors.service_of(path), ApiError(404, "gone"))
    # every service's 401 is keystonemiddleware's
    assert "error" in errors.body(errors.service_of(path), ApiError(401, errors.AUTH_REQUIRED))


def _call(app: t.Any, method: str, path: str, headers: t.Optional[dict[str, str]] = None,
          body: bytes = b"") -> tuple[int, t.Any]:
    """One request through the ASGI app, no server: (status, JSON body)."""
    sent: list[dict[str, t.Any]] = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "path": path.partition("?")[0], "raw_path": path.partition("?")[0].encode(),
             "query_string": path.partition("?")[2].encode(), "root_path": "", "scheme": "http",
             "server": ("127.0.0.1", 8774), "client": ("127.0.0.1", 5000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}

    async def receive() -> dict[str, t.Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, t.Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body) if body else None


@pytest.fixture
def app(tmp_path: Path) -> t.Any:
    variables = {"stratus_flavors": [FLAVOR], "stratus_images": [], "stratus_networks": []}
    return api_app.build_app(api_app.Config(store_url="sqlite:///%s" % (tmp_path / "s.db"), variables=variables))


def test_the_edge_answers_a_bug_with_novas_500_body_and_no_exception_text(app: t.Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(call: t.Any) -> t.Any:
        raise KeyError("secret-internal-detail")

    monkeypatch.setattr(edge.auth, "token_of", lambda *a: broken(None))
    status, body = _call(app, "GET", "/v2.1/flavors", {"X-Auth-Token": "x"})
    assert status == 500 and set(body) == {"computeFault"} and "secret-internal-detail" not in json.dumps(body)


def test_unknown_routes_and_methods_get_the_services_bodies(app: t.Any) -> None:
    assert _call(app, "GET", "/v2.1/nothing") == (404, {"itemNotFound": {
        "code": 404, "message": "The resource could not be found."}})
    status, body = _call(app, "GET", "/v3/nothing")
    assert status == 404 and body["error"]["title"] == "Not Found"
    status, body = _call(app, "PUT", "/v2.1/flavors")
    assert status == 405 and body["badMethod"]["code"] == 405
    assert _call(app, "GET", "/v2.1/flavors")[0] == 401
    status, body = _call(app, "GET", "/v2.1/")
    assert status == 200 and body["version"]["version"] == "2.61"


def test_a_server_body_reads_the_nics_and_domain_name_of_its_plan_as_read_plan_does() -> None:
    """server_views.plan_shown reads two parts of a stored plan (not all of it, for speed): the same values as
    the collection's read_plan, and a NIC that read_plan would refuse is refused the same way."""
    from stratus_cli.api import server_views
    from ansible_collections.stratus.compute.plugins.module_utils.compute.plan import BuildPlan, Nic, read_plan
    from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

    uuid = "0b1f0000-0000-4000-8000-000000000001"
    nic = Nic(mac="52:54:00:00:00:01", libvirt_network="n", network_name="net1", ip="10.0.0.5")
    stored = BuildPlan(uuid=uuid, nics=[nic]).to_dict()
    full = read_plan(stored, uuid=uuid)
    shown = server_views.plan_shown(stored, uuid)
    assert shown.nics == full.nics and shown.domain_name == full.domain_name == "instance-" + uuid
    assert server_views.plan_shown(None, uuid) == server_views.PlanShown([], "instance-" + uuid)
    with pytest.raises(StratusError):
        server_views.plan_shown(dict(stored, nics=[{"mac": 5, "libvirt_network": "n"}]), uuid)
