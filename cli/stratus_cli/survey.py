"""AWX/Tower survey specs for the provision job templates, generated from schemas/server.json.

Each question's type, bounds and choices come from the request's JSON Schema; its description
from the option's documentation in plugins/modules/server.py. The answers arrive as extra vars
named stratus_survey_<field>, which playbooks/provision_survey.yml turns into one server request.
"""
from __future__ import annotations

import ast
import json
import re
import typing as t
from pathlib import Path

import yaml

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


def survey_spec(collection: Path, kind: str = "create") -> dict[str, t.Any]:
    """The AWX survey spec of one job template kind (create or delete)."""
    if kind not in KINDS:
        raise ValueError("unknown survey kind %r (choose from %s)" % (kind, ", ".join(KINDS)))
    schemas = Schemas(collection / "schemas")
    server = schemas.doc("server.json")
    docs = option_docs(collection / "plugins" / "modules" / "server.py")
    spec = []
    for field, required in KINDS[kind]["fields"]:
        prop = schemas.resolve(server["properties"][field])
        spec.append(question(field, required, prop, docs.get(field, "")))
    return {"name": KINDS[kind]["name"],
            "description": KINDS[kind]["description"] + " Generated from schemas/server.json by `stratus awx survey`.",
            "spec": spec}
