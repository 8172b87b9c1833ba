# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server groups in the state store (``server_groups``, migration 0009): rows only, per project. Their members
are the live instances whose ``server_group_id`` is the group's uuid (host_usage.group_members). What a group
may be and who may see it is compute_api/server_groups.py's to say before anything here writes."""
from __future__ import annotations

import datetime as dt
import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import server_groups


def _row(row: t.Any) -> dict[str, t.Any]:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.timezone.utc)
    rules = dict(row.rules or {})
    if "max_server_per_host" in rules:
        rules["max_server_per_host"] = int(rules["max_server_per_host"])
    return {"id": row.uuid, "name": row.name, "policy": row.policy, "rules": rules, "project_id": row.project_id,
            "user_id": row.user_id, "created_at": created}


def get(conn: Connection, group_id: str) -> t.Optional[dict[str, t.Any]]:
    row = conn.execute(sa.select(server_groups).where(server_groups.c.uuid == group_id)).first()
    return _row(row) if row is not None else None


def listed(conn: Connection, project_id: t.Optional[str]) -> list[dict[str, t.Any]]:
    """A project's groups, or every project's (None)."""
    query = sa.select(server_groups).order_by(server_groups.c.created_at, server_groups.c.uuid)
    if project_id is not None:
        query = query.where(server_groups.c.project_id == project_id)
    return [_row(r) for r in conn.execute(query)]


def count(conn: Connection, project_id: str) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(server_groups)
                            .where(server_groups.c.project_id == project_id)).scalar() or 0)


def add(conn: Connection, group_id: str, name: str, project_id: str, user_id: str, policy: str,
        rules: t.Mapping[str, t.Any], created_at: dt.datetime) -> dict[str, t.Any]:
    conn.execute(server_groups.insert().values(uuid=group_id, name=name, project_id=project_id, user_id=user_id,
                                               policy=policy, rules=dict(rules), created_at=created_at))
    return {"id": group_id, "name": name, "policy": policy, "rules": dict(rules), "project_id": project_id,
            "user_id": user_id, "created_at": created_at}


def remove(conn: Connection, group_id: str) -> bool:
    return bool(conn.execute(server_groups.delete().where(server_groups.c.uuid == group_id)).rowcount)
