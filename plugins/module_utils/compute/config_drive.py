# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Build Nova-style config drives (ISO9660, label ``config-2``).
#
# ``config_drive_tree`` is the one list of what the volume holds; the bare-metal
# deploy medium (baremetal/deploy_medium.py) writes the same tree into its
# bootable volume, through ``new_config_volume`` and ``add_tree`` too.
#
# The layout mirrors what Nova writes with genisoimage::
#
#     openstack/latest/meta_data.json
#     openstack/latest/network_data.json   (only when network data is given)
#     openstack/latest/user_data           (only when user data is given)
#     openstack/latest/vendor_data.json    (``{}`` when not given)
#     openstack/2018-08-27/...             (same files, dated version)
#     openstack/content/0000, 0001, ...    (injected files, only when given)
#
# Injected files (the request's personality) go where Nova puts them: each one's
# content in ``openstack/content/NNNN`` and an entry ``{"path": <path in the
# guest>, "content_path": "/content/NNNN"}`` in the ``files`` list of
# ``meta_data.json``, numbered in the order given.
#
# The image carries Rock Ridge and Joliet names so that guests see the real
# lower-case file names, while the plain ISO9660 tree uses upper-case
# d-character names (``OPENSTACK/LATEST/META_DATA.JSON;1``).
#
# Output is byte-for-byte deterministic for the same inputs: Stratus stores
# config drives content-addressed, so every timestamp pycdlib would take from
# the clock is pinned to ``FIXED_EPOCH`` (see ``_pinned_clock``).

import contextlib
import hashlib
import io
import json
import time as _real_time
from typing import Any, Iterator

__all__ = [
    "ConfigDriveError",
    "CONFIG_DRIVE_LABEL",
    "DATED_VERSION",
    "FIXED_EPOCH",
    "add_directory",
    "add_file",
    "add_tree",
    "build_config_drive",
    "build_config_drive_with_digest",
    "config_drive_digest",
    "config_drive_tree",
    "content_files",
    "new_config_volume",
    "serialize_json",
]

CONFIG_DRIVE_LABEL = "config-2"
# The dated metadata version we publish next to ``latest`` (Nova's newest).
DATED_VERSION = "2018-08-27"
# Beside the version directories; meta_data.json names its files relative to openstack/.
CONTENT_DIR = "content"
# Every date in the image (volume descriptors, directory records, Rock Ridge
# TF entries) is set to this instant: 2018-08-27T00:00:00Z.
FIXED_EPOCH = 1535328000.0

# pycdlib submodules that read the clock; their ``time`` global is swapped
# for a pinned clock while an image is built and written.
_PYCDLIB_CLOCK_MODULES = ("pycdlib", "headervd", "dates", "utils", "udf",
                          "inplaceeditor")


class ConfigDriveError(Exception):
    """Raised when a config drive cannot be built (bad input, no pycdlib)."""


def serialize_json(data: Any) -> bytes:
    """Serialize like Nova does, with sorted keys so the bytes are stable."""
    return json.dumps(data, sort_keys=True, indent=None,
                      separators=(", ", ": ")).encode("utf-8")


class _PinnedTime:
    """Stand-in for the ``time`` module that always reports FIXED_EPOCH.

    ``localtime`` is mapped to ``gmtime`` so the result does not depend on
    the hypervisor's TZ setting either (the GMT offset field becomes 0).
    """

    def __init__(self, epoch: float) -> None:
        self._epoch = epoch

    def time(self) -> float:
        return self._epoch

    def localtime(self, secs: float | None = None) -> _real_time.struct_time:
        return _real_time.gmtime(self._epoch if secs is None else secs)

    def gmtime(self, secs: float | None = None) -> _real_time.struct_time:
        return _real_time.gmtime(self._epoch if secs is None else secs)

    def __getattr__(self, name: str) -> Any:
        # strftime, struct_time, mktime, ... behave as usual.
        return getattr(_real_time, name)


