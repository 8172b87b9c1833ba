# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a server's hostname may be: one rule for the request's edge and the hypervisor's DHCP entries.

A hostname is what dnsmasq puts in its DHCP answer and the guest takes as its name, so it
follows RFC 1123 (RFC 952 with a leading digit allowed): one or more labels separated by
single dots; a label is 1 to 63 ASCII letters, digits and hyphens and neither starts nor ends
with a hyphen; the whole name is at most 253 characters (a DNS name). Nothing else: no
underscore (dnsmasq and RFC 1123 resolvers refuse it), no empty label (a leading, trailing or
doubled dot), no space, no newline. Case is kept as given. The first label is the guest's
short name, within Linux's 64 bytes.

The schema's ``hostname`` format (plugins/plugin_utils/compute_api/schema.py) checks a request's
``hostname`` with it, and the network step (compute/network.py) every DHCP entry before it
is written; a name Stratus derives from a server's name (``hostname_from_name``, Nova's
sanitize_hostname) meets it.
This module is shipped to the hypervisors: it needs nothing but the standard library.
"""
from __future__ import annotations

import re
import typing as t

MAX_LENGTH = 253
MAX_LABEL_LENGTH = 63
RULE = ("a hostname is labels of 1 to %d ASCII letters, digits and hyphens, separated by dots, none starting or "
        "ending with a hyphen, at most %d characters in all" % (MAX_LABEL_LENGTH, MAX_LENGTH))
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9.-]")


def hostname_problem(value: t.Any) -> t.Optional[str]:
    """None when ``value`` is a valid hostname, else what is wrong with it, in words."""
    if not isinstance(value, str):
        return "a hostname is a string, not %s" % type(value).__name__
    if not value:
        return "it is empty"
    bad = _NOT_ALLOWED.search(value)
    if bad:
        return "%r is not allowed in it" % bad.group(0)
    if len(value) > MAX_LENGTH:
        return "it is %d characters long, more than %d" % (len(value), MAX_LENGTH)
    for label in value.split("."):
        if not label:
            return "it has an empty label (a dot at its start or end, or two dots in a row)"
        if len(label) > MAX_LABEL_LENGTH:
            return "its label %s... is %d characters long, more than %d" % (
                label[:16], len(label), MAX_LABEL_LENGTH)
        if not _LABEL.fullmatch(label):
            return "its label %s %s with a hyphen" % (label, "starts" if label.startswith("-") else "ends")
    return None


def is_hostname(value: t.Any) -> bool:
    return hostname_problem(value) is None


def invalid_hostname_message(value: t.Any) -> str:
    """What is wrong with an invalid hostname, and the rule."""
    return "Not a valid hostname: %s (%s)." % (hostname_problem(value), RULE)


def hostname_from_name(name: str) -> str:
    """Nova's sanitize_hostname: lower case, [ _.] to '-', only [a-z0-9-], at most 63 (may be empty)."""
    host = re.sub(r"[ _.]", "-", name.lower())
    host = re.sub(r"[^\w-]+", "", host, flags=re.ASCII)
    return host[:63].strip("-.")
