"""AWX/Tower survey specs for the provision job templates, generated from schemas/server.json.

Each question's type, bounds and choices come from the request's JSON Schema; its description
from the option's documentation in plugins/modules/server.py. The flavor and image questions
offer the catalog's names (the inventory's stratus_flavors and stratus_images, the job template's
inventory), bare-metal flavors among them and named as such. The answers arrive as extra vars
named stratus_survey_<field>, which playbooks/provision_survey.yml turns into one server request.
"""
from __future__ import annotations

import ast
import importlib.util
import json
import re
import typing as t
from pathlib import Path

import yaml

from stratus_cli.errors import CliError
from stratus_cli.inventory import controller_vars, inventory_listing

VARIABLE_PREFIX = "stratus_survey_"
# The questions of each job template, in order; (field, required).
KINDS: dict[str, dict[str, t.Any]] = {
    "create": {
        "name": "Stratus: create servers",
        "description": "One server request (Nova's POST /servers) for the stratus.compute provision pipeline.",
        "fields": [("name", True), ("flavor", True), ("image", False), ("networks", False), ("min_count", False),
                   ("max_count", False), ("availability_zone", False), ("key_name", False),
                   ("config_drive", False), ("description", False), ("tags", False)],
    },
    "delete": {
        "name": "Stratus: delete servers",
        "description": "Delete servers by name (with max_count N, the servers name-1 .. name-N).",
        "fields": [("name", True), ("max_count", False)],
    },
}
# Lists typed into one text box, comma-separated (provision_survey.yml splits them).
LIST_FIELDS = {
    "networks": "Network names or uuids, comma-separated; or auto (the only network) or none.",
    "tags": "Server tags, comma-separated.",
}
PARTS = ("aki", "ari")
_MARKUP = re.compile(r"\b(?:RV|[A-Z])\(([^)]*)\)")


class Schemas:
    """schemas/*.json with their local $refs resolved."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._docs: dict[str, t.Any] = {}

    def doc(self, name: str) -> t.Any:
        if name not in self._docs:
            self._docs[name] = json.loads((self.directory / name).read_text())
        return self._docs[name]

    def resolve(self, node: t.Mapping[str, t.Any], current: str = "server.json") -> dict[str, t.Any]:
        while "$ref" in node:
            ref = node["$ref"]
            doc_name, _sep, pointer = ref.partition("#")
            doc_name = doc_name or current
            target: t.Any = self.doc(doc_name)
            for part in [p for p in pointer.split("/") if p]:
                target = target[part]
            merged = {k: v for k, v in node.items() if k != "$ref"}
            merged.update(target)
            node, current = merged, doc_name
        return dict(node)


def option_docs(module_file: Path) -> dict[str, str]:
    """Option descriptions of a module's DOCUMENTATION, markup stripped, read without importing it.

    They only decorate the questions: a module file that cannot be read gives none.
    """
    try:
        tree = ast.parse(module_file.read_text())
    except (OSError, SyntaxError, ValueError):
        return {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(tg, "id", None) == "DOCUMENTATION" for tg in node.targets):
            try:
                doc = yaml.safe_load(ast.literal_eval(node.value))
            except (ValueError, yaml.YAMLError):
                return {}
            out = {}
            for name, opt in (doc.get("options") or {}).items():
                text = opt.get("description") or ""
                text = " ".join(text) if isinstance(text, list) else str(text)
                out[name] = _MARKUP.sub(r"\1", text).strip()
            return out
    return {}


def _label(field: str) -> str:
    return field.replace("_", " ").capitalize()


def question(field: str, required: bool, prop: t.Mapping[str, t.Any], description: str) -> dict[str, t.Any]:
    types = prop.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    q: dict[str, t.Any] = {"question_name": _label(field), "question_description": description,
                           "variable": VARIABLE_PREFIX + field, "required": required}
    enum = prop.get("enum")
    if field in LIST_FIELDS:
        q.update(type="text", default="", question_description=LIST_FIELDS[field])
    elif enum and all(isinstance(v, bool) or str(v).lower() in ("true", "false", "1", "0", "on", "off", "yes", "no")
                      for v in enum):
        q.update(type="multiplechoice", choices=["true", "false"], default="true" if field == "config_drive" else "")
    elif enum:
        q.update(type="multiplechoice", choices=[str(v) for v in enum], default=str(enum[0]))
    elif "integer" in types and ("minimum" in prop or "string" not in types):
        q.update(type="integer", min=int(prop.get("minimum", 0)), max=int(prop.get("maximum", 2147483647)))
        if field == "min_count":
            q["default"] = 1
    else:
        q.update(type="text", default="", min=int(prop.get("minLength", 1 if required else 0)),
                 max=int(prop.get("maxLength", 1024)))
    return q


class Catalog(t.NamedTuple):
    """The names a survey offers: the catalog's flavors (bare-metal ones apart) and images."""

    flavors: list[str]
    baremetal_flavors: list[str]
    images: list[str]


