# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several filter checks fused into one function, for the scheduler's fast path.

A filter that can state its check as one Python expression over the host ``h`` gives a
template (``"h.num_instances < {limit}"``) and its constants (``{"limit": 50}``). The
templates of a request's filters are joined with ``and`` into one ``lambda h: ...`` whose
constants are arguments of a factory function; the factory is compiled once per distinct
combination of templates and cached, so a placement only calls it with the request's values.
The source is only ever the filters' own templates: request values are bound as arguments,
never pasted into code. A check that is not an expression is bound as a constant and called.
"""
from __future__ import annotations

import typing as t

# (template, constants): the template names its constants as {name}
Expression = tuple[str, dict[str, t.Any]]
Check = t.Callable[[t.Any], bool]

_SAFE_BUILTINS = {"all": all, "any": any, "len": len, "min": min, "max": max, "float": float, "int": int}
_FACTORIES: dict[tuple[tuple[str, ...], str], t.Callable[..., Check]] = {}


def call(check: Check) -> Expression:
    """An arbitrary check as an expression: a call."""
    return "{check}(h)", {"check": check}


def fuse(expressions: t.Sequence[Expression]) -> t.Optional[Check]:
    """One check that passes when every expression holds (evaluated in order); None for no expressions."""
    if not expressions:
        return None
    if len(expressions) == 1 and expressions[0][0] == "{check}(h)":
        return t.cast(Check, expressions[0][1]["check"])
    names: list[str] = []
    values: list[t.Any] = []
    parts: list[str] = []
    for i, (template, constants) in enumerate(expressions):
        mapping = {key: "c%d_%s" % (i, key) for key in constants}
        parts.append("(%s)" % template.format(**mapping))
        for key, value in constants.items():
            names.append(mapping[key])
            values.append(value)
    body = " and ".join(parts)
    key = (tuple(names), body)
    factory = _FACTORIES.get(key)
    if factory is None:
        source = "def factory(%s):\n    return lambda h: %s\n" % (", ".join(names), body)
        namespace: dict[str, t.Any] = {}
        exec(compile(source, "<stratus scheduler filters>", "exec"), {"__builtins__": _SAFE_BUILTINS}, namespace)
        factory = namespace["factory"]
        _FACTORIES[key] = factory
    return factory(*values)
