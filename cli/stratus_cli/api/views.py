"""Response bodies of `stratus api`, as Keystone, Nova, Glance and Neutron shape them (their api-refs), from
the identity store's tokens and the inventory's catalog. Pure functions: no request, no store, no policy."""
from __future__ import annotations

import datetime as dt
import ipaddress
import typing as t
import uuid

from stratus_cli.api import microversion
from stratus_cli.api.identity import DOMAIN, Token

# The catalog has no times; Glance and Neutron bodies carry these.
CATALOG_TIME = "2026-01-01T00:00:00Z"
REGION = "RegionOne"
_IDS = uuid.UUID("6f6e1f7c-4d1b-4f57-9c1b-5f0d3a1e2b19")  # names the API's derived ids (roles, endpoints, subnets)
SERVICES = (("identity", "keystone", "/v3"), ("compute", "nova", "/v2.1"), ("image", "glance", "/image"),
            ("network", "neutron", "/network"))


def derived_id(*parts: str) -> str:
    return uuid.uuid5(_IDS, "/".join(parts)).hex


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- identity -------------------------------------------------------------------------------------------

def identity_version(base: str) -> dict[str, t.Any]:
    return {"version": {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                        "links": [{"rel": "self", "href": base + "/v3/"}],
                        "media-types": [{"base": "application/json",
                                         "type": "application/vnd.openstack.identity-v3+json"}]}}


def service_catalog(base: str) -> list[dict[str, t.Any]]:
    """Each service at this server, public, internal and admin alike (one process serves them all)."""
    return [{"id": derived_id("service", kind), "type": kind, "name": name,
             "endpoints": [{"id": derived_id("endpoint", kind, interface), "interface": interface,
                            "region_id": REGION, "region": REGION, "url": base + path}
                           for interface in ("public", "internal", "admin")]}
            for kind, name, path in SERVICES]


def token_body(token: Token, base: str) -> dict[str, t.Any]:
    return {"token": {
        "methods": ["password"],
        "user": {"id": token.user["id"], "name": token.user["name"], "domain": dict(DOMAIN),
                 "password_expires_at": None},
        "audit_ids": [token.audit_id],
        "issued_at": _time(token.issued_at), "expires_at": _time(token.expires_at),
        "project": {"id": token.project["id"], "name": token.project["name"], "domain": dict(DOMAIN)},
        "is_domain": False,
        "roles": [{"id": derived_id("role", r), "name": r} for r in token.roles],
        "catalog": service_catalog(base),
    }}


# --- compute (Nova v2.1) --------------------------------------------------------------------------------

