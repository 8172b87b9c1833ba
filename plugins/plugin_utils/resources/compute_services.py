# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hypervisors the operator disabled or forced down (Nova's os-services), the one reader and writer of
compute_services."""
from __future__ import annotations

import datetime
import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import compute_services


def disabled_hosts(conn: Connection) -> dict[str, t.Optional[str]]:
    """Each disabled host, with its reason."""
    return {row.host: row.disabled_reason for row in conn.execute(
        sa.select(compute_services).where(compute_services.c.disabled.is_(True)))}


def forced_down_hosts(conn: Connection) -> set[str]:
    """The hosts the operator says are down."""
    return {row.host for row in conn.execute(
        sa.select(compute_services.c.host).where(compute_services.c.forced_down.is_(True)))}


def set_forced_down(conn: Connection, host: str, down: bool, user_id: str) -> None:
    """Force a host down (or up again); its disabled status and reason stay as they are."""
    values = {"forced_down": down, "updated_at": datetime.datetime.now(datetime.timezone.utc), "updated_by": user_id}
    if service_row(conn, host) is None:
        conn.execute(compute_services.insert().values(host=host, disabled=False, **values))
    else:
        conn.execute(compute_services.update().where(compute_services.c.host == host).values(**values))


def service_row(conn: Connection, host: str) -> t.Optional[t.Any]:
    return conn.execute(sa.select(compute_services).where(compute_services.c.host == host)).first()


def set_service(conn: Connection, host: str, disabled: bool, reason: t.Optional[str], user_id: str) -> None:
    """Disable (with the reason) or enable a host; the row stays, with who changed it last."""
    values = {"disabled": disabled, "disabled_reason": reason if disabled else None,
              "updated_at": datetime.datetime.now(datetime.timezone.utc), "updated_by": user_id}
    if service_row(conn, host) is None:
        conn.execute(compute_services.insert().values(host=host, **values))
    else:
        conn.execute(compute_services.update().where(compute_services.c.host == host).values(**values))
