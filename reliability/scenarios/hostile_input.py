"""Hostile and malformed input: generated requests and named attacks through the server action.

Requests are generated from schemas/server.json (with its references to common.json and bdm.json)
by hypothesis-jsonschema: schema-valid ones, schema-valid ones pointed at the catalog (so that
many are accepted), and mutated ones (wrong types, unknown fields, oversize and non-printable
values, missing name, absurd counts). They go, as a generated vars file with every string tagged
!unsafe, through one playbook that loops `stratus.compute.server` over them in check mode, in
several batches. Every answer is either accepted or refused with a code; a traceback, an
InternalError or a refusal without a code is a failure.

Named attacks (each a figure: "refused CODE" or "accepted, harmless") run the same way but for
real (play 1, a SQLite store), so that an accepted one can be followed to where it ends up: the
stored plan is turned into domain XML by the collection's own builder (plugins/module_utils/compute)
and into a config drive, and both must hold the hostile value intact and escaped.
"""
from __future__ import annotations

import base64
import concurrent.futures
import copy
import json
import os
import random
import typing as t
import xml.etree.ElementTree as ET
from pathlib import Path

from stratus_lab import ansible_run, scenario, store
from stratus_lab.paths import ROOT, VENV_BIN

NETWORK_ID = "8d3c1a0e-6a7e-4a57-8a8f-0d5b6c2f4e99"
MARKER_NAME = "EXECUTED"
CATALOG = {
    "stratus_context": {"user_id": "alice", "project_id": "pa", "roles": ["member"]},
    "stratus_flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 256, "disk": 1},
                        {"id": "2", "name": "m1.small", "vcpus": 1, "ram": 512, "disk": 2, "ephemeral": 1,
                         "swap": 128}],
    "stratus_images": [{"id": ansible_run.IMAGE_ID, "name": "cirros", "disk_format": "qcow2"}],
    "stratus_networks": [{"id": NETWORK_ID, "name": "net1", "cidr": "10.77.0.0/20"}],
    "stratus_quotas": {"defaults": {"instances": 100000, "cores": 100000, "ram": 100000000}},
}
HOSTS = {"hv1": {"stratus_availability_zone": "az1"}, "hv2": {"stratus_availability_zone": "az2"}}
CAPACITY = {"stratus_vcpus": 64, "stratus_memory_mb": 262144, "stratus_local_gb": 4000}
# What the generated requests may not set: the operator's store, and a real run instead of check mode.
OPERATOR_FIELDS = ("db_url",)

PLAYBOOK = """---
- name: Every request of the batch through the server action
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Request
      stratus.compute.server: "{{ item }}"
      loop: "{{ scenario_requests }}"
      loop_control:
        label: "{{ stratus_index }}"
        index_var: stratus_index
      register: stratus_answers_raw
      ignore_errors: true

    - name: Write the answers
      check_mode: false
      ansible.builtin.copy:
        dest: "{{ answers_file }}"
        mode: "0600"
        content: "{{ stratus_answers_raw.results | map('dict2items')
                     | map('selectattr', 'key', 'in', ['failed', 'error', 'exception', 'msg', 'servers',
                                                       'server_uuids'])
                     | map('items2dict') | list | to_json }}"
"""


# --- the schema, with its references inlined (hypothesis-jsonschema resolves local ones only) ----------

def inline_schema() -> dict[str, t.Any]:
    docs = {name: json.loads((ROOT / "schemas" / name).read_text())
            for name in ("server.json", "common.json", "bdm.json")}

    def resolve(node: t.Any, doc: str) -> t.Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target, _hash, pointer = node["$ref"].partition("#")
                target = target or doc
                value: t.Any = docs[target]
                for part in [p for p in pointer.split("/") if p]:
                    value = value[part]
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return resolve(dict(value, **rest), target)
            return {k: resolve(v, doc) for k, v in node.items() if k not in ("$id", "$schema", "$defs")}
        if isinstance(node, list):
            return [resolve(v, doc) for v in node]
        return node

    schema = resolve(docs["server.json"], "server.json")
    for field in OPERATOR_FIELDS:
        schema["properties"].pop(field, None)
    return schema