def compute_version(base: str) -> dict[str, t.Any]:
    return {"id": "v2.1", "status": "CURRENT", "version": microversion.text(microversion.MAX_VERSION),
            "min_version": microversion.text(microversion.MIN_VERSION), "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": base + "/v2.1/"},
                      {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2.1"}]}


def _links(base: str, kind: str, ident: str) -> list[dict[str, str]]:
    return [{"rel": "self", "href": "%s/v2.1/%s/%s" % (base, kind, ident)},
            {"rel": "bookmark", "href": "%s/%s/%s" % (base, kind, ident)}]


def flavor_brief(flavor: t.Mapping[str, t.Any], base: str, version: tuple[int, int]) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {"id": str(flavor["id"]), "name": str(flavor.get("name", flavor["id"])),
                             "links": _links(base, "flavors", str(flavor["id"]))}
    if version >= (2, 55):
        out["description"] = flavor.get("description")
    return out


def flavor_detail(flavor: t.Mapping[str, t.Any], base: str, version: tuple[int, int],
                  extra_specs: bool) -> dict[str, t.Any]:
    """A catalog flavor as Nova's flavor body; its extra_specs from 2.61 when policy lets the caller read them."""
    swap = int(flavor.get("swap", 0) or 0)
    out = flavor_brief(flavor, base, version)
    out.update({"ram": int(flavor["ram"]), "disk": int(flavor.get("disk", 0)), "vcpus": int(flavor["vcpus"]),
                "OS-FLV-EXT-DATA:ephemeral": int(flavor.get("ephemeral", 0)),
                "OS-FLV-DISABLED:disabled": bool(flavor.get("disabled", False)),
                "swap": swap if swap else "",
                "os-flavor-access:is_public": bool(flavor.get("is_public", True)),
                "rxtx_factor": float(flavor.get("rxtx_factor", 1.0))})
    if version >= (2, 61) and extra_specs:
        out["extra_specs"] = extra_spec_values(flavor)
    return out


def extra_spec_values(flavor: t.Mapping[str, t.Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (flavor.get("extra_specs") or {}).items()}


def limits(quota: t.Mapping[str, t.Mapping[str, int]], deprecated: t.Mapping[str, int],
           version: tuple[int, int]) -> dict[str, t.Any]:
    """Nova's GET /limits from a quota-set detail ({resource: {limit, in_use}}) and the deprecated limits."""
    absolute = {
        "maxImageMeta": quota["metadata_items"]["limit"], "maxServerMeta": quota["metadata_items"]["limit"],
        "maxTotalCores": quota["cores"]["limit"], "maxTotalInstances": quota["instances"]["limit"],
        "maxTotalKeypairs": quota["key_pairs"]["limit"], "maxTotalRAMSize": quota["ram"]["limit"],
        "maxServerGroups": quota["server_groups"]["limit"],
        "maxServerGroupMembers": quota["server_group_members"]["limit"],
        "totalCoresUsed": quota["cores"]["in_use"], "totalInstancesUsed": quota["instances"]["in_use"],
        "totalRAMUsed": quota["ram"]["in_use"], "totalServerGroupsUsed": quota["server_groups"]["in_use"],
    }
    if version < (2, 57):
        absolute.update(maxPersonality=quota["injected_files"]["limit"],
                        maxPersonalitySize=quota["injected_file_content_bytes"]["limit"])
    if version < (2, 36):
        absolute.update(maxSecurityGroupRules=deprecated["security_group_rules"],
                        maxSecurityGroups=deprecated["security_groups"],
                        maxTotalFloatingIps=deprecated["floating_ips"], totalSecurityGroupsUsed=0,
                        totalFloatingIpsUsed=0)
    return {"limits": {"rate": [], "absolute": absolute}}


def availability_zones(zones: t.Mapping[str, list[str]], detail: bool) -> dict[str, t.Any]:
    """os-availability-zone; its detail (admin) names each zone's hosts and their compute service."""
    service = {"nova-compute": {"available": True, "active": True, "updated_at": None}}
    return {"availabilityZoneInfo": [
        {"zoneName": zone, "zoneState": {"available": True},
         "hosts": {h: dict(service) for h in sorted(zones[zone])} if detail else None}
        for zone in sorted(zones)]}


# --- image (Glance v2) ----------------------------------------------------------------------------------

IMAGE_KNOWN = {"id", "name", "file", "disk_format", "container_format", "size", "min_disk", "min_ram", "status",
               "visibility", "owner", "properties"}


def image_versions(base: str) -> dict[str, t.Any]:
    return {"versions": [{"id": "v2.16", "status": "CURRENT",
                          "links": [{"rel": "self", "href": base + "/image/v2/"}]}]}


def image(item: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """A catalog image as Glance v2's image body: its custom properties at the top level, as strings."""
    ident = str(item["id"])
    out: dict[str, t.Any] = {str(k): str(v) for k, v in (item.get("properties") or {}).items()}
    out.update({str(k): v if isinstance(v, str) else str(v) for k, v in item.items() if k not in IMAGE_KNOWN})
    out.update({
        "id": ident, "name": item.get("name") or ident, "status": item.get("status", "active"),
        "visibility": item.get("visibility", "public"), "protected": False, "os_hidden": False,
        "disk_format": item.get("disk_format", "qcow2"), "container_format": item.get("container_format", "bare"),
        "size": int(item["size"]) if item.get("size") else None, "virtual_size": None,
        "min_disk": int(item.get("min_disk") or 0), "min_ram": int(item.get("min_ram") or 0),
        "checksum": None, "os_hash_algo": None, "os_hash_value": None, "owner": item.get("owner"),
        "created_at": CATALOG_TIME, "updated_at": CATALOG_TIME, "tags": [],
        "self": "/v2/images/" + ident, "file": "/v2/images/%s/file" % ident, "schema": "/v2/schemas/image",
    })
    return out


# --- network (Neutron v2.0) -----------------------------------------------------------------------------

def network_versions(base: str) -> dict[str, t.Any]:
    return {"versions": [{"id": "v2.0", "status": "CURRENT",
                          "links": [{"rel": "self", "href": base + "/network/v2.0/"}]}]}


def subnet_id(network_id: str) -> str:
    """A catalog network is one Neutron network with one IPv4 subnet: the subnet's id derives from it."""
    return str(uuid.uuid5(_IDS, "subnet/" + network_id))


def network(net: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """A catalog network (Catalog.network's form) as Neutron's network body."""
    project = net.get("project_id") or ""
    return {"id": net["id"], "name": net["name"], "status": "ACTIVE", "admin_state_up": True,
            "shared": net["shared"], "router:external": net["external"], "subnets": [subnet_id(net["id"])],
            "tenant_id": project, "project_id": project, "mtu": 1500, "port_security_enabled": True,
            "availability_zones": [], "availability_zone_hints": [], "ipv4_address_scope": None,
            "ipv6_address_scope": None, "description": "", "tags": [], "is_default": False,
            "l2_adjacency": True, "created_at": CATALOG_TIME, "updated_at": CATALOG_TIME, "revision_number": 0}


def subnet(net: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    cidr = ipaddress.ip_network(net["cidr"])
    pools = net["allocation_pools"]
    if not pools:  # Neutron's default: the whole range but the gateway
        hosts = list(cidr.hosts())
        after_gw = [h for h in hosts if str(h) != net["gateway"]]
        pools = [{"start": str(after_gw[0]), "end": str(after_gw[-1])}] if after_gw else []
    project = net.get("project_id") or ""
    return {"id": subnet_id(net["id"]), "name": net["name"], "network_id": net["id"], "tenant_id": project,
            "project_id": project, "ip_version": 4, "cidr": str(cidr), "gateway_ip": net["gateway"],
            "enable_dhcp": net["dhcp"], "allocation_pools": pools, "dns_nameservers": [], "host_routes": [],
            "ipv6_ra_mode": None, "ipv6_address_mode": None, "subnetpool_id": None, "description": "",
            "tags": [], "service_types": [], "created_at": CATALOG_TIME, "updated_at": CATALOG_TIME,
            "revision_number": 0}
