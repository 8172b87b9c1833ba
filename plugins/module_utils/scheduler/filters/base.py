# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every host filter is: a name, a run flag and a yes/no per host."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.scheduler import compiled
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.compiled import Expression
from ansible_collections.stratus.compute.plugins.module_utils.scheduler.host_state import (
    UNPARSABLE, HostState, RequestSpec,
)

# A filter prepared for one request: the per-host check, or None when it passes every host.
Check = t.Optional[t.Callable[[HostState], bool]]


class BaseHostFilter:
    """A filter passes or rejects one host for one request (Nova's BaseHostFilter).

    Subclasses implement ``prepare(spec)``: everything that depends on the request only
    is worked out once there, and what comes back is the per-host check (or None when
    the request makes the filter a no-op). ``host_passes`` is Nova's one-host interface
    on top of it; the scheduler calls ``prepare`` once per instance and the check per host.
    """

    name = "BaseHostFilter"
    # Nova evaluates these only for the first instance of a multi-create: what they look
    # at (flavor, image, hints, aggregates) does not change within a request.
    run_filter_once_per_request = False
    # Cheap checks run first when order does not matter (fast path); explain keeps config order.
    cost = 1

    def __init__(self, config: t.Any = None) -> None:
        self.config = config

    def option(self, name: str, default: t.Any) -> t.Any:
        value = getattr(self.config, name, None) if self.config is not None else None
        return default if value is None else value

    def prepare(self, spec: RequestSpec) -> Check:
        raise NotImplementedError

    def reason(self, host: HostState, spec: RequestSpec) -> t.Optional[str]:
        """Why this filter rejects ``host`` for the request, in words, where the filter's name is not
        enough (explain shows it as ``reason``); None otherwise."""
        return None

    def expression(self, spec: RequestSpec) -> t.Optional[Expression]:
        """The prepared check as an expression the scheduler can fuse with others (here: a call)."""
        check = self.prepare(spec)
        return None if check is None else compiled.call(check)

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        check = self.prepare(spec)
        return True if check is None else bool(check(host))

    def filter_all(self, hosts: t.Iterable[HostState], spec: RequestSpec) -> list[HostState]:
        check = self.prepare(spec)
        return list(hosts) if check is None else [h for h in hosts if check(h)]


class InlineHostFilter(BaseHostFilter):
    """A filter whose check is one expression over the host ``h`` (see compiled.py).

    Subclasses implement ``expression(spec)``: a template and its constants, or None when the
    request makes the filter a no-op. The one-filter check is that expression compiled.
    """

    def expression(self, spec: RequestSpec) -> t.Optional[Expression]:
        raise NotImplementedError

    def prepare(self, spec: RequestSpec) -> Check:
        expr = self.expression(spec)
        return None if expr is None else compiled.fuse([expr])


def min_aggregate_value(host: HostState, key: str, default: t.Any, cast: t.Callable[[str], t.Any]) -> t.Any:
    """Nova's validate_num_values over the host's aggregates: the smallest, else the default.

    A value that does not parse means the default (Nova logs and falls back).
    """
    value = host.aggregate_min(key, cast)
    return default if value is None or value is UNPARSABLE else value