def _flavor_rule(collection: Path) -> t.Callable[[t.Any], t.Any]:
    """module_utils/baremetal/flavor.py's baremetal_flavor (stdlib only): the one rule for what a
    bare-metal flavor is, read from the collection the playbooks run."""
    path = collection / "plugins" / "module_utils" / "baremetal" / "flavor.py"
    spec = importlib.util.spec_from_file_location("stratus_flavor_rule", path)
    if spec is None or spec.loader is None:
        raise CliError("ConfigurationError", "cannot load %s" % path, "collection")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.baremetal_flavor


def catalog_of(collection: Path, variables: t.Mapping[str, t.Any]) -> Catalog:
    """The survey's names from an inventory's variables (stratus_flavors, stratus_images)."""
    rule = _flavor_rule(collection)
    flavors, metal = [], []
    for flavor in variables.get("stratus_flavors") or []:
        if not isinstance(flavor, dict) or not isinstance(flavor.get("name"), str):
            continue
        try:
            is_metal = rule(flavor.get("extra_specs")) is not None
        except ValueError:  # a flavor the convention refuses: no create would accept it, so no choice either
            continue
        flavors.append(flavor["name"])
        if is_metal:
            metal.append(flavor["name"])
    # a kernel (aki) or ramdisk (ari) image only serves another image's boot (Glance's formats)
    images = [i["name"] for i in variables.get("stratus_images") or []
              if isinstance(i, dict) and isinstance(i.get("name"), str) and i.get("disk_format") not in PARTS]
    return Catalog(flavors, metal, images)


def inventory_catalog(collection: Path, sources: list[str]) -> Catalog:
    """The survey's names from the catalog of the inventory sources (inventory.controller_vars)."""
    return catalog_of(collection, controller_vars(inventory_listing(sources), sources))


def _offer(q: dict[str, t.Any], names: list[str], description: str) -> None:
    """Make a text question a choice among the catalog's names (AWX checks the answer is one)."""
    q.update(type="multiplechoice", choices=list(names), default=names[0] if q["required"] else "",
             question_description=description)
    for bound in ("min", "max"):
        q.pop(bound, None)


def survey_spec(collection: Path, kind: str = "create", catalog: t.Optional[Catalog] = None) -> dict[str, t.Any]:
    """The AWX survey spec of one job template kind (create or delete); with a catalog, the flavor and
    image questions offer its names."""
    if kind not in KINDS:
        raise ValueError("unknown survey kind %r (choose from %s)" % (kind, ", ".join(KINDS)))
    schemas = Schemas(collection / "schemas")
    server = schemas.doc("server.json")
    docs = option_docs(collection / "plugins" / "modules" / "server.py")
    spec = []
    for field, required in KINDS[kind]["fields"]:
        prop = schemas.resolve(server["properties"][field])
        q = question(field, required, prop, docs.get(field, ""))
        if catalog is not None and field == "flavor" and catalog.flavors:
            metal = catalog.baremetal_flavors
            _offer(q, catalog.flavors, "The flavor (the catalog's)." + (
                " Bare metal, a whole node each: %s." % ", ".join(metal) if metal else ""))
        elif catalog is not None and field == "image" and catalog.images:
            _offer(q, catalog.images, "The image to boot from (the catalog's); leave blank when a block device "
                                      "mapping gives the root disk.")
        spec.append(q)
    return {"name": KINDS[kind]["name"],
            "description": KINDS[kind]["description"] + " Generated from schemas/server.json by `stratus awx survey`.",
            "spec": spec}