@contextlib.contextmanager
def _pinned_clock(pycdlib_pkg: Any, epoch: float) -> Iterator[None]:
    """Make pycdlib see a frozen clock, without touching the global ``time``.

    Only the ``time`` name inside pycdlib's own modules is replaced, and it
    is restored afterwards, so the rest of the process is unaffected.
    """
    import importlib

    shim = _PinnedTime(epoch)
    saved: list[tuple[Any, Any]] = []
    try:
        for name in _PYCDLIB_CLOCK_MODULES:
            try:
                mod = importlib.import_module("%s.%s" % (pycdlib_pkg.__name__, name))
            except ImportError:
                continue
            if hasattr(mod, "time"):
                saved.append((mod, mod.time))
                mod.time = shim
        yield
    finally:
        for mod, original in saved:
            mod.time = original


def _import_pycdlib() -> Any:
    # Imported lazily: only hosts that build config drives need pycdlib.
    try:
        import pycdlib  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ConfigDriveError(
            "building a config drive needs the Python library 'pycdlib' "
            "(pip install pycdlib) on the hypervisor: %s" % exc) from exc
    return pycdlib


def _iso_name(name: str) -> str:
    """ISO9660 (level 3) name: upper case, only d-characters."""
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name.upper())
    return out


def _iso_file_name(name: str) -> str:
    # Files need a dot and a version; "user_data" becomes "USER_DATA.;1".
    stem, dot, ext = name.partition(".")
    return "%s.%s;1" % (_iso_name(stem), _iso_name(ext) if dot else "")


def _drive_files(meta_data: dict, network_data: dict | None,
                 user_data: bytes | None,
                 vendor_data: dict | None) -> list[tuple[str, bytes]]:
    """(file name, content) for one version directory, in a fixed order."""
    files = [("meta_data.json", serialize_json(meta_data))]
    if network_data is not None:
        files.append(("network_data.json", serialize_json(network_data)))
    if user_data is not None:
        files.append(("user_data", user_data))
    files.append(("vendor_data.json",
                  serialize_json(vendor_data if vendor_data is not None else {})))
    return files


def _content_name(index: int) -> str:
    return "%04d" % index


def content_files(files: Any) -> list[tuple[str, bytes]]:
    """(name under openstack/content/, content) for the injected files, checked, in order."""
    if files is None:
        return []
    if not isinstance(files, (list, tuple)):
        raise ConfigDriveError("files must be a list of (path, bytes), got %s" % type(files).__name__)
    out = []
    for index, item in enumerate(files):
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], (bytes, bytearray))):
            raise ConfigDriveError("injected file %d must be a (path, bytes) pair" % index)
        out.append((_content_name(index), bytes(item[1])))
    return out


def _with_files(meta_data: dict, files: Any) -> dict:
    """meta_data with Nova's ``files`` list when files are injected (as given otherwise)."""
    if not files:
        return meta_data
    listed = [{"path": path, "content_path": "/%s/%s" % (CONTENT_DIR, _content_name(index))}
              for index, (path, _content) in enumerate(files)]
    return dict(meta_data, files=listed)


def _check_inputs(meta_data: Any, network_data: Any, user_data: Any,
                  vendor_data: Any) -> bytes | None:
    if not isinstance(meta_data, dict):
        raise ConfigDriveError("meta_data must be a dict, got %s" % type(meta_data).__name__)
    for label, value in (("network_data", network_data), ("vendor_data", vendor_data)):
        if value is not None and not isinstance(value, dict):
            raise ConfigDriveError("%s must be a dict or None, got %s"
                                   % (label, type(value).__name__))
    if isinstance(user_data, str):
        # Convenience for callers that hold cloud-config text.
        return user_data.encode("utf-8")
    if user_data is not None and not isinstance(user_data, (bytes, bytearray)):
        raise ConfigDriveError("user_data must be bytes or None, got %s"
                               % type(user_data).__name__)
    return bytes(user_data) if user_data is not None else None


