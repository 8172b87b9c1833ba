# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key pairs in the state store (``key_pairs``, migration 0009): rows only, per user. What a key pair may be
(its name, its public key, a clash with the catalog's, quota, policy) is compute_api/keypairs.py's to say
before anything here writes."""
from __future__ import annotations

import datetime as dt
import typing as t

try:
    import sqlalchemy as sa
except ImportError:  # the store says so when it is opened (store.engine)
    sa = None

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.store.tables import key_pairs


def _row(row: t.Any) -> dict[str, t.Any]:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.timezone.utc)
    return {"id": int(row.id), "name": row.name, "user_id": row.user_id, "type": row.type,
            "public_key": row.public_key, "fingerprint": row.fingerprint, "created_at": created}


def get(conn: Connection, user_id: str, name: str) -> t.Optional[dict[str, t.Any]]:
    row = conn.execute(sa.select(key_pairs).where(key_pairs.c.user_id == user_id, key_pairs.c.name == name)).first()
    return _row(row) if row is not None else None


def of_user(conn: Connection, user_id: str) -> list[dict[str, t.Any]]:
    query = sa.select(key_pairs).where(key_pairs.c.user_id == user_id).order_by(key_pairs.c.name)
    return [_row(r) for r in conn.execute(query)]


def count(conn: Connection, user_id: str) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(key_pairs)
                            .where(key_pairs.c.user_id == user_id)).scalar() or 0)


def add(conn: Connection, user_id: str, name: str, kind: str, public_key: str, fingerprint: str,
        created_at: dt.datetime) -> dict[str, t.Any]:
    try:
        made = conn.execute(key_pairs.insert().values(user_id=user_id, name=name, type=kind, public_key=public_key,
                                                      fingerprint=fingerprint, created_at=created_at))
    except sa.exc.IntegrityError:
        # another request took the name since it was looked up; the caller's transaction is rolled back
        raise StratusError("KeyPairExists", "Key pair '%s' already exists." % name, "name")
    return {"id": int(made.inserted_primary_key[0]), "name": name, "user_id": user_id, "type": kind,
            "public_key": public_key, "fingerprint": fingerprint, "created_at": created_at}


def remove(conn: Connection, user_id: str, name: str) -> bool:
    gone = conn.execute(key_pairs.delete().where(key_pairs.c.user_id == user_id, key_pairs.c.name == name))
    return bool(gone.rowcount)
