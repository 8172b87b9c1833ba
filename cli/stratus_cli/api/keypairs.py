"""Nova's os-keypairs at `stratus api`: list, show, create (import a public key, or generate a key pair whose
private key is answered once and never stored or logged), delete; a user's own, or another user's for an
admin (2.10's user_id). The key pairs are the catalog's (stratus_keypairs) and the store's; the rules are
the collection's (compute_api/keypairs.py), as for every front end. Bodies as Nova's api-ref has them:
2.2 adds type (and 201/204 for create/delete), 2.10 user_id.
"""
from __future__ import annotations

import contextlib
import typing as t

from starlette.routing import Route

from stratus_cli.api.collection import ensure_importable
from stratus_cli.api.edge import Answer, Call, endpoint, get
from stratus_cli.api.errors import ApiError, shown

ensure_importable()
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError  # noqa: E402
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import keypairs  # noqa: E402

__all__ = ["ROUTES", "not_found_as_404", "request_object"]

CREATED_AT_UNKNOWN = "2026-01-01T00:00:00.000000"  # the catalog's key pairs have no creation time


# --- request bodies (Nova's schemas: unknown fields are a 400) ------------------------------------------

def request_object(value: t.Any, field: str, allowed: t.Sequence[str], required: t.Sequence[str]) -> dict[str, t.Any]:
    if not isinstance(value, dict):
        raise ApiError(400, "Invalid input for field/attribute %s. Value: must be an object." % field)
    extra = sorted(k for k in value if k not in allowed)
    if extra:
        raise ApiError(400, "Invalid input for field/attribute %s. Additional properties are not allowed (%s "
                       "was unexpected)" % (field, ", ".join("'%s'" % shown(str(k)) for k in extra)))
    for key in required:
        if key not in value:
            raise ApiError(400, "Invalid input for field/attribute %s. '%s' is a required property" % (field, key))
    return value


def _create_fields(call: Call) -> dict[str, t.Any]:
    allowed = ["name", "public_key"]
    if call.version >= (2, 2):
        allowed.append("type")
    if call.version >= (2, 10):
        allowed.append("user_id")
    body = request_object(call.body, "body", ["keypair"], ["keypair"])
    fields = request_object(body["keypair"], "keypair", allowed, ["name"])
    if "public_key" in fields and not isinstance(fields["public_key"], str):
        raise ApiError(400, "Invalid input for field/attribute public_key. Value: must be a string.")
    if "user_id" in fields and not isinstance(fields["user_id"], str):
        raise ApiError(400, "Invalid input for field/attribute user_id. Value: must be a string.")
    return fields


def _user_id(call: Call) -> t.Optional[str]:
    """2.10's ?user_id= (an admin's, by policy); before 2.10 Nova ignores it."""
    return call.query.get("user_id") if call.version >= (2, 10) else None


# --- views ----------------------------------------------------------------------------------------------

def _brief(pair: t.Mapping[str, t.Any], version: tuple[int, int]) -> dict[str, t.Any]:
    out = {"name": pair["name"], "public_key": pair["public_key"], "fingerprint": pair["fingerprint"]}
    if version >= (2, 2):
        out["type"] = pair["type"]
    return out


def _detail(pair: t.Mapping[str, t.Any], version: tuple[int, int]) -> dict[str, t.Any]:
    created = pair.get("created_at")
    return dict(_brief(pair, version), user_id=pair["user_id"], id=int(pair.get("id") or 0), deleted=False,
                deleted_at=None, updated_at=None,
                created_at=created.strftime("%Y-%m-%dT%H:%M:%S.%f") if created else CREATED_AT_UNKNOWN)


@contextlib.contextmanager
def not_found_as_404(code: str) -> t.Iterator[None]:
    """A lookup's not-found (KeypairNotFound, InstanceGroupNotFound: Nova's 400 at server create) as its 404
    at the resource's own routes."""
    try:
        yield
    except StratusError as exc:
        if exc.code == code:
            raise ApiError(404, exc.message)
        raise


# --- routes ---------------------------------------------------------------------------------------------

def keypair_list(call: Call) -> Answer:
    pairs = keypairs.listed(call.conn, call.cloud.catalog, call.caller, _user_id(call))
    return {"keypairs": [{"keypair": _brief(p, call.version)} for p in pairs]}


def keypair_show(call: Call) -> Answer:
    with not_found_as_404("KeypairNotFound"):
        pair = keypairs.show(call.conn, call.cloud.catalog, call.caller, call.request.path_params["name"],
                             _user_id(call))
    return {"keypair": _detail(pair, call.version)}


def keypair_create(call: Call) -> Answer:
    fields = _create_fields(call)
    pair, private_key = keypairs.create(call.conn, call.cloud.catalog, call.cloud.quotas, call.caller,
                                        fields["name"], fields.get("public_key"), fields.get("type", "ssh"),
                                        fields.get("user_id"))
    body = dict(_brief(pair, call.version), user_id=pair["user_id"])
    if private_key is not None:
        body["private_key"] = private_key
    return (201 if call.version >= (2, 2) else 200), {"keypair": body}, {}


def keypair_delete(call: Call) -> Answer:
    with not_found_as_404("KeypairNotFound"):
        keypairs.delete(call.conn, call.cloud.catalog, call.caller, call.request.path_params["name"], _user_id(call))
    return (204 if call.version >= (2, 2) else 202), None, {}


ROUTES: list[Route] = [
    get("/v2.1/os-keypairs", keypair_list, versioned=True),
    Route("/v2.1/os-keypairs", endpoint(keypair_create, versioned=True, takes_body=True), methods=["POST"]),
    get("/v2.1/os-keypairs/{name}", keypair_show, versioned=True),
    Route("/v2.1/os-keypairs/{name}", endpoint(keypair_delete, versioned=True), methods=["DELETE"]),
]