def config_drive_tree(meta_data: dict, network_data: dict | None = None,
                      user_data: bytes | None = None,
                      vendor_data: dict | None = None,
                      files: list[tuple[str, bytes]] | None = None) -> list[tuple[tuple[str, ...], bytes | None]]:
    """The config drive's directories (content None) and files (path parts, content), parents first.

    The one list of what a config-2 volume holds: the hypervisor's config drive and the
    bare-metal deploy medium (baremetal/deploy_medium.py) both write it. Inputs are checked
    here (ConfigDriveError), before anything is built.
    """
    user_bytes = _check_inputs(meta_data, network_data, user_data, vendor_data)
    contents = content_files(files)
    version_files = _drive_files(_with_files(meta_data, files), network_data, user_bytes, vendor_data)
    tree: list[tuple[tuple[str, ...], bytes | None]] = [(("openstack",), None)]
    for version in ("latest", DATED_VERSION):
        tree.append((("openstack", version), None))
        tree.extend((("openstack", version, name), content) for name, content in version_files)
    if contents:
        tree.append((("openstack", CONTENT_DIR), None))
        tree.extend((("openstack", CONTENT_DIR, name), content) for name, content in contents)
    return tree


@contextlib.contextmanager
def new_config_volume() -> Iterator[Any]:
    """A new, empty config-2 ISO9660 volume (Rock Ridge + Joliet), pycdlib's clock pinned to
    FIXED_EPOCH until it is closed: write it (``write_fp``) inside the ``with``."""
    pycdlib = _import_pycdlib()
    with _pinned_clock(pycdlib, FIXED_EPOCH):
        iso = pycdlib.PyCdlib()
        # Level 3 allows 30-character names such as NETWORK_DATA.JSON.
        iso.new(interchange_level=3, vol_ident=CONFIG_DRIVE_LABEL,
                sys_ident="LINUX", app_ident_str="STRATUS",
                rock_ridge="1.09", joliet=3)
        try:
            yield iso
        finally:
            iso.close()


def add_directory(iso: Any, parts: tuple[str, ...]) -> None:
    """A directory of the volume, named by its path parts (its parent added before)."""
    iso.add_directory(
        iso_path="/" + "/".join(_iso_name(p) for p in parts),
        rr_name=parts[-1],
        joliet_path="/" + "/".join(parts),
    )


def add_file(iso: Any, parts: tuple[str, ...], fp: Any, length: int) -> None:
    """A read-only file of the volume, its content read from ``fp`` when the volume is written."""
    iso_parts = [_iso_name(p) for p in parts[:-1]] + [_iso_file_name(parts[-1])]
    iso.add_fp(
        fp, length,
        iso_path="/" + "/".join(iso_parts),
        rr_name=parts[-1],
        joliet_path="/" + "/".join(parts),
        file_mode=0o100444,
    )


def add_tree(iso: Any, tree: list[tuple[tuple[str, ...], bytes | None]]) -> None:
    """Every directory and file of a ``config_drive_tree`` list, in its order."""
    for parts, content in tree:
        if content is None:
            add_directory(iso, parts)
        else:
            add_file(iso, parts, io.BytesIO(content), len(content))


def build_config_drive(meta_data: dict, network_data: dict | None = None,
                       user_data: bytes | None = None,
                       vendor_data: dict | None = None,
                       files: list[tuple[str, bytes]] | None = None) -> bytes:
    """Return the bytes of a config-2 ISO9660 image (Rock Ridge + Joliet).

    `files` are the injected files, (path in the guest, content). Same inputs
    always give the same bytes.
    """
    tree = config_drive_tree(meta_data, network_data, user_data, vendor_data, files)
    out = io.BytesIO()
    with new_config_volume() as iso:
        add_tree(iso, tree)
        iso.write_fp(out)
    return out.getvalue()


def build_config_drive_with_digest(meta_data: dict, network_data: dict | None = None,
                                   user_data: bytes | None = None,
                                   vendor_data: dict | None = None,
                                   files: list[tuple[str, bytes]] | None = None) -> tuple[bytes, str]:
    """Return (image bytes, sha256 hex digest of those bytes)."""
    data = build_config_drive(meta_data, network_data, user_data, vendor_data, files)
    return data, hashlib.sha256(data).hexdigest()


def config_drive_digest(meta_data: dict, network_data: dict | None = None,
                        user_data: bytes | None = None,
                        vendor_data: dict | None = None,
                        files: list[tuple[str, bytes]] | None = None) -> str:
    """sha256 hex digest of the config drive the same arguments would build."""
    return build_config_drive_with_digest(meta_data, network_data, user_data,
                                          vendor_data, files)[1]