def generate(count: int, seed: int) -> list[dict[str, t.Any]]:
    """`count` schema-valid requests, reproducibly (derandomized from the seed)."""
    from hypothesis import HealthCheck, given, settings, strategies as st
    from hypothesis_jsonschema import from_schema

    printable = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp", "Cn", "Co", "Cf")),
                        min_size=1, max_size=40)
    formats = {
        "name": printable.filter(lambda s: s == s.strip() and s.isprintable()),
        "printable": printable.filter(str.isprintable),
        "base64": st.binary(max_size=120).map(lambda b: base64.b64encode(b).decode()),
        "uuid": st.uuids().map(str),
        "cidr": st.sampled_from(["10.0.0.0/24", "192.168.1.0/28"]),
    }
    strategy = from_schema(inline_schema(), custom_formats=formats)
    out: list[dict[str, t.Any]] = []

    @settings(max_examples=count, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[__import__("hypothesis").Phase.generate])
    @given(strategy)
    def collect(request: dict[str, t.Any]) -> None:
        out.append(request)

    random.seed(seed)
    collect()
    return out


def point_at_catalog(req: dict[str, t.Any], rng: random.Random) -> dict[str, t.Any]:
    """The same request with the catalog's flavor, image and network, so that it may be accepted."""
    req = dict(req, flavor=rng.choice(["m1.tiny", "1", "m1.small"]), image=rng.choice(["cirros", ansible_run.IMAGE_ID]),
               networks=rng.choice([[{"name": "net1"}], [{"uuid": NETWORK_ID}], "auto", "none"]))
    for field in ("block_device_mapping_v2", "host", "hypervisor_hostname", "availability_zone", "key_name",
                  "scheduler_hints", "trusted_image_certificates", "context"):
        if rng.random() < 0.8:
            req.pop(field, None)
    return req


MUTATIONS = ("drop_name", "wrong_type", "unknown_field", "oversize", "control_char", "null_field", "nested",
             "huge_count", "negative", "empty_string", "bad_bdm", "bad_network", "bad_context")


def mutate(req: dict[str, t.Any], rng: random.Random) -> tuple[str, dict[str, t.Any]]:
    req = copy.deepcopy(req)
    kind = rng.choice(MUTATIONS)
    field = rng.choice(sorted(req)) if req else "name"
    if kind == "drop_name":
        req.pop("name", None)
    elif kind == "wrong_type":
        value = req.get(field)
        req[field] = rng.choice([12345, 1.5, True, ["x"], {"a": "b"}, "x"]) if not isinstance(value, str) \
            else rng.choice([12345, ["x"], {"a": 1}, False])
    elif kind == "unknown_field":
        req[rng.choice(["imageRef", "flavorRef", "os:scheduler_hints", "__class__", "x" * 300, "ämbiguous"])] = "v"
    elif kind == "oversize":
        req[rng.choice(["name", "description", "hostname", "key_name", "availability_zone"])] = "a" * \
            rng.choice([256, 4096, 70000])
    elif kind == "control_char":
        req[rng.choice(["name", "description", "hostname"])] = "bad%sname" % rng.choice(
            ["\x00", "\x07", "\x1b[31m", "\n", "\r", "\u202e", "\ufeff", "\x7f", "\udc80"[:0] + "\u2028"])
    elif kind == "null_field":
        req[field] = None
    elif kind == "nested":
        deep: t.Any = "x"
        for _level in range(60):
            deep = {"a": deep}
        req[rng.choice(["metadata", "scheduler_hints", "networks", "block_device_mapping_v2"])] = deep
    elif kind == "huge_count":
        req[rng.choice(["min_count", "max_count"])] = rng.choice([10 ** 12, "99999999999999999999", 2 ** 63])
    elif kind == "negative":
        req[rng.choice(["min_count", "max_count"])] = rng.choice([-1, 0, "-5"])
    elif kind == "empty_string":
        req[rng.choice(["name", "flavor", "image", "availability_zone"])] = ""
    elif kind == "bad_bdm":
        req["block_device_mapping_v2"] = [rng.choice([
            {"boot_index": "x"}, {"source_type": "volume"}, {"source_type": "image", "uuid": "../../etc/passwd"},
            {"device_name": "/dev/../../sda", "source_type": "blank", "destination_type": "local", "volume_size": 1},
            {"volume_size": -1}, "notadict",
            {"source_type": "blank", "volume_size": 10 ** 10, "destination_type": "volume"}])]
    elif kind == "bad_network":
        req["networks"] = rng.choice([[{"uuid": 5}], [{"fixed_ip": "999.1.1.1", "name": "net1"}], "everything",
                                      [{}], [["net1"]], [{"port": "p", "fixed_ip": "10.77.0.5", "name": "net1"}]])
    elif kind == "bad_context":
        req["context"] = rng.choice([{"user_id": "u"}, {"user_id": "", "project_id": "p"}, "admin",
                                     {"user_id": "u", "project_id": "p", "roles": "admin"},
                                     {"user_id": "u", "project_id": "p", "is_admin": "yes"}])
    return kind, req


