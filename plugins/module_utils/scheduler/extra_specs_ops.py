# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operators of flavor extra specs, as Nova's extra_specs_ops matches them.

A requirement is ``"<op> <operand> ..."``; an unknown first word means the whole
requirement must equal the value. Numeric operators compare floats (``=`` means
"at least"), ``s``-prefixed ones compare strings, ``<in>`` is a substring test,
``<all-in>`` needs every operand in the value, ``<or>`` any of the alternatives.
"""
from __future__ import annotations

import operator
import typing as t


def _num(check: t.Callable[[float, float], bool]) -> t.Callable[[str, str], bool]:
    def compare(value: str, operand: str) -> bool:
        try:
            return check(float(value), float(operand))
        except (TypeError, ValueError):
            return False
    return compare


OPERATORS: dict[str, t.Callable[[t.Any, t.Any], bool]] = {
    "=": _num(operator.ge),
    "==": _num(operator.eq),
    "!=": _num(operator.ne),
    ">=": _num(operator.ge),
    "<=": _num(operator.le),
    "s==": operator.eq,
    "s!=": operator.ne,
    "s<": operator.lt,
    "s<=": operator.le,
    "s>": operator.gt,
    "s>=": operator.ge,
    "<in>": lambda value, operand: operand in value,
    "<all-in>": lambda value, operands: all(o in value for o in operands),
}


def match(value: t.Optional[str], requirement: str) -> bool:
    """Does the host's ``value`` satisfy the flavor's ``requirement``?"""
    words = str(requirement).split()
    op = words.pop(0) if words else None
    if op != "<or>" and op not in OPERATORS:
        return value == requirement
    if value is None:
        return False
    if op == "<or>":
        # "<or> a <or> b": the alternatives are every other word
        return value in words[0::2]
    if not words:
        return False
    if op == "<all-in>":
        return OPERATORS[op](value, words)
    return OPERATORS[op](value, words[0])
