# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening a libvirt connection on the hypervisor, with errors mapped once."""
from __future__ import annotations

import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

try:
    import libvirt
    HAS_LIBVIRT = True
    LIBVIRT_IMPORT_ERROR: t.Optional[str] = None
except ImportError as exc:  # reported by the module as a missing requirement
    libvirt = None
    HAS_LIBVIRT = False
    LIBVIRT_IMPORT_ERROR = str(exc)


def _silence(_ctx: t.Any, _err: t.Any) -> None:
    """libvirt prints every error to stderr by default; we report them ourselves."""


def connect(uri: str) -> t.Any:
    if not HAS_LIBVIRT:
        raise StratusError("BuildAbortException",
                           "the libvirt Python binding is missing on this hypervisor: %s" % LIBVIRT_IMPORT_ERROR)
    libvirt.registerErrorHandler(_silence, None)
    try:
        return libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise StratusError("HypervisorUnavailable", "cannot connect to libvirt at %s: %s"
                           % (uri, exc.get_error_message()), "stratus_libvirt_uri")


def is_no_domain(exc: Exception) -> bool:
    return HAS_LIBVIRT and isinstance(exc, libvirt.libvirtError) and \
        exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN


def error_text(exc: Exception) -> str:
    if HAS_LIBVIRT and isinstance(exc, libvirt.libvirtError):
        return exc.get_error_message() or str(exc)
    return str(exc)