# --- running batches -----------------------------------------------------------------------------------

def unsafe(value: t.Any) -> t.Any:
    """Every string marked unsafe (Ansible's JSON form): the requests are data, as the stratus CLI passes them."""
    if isinstance(value, str):
        return {"__ansible_unsafe": value}
    if isinstance(value, dict):
        return {k: unsafe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsafe(v) for v in value]
    return value


def run_batch(work: Path, tag: str, requests: list[t.Any], inventory: Path, check: bool, db_url: str,
              raw_vars: t.Optional[str] = None) -> tuple[list[dict[str, t.Any]], str, int]:
    """ansible-playbook over the requests; the per-request answers, the output, the exit code."""
    vars_file = work / ("vars-%s.json" % tag)
    answers = work / ("answers-%s.json" % tag)
    answers.unlink(missing_ok=True)
    if raw_vars is not None:
        vars_file.write_text(raw_vars)
    else:
        vars_file.write_text(json.dumps({"scenario_requests": unsafe(requests)}))
    playbook = work / "requests.yml"
    if not playbook.exists():  # written once: batches run side by side
        playbook.write_text(PLAYBOOK)
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), "-e", "@%s" % vars_file,
           "-e", json.dumps({"answers_file": str(answers)})]
    if check:
        cmd.append("--check")
    proc = ansible_run.run(cmd, ansible_run.env(db_url=db_url), timeout=3600, check=False, cwd=work)
    output = proc.stdout + proc.stderr
    (work / ("output-%s.log" % tag)).write_text(output)
    try:
        return json.loads(answers.read_text()), output, proc.returncode
    except (OSError, ValueError):
        return [], output, proc.returncode


def classify(sc: scenario.Scenario, answer: dict[str, t.Any], what: str) -> str:
    """'accepted' or 'refused CODE'; counts tracebacks and refusals without a code."""
    error = answer.get("error") if isinstance(answer.get("error"), dict) else None
    code = (error or {}).get("code")
    if "Traceback" in str(answer.get("exception") or "") or code == "InternalError":
        sc.count("tracebacks")
        sc.note("traceback for %s: %s" % (what, str(answer.get("exception") or error)[-600:]))
    if not answer.get("failed"):
        return "accepted"
    if not code:
        sc.count("refusals_without_code")
        sc.note("refusal without a code for %s: %s" % (what, str(answer.get("msg"))[:300]))
        return "refused (no code)"
    return "refused %s" % code


# --- named attacks ----------------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


TINY = {"flavor": "m1.tiny", "image": "cirros", "networks": [{"name": "net1"}]}
XML_META = "a<b>&c\"d'e</name><evil/>]]>"


