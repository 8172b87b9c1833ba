# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stratus.compute.server module's request options, generated from schemas/server.json.

The schema is the one source of the request's options: their names, JSON types, choices, which is
required, defaults and descriptions. This writes them into the module's DOCUMENTATION between two
marker comments; the module's own options (``request``, ``db_url``) follow the markers by hand.

    python schemas/gen_server_doc.py          # rewrite plugins/modules/server.py
    python schemas/gen_server_doc.py --check  # exit 1 when the module differs from the schema

Also the schema's reading for the checks of the other copies (tests/unit/test_server_options.py):
``request_options`` (each option as Ansible documents it) and ``secret_options``. (The
error masking walks the schema for nested secrets itself: plugins/plugin_utils/compute_api/schema.py.)
"""
from __future__ import annotations

import json
import pathlib
import sys
import textwrap
import typing as t

import yaml

SCHEMA_DIR = pathlib.Path(__file__).resolve().parent
MODULE = SCHEMA_DIR.parent / "plugins" / "modules" / "server.py"
BEGIN = "  # BEGIN options generated from schemas/server.json by schemas/gen_server_doc.py: edit the schema\n"
END = "  # END options generated from schemas/server.json\n"
WIDTH = 118  # the module's DOCUMENTATION lines stay within the collection's 120 columns

# JSON Schema type -> Ansible option type
ANSIBLE_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool",
                 "object": "dict", "array": "list"}
SECRET = "x-stratus-secret"
# Where the JSON types leave the option's type open (a digit string for an integer): schemas/common.json
ANSIBLE_TYPE = "x-ansible-type"


def load(name: str) -> dict[str, t.Any]:
    return json.loads((SCHEMA_DIR / name).read_text())


def resolve(node: t.Mapping[str, t.Any], base: str = "server.json") -> dict[str, t.Any]:
    """The node with its ``$ref`` (a file of schemas/ and a $defs pointer in it; no file: ``base``) merged
    under its own keys. A ``$ref`` inside the merged node is made absolute, so it resolves from anywhere."""
    ref = node.get("$ref")
    if not ref:
        return dict(node)
    file_name, _sep, pointer = ref.partition("#")
    file_name = file_name or base
    target: t.Any = load(file_name)
    for part in [p for p in pointer.split("/") if p]:
        target = target[part]
    merged = _absolute_refs(resolve(target, file_name), file_name)
    merged.update((k, v) for k, v in node.items() if k != "$ref")
    return merged


def _absolute_refs(node: t.Any, file_name: str) -> t.Any:
    if isinstance(node, list):
        return [_absolute_refs(v, file_name) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _absolute_refs(v, file_name) for k, v in node.items()}
    if isinstance(out.get("$ref"), str) and out["$ref"].startswith("#"):
        out["$ref"] = file_name + out["$ref"]
    return out


def json_types(node: t.Mapping[str, t.Any]) -> list[str]:
    """The node's JSON types, null left out (an option that may be null is documented by its other type)."""
    types = node.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    return [x for x in types if x != "null"]


def ansible_type(node: t.Mapping[str, t.Any]) -> str:
    """The option type Ansible documents for a schema node: raw when the node admits several kinds."""
    node = resolve(node)
    if ANSIBLE_TYPE in node:
        return node[ANSIBLE_TYPE]
    types = json_types(node)
    return ANSIBLE_TYPES[types[0]] if len(types) == 1 else "raw"


def request_options() -> dict[str, dict[str, t.Any]]:
    """Every property of schemas/server.json as an Ansible option (the keys of a module's options)."""
    schema = load("server.json")
    required = set(schema.get("required") or [])
    options: dict[str, dict[str, t.Any]] = {}
    for name, prop in schema["properties"].items():
        if not prop.get("description"):
            raise ValueError("schemas/server.json: property %s has no description (it is the module's doc)" % name)
        paragraphs = prop["description"].split("\n\n")
        option: dict[str, t.Any] = {"description": paragraphs[0] if len(paragraphs) == 1 else paragraphs}
        option["type"] = ansible_type(prop)
        if option["type"] == "list":
            option["elements"] = ansible_type(resolve(prop)["items"])
        if name in required:
            option["required"] = True
        if "default" in prop:
            option["default"] = prop["default"]
        enum = resolve(prop).get("enum")
        if enum and option["type"] == "str":
            option["choices"] = list(enum)
        options[name] = option
    return options


def secret_options() -> list[str]:
    """The request's options whose values are never logged or echoed (x-stratus-secret), in schema order."""
    return [name for name, prop in load("server.json")["properties"].items() if prop.get(SECRET)]


def _scalar(value: t.Any) -> str:
    """One YAML scalar as the docs write them: plain when it reads back the same, else double-quoted."""
    if isinstance(value, str):
        plain = value
        try:
            if yaml.safe_load("k: " + plain) == {"k": value}:
                return plain
        except yaml.YAMLError:
            pass
        return json.dumps(value)
    return json.dumps(value) if not isinstance(value, bool) else ("true" if value else "false")


def _flow(value: t.Any) -> str:
    if isinstance(value, list):
        return "[%s]" % ", ".join(_scalar(v) for v in value)
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s: %s" % (k, _scalar(v)) for k, v in value.items())
    return _scalar(value)


def _description(text: t.Union[str, list[str]]) -> list[str]:
    if isinstance(text, str) and _scalar(text) == text:  # one paragraph: a plain scalar, folded
        return textwrap.wrap(text, WIDTH, initial_indent="    description: ", subsequent_indent="      ",
                             break_long_words=False, break_on_hyphens=False)
    lines = ["    description:"]
    for paragraph in [text] if isinstance(text, str) else text:
        if _scalar(paragraph) != paragraph:  # needs quotes: keep it on one line
            lines.append("      - " + _scalar(paragraph))
            continue
        lines += textwrap.wrap(paragraph, WIDTH, initial_indent="      - ", subsequent_indent="        ",
                               break_long_words=False, break_on_hyphens=False)
    return lines


def options_yaml(options: t.Mapping[str, t.Mapping[str, t.Any]]) -> str:
    """The options block (indented under ``options:``) in the module docs' style."""
    lines: list[str] = []
    for name, option in options.items():
        lines.append("  %s:" % name)
        lines += _description(option["description"])
        for key in ("type", "elements", "required", "default", "choices"):
            if key in option:
                lines.append("    %s: %s" % (key, _flow(option[key])))
    text = "\n".join(lines) + "\n"
    if yaml.safe_load("options:\n" + text)["options"] != options:  # the emitter's own check
        raise ValueError("the generated options do not read back as the schema's")
    return text


def render(module_source: str) -> str:
    """The module's source with the generated options between the markers."""
    if module_source.count(BEGIN) != 1 or module_source.count(END) != 1:
        raise ValueError("%s: the generated options' marker lines are missing" % MODULE)
    head, rest = module_source.split(BEGIN)
    tail = rest.split(END)[1]  # what stood between the markers is replaced
    return head + BEGIN + options_yaml(request_options()) + END + tail


def main(argv: list[str]) -> int:
    current = MODULE.read_text()
    wanted = render(current)
    if "--check" in argv:
        if current != wanted:
            print("%s: the request options differ from schemas/server.json; run make server-doc" % MODULE)
            return 1
        return 0
    if current != wanted:
        MODULE.write_text(wanted)
        print("rewrote %s" % MODULE)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
