# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One error type for the whole pipeline, carrying Nova's exception names.

Every failure a user can cause ends as ``error: {code, message, field}``; the
edge (action plugin or module ``main``) turns a StratusError into that dict,
so no traceback ever reaches a user for bad input.
"""
from __future__ import annotations

import typing as t

# Nova's exception names (DESIGN.md's list plus the members of Nova's families
# that the create and delete paths raise), each with the HTTP status Nova's API
# answers with. A code outside this table is a programming error, so
# StratusError refuses it.
HTTP_STATUS: dict[str, int] = {
    # request and catalog
    "InvalidRequest": 400, "InvalidCatalog": 400, "InvalidInput": 400,
    "FlavorNotFound": 400, "ImageNotFound": 400, "ImageNotActive": 400, "ImageUnacceptable": 400,
    "NetworkNotFound": 400, "PortNotFound": 400, "KeypairNotFound": 400, "InstanceGroupNotFound": 400,
    # key pairs through the API (os-keypairs): a name taken, a public key that is not one
    "KeyPairExists": 409, "InvalidKeypair": 400,
    "ComputeHostNotFound": 400, "VolumeNotFound": 400, "VolumeTypeNotFound": 400, "SnapshotNotFound": 400,
    "InvalidVolume": 400, "FlavorMemoryTooSmall": 400, "FlavorDiskSmallerThanImage": 400,
    "FlavorDiskSmallerThanMinDisk": 400, "VolumeSmallerThanMinDisk": 400, "InvalidImageConfigDrive": 400,
    "InvalidFixedIpAndMaxCountRequest": 400, "MultiplePortsNotApplicable": 400,
    "AmbiguousHostnameForMultipleInstances": 400, "FixedIpInvalid": 400, "UnableToAutoAllocateNetwork": 400,
    "NoMoreFixedIps": 400, "InvalidDevicePath": 400, "CertificateValidationFailed": 400,
    # block device mappings
    "InvalidBDM": 400, "InvalidBDMFormat": 400, "InvalidBDMBootSequence": 400, "InvalidBDMImage": 400,
    "InvalidBDMVolume": 400, "InvalidBDMSnapshot": 400, "InvalidBDMVolumeNotBootable": 400,
    "InvalidBDMEphemeralSize": 400, "InvalidBDMSwapSize": 400, "InvalidBDMLocalsLimit": 400,
    "InvalidBDMDiskBus": 400, "InvalidBDMForLegacy": 400, "DevicePathInUse": 409,
    # policy and quota
    "PolicyNotAuthorized": 403, "QuotaExceeded": 403, "BootFromVolumeRequiredForZeroDiskFlavor": 403,
    "ExternalNetworkAttachForbidden": 403, "Forbidden": 403,
    # state
    "Conflict": 409, "NoUniqueMatch": 409, "NetworkAmbiguous": 409, "PortInUse": 409,
    "FixedIpAlreadyInUse": 409, "InstanceIsLocked": 409, "InstanceInvalidState": 409,
    "InstanceNotFound": 404,
    # build
    "NoValidHost": 400, "BuildAbortException": 500, "MaxRetriesExceeded": 500, "HypervisorUnavailable": 500, "RescheduledException": 500,
    "InternalError": 500,
    # power actions on a hypervisor (Nova's names; both are Invalid there)
    "InstancePowerOffFailure": 400, "InstancePowerOnFailure": 400,
    # evacuate of a server whose host is still up (Nova's, a 400 there); a failed rebuild walk
    "ComputeServiceInUse": 400, "RebuildAbortException": 500,
    # resize and migrations (Nova's names): a resize to the same flavor or a smaller disk, no other host,
    # a live migration's pre-checks; a failed move walk
    "CannotResizeToSameFlavor": 400, "CannotResizeDisk": 400, "ResizeError": 400,
    "UnableToMigrateToSelf": 400, "MigrationPreCheckError": 400, "MigrationError": 500,
    "MigrationNotFound": 404, "InstanceFaultRollback": 500,
    # a server action waited for (server_action's wait) that did not end within its timeout
    "ActionTimeout": 504,
    # bare metal: a node's BMC (module_utils/baremetal/); Ironic reports these as a node's last_error
    "BMCUnreachable": 503, "BMCAuthFailed": 400, "BMCError": 500, "BMCUnsupported": 400,
    # bare metal: a node (Ironic's names: a verb Ironic does not allow in the node's provision state)
    "NodeNotFound": 404, "InvalidStateRequested": 400, "NodeInMaintenance": 400,
}
ERROR_CODES = frozenset(HTTP_STATUS)


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
