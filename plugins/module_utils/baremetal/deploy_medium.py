# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bare-metal deploy medium: one bootable ISO holding the image and the instance's config drive.

Ironic's ``ramdisk`` deploy interface with Redfish virtual-media boot: the node's BMC inserts this
ISO as its virtual CD, the node boots it once and is ``active``. The image is a kernel + ramdisk
pair; the ISO is the config drive volume itself (label ``config-2``, the tree of
``compute/config_drive.py``), made BIOS-bootable with El Torito and ISOLINUX::

    isolinux/isolinux.bin   El Torito boot image (no emulation, 4 sectors, boot info table)
    isolinux/ldlinux.c32    ISOLINUX's second stage (the same syslinux build as isolinux.bin)
    isolinux/isolinux.cfg   LINUX /vmlinuz, INITRD /initrd, APPEND <kernel command line>
    isolinux/boot.cat       the El Torito boot catalog
    vmlinuz, initrd         the image's kernel and ramdisk
    openstack/...           the config drive (meta_data.json, network_data.json, user_data, ...)

A guest finds its metadata as on a hypervisor's config drive (``findfs LABEL=config-2``).

Same inputs, same bytes: pycdlib's clock is pinned (config_drive.FIXED_EPOCH), so a rerun of a
deploy writes nothing new. The medium carries user data, keys and an admin password if given:
it is written 0600 or 0640 (for the group of the web server that serves it to the BMCs), through
a temporary file renamed into place, so a BMC never downloads half a medium.

Standard library here; pycdlib (setup/requirements.txt, meta/ee-requirements.txt) is imported on
first use, and ISOLINUX comes from the distribution (Debian: isolinux + syslinux-common).
"""
from __future__ import annotations

import dataclasses
import io
import os
import re
import stat
import tempfile
import typing as t

from ansible_collections.stratus.compute.plugins.module_utils.compute import config_drive
from ansible_collections.stratus.compute.plugins.module_utils.compute.steps import file_sha256
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

# Where the distributions put ISOLINUX: isolinux.bin and the ldlinux.c32 of the same syslinux build.
BOOT_LOADERS = (
    # Debian, Ubuntu: packages isolinux and syslinux-common
    ("/usr/lib/ISOLINUX/isolinux.bin", "/usr/lib/syslinux/modules/bios/ldlinux.c32"),
    # Fedora, RHEL and kin: package syslinux
    ("/usr/share/syslinux/isolinux.bin", "/usr/share/syslinux/ldlinux.c32"),
)
BOOT_DIR = "isolinux"
KERNEL_NAME = "vmlinuz"
RAMDISK_NAME = "initrd"
DEFAULT_KERNEL_CMDLINE = "console=ttyS0"
# BIOS El Torito with ISOLINUX: load 4 virtual sectors, and isolinux.bin finds itself by the table.
BOOT_LOAD_SECTORS = 4

# A medium's file name: it is the last part of the URL the BMC downloads.
MEDIUM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,123}\.iso")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Printable ASCII words, one space apart: one line of isolinux.cfg, and the kernel's limit (x86: 2048).
KERNEL_CMDLINE = re.compile(r"[!-~]+(?: [!-~]+)*")
MAX_KERNEL_CMDLINE = 1024
# ISOLINUX loads the kernel and the ramdisk whole into memory below 4 GiB: bigger ones are a mistake.
MAX_KERNEL_BYTES = 64 << 20
MAX_RAMDISK_BYTES = 1 << 30
MAX_BOOT_LOADER_BYTES = 1 << 20
MODES = (0o600, 0o640)

# An x86 bzImage says "HdrS" at 0x202 (the Linux boot protocol's setup header).
BZIMAGE_MAGIC_OFFSET = 0x202
BZIMAGE_MAGIC = b"HdrS"
# What Linux unpacks as an initramfs: a newc cpio, or one compressed as the kernel may be built for.
RAMDISK_MAGICS = (
    b"070701", b"070702",  # cpio newc / crc
    b"\x1f\x8b",  # gzip
    b"\xfd7zXZ\x00",  # xz
    b"\x28\xb5\x2f\xfd",  # zstd
    b"BZh",  # bzip2
    b"\x5d\x00\x00",  # lzma
    b"\x89LZO",  # lzop
    b"\x02\x21\x4c\x18",  # lz4 (legacy)
)

ISOLINUX_CFG = """\
DEFAULT stratus
PROMPT 0
TIMEOUT 0
LABEL stratus
  LINUX /{kernel}
  INITRD /{ramdisk}
  APPEND {cmdline}
