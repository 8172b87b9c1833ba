# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PXE boot of a bare-metal node (IPMI has no virtual media): its files in a TFTP root.

Runs where the node network's DHCP/TFTP server is (the conductor host). The node's NIC firmware runs
iPXE (or loads it), gets ``boot.ipxe`` from the DHCP answer, and that one global script chains the
node's own script by its MAC; a MAC without a script ends in ``exit`` and the firmware goes on to its
next boot device. The TFTP root holds::

    boot.ipxe                           the global script (write_boot_script)
    pxe/<aa-bb-cc-dd-ee-ff>.ipxe        a node's script: kernel, initrd x2, boot
    images/<sha256>                     an image's kernel, its ramdisk: by content, shared by nodes
    instances/<uuid>/config-2.cpio      the instance's config drive tree, a second initrd

Linux unpacks every initrd it is given into one initramfs, so ``config-2.cpio`` (newc, not compressed)
puts the config drive tree of ``compute/config_drive.py`` (``config_drive_tree``, the one list) under
``/stratus/config-2/`` beside the image's own files: the image's /init reads
``/stratus/config-2/openstack/latest/meta_data.json`` when no ``config-2`` device is there. That is the
contract of a Stratus ramdisk image booted by PXE (the lab's init.sh keeps it).

Same inputs, same bytes; every file is written whole (a temporary dot file renamed into place) and left
alone when it already holds those bytes. The cpio carries user data: files are 0640 (for the group of
the TFTP server, ``group``) or 0600, their directories 0750 or 0700. ``clean_pxe`` removes what
``prepare_pxe`` wrote for a node, and an image's files once no node's script names them; a lock file in
the TFTP root keeps a prepare and a clean of two nodes from crossing.
"""
from __future__ import annotations

import dataclasses
import errno
import fcntl
import hashlib
import os
import re
import stat
import tempfile
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import deploy_medium
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.newc import NewcArchive
from ansible_collections.stratus.compute.plugins.module_utils.compute import config_drive
from ansible_collections.stratus.compute.plugins.module_utils.compute import network
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

BOOT_SCRIPT = "boot.ipxe"
NODE_DIR = "pxe"
IMAGE_DIR = "images"
INSTANCE_DIR = "instances"
CONFIG_CPIO = "config-2.cpio"
LOCK_FILE = ".stratus-pxe.lock"
# Where the config drive tree lands in the initramfs (the image's /init looks there).
INITRD_CONFIG_DIR = "stratus/config-2"
DEFAULT_KERNEL_CMDLINE = "console=ttyS0"
MODES = deploy_medium.MODES
DIR_MODES = {0o600: 0o700, 0o640: 0o750}

MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
UUID = deploy_medium.UUID
# The TFTP root: an absolute path of plain names (it reaches dnsmasq's configuration).
TFTP_ROOT = network.TFTP_ROOT_RE  # one rule for the root, here and in the network's XML
# One line of an iPXE script: no '$' (setting expansion), '|' '&' (operators), quotes, '#' or '\'.
KERNEL_CMDLINE = re.compile(r"[A-Za-z0-9_.,:=/+@%-]+(?: [A-Za-z0-9_.,:=/+@%-]+)*")
IMAGE_NAME = re.compile(r"[0-9a-f]{64}")
IMAGE_REF = re.compile(r"^(?:kernel|initrd) /%s/([0-9a-f]{64})(?: |$)" % IMAGE_DIR, re.M)

# iPXE resolves a relative path against the script it runs: tftp://<server>/boot.ipxe here.
BOOT_SCRIPT_TEXT = """\
#!ipxe
# Stratus: the node's own script, by the MAC of the NIC that booted; none: the next boot device
chain %s/${mac:hexhyp}.ipxe || exit
""" % NODE_DIR

NODE_SCRIPT_TEXT = """\
#!ipxe
# Stratus: instance {uuid}
kernel /{kernel} {cmdline}
initrd /{ramdisk}
initrd /{config}
boot
"""


@dataclasses.dataclass(frozen=True)
class PxeBoot:
    """A node's PXE files: its script, every file of its boot (paths), and whether this call wrote any."""

    script: str
    files: t.Tuple[str, ...]
    changed: bool


def node_script_name(mac: str) -> str:
    """The node's script, relative to the TFTP root: pxe/52-54-00-b0-03-01.ipxe (iPXE's ${mac:hexhyp})."""
    _check_mac(mac)
    return "%s/%s.ipxe" % (NODE_DIR, mac.replace(":", "-"))


def instance_cpio_name(instance_uuid: str) -> str:
    _check_uuid(instance_uuid)
    return "%s/%s/%s" % (INSTANCE_DIR, instance_uuid, CONFIG_CPIO)


def config_cpio(meta_data: dict, network_data: t.Optional[dict] = None, user_data: t.Optional[bytes] = None,
                vendor_data: t.Optional[dict] = None,
                files: t.Optional[t.List[t.Tuple[str, bytes]]] = None) -> bytes:
    """The instance's config drive tree as a newc cpio under stratus/config-2/ (root's only: 0700, 0600)."""
    try:
        tree = config_drive.config_drive_tree(meta_data, network_data, user_data, vendor_data, files)
    except config_drive.ConfigDriveError as exc:
        raise StratusError("InvalidRequest", "the PXE boot's config drive: %s" % exc, "config_drive") from None
    archive = NewcArchive()
    archive.add_dir(os.path.dirname(INITRD_CONFIG_DIR))
    archive.add_dir(INITRD_CONFIG_DIR, 0o700)
    for parts, content in tree:
        path = "/".join((INITRD_CONFIG_DIR,) + parts)
        if content is None:
            archive.add_dir(path, 0o700)
        else:
            archive.add_file(path, content, 0o600)
    return archive.to_bytes()


def node_script(instance_uuid: str, kernel_name: str, ramdisk_name: str, kernel_cmdline: str) -> bytes:
    """A node's iPXE script: the image's kernel and ramdisk, the instance's cpio, boot."""
    return NODE_SCRIPT_TEXT.format(uuid=instance_uuid, kernel=kernel_name, ramdisk=ramdisk_name,
                                   config=instance_cpio_name(instance_uuid), cmdline=kernel_cmdline).encode("ascii")


def write_boot_script(tftp_root: str, mode: int = 0o640, group: t.Optional[int] = None) -> bool:
    """The global boot.ipxe (the network's DHCP boot file) in tftp_root. Returns changed."""
    _check_root(tftp_root)
    _check_mode(mode, group)
    return _write(tftp_root, BOOT_SCRIPT, BOOT_SCRIPT_TEXT.encode("ascii"), mode, group)


def prepare_pxe(tftp_root: str, mac: str, instance_uuid: str, kernel: str, ramdisk: str, meta_data: dict,
                network_data: t.Optional[dict] = None, user_data: t.Optional[bytes] = None,
                vendor_data: t.Optional[dict] = None, files: t.Optional[t.List[t.Tuple[str, bytes]]] = None,
                kernel_cmdline: str = DEFAULT_KERNEL_CMDLINE, mode: int = 0o640,
                group: t.Optional[int] = None) -> PxeBoot:
    """Make the node with NIC ``mac`` boot ``kernel`` + ``ramdisk`` with the instance's config drive by PXE.

    The config drive arguments are those of ``config_drive.build_config_drive``. Everything is checked
    before anything is written (a StratusError naming the argument); the node's script is written last,
    so the node boots nothing half-made. A rerun with the same inputs writes nothing (changed False).
    """
    _check_root(tftp_root)
    script_name = node_script_name(mac)
    cpio_name = instance_cpio_name(instance_uuid)
    _check_mode(mode, group)
    if not isinstance(kernel_cmdline, str) or len(kernel_cmdline) > deploy_medium.MAX_KERNEL_CMDLINE \
            or not KERNEL_CMDLINE.fullmatch(kernel_cmdline):
        raise StratusError("InvalidRequest", "the kernel command line is words of letters, digits and . , : = / + @ "
                           "%% _ - separated by single spaces, at most %d characters (it is a line of an iPXE "
                           "script)" % deploy_medium.MAX_KERNEL_CMDLINE, "kernel_cmdline")
    deploy_medium.check_boot_files(kernel, ramdisk)
    cpio = config_cpio(meta_data, network_data, user_data, vendor_data, files)
    kernel_name = "%s/%s" % (IMAGE_DIR, _sha256_of(kernel, "kernel"))
    ramdisk_name = "%s/%s" % (IMAGE_DIR, _sha256_of(ramdisk, "ramdisk"))
    script = node_script(instance_uuid, kernel_name, ramdisk_name, kernel_cmdline)

    with _RootLock(tftp_root):
        changed = _copy(tftp_root, kernel_name, kernel, mode, group)
        changed |= _copy(tftp_root, ramdisk_name, ramdisk, mode, group)
        changed |= _write(tftp_root, cpio_name, cpio, mode, group)
        changed |= _write(tftp_root, script_name, script, mode, group)
    paths = tuple(os.path.join(tftp_root, name) for name in (script_name, kernel_name, ramdisk_name, cpio_name))
    return PxeBoot(paths[0], paths, changed)


def clean_pxe(tftp_root: str, mac: str, instance_uuid: str) -> bool:
    """Remove the node's script, the instance's files, and the image files no remaining script names.

    Idempotent: what is gone already is no error. Returns changed (something was removed).
    """
    _check_root(tftp_root)
    script_name = node_script_name(mac)
    cpio_name = instance_cpio_name(instance_uuid)
    with _RootLock(tftp_root):
        script_path = os.path.join(tftp_root, script_name)
        named = set(_image_refs(script_path))
        changed = _remove(script_path)
        changed |= _remove(os.path.join(tftp_root, cpio_name))
        _remove_temporaries(os.path.join(tftp_root, NODE_DIR), os.path.basename(script_name))
        instance_dir = os.path.dirname(os.path.join(tftp_root, cpio_name))
        _remove_temporaries(instance_dir, CONFIG_CPIO)
        changed |= _remove(instance_dir, os.rmdir)
        still_named: t.Set[str] = set()
        node_dir = os.path.join(tftp_root, NODE_DIR)
        for entry in sorted(os.listdir(node_dir)) if os.path.isdir(node_dir) else []:
            if entry.endswith(".ipxe") and not entry.startswith("."):
                still_named.update(_image_refs(os.path.join(node_dir, entry)))
        for image in sorted(named - still_named):
            changed |= _remove(os.path.join(tftp_root, IMAGE_DIR, image))
    return changed


# --- checks ---------------------------------------------------------------------------------------


def _check_root(tftp_root: t.Any) -> None:
    if not isinstance(tftp_root, str) or not TFTP_ROOT.fullmatch(tftp_root) or "/../" in tftp_root + "/":
        raise StratusError("InvalidRequest", "the TFTP root must be an absolute path of letters, digits, '.', '_' "
                           "and '-' names", "tftp_root")
    if not os.path.isdir(tftp_root) or os.path.islink(tftp_root):
        raise StratusError("InvalidRequest", "the TFTP root %s is not a directory" % tftp_root, "tftp_root")


def _check_mac(mac: t.Any) -> None:
    if not isinstance(mac, str) or not MAC.fullmatch(mac):
        raise StratusError("InvalidRequest", "a node's MAC is six lower-case hex pairs separated by ':'", "mac")


def _check_uuid(instance_uuid: t.Any) -> None:
    if not isinstance(instance_uuid, str) or not UUID.fullmatch(instance_uuid):
        raise StratusError("InvalidRequest", "the instance uuid must be a lower-case uuid", "instance_uuid")


def _check_mode(mode: t.Any, group: t.Any) -> None:
    if mode not in MODES or isinstance(mode, bool):
        raise StratusError("InvalidRequest", "PXE files carry user data: their mode is 0600 or 0640", "mode")
    if group is not None and (isinstance(group, bool) or not isinstance(group, int) or group < 0):
        raise StratusError("InvalidRequest", "group is the numeric id of the TFTP server's group", "group")


# --- files ----------------------------------------------------------------------------------------


class _RootLock:
    """An exclusive flock on the TFTP root's lock file (0600, never served: a dot name)."""

    def __init__(self, tftp_root: str) -> None:
        self.path = os.path.join(tftp_root, LOCK_FILE)
        self.fd = -1

    def __enter__(self) -> None:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError as exc:
            raise _write_error(self.path, exc) from None

    def __exit__(self, *exc_info: t.Any) -> None:
        os.close(self.fd)


def _write_error(path: str, exc: OSError) -> StratusError:
    return StratusError("InternalError", "cannot write the PXE file %s: %s" % (path, exc.strerror or exc), "tftp_root")


def _sha256_of(path: str, field: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fp:
            for block in iter(lambda: fp.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise StratusError("InvalidRequest", "%s %s: %s" % (field, path, exc.strerror or exc), field) from None
    return digest.hexdigest()


def _make_dirs(tftp_root: str, name: str, mode: int, group: t.Optional[int]) -> str:
    """The directories of name below tftp_root (DIR_MODES[mode], the group's); returns the last."""
    path = tftp_root
    for part in name.split("/")[:-1]:
        path = os.path.join(path, part)
        try:
            os.mkdir(path, DIR_MODES[mode])
        except FileExistsError:
            if os.path.islink(path) or not os.path.isdir(path):
                raise _write_error(path, OSError(errno.ENOTDIR, "not a directory")) from None
            continue
        except OSError as exc:
            raise _write_error(path, exc) from None
        os.chmod(path, DIR_MODES[mode])  # not narrowed by the umask
        if group is not None:
            os.chown(path, -1, group)
    return path


def _same(path: str, mode: int, group: t.Optional[int], same_content: t.Callable[[], bool]) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == mode
            and (group is None or info.st_gid == group) and same_content())


def _write(tftp_root: str, name: str, data: bytes, mode: int, group: t.Optional[int]) -> bool:
    path = os.path.join(tftp_root, name)

    def same_content() -> bool:
        with open(path, "rb") as fp:
            return fp.read(len(data) + 1) == data

    directory = _make_dirs(tftp_root, name, mode, group)
    if _same(path, mode, group, same_content):
        return False
    _replace(directory, path, mode, group, lambda out: out.write(data))
    return True


def _copy(tftp_root: str, name: str, source: str, mode: int, group: t.Optional[int]) -> bool:
    """An image file, named by its sha256 (the last part of name): copied unless already there."""
    path = os.path.join(tftp_root, name)
    directory = _make_dirs(tftp_root, name, mode, group)
    if _same(path, mode, group, lambda: _sha256_of(path, "tftp_root") == os.path.basename(name)):
        return False

    def copy(out: t.BinaryIO) -> None:
        with open(source, "rb") as src:
            for block in iter(lambda: src.read(1 << 20), b""):
                out.write(block)

    _replace(directory, path, mode, group, copy)
    return True


def _replace(directory: str, path: str, mode: int, group: t.Optional[int], fill: t.Callable[[t.BinaryIO], t.Any]) -> None:
    """Write a temporary dot file beside path with mode and group from the start, then rename it over path."""
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            if group is not None:
                os.fchown(out.fileno(), -1, group)
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        tmp = ""
    except OSError as exc:
        raise _write_error(path, exc) from None
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)


def _image_refs(script_path: str) -> t.List[str]:
    """The image files (sha256 names) a node's script loads; none when it is not there."""
    try:
        with open(script_path, "r", encoding="ascii", errors="replace") as fp:
            text = fp.read(1 << 16)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise _write_error(script_path, exc) from None
    return [name for name in IMAGE_REF.findall(text) if IMAGE_NAME.fullmatch(name)]


def _remove(path: str, remover: t.Callable[[str], None] = os.unlink) -> bool:
    """Remove a file (or with os.rmdir an empty directory); False when it is not there."""
    try:
        remover(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise _write_error(path, exc) from None
    return True


def _remove_temporaries(directory: str, name: str) -> None:
    """The temporary files a killed write of name left (.<name>.<random>.tmp)."""
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.startswith(".%s." % name) and entry.endswith(".tmp"):
            _remove(os.path.join(directory, entry))
