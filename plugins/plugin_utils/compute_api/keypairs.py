# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova's os-keypairs for every front end: a user's key pairs from two sources, the inventory's catalog
(``stratus_keypairs``, the operator's) and the state store (made through `stratus api`).

The catalog wins: a name resolves to the catalog's key pair when the catalog has one for that user, and a
store key pair whose name the catalog already gives that user is refused at create (409), so the two never
disagree unless the operator later adds the same name to the inventory; then the inventory's is used.

A public key is checked before it is written (and so before it can reach a config drive): OpenSSH's one-line
form full-matched (type, base64, optional comment), its blob decoded and parsed by ``cryptography`` and its
type inside the blob the same as outside; an x509 key is one PEM certificate ``cryptography`` loads. The
fingerprint is Nova's: the MD5 of the ssh blob, or the SHA-1 of the certificate's DER, in colon hex.
A generated key pair's private key is returned once to its caller and never stored or logged.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import struct
import typing as t

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api import quota
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.caller import Caller
from ansible_collections.stratus.compute.plugins.plugin_utils.compute_api.catalog import Catalog
from ansible_collections.stratus.compute.plugins.plugin_utils.resources import key_pairs as rows
from ansible_collections.stratus.compute.plugins.plugin_utils.store import engine as store

POLICY = "os_compute_api:os-keypairs:%s"
TYPES = ("ssh", "x509")
SSH_KEY_TYPES = ("ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
MAX_PUBLIC_KEY = 16384
# Nova's keypair_name_20 format (up to 2.91): letters, digits, space, _ and -, no space at either end.
_NAME = re.compile(r"[A-Za-z0-9_-](?:[A-Za-z0-9 _-]{0,253}[A-Za-z0-9_-])?")
_SSH_KEY = re.compile(r"(?P<type>%s) (?P<blob>[A-Za-z0-9+/]+={0,2})(?: (?P<comment>[\x21-\x7e][\x20-\x7e]{0,254}))?"
                      % "|".join(re.escape(k) for k in SSH_KEY_TYPES))
_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\n(?:[A-Za-z0-9+/=]{1,76}\n){1,400}-----END CERTIFICATE-----")
# a user id as the caller's rule has it (compute_api/caller.py)
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,254}")
GENERATED_COMMENT = "Generated-by-Stratus"


class Generated(t.NamedTuple):
    public_key: str
    private_key: str
    fingerprint: str


def _invalid(message: str, field: str) -> StratusError:
    return StratusError("InvalidKeypair", "Keypair data is invalid: %s" % message, field)


def checked_name(name: t.Any, field: str = "name") -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise StratusError("InvalidInput", "Invalid input for field/attribute %s. The key pair name must be 1 to 255 "
                           "letters, digits, spaces, _ or - with no space at either end." % field, field)
    return name


def checked_type(kind: t.Any, field: str = "type") -> str:
    if kind not in TYPES:
        raise StratusError("InvalidInput", "Invalid input for field/attribute %s. It must be one of %s."
                           % (field, ", ".join(TYPES)), field)
    return str(kind)


def _colon_hex(digest: bytes) -> str:
    return ":".join("%02x" % b for b in digest)


def _ssh_key(text: str, field: str) -> tuple[str, str]:
    match = _SSH_KEY.fullmatch(text)
    if match is None:
        raise _invalid("a public key is one line: its type (%s), its base64 blob and an optional printable "
                       "comment" % ", ".join(SSH_KEY_TYPES), field)
    try:
        blob = base64.b64decode(match.group("blob"), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("the key's blob is not base64", field)
    # the blob begins with its own type, length-prefixed (RFC 4253 6.6)
    inner = None
    if len(blob) >= 4:
        (size,) = struct.unpack(">I", blob[:4])
        inner = blob[4:4 + size].decode("ascii", "replace") if size <= 64 else None
    if inner != match.group("type"):
        raise _invalid("the key's blob is not of its type %s" % match.group("type"), field)
    try:
        from cryptography.hazmat.primitives import serialization

        serialization.load_ssh_public_key(("%s %s" % (match.group("type"), match.group("blob"))).encode("ascii"))
    except ImportError:
        raise StratusError("InternalError", "checking a public key needs the Python package cryptography", field)
    except (ValueError, TypeError, struct.error):
        raise _invalid("the key's blob does not parse as a %s key" % match.group("type"), field)
    return text, _colon_hex(hashlib.md5(blob, usedforsecurity=False).digest())


def _x509_key(text: str, field: str) -> tuple[str, str]:
    if _PEM_CERT.fullmatch(text) is None:
        raise _invalid("an x509 key is one PEM certificate (-----BEGIN CERTIFICATE----- ...)", field)
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        cert = x509.load_pem_x509_certificate(text.encode("ascii"))
        der = cert.public_bytes(serialization.Encoding.DER)
    except ImportError:
        raise StratusError("InternalError", "checking a certificate needs the Python package cryptography", field)
    except (ValueError, TypeError):
        raise _invalid("the certificate does not parse", field)
    return text, _colon_hex(hashlib.sha1(der, usedforsecurity=False).digest())


def checked_public_key(value: t.Any, kind: str = "ssh", field: str = "public_key") -> tuple[str, str]:
    """The public key as kept (surrounding whitespace dropped, a PEM's line ends made LF) and its fingerprint;
    InvalidKeypair (400) when it is not one key of its type."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_PUBLIC_KEY:
        raise _invalid("a public key is 1 to %d characters" % MAX_PUBLIC_KEY, field)
    text = value.strip().replace("\r\n", "\n")
    return _x509_key(text, field) if kind == "x509" else _ssh_key(text, field)


def generate() -> Generated:
    """A new RSA 2048-bit ssh key pair, as Nova generates: the private key in PEM, given once."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError:
        raise StratusError("InternalError", "generating a key pair needs the Python package cryptography", "public_key")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode("ascii")
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode("ascii")
    public, fingerprint = checked_public_key("%s %s" % (public, GENERATED_COMMENT))
    return Generated(public, private, fingerprint)


# --- both sources ---------------------------------------------------------------------------------------

def _catalog_pair(catalog: Catalog, user_id: str, name: str) -> t.Optional[dict[str, t.Any]]:
    for pair in catalog.keypairs.get(user_id) or []:
        if pair.get("name") == name:
            return _from_catalog(user_id, pair)
    return None


def _from_catalog(user_id: str, pair: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    kind = pair.get("type", "ssh")
    try:
        fingerprint = checked_public_key(pair["public_key"], kind)[1]
    except StratusError:
        fingerprint = ""  # the operator's key, used as given; a fingerprint only for one that parses
    return {"id": 0, "name": pair["name"], "user_id": user_id, "type": kind, "public_key": pair["public_key"],
            "fingerprint": fingerprint, "created_at": None, "source": "catalog"}


def lookup(conn: Connection, catalog: Catalog, user_id: str, name: str) -> t.Optional[dict[str, t.Any]]:
    """The user's key pair of this name: the catalog's first, else the store's; None when neither has it."""
    found = _catalog_pair(catalog, user_id, name)
    if found is None:
        found = rows.get(conn, user_id, name)
        if found is not None:
            found["source"] = "store"
    return found


def for_server(catalog: Catalog, db_url: t.Optional[str], user_id: str, name: str) -> dict[str, t.Any]:
    """A create's key_name (compute_api/checks.py): {name, type, public_key}, or KeypairNotFound (Nova's 400).
    The store is read (a short transaction) only when the catalog has no such key pair."""
    found = _catalog_pair(catalog, user_id, name)
    if found is None:
        with store.transaction(db_url) as conn:
            found = rows.get(conn, user_id, name)
    if found is None:
        raise StratusError("KeypairNotFound", "Invalid key_name provided.", "key_name")
    return {"name": found["name"], "type": found["type"], "public_key": found["public_key"]}


def count(conn: Connection, catalog: Catalog, user_id: str) -> int:
    return len(catalog.keypairs.get(user_id) or []) + rows.count(conn, user_id)


# --- the API (os-keypairs) ------------------------------------------------------------------------------

def _owner(caller: Caller, user_id: t.Optional[str], action: str) -> str:
    """Whose key pairs: the caller's, or another user's for whom policy allows it (2.10, admin by default)."""
    owner = user_id if user_id is not None else caller.user_id
    if not _USER_ID.fullmatch(owner):
        raise StratusError("InvalidInput", "Invalid input for field/attribute user_id: 1 to 255 letters, digits "
                           "or _.@:+- (starting with a letter or digit).", "user_id")
    caller.authorize(POLICY % action, {"user_id": owner}, "user_id")
    return owner


def shown(text: t.Any) -> str:
    """A client's text in a message: as given when short, printable and without markup."""
    return text if isinstance(text, str) and len(text) <= 255 and text.isprintable() and "<" not in text \
        else "<invalid>"


def _not_found(name: str, user_id: str) -> StratusError:
    return StratusError("KeypairNotFound", "Keypair %s not found for user %s" % (shown(name), shown(user_id)),
                        "name")


def listed(conn: Connection, catalog: Catalog, caller: Caller, user_id: t.Optional[str] = None) -> list[dict[str, t.Any]]:
    owner = _owner(caller, user_id, "index")
    pairs = [_from_catalog(owner, p) for p in catalog.keypairs.get(owner) or []]
    names = {p["name"] for p in pairs}
    pairs += [dict(p, source="store") for p in rows.of_user(conn, owner) if p["name"] not in names]
    return sorted(pairs, key=lambda p: p["name"])


def show(conn: Connection, catalog: Catalog, caller: Caller, name: str,
         user_id: t.Optional[str] = None) -> dict[str, t.Any]:
    owner = _owner(caller, user_id, "show")
    found = lookup(conn, catalog, owner, name)
    if found is None:
        raise _not_found(name, owner)
    return found


def create(conn: Connection, catalog: Catalog, quotas: t.Optional[t.Mapping[str, t.Any]], caller: Caller,
           name: t.Any, public_key: t.Any = None, kind: t.Any = "ssh",
           user_id: t.Optional[str] = None) -> tuple[dict[str, t.Any], t.Optional[str]]:
    """A new key pair of the user: imported (public_key given) or generated; (the key pair, the private key
    when generated). Nothing is written on a refusal."""
    owner = _owner(caller, user_id, "create")
    name, kind = checked_name(name), checked_type(kind)
    if public_key is None:
        if kind != "ssh":
            raise StratusError("InvalidInput", "Stratus generates ssh key pairs only: import an x509 certificate "
                               "with public_key", "public_key")
        generated: t.Optional[Generated] = generate()
        text, fingerprint = generated.public_key, generated.fingerprint
    else:
        generated = None
        text, fingerprint = checked_public_key(public_key, kind)
    if _catalog_pair(catalog, owner, name) is not None:
        raise StratusError("KeyPairExists", "Key pair '%s' already exists (in the operator's inventory, "
                           "stratus_keypairs)." % name, "name")
    if rows.get(conn, owner, name) is not None:
        raise StratusError("KeyPairExists", "Key pair '%s' already exists." % name, "name")
    quota.serialize(conn)
    quota.check_key_pairs(quota.Limits(quotas, caller.project_id, owner), count(conn, catalog, owner) + 1, owner)
    made = rows.add(conn, owner, name, kind, text, fingerprint, dt.datetime.now(dt.timezone.utc))
    return dict(made, source="store"), generated.private_key if generated else None


def delete(conn: Connection, catalog: Catalog, caller: Caller, name: str, user_id: t.Optional[str] = None) -> None:
    owner = _owner(caller, user_id, "delete")
    if _catalog_pair(catalog, owner, name) is not None:
        raise StratusError("Conflict", "Key pair '%s' is the operator's (the inventory's stratus_keypairs): it is "
                           "removed there, not through the API." % name, "name")
    if not rows.remove(conn, owner, name):
        raise _not_found(name, owner)
