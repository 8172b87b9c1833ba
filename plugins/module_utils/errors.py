# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One error type for the whole pipeline, carrying Nova's exception names.

Every failure a user can cause ends as ``error: {code, message, field}``; the
edge (action plugin or module ``main``) turns a StratusError into that dict,
so no traceback ever reaches a user for bad input.
"""
from __future__ import annotations

import typing as t

# Nova's exception names, as DESIGN.md lists them. A code outside this set is a
# programming error, so StratusError refuses it.
ERROR_CODES = frozenset((
    "InvalidRequest",
    "PolicyNotAuthorized",
    "QuotaExceeded",
    "FlavorNotFound",
    "ImageNotFound",
    "NetworkNotFound",
    "KeypairNotFound",
    "InvalidBDM",
    "InvalidBDMFormat",
    "NoValidHost",
    "BuildAbortException",
    "InstanceNotFound",
    "Conflict",
    "InternalError",
))


class StratusError(Exception):
    """A refusal or failure with a Nova error code, a message and the field at fault."""

    def __init__(self, code: str, message: str, field: t.Optional[str] = None) -> None:
        if code not in ERROR_CODES:
            raise ValueError("unknown error code %r" % code)
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, t.Any]:
        return {"code": self.code, "message": self.message, "field": self.field}

    def __str__(self) -> str:
        where = " (field: %s)" % self.field if self.field else ""
        return "%s: %s%s" % (self.code, self.message, where)


def error_result(exc: StratusError, **extra: t.Any) -> dict[str, t.Any]:
    """The failed-result dict every Stratus action and module returns."""
    result: dict[str, t.Any] = {"failed": True, "msg": str(exc), "error": exc.to_dict()}
    result.update(extra)
    return result
