# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova's migration records (``migrations``, migration 0007): one per resize, cold migration or live
migration of a server, with Nova's statuses. While a record's status holds, its source host keeps the
server's old resources (the claim it had there), so a revert or a failed live migration always fits
back; the server's own claim is on the destination.

Nova's statuses, by type:
- resize and migration: pre-migrating (recorded) -> migrating (the source copies) -> post-migrating
  (copied) -> finished (VERIFY_RESIZE) -> confirming -> confirmed, or reverting -> reverted; error;
- live-migration: queued (recorded) -> preparing (the destination is readied) -> running (libvirt
  migrates) -> completed, or failed.
"""
from __future__ import annotations

import typing as t
import uuid as uuidlib

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import claims, migrations

TYPES = ("resize", "migration", "live-migration")
# the statuses in which the source host still keeps the server's old resources
HOLDING = ("pre-migrating", "migrating", "post-migrating", "finished", "confirming", "reverting",
           "queued", "preparing", "running")
# a resize or cold migration waiting for confirm or revert (the server is VERIFY_RESIZE)
FINISHED = "finished"


def start(conn: Connection, row: t.Any, migration_type: str, dest: str, new_flavor: t.Mapping[str, t.Any],
          status: str, request_id: str, now: t.Any) -> t.Any:
    """A new record for `row` (a live instance) moving from its host to `dest`: the old claim's resources
    are held on the source while the status holds. Returns the record."""
    if migration_type not in TYPES:
        raise ValueError("unknown migration type %r" % migration_type)
    claim = conn.execute(sa.select(claims).where(claims.c.instance_uuid == row.uuid)).first()
    values = dict(uuid=str(uuidlib.uuid4()), instance_uuid=row.uuid, migration_type=migration_type,
                  source_compute=row.host, dest_compute=dest, status=status, old_flavor=dict(row.flavor or {}),
                  new_flavor=dict(new_flavor), old_plan=dict(row.plan or {}), old_vm_state=row.vm_state,
                  vcpus=claim.vcpus if claim else 0, memory_mb=claim.memory_mb if claim else 0,
                  disk_gb=claim.disk_gb if claim else 0, request_id=request_id, project_id=row.project_id,
                  user_id=row.user_id, created_at=now, updated_at=now)
    conn.execute(migrations.insert().values(**values))
    return latest(conn, row.uuid)


def latest(conn: Connection, instance_uuid: str) -> t.Optional[t.Any]:
    """The server's newest migration record, or None."""
    return conn.execute(sa.select(migrations).where(migrations.c.instance_uuid == instance_uuid)
                        .order_by(migrations.c.id.desc()).limit(1)).first()


def in_progress(conn: Connection, instance_uuid: str) -> t.Optional[t.Any]:
    """The server's record whose status still holds (at most one: a server moves one way at a time)."""
    return conn.execute(sa.select(migrations).where(migrations.c.instance_uuid == instance_uuid,
                                                    migrations.c.status.in_(HOLDING))
                        .order_by(migrations.c.id.desc()).limit(1)).first()


def set_status(conn: Connection, migration_id: int, status: str, now: t.Any) -> None:
    conn.execute(migrations.update().where(migrations.c.id == migration_id).values(status=status, updated_at=now))


def held_by_host(conn: Connection) -> list[t.Any]:
    """(host, vcpus, memory_mb, disk_gb) of every record whose source still holds the old resources."""
    return list(conn.execute(sa.select(migrations.c.source_compute.label("host"), migrations.c.vcpus,
                                       migrations.c.memory_mb, migrations.c.disk_gb)
                             .where(migrations.c.status.in_(HOLDING))))


def records(conn: Connection, instance_uuid: t.Optional[str] = None, host: t.Optional[str] = None) -> list[t.Any]:
    """Records, newest first: of one server, or with `host` as source or destination (Nova's os-migrations)."""
    query = sa.select(migrations)
    if instance_uuid is not None:
        query = query.where(migrations.c.instance_uuid == instance_uuid)
    if host is not None:
        query = query.where(sa.or_(migrations.c.source_compute == host, migrations.c.dest_compute == host))
    return list(conn.execute(query.order_by(migrations.c.id.desc())))