def attacks(marker: Path) -> dict[str, dict[str, t.Any]]:
    """name -> request. Names say what the attack is."""
    pipe = "{{ lookup('pipe', 'touch %s') }}" % marker
    return {
        "xml_metacharacters_in_name": dict(TINY, name="x" + XML_META),
        "xml_metacharacters_in_metadata": dict(TINY, name="a-meta", metadata={"k": XML_META, "x.y": "<![CDATA[z]]>"}),
        "xml_metacharacters_in_metadata_key": dict(TINY, name="a-metakey", metadata={"<k>": "v"}),
        "xml_metacharacters_in_user_data": dict(
            TINY, name="a-ud", user_data=_b64(b"<x>&amp;</x>\x00\x01" + XML_META.encode())),
        "xml_metacharacters_in_device_name": dict(TINY, name="a-dev", block_device_mapping_v2=[
            {"boot_index": 0, "uuid": ansible_run.IMAGE_ID, "source_type": "image", "destination_type": "local",
             "device_name": "/dev/vda'/><disk>"}]),
        "control_characters_in_name": dict(TINY, name="a\x00b\x1b[2Jc"),
        "control_characters_in_metadata": dict(TINY, name="a-ctl", metadata={"k": "v\x00\x07\x1b"}),
        "control_characters_in_device_name": dict(TINY, name="a-devctl", block_device_mapping_v2=[
            {"boot_index": 0, "uuid": ansible_run.IMAGE_ID, "source_type": "image", "destination_type": "local",
             "device_name": "vd\x00a"}]),
        "path_traversal_in_image_name": dict(TINY, name="a-img", image="../../../../etc/passwd"),
        "path_traversal_in_volume_name": dict(TINY, name="a-vol", block_device_mapping_v2=[
            {"boot_index": 0, "uuid": ansible_run.IMAGE_ID, "source_type": "image", "destination_type": "local"},
            {"source_type": "volume", "uuid": "../../../var/lib/libvirt/x", "destination_type": "volume"}]),
        "path_traversal_in_device_name": dict(TINY, name="a-devpath", block_device_mapping_v2=[
            {"boot_index": 0, "uuid": ansible_run.IMAGE_ID, "source_type": "image", "destination_type": "local",
             "device_name": "/dev/../../etc/shadow"}]),
        "path_traversal_in_personality_path": dict(TINY, name="a-pers", personality=[
            {"path": "../../../../etc/cron.d/evil", "contents": _b64(b"* * * * * root id")}]),
        "oversize_user_data": dict(TINY, name="a-bigud", user_data=_b64(b"A" * 60000)),
        "oversize_metadata_items": dict(TINY, name="a-bigmeta", metadata={"k%d" % i: "v" for i in range(200)}),
        "oversize_metadata_value": dict(TINY, name="a-bigval", metadata={"k": "v" * 300}),
        "oversize_personality_file": dict(TINY, name="a-bigfile", personality=[
            {"path": "/etc/big", "contents": _b64(b"B" * 20000)}]),
        "oversize_personality_count": dict(TINY, name="a-manyfiles", personality=[
            {"path": "/etc/f%d" % i, "contents": _b64(b"x")} for i in range(20)]),
        "oversize_name": dict(TINY, name="n" * 256),
        "unicode_name": dict(TINY, name="сервер-☃-日本-🚀"),
        "unicode_bidi_override_in_name": dict(TINY, name="abc\u202egpj.exe"),
        "unicode_metadata": dict(TINY, name="a-umeta", metadata={"k": "значение ☃ 🚀 \u00e9\u0301"}),
        "unicode_zero_width_in_name": dict(TINY, name="a\u200bb"),
        "template_in_name": dict(TINY, name="a{{ 7 * 7 }}"),
        "template_lookup_in_metadata": dict(TINY, name="a-tpl", metadata={"k": pipe}),
        "template_in_user_data_decoded": dict(TINY, name="a-tplud", user_data=_b64(pipe.encode())),
        # who asks is never the request's to say (docs/trust-model.md)
        "caller_named_in_request": dict(TINY, name="a-ctx", availability_zone="az1:hv1",
                                        context={"user_id": "root", "project_id": "ops", "roles": ["admin"]}),
        "admin_flag_in_request": dict(TINY, name="a-adm", availability_zone="az1:hv1", is_admin=True),
    }


