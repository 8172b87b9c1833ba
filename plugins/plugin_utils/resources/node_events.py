# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bare-metal node's event log (``baremetal_node_events``): every move and claim, who asked, how it ended.

The one writer of the log: the node lifecycle (conductor/nodes.py) and the whole-node claims
(node_claims.py) both record through it.
"""
from __future__ import annotations

import dataclasses
import datetime
import typing as t

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import baremetal_node_events


class _Asker(t.Protocol):
    """What a caller (compute_api.caller.Caller) says of itself that the log keeps."""

    user_id: str
    project_id: str


@dataclasses.dataclass(frozen=True)
class Who:
    """Who asked, for the event log."""

    user_id: str
    project_id: str
    request_id: str

    @classmethod
    def of(cls, caller: _Asker, request_id: str) -> "Who":
        return cls(caller.user_id, caller.project_id, request_id)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def record_event(conn: Connection, node: str, event: str, from_state: t.Optional[str], to_state: t.Optional[str],
                 result: str, message: t.Optional[str], who: Who, instance_uuid: t.Optional[str] = None) -> None:
    conn.execute(baremetal_node_events.insert().values(
        node=node, event=event, from_state=from_state, to_state=to_state, result=result, message=message,
        instance_uuid=instance_uuid, request_id=who.request_id, user_id=who.user_id, project_id=who.project_id,
        time=now()))