"""


@dataclasses.dataclass(frozen=True)
class DeployMedium:
    """A medium on disk: where, its sha256, its size, and whether this call wrote it."""

    path: str
    sha256: str
    size: int
    changed: bool


def medium_name(instance_uuid: str) -> str:
    """The file (and URL) name of an instance's medium."""
    if not isinstance(instance_uuid, str) or not UUID.fullmatch(instance_uuid):
        raise StratusError("InvalidRequest", "the instance uuid of a deploy medium must be a lower-case uuid",
                           "instance_uuid")
    return "%s.iso" % instance_uuid


def isolinux_cfg(kernel_cmdline: str) -> bytes:
    return ISOLINUX_CFG.format(kernel=KERNEL_NAME, ramdisk=RAMDISK_NAME, cmdline=kernel_cmdline).encode("ascii")


def build_deploy_medium(dest: str, kernel: str, ramdisk: str, meta_data: dict,
                        network_data: t.Optional[dict] = None, user_data: t.Optional[bytes] = None,
                        vendor_data: t.Optional[dict] = None,
                        files: t.Optional[t.List[t.Tuple[str, bytes]]] = None,
                        kernel_cmdline: str = DEFAULT_KERNEL_CMDLINE, mode: int = 0o640,
                        boot_loader: t.Optional[t.Tuple[str, str]] = None) -> DeployMedium:
    """Write the deploy medium of one instance to ``dest`` (a path ending in a MEDIUM_NAME).

    ``kernel`` and ``ramdisk`` are the image's files; the config drive arguments are those of
    ``config_drive.build_config_drive``; ``boot_loader`` is (isolinux.bin, ldlinux.c32), found in
    BOOT_LOADERS when not given. Everything is checked before anything is written: bad input is a
    StratusError naming the argument. ``dest`` is left as it was when the same bytes are there.
    """
    _check_dest(dest, mode)
    _check_cmdline(kernel_cmdline)
    kernel_size, ramdisk_size = check_boot_files(kernel, ramdisk)
    isolinux_bin, ldlinux_c32 = boot_loader or find_boot_loader()
    for path, what in ((isolinux_bin, "isolinux.bin"), (ldlinux_c32, "ldlinux.c32")):
        _check_file(path, "boot_loader", MAX_BOOT_LOADER_BYTES, None, what)
    try:
        tree = config_drive.config_drive_tree(meta_data, network_data, user_data, vendor_data, files)
    except config_drive.ConfigDriveError as exc:
        raise StratusError("InvalidRequest", "the deploy medium's config drive: %s" % exc, "config_drive") from None

    tmp = ""
    try:
        # beside dest, so the rename is atomic; a dot name, which MEDIUM_NAME never gives a URL
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(dest), suffix=".tmp",
                                   dir=os.path.dirname(dest) or ".")
        with os.fdopen(fd, "wb") as out, open(kernel, "rb") as kernel_fp, open(ramdisk, "rb") as ramdisk_fp, \
                open(isolinux_bin, "rb") as isolinux_fp, open(ldlinux_c32, "rb") as ldlinux_fp:
            os.fchmod(out.fileno(), mode)
            boot_files = [
                ((BOOT_DIR, "isolinux.bin"), isolinux_fp, os.fstat(isolinux_fp.fileno()).st_size),
                ((BOOT_DIR, "ldlinux.c32"), ldlinux_fp, os.fstat(ldlinux_fp.fileno()).st_size),
                ((KERNEL_NAME,), kernel_fp, kernel_size),
                ((RAMDISK_NAME,), ramdisk_fp, ramdisk_size),
            ]
            _write_volume(out, tree, isolinux_cfg(kernel_cmdline), boot_files)
        digest = file_sha256(tmp)
        changed = not (os.path.isfile(dest) and file_sha256(dest) == digest
                       and stat.S_IMODE(os.stat(dest).st_mode) == mode)
        if changed:
            os.replace(tmp, dest)
    except config_drive.ConfigDriveError as exc:  # pycdlib missing
        raise StratusError("InternalError", "cannot build the deploy medium: %s" % exc, "config_drive") from None
    except OSError as exc:
        raise StratusError("InternalError", "cannot write the deploy medium %s: %s" % (dest, exc.strerror or exc),
                           "dest") from None
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
    return DeployMedium(dest, digest, os.path.getsize(dest), changed)