def follow_to_xml_and_config_drive(sc: scenario.Scenario, name: str, plan: dict[str, t.Any], request: dict[str, t.Any]
                                   ) -> bool:
    """Build the domain XML and the config drive of an accepted plan, with the collection's code."""
    from ansible_collections.stratus.compute.plugins.module_utils.compute import domain
    from ansible_collections.stratus.compute.plugins.module_utils.compute.block_device import decode_user_data
    from ansible_collections.stratus.compute.plugins.module_utils.compute.config_drive import build_config_drive

    disks = [dict(d, path="/var/lib/libvirt/stratus/instances/%s" % d["name"]) for d in plan["block_devices"]]
    xml, _digest = domain.domain_xml(plan, disks, "qemu")
    root = ET.fromstring(xml)  # must parse: anything unescaped would break it or add elements
    ok = root.findtext("title") == request["name"] and len(root.findall("./devices/disk")) == len(disks)
    ok = ok and not root.findall(".//evil") and all(
        t.attrib.get("dev") == d["device_name"] for t, d in zip(root.findall("./devices/disk/target"), disks))
    cd = plan.get("config_drive")
    if cd:
        data = build_config_drive(cd["meta_data"], cd.get("network_data"), decode_user_data(cd.get("user_data")))
        ok = ok and len(data) > 0 and cd["meta_data"].get("meta") == dict(request.get("metadata") or {})
    if not ok:
        sc.note("%s: the plan did not round-trip into domain XML / config drive: %s" % (name, xml[:600]))
    return ok


def named_attacks(sc: scenario.Scenario, inventory: Path) -> None:
    import sqlalchemy as sa

    work = sc.work / "attacks"
    work.mkdir(exist_ok=True)
    marker = work / MARKER_NAME
    db_url = store.sqlite_url(work / "store")
    cases = attacks(marker)
    answers, output, _rc = run_batch(work, "attacks", list(cases.values()), inventory, check=False, db_url=db_url)
    sc.check("attacks_answered", len(answers) == len(cases), output[-2000:])
    engine = store.open_engine(db_url)
    with engine.connect() as conn:
        plans = {r.name: r.plan for r in conn.execute(sa.text("SELECT name, plan FROM instances WHERE deleted = ''"))}
    engine.dispose()
    results: dict[str, str] = {}
    for (name, request), answer in zip(cases.items(), answers):
        outcome = classify(sc, answer, name)
        if outcome == "accepted":
            plan = plans.get(request["name"])
            plan = json.loads(plan) if isinstance(plan, str) else plan
            harmless = plan is not None and follow_to_xml_and_config_drive(sc, name, plan, request)
            outcome = "accepted, harmless" if harmless else "accepted, HARMFUL"
            sc.check("accepted_attacks_are_harmless", harmless, name)
        results[name] = outcome
    # Templates in request data must stay text: the name is stored as sent, the lookup never ran.
    sc.check("templates_never_rendered", "a{{ 7 * 7 }}" in plans or results.get("template_in_name", "").startswith(
        "refused"), "template_in_name: stored names %s" % sorted(plans)[:20])
    # The !!python tag in a vars file: Ansible's loader must refuse it, nothing may run.
    evil = "scenario_requests:\n  - !!python/object/apply:os.system ['touch %s']\n" % marker
    _ans, output, rc = run_batch(work, "python-tag", [], inventory, check=True, db_url=db_url, raw_vars=evil)
    results["yaml_python_object_tag_in_vars_file"] = "refused by Ansible's YAML loader" if rc != 0 and \
        "Traceback" not in output else "accepted (rc %d)" % rc
    sc.check("python_tag_refused", rc != 0, output[-1000:])
    # The stratus CLI reads a request file from the user: a template in it must not run either.
    templated = {"k": "{{ lookup('pipe', 'touch %s') }}" % marker}
    req_file = ansible_run.write_yaml(work / "cli-request.yml",
                                      [dict(TINY, name="cli-{{ 6 * 7 }}", metadata=templated)])
    proc = ansible_run.run([str(VENV_BIN / "stratus"), "-q", "server", "create", "-f", str(req_file), "--check",
                            "-o", "json"], ansible_run.env(db_url=db_url, STRATUS_INVENTORY=str(inventory)),
                           timeout=600, check=False)
    try:
        cli_names = [s["name"] for s in json.loads(proc.stdout).get("servers", [])]
    except ValueError:
        cli_names = []
    results["template_in_cli_request_file"] = "accepted, harmless" if cli_names == ["cli-{{ 6 * 7 }}"] else \
        "rc %d: %s" % (proc.returncode, (proc.stdout + proc.stderr)[-300:])
    sc.check("cli_templates_never_rendered", cli_names == ["cli-{{ 6 * 7 }}"], results["template_in_cli_request_file"])
    sc.check("nothing_executed", not marker.exists(), "the marker file %s was created" % marker)
    sc.figures["attacks"] = results
    sc.figures["attacks_total"] = len(results)


