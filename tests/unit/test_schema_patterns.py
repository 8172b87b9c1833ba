"""Every regex that guards a value matches the whole value: hostnames, and the schemas' patterns.

Python's `$` also matches before a final newline, and jsonschema evaluates `pattern` with
re.search: `^[a-z]*$` took "abc\\n". schema.py turns each pattern's closing `$` into `\\Z`.
"""
from __future__ import annotations

import json
import re
import typing as t
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.hostname import is_hostname
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import schema
from ansible_collections.stratus.compute.plugins.module_utils.hostname import hostname_from_name as sanitize_hostname

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
BASE = {"name": "web", "flavor": "1", "image": "img"}


def patterns(node: t.Any) -> t.Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            elif key == "patternProperties" and isinstance(value, dict):
                yield from value
            yield from patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from patterns(value)


ALL = sorted({(p.name, pat) for p in SCHEMAS.glob("*.json") for pat in patterns(json.loads(p.read_text()))})


@pytest.mark.parametrize("where, pattern", ALL)
def test_every_schema_pattern_is_anchored_and_made_whole(where: str, pattern: str) -> None:
    """Anchored at both ends, so `\\Z` for the last `$` makes it a whole-string match."""
    assert pattern.startswith("^") and pattern.endswith("$"), "%s: %s" % (where, pattern)
    whole = schema.no_final_newline(pattern)
    assert whole.endswith(r"\Z") and re.compile(whole)


def test_an_escaped_dollar_is_left_alone() -> None:
    assert schema.no_final_newline(r"^a\$") == r"^a\$"
    assert schema.no_final_newline(r"^a\\$") == r"^a\\\Z"
    assert schema.no_final_newline("^a") == "^a"


@pytest.mark.parametrize("extra, field", [
    ({"hostname": "web\n"}, "hostname"),
    ({"hostname": "a_b"}, "hostname"),
    ({"hostname": ".."}, "hostname"),
    ({"hostname": "-a"}, "hostname"),
    ({"hostname": "a-"}, "hostname"),
    ({"hostname": "x" * 64}, "hostname"),
    ({"host": "hv1\n"}, "host"),
    ({"hypervisor_hostname": "hv1\n"}, "hypervisor_hostname"),
    ({"min_count": "2\n"}, "min_count"),
    ({"metadata": {"role\n": "web"}}, "metadata.role\n"),
    ({"scheduler_hints": {"cidr": "/24\n"}}, "scheduler_hints.cidr"),
    ({"block_device_mapping_v2": [{"source_type": "blank", "destination_type": "local",
                                   "device_name": "vdb\n"}]}, "block_device_mapping_v2[0].device_name"),
    ({"block_device_mapping_v2": [{"source_type": "volume", "uuid": "vol1\n"}]}, "block_device_mapping_v2[0].uuid"),
    ({"block_device_mapping_v2": [{"source_type": "blank", "destination_type": "local", "boot_index": "0\n"}]},
     "block_device_mapping_v2[0].boot_index"),
    ({"block_device_mapping_v2": [{"source_type": "blank", "destination_type": "volume", "volume_size": "1\n"}]},
     "block_device_mapping_v2[0].volume_size"),
])
def test_requests_with_a_final_newline_or_a_bad_hostname_are_refused(extra: dict[str, t.Any], field: str) -> None:
    with pytest.raises(StratusError) as err:
        schema.validate_request(dict(BASE, **extra))
    assert (err.value.code, err.value.field) == ("InvalidRequest", field)


def test_hostname_refusal_says_what_is_wrong_and_the_rule() -> None:
    with pytest.raises(StratusError) as err:
        schema.validate_request(dict(BASE, hostname="web\n"))
    assert err.value.message == (
        "Invalid input for field/attribute hostname. Value: 'web\\n'. Not a valid hostname: '\\n' is not allowed "
        "in it (a hostname is labels of 1 to 63 ASCII letters, digits and hyphens, separated by dots, none "
        "starting or ending with a hyphen, at most 253 characters in all).")


@pytest.mark.parametrize("hostname", ["web", "Web-1", "a", "web.example.com", "x" * 63, "a.b.c"])
def test_good_hostnames_pass(hostname: str) -> None:
    schema.validate_request(dict(BASE, hostname=hostname))


@pytest.mark.parametrize("name, value, field", [
    ("stratus_networks", [{"id": "n", "name": "n", "cidr": "10.0.0.0/24", "bridge": "br0\n"}], "stratus_networks[0].bridge"),
    ("hostvars[hv1]", {"stratus_vcpus": 1, "stratus_memory_mb": 1, "stratus_local_gb": 1,
                       "stratus_hypervisor_version": "8.2\n"}, "hostvars[hv1].stratus_hypervisor_version"),
])
def test_catalog_values_with_a_final_newline_are_refused(name: str, value: t.Any, field: str) -> None:
    with pytest.raises(StratusError) as err:
        schema.validate_catalog(name, value, schema_file="hypervisor.json" if name.startswith("hostvars") else None)
    assert err.value.code == "InvalidCatalog" and err.value.field == field


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_nova_sanitize_hostname_always_meets_the_rule(name: str) -> None:
    """The hostname a server gets from its name: valid, or empty (then server-<uuid>, also valid)."""
    host = sanitize_hostname(name)
    assert host == "" or is_hostname(host), repr(host)
    assert is_hostname("server-8b5c6a7e-4f4f-4e55-9c1d-2f0e7a1b3c4d")


@pytest.mark.parametrize("name, host", [
    ("My Server_01.prod", "my-server-01-prod"), ("--web--", "web"), ("сервер", ""), ("a" * 80, "a" * 63),
    ("x." + "-" * 70, "x"),
])
def test_sanitize_hostname_examples(name: str, host: str) -> None:
    assert sanitize_hostname(name) == host
