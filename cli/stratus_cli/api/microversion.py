"""Nova's microversions: what a request asks (OpenStack-API-Version: compute X, or X-OpenStack-Nova-API-Version),
checked against the range this API serves.

The range: 2.1 to 2.61. Every route served answers as Nova does at each version in it: the flavor
bodies (2.55 description, 2.61 extra_specs), the limits (2.36 drops the network limits, 2.57 the personality
ones), the servers (server_views.py, servers.py: 2.3, 2.9, 2.16, 2.19, 2.26, 2.47 bodies; 2.19, 2.37, 2.52,
2.57 create fields; 2.56 migrate's host). Past 2.61 each version changes something served (2.63 trusted image
certificates, 2.64 server groups' policy, 2.75 the flavors' swap and more) and is claimed with it.
"""
from __future__ import annotations

import re
import typing as t

from stratus_cli.api.errors import ApiError

MIN_VERSION = (2, 1)
MAX_VERSION = (2, 61)
_VERSION = re.compile(r"([1-9][0-9]*)\.(0|[1-9][0-9]*)")
HEADER, LEGACY_HEADER = "OpenStack-API-Version", "X-OpenStack-Nova-API-Version"


def text(version: tuple[int, int]) -> str:
    return "%d.%d" % version


def _asked(headers: t.Mapping[str, str]) -> t.Optional[str]:
    value = headers.get(HEADER.lower())
    if value is not None:
        for item in value.split(","):
            service, _sep, version = item.strip().partition(" ")
            if service.lower() == "compute":
                return version.strip()
        # the header names other services only: Nova falls back to the legacy one, else the minimum
    return headers.get(LEGACY_HEADER.lower())


def negotiate(headers: t.Mapping[str, str]) -> tuple[int, int]:
    """The version of this request: the one asked (latest: the maximum), else 2.1; 400 when it does not parse,
    406 when it is outside the range (Nova's answers)."""
    asked = _asked(headers)
    if asked is None or asked == "":
        return MIN_VERSION
    if asked.lower() == "latest":
        return MAX_VERSION
    match = _VERSION.fullmatch(asked.strip())
    if match is None:
        raise ApiError(400, "API Version String %s is of invalid format. Must be of format MajorNum.MinorNum."
                       % (asked if re.fullmatch(r"[A-Za-z0-9._ -]{1,32}", asked) else "<invalid>"))
    version = (int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise ApiError(406, "Version %s is not supported by the API. Minimum is %s and maximum is %s."
                       % (text(version), text(MIN_VERSION), text(MAX_VERSION)))
    return version


def response_headers(version: tuple[int, int]) -> dict[str, str]:
    return {HEADER: "compute " + text(version), LEGACY_HEADER: text(version),
            "Vary": HEADER + ", " + LEGACY_HEADER}
