"""Who asks, for every route but the token's own: the X-Auth-Token's user, project and roles, as the Caller
that policy decides with (compute_api/caller.py). Never from the request's body or its other headers."""
from __future__ import annotations

import typing as t

from stratus_cli.api import identity
from stratus_cli.api.cloud import Cloud
from stratus_cli.api.errors import unauthorized

if t.TYPE_CHECKING:
    from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller


def token_of(conn: t.Any, secret: t.Optional[str], base: str) -> identity.Token:
    """The valid token, or 401 (forged, expired, revoked, its user's role gone: all alike to the client)."""
    try:
        return identity.validate_token(conn, secret)
    except identity.IdentityError:
        raise unauthorized(base)


def caller_of(cloud: Cloud, token: identity.Token) -> Caller:
    return cloud.caller(token.user["id"], token.project["id"], token.roles)
