"""Deleting a domain that another destroy is taking down at the same time (a killed run's module)."""
from __future__ import annotations

import typing as t

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.compute import domain
from ansible_collections.stratus.compute.plugins.module_utils.compute.libvirt_conn import libvirt
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

UUID = "6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11"


def libvirt_error(code: int, message: str) -> Exception:
    exc = libvirt.libvirtError(message)
    exc.err = (code, 0, message, 2, None, None, None, 0, 0)
    return exc


class RacedDomain:
    """Reads active, then its destroy fails because someone else destroyed it first (or did not)."""

    def __init__(self, still_running_after: bool) -> None:
        self.active = [True, still_running_after]
        self.undefined = False

    def isActive(self) -> bool:  # noqa: N802  (libvirt's name)
        return self.active.pop(0)

    def destroy(self) -> None:
        raise libvirt_error(libvirt.VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: domain is not running")

    def undefineFlags(self, flags: int) -> None:  # noqa: N802
        self.undefined = True


class Conn:
    def __init__(self, dom: t.Any) -> None:
        self.dom = dom

    def lookupByUUIDString(self, uuid: str) -> t.Any:  # noqa: N802
        return self.dom


def test_a_domain_destroyed_by_someone_else_meanwhile_is_still_undefined() -> None:
    dom = RacedDomain(still_running_after=False)
    assert domain.ensure_absent(Conn(dom), UUID) is True
    assert dom.undefined


def test_a_destroy_that_really_fails_is_a_build_abort_with_the_reason() -> None:
    dom = RacedDomain(still_running_after=True)
    with pytest.raises(StratusError) as err:
        domain.ensure_absent(Conn(dom), UUID)
    assert err.value.code == "BuildAbortException" and "not running" in err.value.message
    assert not dom.undefined
