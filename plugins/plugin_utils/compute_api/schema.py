# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON Schema checks for requests and catalog data, with Nova's error wording.

The schemas live in the collection's ``schemas/`` folder, one file per kind.
A request that fails its schema gets Nova's ValidationError text ("Invalid input
for field/attribute <field>. Value: <value>. <why>") under our code
``InvalidRequest``, and ``field`` is the JSON path of the offending value. A
catalog that fails names the variable, the path inside it and, when Ansible
kept it, the file and line the value came from.
"""
from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import json
import pathlib
import re
import typing as t
import uuid as uuidlib

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.module_utils.hostname import invalid_hostname_message, is_hostname

try:
    import jsonschema
    import referencing
    import referencing.jsonschema
    HAS_JSONSCHEMA = True
except ImportError:  # reported when a check is attempted
    HAS_JSONSCHEMA = False

SCHEMA_DIR = pathlib.Path(__file__).resolve().parents[3] / "schemas"
BASE_URI = "https://stratus-compute.dev/schemas/"

# Catalog variable -> its schema file.
CATALOG_SCHEMAS = {
    "stratus_flavors": "flavor.json",
    "stratus_images": "image.json",
    "stratus_networks": "network.json",
    "stratus_keypairs": "keypair.json",
    "stratus_quotas": "quota.json",
    "stratus_policy": "policy.json",
    "stratus_server_groups": "server_group.json",
}

# strutils.bool_from_string's true values (a superset of what the schema's boolean admits)
TRUE_STRINGS = frozenset(("1", "t", "true", "on", "y", "yes"))
# An operator's reason (a node's maintenance, a disabled hypervisor) is stored and shown: one line of printable text.
REASON = re.compile(r"[^\x00-\x1f\x7f]{1,255}")
# Marks a request value that is never logged or echoed (schemas/server.json); jsonschema ignores the keyword.
SECRET_KEYWORD = "x-stratus-secret"


@functools.lru_cache(maxsize=None)
def document(schema_file: str) -> t.Any:
    """``schemas/<schema_file>`` as parsed JSON, read once per process; callers never change it."""
    return json.loads((SCHEMA_DIR / schema_file).read_text())


def secret_properties(node: t.Any) -> set[str]:
    """The names of the properties marked secret anywhere in a schema (nested ones too)."""
    found: set[str] = set()
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            found.update(name for name, prop in properties.items()
                         if isinstance(prop, dict) and prop.get(SECRET_KEYWORD))
        for value in node.values():
            found |= secret_properties(value)
    elif isinstance(node, list):
        for value in node:
            found |= secret_properties(value)
    return found


# Never echoed back in an error (logs, runner events): the request's secret values (admin password, user
# data and injected files often carry credentials) and the store URL.
SECRET_FIELDS = frozenset(secret_properties(document("server.json")) | {"db_url"})

INVALID_NAME = ("An invalid 'name' value was provided. The name must be: printable characters. "
                "Can not start or end with whitespace.")


def as_bool(value: t.Any) -> bool:
    """A value of Nova's parameter_types.boolean (true/false or one of its strings) as a bool."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in TRUE_STRINGS


def _is_name(value: object) -> bool:
    return not isinstance(value, str) or (value == value.strip() and value.isprintable())


def _is_printable(value: object) -> bool:
    return not isinstance(value, str) or value.isprintable()