def _write_volume(out: t.BinaryIO, tree: t.List[t.Tuple[t.Tuple[str, ...], t.Optional[bytes]]], cfg: bytes,
                  boot_files: t.List[t.Tuple[t.Tuple[str, ...], t.Any, int]]) -> None:
    """The config-2 volume with the boot files and the config drive tree, written to out."""
    with config_drive.new_config_volume() as iso:
        config_drive.add_directory(iso, (BOOT_DIR,))
        for parts, fp, length in boot_files:
            config_drive.add_file(iso, parts, fp, length)
        config_drive.add_file(iso, (BOOT_DIR, "isolinux.cfg"), io.BytesIO(cfg), len(cfg))
        config_drive.add_tree(iso, tree)
        iso.add_eltorito("/ISOLINUX/ISOLINUX.BIN;1", bootcatfile="/ISOLINUX/BOOT.CAT;1",
                         rr_bootcatname="boot.cat", joliet_bootcatfile="/isolinux/boot.cat",
                         boot_load_size=BOOT_LOAD_SECTORS, boot_info_table=True, media_name="noemul")
        iso.write_fp(out)
        out.flush()
        os.fsync(out.fileno())


def find_boot_loader() -> t.Tuple[str, str]:
    """(isolinux.bin, ldlinux.c32) of the first distribution layout present."""
    for isolinux_bin, ldlinux_c32 in BOOT_LOADERS:
        if os.path.isfile(isolinux_bin) and os.path.isfile(ldlinux_c32):
            return isolinux_bin, ldlinux_c32
    raise StratusError("InternalError", "ISOLINUX is not installed on the host that builds deploy media: "
                       "apt-get install isolinux syslinux-common (dnf install syslinux); looked for %s"
                       % ", ".join(" + ".join(pair) for pair in BOOT_LOADERS), "boot_loader")


# --- checks ---------------------------------------------------------------------------------------


def _check_dest(dest: t.Any, mode: t.Any) -> None:
    if not isinstance(dest, str) or not MEDIUM_NAME.fullmatch(os.path.basename(dest)):
        raise StratusError("InvalidRequest", "a deploy medium's file name is 1 to 128 letters, digits, '.', '_' "
                           "or '-' ending in .iso (it is the last part of the URL the BMC downloads)", "dest")
    if not os.path.isdir(os.path.dirname(dest) or "."):
        raise StratusError("InvalidRequest", "the directory of %s does not exist" % dest, "dest")
    if mode not in MODES:
        raise StratusError("InvalidRequest", "a deploy medium holds user data: its mode is 0600 or 0640", "mode")


def _check_cmdline(cmdline: t.Any) -> None:
    if not isinstance(cmdline, str) or len(cmdline) > MAX_KERNEL_CMDLINE or not KERNEL_CMDLINE.fullmatch(cmdline):
        raise StratusError("InvalidRequest", "the kernel command line is printable ASCII words separated by single "
                           "spaces, at most %d characters" % MAX_KERNEL_CMDLINE, "kernel_cmdline")


def check_boot_files(kernel: t.Any, ramdisk: t.Any) -> t.Tuple[int, int]:
    """The sizes of an image's kernel and ramdisk, each checked to be what it says (every boot
    interface's medium holds the two: the ISO here, the TFTP root's copies in pxe.py)."""
    return (_check_file(kernel, "kernel", MAX_KERNEL_BYTES, _is_bzimage, "an x86 Linux kernel (bzImage)"),
            _check_file(ramdisk, "ramdisk", MAX_RAMDISK_BYTES, _is_ramdisk,
                        "a cpio archive or a compressed one (an initramfs)"))


def _check_file(path: t.Any, field: str, limit: int, looks_right: t.Optional[t.Callable[[bytes], bool]],
                what: str) -> int:
    """The size of a regular, non-empty file of at most limit bytes whose start looks like what it is."""
    if not isinstance(path, str) or not path:
        raise StratusError("InvalidRequest", "%s must be the path of %s" % (field, what), field)
    try:
        info = os.stat(path)
        with open(path, "rb") as fp:
            head = fp.read(BZIMAGE_MAGIC_OFFSET + len(BZIMAGE_MAGIC))
    except OSError as exc:
        raise StratusError("InvalidRequest", "%s %s: %s" % (field, path, exc.strerror or exc), field) from None
    if not stat.S_ISREG(info.st_mode) or not 0 < info.st_size <= limit:
        raise StratusError("InvalidRequest", "%s %s must be a regular file of 1 to %d bytes (it has %d)"
                           % (field, path, limit, info.st_size), field)
    if looks_right is not None and not looks_right(head):
        raise StratusError("ImageUnacceptable", "%s %s is not %s" % (field, path, what), field)
    return info.st_size


def _is_bzimage(head: bytes) -> bool:
    return head[BZIMAGE_MAGIC_OFFSET:BZIMAGE_MAGIC_OFFSET + len(BZIMAGE_MAGIC)] == BZIMAGE_MAGIC


def _is_ramdisk(head: bytes) -> bool:
    return any(head.startswith(magic) for magic in RAMDISK_MAGICS)