def main(sc: scenario.Scenario) -> None:
    total = 300 if sc.quick else 10000
    batches = 1 if sc.quick else 10
    sc.figures.update(backends=["sqlite"], requests=0, accepted=0, refused={}, tracebacks=0, refusals_without_code=0,
                      mutations={})
    inventory = ansible_run.write_yaml(sc.work / "hosts.yml", ansible_run.controller_inventory(CATALOG, HOSTS, CAPACITY))
    rng = random.Random(7)
    generated = generate(total, seed=7)
    if len(generated) < total:  # hypothesis stops early only when the space is exhausted: top up by mutating
        generated += [mutate(rng.choice(generated), rng)[1] for _more in range(total - len(generated))]
    requests: list[tuple[str, dict[str, t.Any]]] = []
    for i, req in enumerate(generated[:total]):
        if i % 3 == 0:
            requests.append(("valid", req))
        elif i % 3 == 1:
            requests.append(("valid_catalog", point_at_catalog(req, rng)))
        else:
            kind, bad = mutate(point_at_catalog(req, rng) if rng.random() < 0.5 else req, rng)
            sc.figures["mutations"][kind] = sc.figures["mutations"].get(kind, 0) + 1
            requests.append(("mutated", bad))
    db_url = store.sqlite_url(sc.work / "store")
    size = (len(requests) + batches - 1) // batches
    per_kind: dict[str, dict[str, int]] = {}
    chunks = [requests[b * size:(b + 1) * size] for b in range(batches)]

    def one(b: int) -> tuple[list[dict[str, t.Any]], str, int]:
        return run_batch(sc.work, "batch%d" % b, [r for _k, r in chunks[b]], inventory, check=True, db_url=db_url)

    # Batches are independent ansible-playbook runs in check mode: as many at once as there are cores.
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(batches, os.cpu_count() or 1))) as pool:
        results = list(pool.map(one, range(batches)))
    for b, (batch, (answers, output, _rc)) in enumerate(zip(chunks, results)):
        if not sc.check("every_request_answered", len(answers) == len(batch),
                        "batch %d: %d answers for %d requests: %s" % (b, len(answers), len(batch), output[-1500:])):
            continue
        for (kind, req), answer in zip(batch, answers):
            outcome = classify(sc, answer, "%s request %s" % (kind, json.dumps(req, default=str)[:300]))
            sc.count("requests")
            bucket = per_kind.setdefault(kind, {})
            bucket[outcome] = bucket.get(outcome, 0) + 1
            if outcome == "accepted":
                sc.count("accepted")
            else:
                code = outcome.split(" ", 1)[1]
                sc.figures["refused"][code] = sc.figures["refused"].get(code, 0) + 1
        print("batch %d: %d requests" % (b, len(batch)), flush=True)
    sc.figures["by_kind"] = per_kind
    sc.check("enough_requests", sc.figures["requests"] >= total, "%d of %d" % (sc.figures["requests"], total))
    sc.check("no_tracebacks", sc.figures["tracebacks"] == 0)
    sc.check("every_refusal_has_a_code", sc.figures["refusals_without_code"] == 0)
    sc.check("some_accepted_some_refused", sc.figures["accepted"] > 0 and bool(sc.figures["refused"]))
    # check mode writes nothing
    import sqlalchemy as sa
    engine = store.open_engine(db_url)
    with engine.connect() as conn:
        written = conn.execute(sa.text("SELECT count(*) FROM instances")).scalar()
    engine.dispose()
    sc.check("check_mode_wrote_nothing", written == 0, "%d instance rows" % written)
    named_attacks(sc, inventory)


if __name__ == "__main__":
    scenario.Scenario("hostile_input", __doc__ or "").run(main)