def _is_base64(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return True


def _is_ip(version: int) -> t.Callable[[object], bool]:
    def check(value: object) -> bool:
        if not isinstance(value, str):
            return True
        try:
            return ipaddress.ip_address(value).version == version
        except ValueError:
            return False
    return check


def _is_cidr(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value


def _format_checker() -> "jsonschema.FormatChecker":
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("name")(_is_name)
    checker.checks("printable")(_is_printable)
    checker.checks("base64")(_is_base64)
    checker.checks("uuid")(_is_uuid)
    checker.checks("ipv4")(_is_ip(4))
    checker.checks("ipv6")(_is_ip(6))
    checker.checks("cidr")(_is_cidr)
    checker.checks("hostname")(lambda value: not isinstance(value, str) or is_hostname(value))
    return checker


def no_final_newline(pattern: str) -> str:
    """A pattern's closing ``$`` as ``\\Z``: Python's ``$`` (jsonschema's ``pattern`` is ``re.search``)
    also matches before a final newline, so ``^[a-z]*$`` would take ``"abc\\n"``."""
    body = pattern[:-1]
    if pattern.endswith("$") and (len(body) - len(body.rstrip("\\"))) % 2 == 0:
        return body + r"\Z"
    return pattern


def _whole_string_patterns(node: t.Any) -> t.Any:
    """The schema with every ``pattern`` and ``patternProperties`` key ending in ``\\Z`` instead of ``$``."""
    if isinstance(node, list):
        return [_whole_string_patterns(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "pattern" and isinstance(value, str):
            out[key] = no_final_newline(value)
        elif key == "patternProperties" and isinstance(value, dict):
            out[key] = {no_final_newline(k): _whole_string_patterns(v) for k, v in value.items()}
        else:
            out[key] = _whole_string_patterns(value)
    return out


@functools.lru_cache(maxsize=None)
def secret_names(schema_file: str) -> frozenset[str]:
    """The properties ``schemas/<schema_file>`` marks secret (``x-stratus-secret``)."""
    return frozenset(secret_properties(document(schema_file)))


@functools.lru_cache(maxsize=None)
def property_names(schema_file: str) -> frozenset[str]:
    """The properties an object schema declares (``schemas/<schema_file>``): the one list of its keys."""
    return frozenset(document(schema_file).get("properties") or {})


@functools.lru_cache(maxsize=None)
def _validator(schema_file: str) -> "jsonschema.protocols.Validator":
    if not HAS_JSONSCHEMA:
        raise StratusError("InternalError", "the Python package jsonschema is required on the controller")
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        contents = _whole_string_patterns(document(path.name))
        # without $schema a referenced file is checked by our extended validator, not a stock one
        contents.pop("$schema", None)
        resources.append((BASE_URI + path.name, referencing.jsonschema.DRAFT202012.create_resource(contents)))
    registry = referencing.Registry().with_resources(resources)
    schema = _whole_string_patterns(document(schema_file))
    base = jsonschema.validators.validator_for(schema)
    # Like Nova's _SchemaValidator: digit strings ("0", "2") meet minimum/maximum as numbers
    cls = jsonschema.validators.extend(base, {"minimum": _numeric(base.VALIDATORS["minimum"]),
                                              "maximum": _numeric(base.VALIDATORS["maximum"])})
    return cls(schema, registry=registry, format_checker=_format_checker())


def _numeric(check: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    def validate(validator: t.Any, bound: t.Any, instance: t.Any, schema: t.Any) -> t.Any:
        if isinstance(instance, str):
            try:
                instance = int(instance)
            except ValueError:
                try:
                    instance = float(instance)
                except ValueError:
                    return None
        return check(validator, bound, instance, schema)
    return validate


def json_path(parts: t.Iterable[t.Union[str, int]], root: str = "") -> str:
    """`a`, 0, `b` -> `a[0].b` (prefixed by root when given)."""
    out = root
    for part in parts:
        if isinstance(part, int):
            out += "[%d]" % part
        else:
            out += ("." if out else "") + str(part)
    return out


def _best_error(validator: t.Any, instance: t.Any) -> t.Optional["jsonschema.ValidationError"]:
    return jsonschema.exceptions.best_match(validator.iter_errors(instance))


def _nova_message(error: "jsonschema.ValidationError") -> str:
    """Nova's _SchemaValidator wording: the last path element names the field."""
    path = list(error.absolute_path)
    if error.validator == "format" and error.validator_value == "name":
        return INVALID_NAME
    if error.validator == "format" and error.validator_value == "hostname" and path:
        return "Invalid input for field/attribute %s. Value: %r. %s" % (path[-1], error.instance,
                                                                        invalid_hostname_message(error.instance))
    if not path:
        return error.message
    if any(part in SECRET_FIELDS for part in path):  # never echo a secret back into logs
        return "Invalid input for field/attribute %s. Value: ********. %s" % (
            path[-1], error.message.replace(repr(error.instance), "********"))
    return "Invalid input for field/attribute %s. Value: %s. %s" % (path[-1], error.instance, error.message)


def _field_path(error: "jsonschema.ValidationError") -> list[t.Any]:
    """The JSON path of the offending value (for a missing or unexpected key: the key's own path)."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        patterns = [re.compile(p) for p in error.schema.get("patternProperties") or {}]
        extra = sorted(str(k) for k in error.instance if k not in (error.schema.get("properties") or {})
                       and not any(p.search(str(k)) for p in patterns))
        if extra:
            return path + [extra[0]]
    if error.validator == "required" and isinstance(error.validator_value, list):
        missing = [k for k in error.validator_value if isinstance(error.instance, dict) and k not in error.instance]
        if missing:
            return path + [missing[0]]
    return path


def validate_request(request: t.Mapping[str, t.Any], schema_file: str = "server.json") -> None:
    """Raise InvalidRequest (Nova's ValidationError) at the first schema failure."""
    error = _best_error(_validator(schema_file), request)
    if error is not None:
        raise StratusError("InvalidRequest", _nova_message(error), json_path(_field_path(error)) or None)


def _origin(value: t.Any) -> t.Optional[str]:
    """file:line of a value loaded from YAML, when this ansible-core tags origins (2.19+)."""
    try:
        from ansible._internal._datatag._tags import Origin  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    tag = Origin.get_tag(value)
    if tag is None or not tag.path:
        return None
    return "%s:%s" % (tag.path, tag.line_num) if tag.line_num else str(tag.path)


def _value_at(document: t.Any, path: list[t.Any]) -> list[t.Any]:
    """The chain of values from the document root down to path (as far as it exists)."""
    chain = [document]
    for part in path:
        try:
            document = document[part]
        except (KeyError, IndexError, TypeError):
            break
        chain.append(document)
    return chain


def _secret_values(document: t.Any, secrets: frozenset[str]) -> list[t.Any]:
    """The values of the secret properties anywhere in a document (non-empty ones)."""
    found: list[t.Any] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key in secrets and value not in (None, ""):
                found.append(value)
            else:
                found.extend(_secret_values(value, secrets))
    elif isinstance(document, list):
        for value in document:
            found.extend(_secret_values(value, secrets))
    return found


def validate_catalog(name: str, value: t.Any, raw: t.Any = None, schema_file: t.Optional[str] = None) -> None:
    """Check one catalog variable; the error names the file, the path and what is wrong.

    ``raw`` is the untemplated variable, which still carries where it was loaded from.
    """
    schema_file = schema_file or CATALOG_SCHEMAS[name]
    error = _best_error(_validator(schema_file), value)
    if error is None:
        return
    path = list(error.absolute_path)
    field = json_path(_field_path(error), name)
    where = None
    for candidate in reversed(_value_at(raw if raw is not None else value, path)):
        where = _origin(candidate)
        if where:
            break
    why = error.message
    secrets = secret_names(schema_file)
    if any(part in secrets for part in path):
        # a secret (a BMC password) is never echoed: jsonschema's message quotes the value
        why = "the value (not shown) fails the rule %r of the schema" % error.validator
    for secret in _secret_values(value, secrets):  # nor quoted inside a message about its parent
        why = why.replace(repr(secret), "********")
    message = "%s%s: %s" % ("%s: " % where if where else "", field, why)
    if error.validator == "format" and error.validator_value == "name":
        message = "%s%s: %s" % ("%s: " % where if where else "", field, INVALID_NAME)
    raise StratusError("InvalidCatalog", message, field)
