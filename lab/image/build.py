"""Build the Stratus lab guest images from Debian packages.

Outputs (default ``build/images`` under the repo root):

* ``stratus-guest.qcow2``: BIOS-bootable FAT "superfloppy" with syslinux, the
  Debian kernel and a busybox initramfs whose /init reports disks, the config
  drive and its DHCP address on the serial console (see ``init.sh``).
* ``stratus-guest-b.qcow2``: the same guest with ``stratus.image=b`` on its kernel
  command line, so its console says ``STRATUS-GUEST image label=b`` (the first says
  ``label=-``): the other image a rebuild onto another image boots.
* ``stratus-bench.qcow2``: a 1 MiB disk whose boot sector just halts, for
  starting many domains cheaply.
* ``stratus-guest.vmlinuz``, ``stratus-guest.initrd``: the guest's kernel and
  initramfs as they are, the bare-metal image (a kernel + ramdisk pair that the
  deploy medium makes bootable, plugins/module_utils/baremetal/deploy_medium.py).
* ``manifest.json``: name, sha256, sizes and format of each image, and of the
  kernel and initramfs (``boot_files``).

No root loop-mounts are used: the FAT image is built with mkfs.vfat/mtools
and ``syslinux --install`` (mtools variant), the initramfs is written as a
newc cpio archive from Python. A second run with the same inputs does
nothing (the manifest records a key over the builder sources, the kernel
package version and the busybox binary).

Usage: python lab/image/build.py [--out DIR] [--force] [--kernel-package PKG]
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import newc
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.newc import NewcArchive
from ansible_collections.stratus.compute.plugins.module_utils.compute.steps import file_sha256

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
DEFAULT_OUT = REPO_ROOT / "build" / "images"

GUEST_IMAGE = "stratus-guest.qcow2"
GUEST_B_IMAGE = "stratus-guest-b.qcow2"
GUEST_B_CMDLINE_EXTRA = "stratus.image=b"
BENCH_IMAGE = "stratus-bench.qcow2"
GUEST_KERNEL = "stratus-guest.vmlinuz"
GUEST_RAMDISK = "stratus-guest.initrd"
MANIFEST = "manifest.json"

# Files whose content defines the guest; any change rebuilds the images.
INPUT_FILES = ("build.py", "init.sh", "udhcpc.script", "json_get.awk")

KERNEL_META_PACKAGE = "linux-image-amd64"
KERNEL_CMDLINE = "console=ttyS0 quiet"
BUSYBOX = Path("/bin/busybox")
SYSLINUX_VOLUME_ID = "5354524a"  # fixed FAT serial ("STRJ") instead of a random one
GUEST_FAT_LABEL = "STRATUS"
BENCH_RAW_SIZE = 1024 * 1024

# Drivers for the disks/NICs Stratus attaches (virtio, IDE/SATA cdrom, SCSI)
# and the config drive filesystems (iso9660, or vfat like Nova's option).
WANTED_MODULES = (
    "virtio_pci", "virtio_blk", "virtio_net", "virtio_scsi",
    "sd_mod", "sr_mod", "cdrom", "isofs",
    "ata_piix", "ahci", "libata",
    "vfat", "nls_cp437", "nls_ascii",
)

# Tool -> Debian package that provides it, for the "missing tool" message.
REQUIRED_TOOLS = {
    "apt-get": "apt",
    "apt-cache": "apt",
    "dpkg-deb": "dpkg",
    "mkfs.vfat": "dosfstools",
    "mcopy": "mtools",
    "syslinux": "syslinux",
    "qemu-img": "qemu-utils",
}


class BuildError(Exception):
    """A failure reported to the user as one line, without a traceback."""


def log(msg: str) -> None:
    print("[image] %s" % msg, flush=True)


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command, return stdout; raise BuildError with its last error line."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BuildError("tool not found: %s" % cmd[0]) from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        detail = lines[-1] if lines else "exit code %d" % proc.returncode
        raise BuildError("%s failed: %s" % (" ".join(cmd[:3]), detail))
    return proc.stdout


def sha256_file(path: Path) -> str:
    return file_sha256(str(path))


# --------------------------------------------------------------- preflight

def is_static_elf(path: Path) -> bool:
    """True if the ELF file has no PT_INTERP (no dynamic loader needed)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit only
        return False
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, = struct.unpack_from("<I", data, phoff + i * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def check_tools() -> None:
    # mkfs.vfat lives in /usr/sbin, which a non-root PATH often lacks.
    path = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join(path + [d for d in ("/usr/sbin", "/sbin") if d not in path])
    missing = sorted(t for t in REQUIRED_TOOLS if shutil.which(t) is None)
    if missing:
        pkgs = sorted({REQUIRED_TOOLS[t] for t in missing})
        raise BuildError("missing tool(s) %s: apt-get install -y %s"
                         % (", ".join(missing), " ".join(pkgs)))
    # The initramfs has no libc, so busybox must be the static build.
    if not BUSYBOX.is_file() or not is_static_elf(BUSYBOX):
        raise BuildError("%s is missing or not static: apt-get install -y busybox-static"
                         % BUSYBOX)


# ----------------------------------------------------------- kernel package

def apt_kernel_package() -> str | None:
    """Name of the versioned kernel package linux-image-amd64 depends on."""
    try:
        out = run(["apt-cache", "depends", KERNEL_META_PACKAGE])
    except BuildError:
        return None
    for m in re.finditer(r"Depends:\s+(linux-image-[0-9][\w.+-]*-amd64)\s*$", out, re.M):
        return m.group(1)
    return None


def apt_package_version(pkg: str) -> str | None:
    try:
        out = run(["apt-cache", "show", "--no-all-versions", pkg])
    except BuildError:
        return None
    m = re.search(r"^Version:\s*(\S+)", out, re.M)
    return m.group(1) if m else None


def deb_field(deb: Path, field: str) -> str:
    return run(["dpkg-deb", "-f", str(deb), field]).strip()


def cached_kernel_debs(cache: Path, pkg: str | None = None) -> list[Path]:
    pattern = "%s_*_amd64.deb" % (pkg or "linux-image-*-amd64")
    return sorted(cache.glob(pattern))


def resolve_kernel(cache: Path, override: str | None) -> tuple[str, str]:
    """(package, version) of the Debian 12 kernel to use.

    Asks apt first; without apt lists (offline, no apt-get update) it falls
    back to a kernel .deb already in the cache.
    """
    pkg = override or apt_kernel_package()
    version = apt_package_version(pkg) if pkg else None
    if not version and not cached_kernel_debs(cache, pkg) and os.geteuid() == 0:
        # A fresh machine may never have fetched the package lists.
        log("apt-cache knows no kernel package: running apt-get update")
        try:
            run(["apt-get", "update", "-qq"])
        except BuildError as exc:
            log("apt-get update failed: %s" % exc)
        pkg = override or apt_kernel_package()
        version = apt_package_version(pkg) if pkg else None
    if pkg and version:
        return pkg, version
    debs = cached_kernel_debs(cache, pkg)
    if debs:
        deb = debs[-1]
        return deb_field(deb, "Package"), deb_field(deb, "Version")
    raise BuildError("apt-cache does not know the kernel package %s and none is cached in %s "
                     "(apt-get update, or check --kernel-package)" % (pkg or KERNEL_META_PACKAGE, cache))


def fetch_kernel_deb(cache: Path, pkg: str, version: str) -> Path:
    """The kernel .deb from the cache, downloaded with apt-get if needed."""
    for deb in cached_kernel_debs(cache, pkg):
        if deb_field(deb, "Version") == version:
            return deb
    log("downloading %s=%s" % (pkg, version))
    cache.mkdir(parents=True, exist_ok=True)
    run(["apt-get", "download", "%s=%s" % (pkg, version)], cwd=cache)
    for deb in cached_kernel_debs(cache, pkg):
        if deb_field(deb, "Version") == version:
            # Older kernels are no longer needed; keep the cache small.
            for old in cached_kernel_debs(cache):
                if old != deb:
                    old.unlink()
            return deb
    raise BuildError("apt-get download %s=%s left no .deb in %s" % (pkg, version, cache))


def extract_kernel(deb: Path, dest: Path) -> tuple[Path, Path, str]:
    """Unpack the .deb; return (vmlinuz, modules base dir, kernel release)."""
    log("extracting %s" % deb.name)
    run(["dpkg-deb", "-x", str(deb), str(dest)])
    kernels = sorted((dest / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise BuildError("%s contains no boot/vmlinuz-*" % deb.name)
    kver = kernels[-1].name[len("vmlinuz-"):]
    # Debian 12 ships lib/modules; merged-/usr layouts use usr/lib/modules.
    for base in (dest, dest / "usr"):
        if (base / "lib" / "modules" / kver).is_dir():
            return kernels[-1], base, kver
    raise BuildError("%s has no lib/modules/%s" % (deb.name, kver))


# ------------------------------------------------------------------ modules

COMPRESSED_SUFFIXES = (".xz", ".zst", ".gz")


def module_name(relpath: str) -> str:
    """kernel/drivers/ata/ata_piix.ko.xz -> ata_piix (dashes as underscores)."""
    name = relpath.rsplit("/", 1)[-1]
    for suffix in COMPRESSED_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name[: -len(".ko")].replace("-", "_")


def decompress_module(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".zst"):
        if shutil.which("zstd") is None:
            raise BuildError("kernel modules are zstd-compressed: apt-get install -y zstd")
        return subprocess.run(["zstd", "-dc", str(path)], check=True,
                              capture_output=True).stdout
    return data


def ensure_modules_dep(base: Path, kver: str) -> Path:
    """modules.dep for the kernel; Debian's package leaves it to postinst."""
    moddir = base / "lib" / "modules" / kver
    dep = moddir / "modules.dep"
    if dep.is_file():
        return dep
    if shutil.which("depmod"):
        run(["depmod", "-b", str(base), kver])
    else:
        # busybox depmod only reads plain .ko files: unpack compressed ones.
        for ko in moddir.rglob("*.ko.*"):
            if ko.name.endswith(COMPRESSED_SUFFIXES):
                ko.with_name(ko.name.rsplit(".", 1)[0]).write_bytes(decompress_module(ko))
                ko.unlink()
        run([str(BUSYBOX), "depmod", "-b", str(base), kver])
    if not dep.is_file():
        raise BuildError("depmod did not write %s" % dep)
    return dep


def parse_modules_dep(dep: Path) -> dict[str, tuple[str, list[str]]]:
    """module name -> (path relative to the modules dir, dependency paths)."""
    table: dict[str, tuple[str, list[str]]] = {}
    for line in dep.read_text().splitlines():
        if ":" not in line:
            continue
        path, deps = line.split(":", 1)
        table[module_name(path.strip())] = (path.strip(), deps.split())
    return table


def builtin_modules(moddir: Path) -> set[str]:
    builtin = moddir / "modules.builtin"
    if not builtin.is_file():
        return set()
    return {module_name(line.strip()) for line in builtin.read_text().splitlines() if line.strip()}


def resolve_modules(table: dict[str, tuple[str, list[str]]], builtin: set[str],
                    wanted: tuple[str, ...]) -> list[str]:
    """Module paths in load order: every dependency before its user."""
    by_path = {path: name for name, (path, _deps) in table.items()}
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        path, deps = table[name]
        for dep_path in deps:
            visit(by_path.get(dep_path, module_name(dep_path)))
        order.append(path)

    for name in wanted:
        if name in table:
            visit(name)
        elif name not in builtin:
            raise BuildError("kernel module %s is neither in modules.dep nor built in" % name)
    return order


# ---------------------------------------------------------------- initramfs

class Cpio(NewcArchive):
    """The initramfs archive (module_utils/baremetal/newc.py): written here, not by cpio(1), it holds
    /dev/console without root (no mknod) and is reproducible (fixed mtime/uid/inode order)."""

    def _add(self, path: str, mode: int, data: bytes, rmajor: int = 0, rminor: int = 0) -> None:
        try:
            super()._add(path, mode, data, rmajor, rminor)
        except ValueError as exc:
            raise BuildError("initramfs: %s" % exc) from None


def busybox_applets() -> list[str]:
    """Applet paths (bin/sh, sbin/insmod, ...) as busybox itself lists them."""
    out = run([str(BUSYBOX), "--list-full"])
    return [line.strip().lstrip("/") for line in out.splitlines() if line.strip()]


def build_initramfs(base: Path, kver: str, module_paths: list[str],
                    dep_table: dict[str, tuple[str, list[str]]]) -> bytes:
    """The gzip-compressed initramfs (gzip decompresses fast under TCG)."""
    moddir = base / "lib" / "modules" / kver
    cpio = Cpio()
    for d in ("dev", "proc", "sys", "run", "tmp", "root", "mnt/config", "etc/stratus",
              "bin", "sbin", "usr/bin", "usr/sbin"):
        cpio.add_dir(d)
    cpio.add_dir("tmp", 0o1777)
    # The kernel opens /dev/console for PID 1 before devtmpfs is mounted.
    cpio.add_chardev("dev/console", 5, 1)
    cpio.add_chardev("dev/null", 1, 3, 0o666)
    cpio.add_file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
    for applet in busybox_applets():
        if applet != "bin/busybox":
            cpio.add_symlink(applet, "/bin/busybox")
    cpio.add_file("init", (HERE / "init.sh").read_bytes(), 0o755)
    cpio.add_file("etc/udhcpc.script", (HERE / "udhcpc.script").read_bytes(), 0o755)
    cpio.add_file("usr/share/stratus/json_get.awk", (HERE / "json_get.awk").read_bytes())

    # Modules are stored uncompressed so busybox insmod can load them.
    plain: dict[str, str] = {}
    for rel in module_paths:
        stem = rel
        for suffix in COMPRESSED_SUFFIXES:
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
        plain[rel] = stem
        cpio.add_file("lib/modules/%s/%s" % (kver, stem), decompress_module(moddir / rel))
    cpio.add_file("etc/stratus/modules.order",
                  "".join(plain[rel] + "\n" for rel in module_paths).encode())
    # A matching modules.dep lets busybox modprobe (and kernel requests) work.
    dep_lines = []
    for name, (rel, deps) in sorted(dep_table.items()):
        if rel in plain:
            dep_lines.append("%s: %s\n" % (plain[rel], " ".join(plain.get(d, d) for d in deps)))
    cpio.add_file("lib/modules/%s/modules.dep" % kver, "".join(dep_lines).encode())
    return gzip.compress(cpio.to_bytes(), compresslevel=9, mtime=0)


# -------------------------------------------------------------- disk images

SYSLINUX_CFG = """\
DEFAULT stratus
PROMPT 0
TIMEOUT 0
LABEL stratus
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND {cmdline}
"""


def build_boot_fat(vmlinuz: Path, initrd: Path, raw: Path, workdir: Path, cmdline: str = KERNEL_CMDLINE) -> None:
    """Bootable FAT superfloppy (no partition table) written without mounts.

    SeaBIOS boots sector 0 of the disk, which syslinux made its FAT boot
    sector; so the file system itself can be the whole disk.
    """
    payload = vmlinuz.stat().st_size + initrd.stat().st_size
    size_mib = (payload + (3 << 20) + (1 << 20) - 1) >> 20  # room for FAT + ldlinux
    raw.unlink(missing_ok=True)
    run(["mkfs.vfat", "-C", "-n", GUEST_FAT_LABEL, "-i", SYSLINUX_VOLUME_ID,
         str(raw), str(size_mib * 1024)])
    run(["syslinux", "--install", str(raw)])
    cfg = workdir / "syslinux.cfg"
    cfg.write_text(SYSLINUX_CFG.format(cmdline=cmdline))
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    for src, name in ((vmlinuz, "vmlinuz"), (initrd, "initrd.gz"), (cfg, "syslinux.cfg")):
        run(["mcopy", "-o", "-i", str(raw), str(src), "::" + name], env=env)


def bench_boot_sector() -> bytes:
    """512-byte boot sector: cli; hlt; jmp back to hlt; 0x55AA signature.

    The vCPU halts with interrupts off, so the domain is alive but idle.
    """
    code = bytes([0xFA,         # cli
                  0xF4,         # hlt
                  0xEB, 0xFD])  # jmp short -3 (back to hlt)
    return code + b"\0" * (510 - len(code)) + b"\x55\xaa"


def to_qcow2(raw: Path, qcow2: Path) -> None:
    run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)])


def image_entry(path: Path) -> dict[str, object]:
    info = json.loads(run(["qemu-img", "info", "--output=json", str(path)]))
    return {
        "file": path.name,
        "sha256": sha256_file(path),
        "virtual_size": info["virtual-size"],
        # Bytes of the qcow2 file itself (what an image store uploads).
        "actual_size": path.stat().st_size,
        "disk_format": "qcow2",
    }


# ------------------------------------------------------------------ caching

def tool_versions() -> str:
    """Versions of the packages whose files land in the image."""
    try:
        return run(["dpkg-query", "-W", "-f", "${Package}=${Version}\n",
                    "busybox-static", "syslinux", "syslinux-common"])
    except BuildError:
        return ""


def build_key(kernel_pkg: str, kernel_version: str) -> str:
    h = hashlib.sha256()
    for name in INPUT_FILES:
        h.update(name.encode() + b"\0" + (HERE / name).read_bytes() + b"\0")
    # the cpio writer of the initramfs lives in the collection
    h.update(b"newc.py\0" + Path(newc.__file__).read_bytes() + b"\0")
    h.update(("%s=%s\n" % (kernel_pkg, kernel_version)).encode())
    h.update(sha256_file(BUSYBOX).encode())
    h.update(tool_versions().encode())
    return h.hexdigest()


def up_to_date(out: Path, key: str) -> bool:
    """True when the manifest has this key and every image still matches it."""
    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("build_key") != key:
        return False
    entries = manifest.get("images", []) + manifest.get("boot_files", [])
    for entry in entries:
        path = out / entry.get("file", "")
        if not path.is_file() or sha256_file(path) != entry.get("sha256"):
            return False
    return {e.get("file") for e in entries} == {GUEST_IMAGE, GUEST_B_IMAGE, BENCH_IMAGE, GUEST_KERNEL, GUEST_RAMDISK}


# --------------------------------------------------------------------- main

def build_guest(cache: Path, workdir: Path, kernel_pkg: str,
                kernel_version: str) -> tuple[Path, Path, Path, Path]:
    """(the guest disk, the second guest disk, its kernel, its initramfs) in workdir."""
    deb = fetch_kernel_deb(cache, kernel_pkg, kernel_version)
    vmlinuz, base, kver = extract_kernel(deb, workdir / "kernel")
    moddir = base / "lib" / "modules" / kver
    dep_table = parse_modules_dep(ensure_modules_dep(base, kver))
    modules = resolve_modules(dep_table, builtin_modules(moddir), WANTED_MODULES)
    log("kernel %s, %d modules: %s" % (kver, len(modules),
                                       " ".join(module_name(m) for m in modules)))
    initrd = workdir / "initrd.gz"
    initrd.write_bytes(build_initramfs(base, kver, modules, dep_table))
    log("initramfs %.1f MiB, kernel %.1f MiB" % (initrd.stat().st_size / 2**20,
                                                 vmlinuz.stat().st_size / 2**20))
    raw = workdir / "guest.raw"
    build_boot_fat(vmlinuz, initrd, raw, workdir)
    qcow2 = workdir / GUEST_IMAGE
    to_qcow2(raw, qcow2)
    log("built %s" % GUEST_IMAGE)
    raw_b = workdir / "guest-b.raw"
    build_boot_fat(vmlinuz, initrd, raw_b, workdir, "%s %s" % (KERNEL_CMDLINE, GUEST_B_CMDLINE_EXTRA))
    qcow2_b = workdir / GUEST_B_IMAGE
    to_qcow2(raw_b, qcow2_b)
    log("built %s" % GUEST_B_IMAGE)
    kernel = workdir / GUEST_KERNEL
    shutil.copyfile(vmlinuz, kernel)
    return qcow2, qcow2_b, kernel, initrd.rename(workdir / GUEST_RAMDISK)


def build_bench(workdir: Path) -> Path:
    raw = workdir / "bench.raw"
    with raw.open("wb") as fp:
        fp.write(bench_boot_sector())
        fp.truncate(BENCH_RAW_SIZE)
    qcow2 = workdir / BENCH_IMAGE
    to_qcow2(raw, qcow2)
    log("built %s" % BENCH_IMAGE)
    return qcow2


def build_all(out: Path, force: bool, kernel_override: str | None) -> None:
    check_tools()
    cache = out / "cache"
    kernel_pkg, kernel_version = resolve_kernel(cache, kernel_override)
    key = build_key(kernel_pkg, kernel_version)
    if not force and up_to_date(out, key):
        log("images in %s are up to date (%s %s)" % (out, kernel_pkg, kernel_version))
        return
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    # Work next to the output so the final moves are renames on one disk.
    with tempfile.TemporaryDirectory(prefix=".work-", dir=out) as tmp:
        workdir = Path(tmp)
        guest, guest_b, kernel, ramdisk = build_guest(cache, workdir, kernel_pkg, kernel_version)
        entries = []
        for image in (guest, guest_b, build_bench(workdir)):
            final = out / image.name
            os.replace(image, final)
            entries.append(image_entry(final))
        boot_files = []
        for path, kind in ((kernel, "kernel"), (ramdisk, "ramdisk")):
            final = out / path.name
            os.replace(path, final)
            boot_files.append({"file": final.name, "kind": kind, "sha256": sha256_file(final),
                               "size": final.stat().st_size})
    manifest = {
        "build_key": key,
        "kernel": {"package": kernel_pkg, "version": kernel_version},
        "kernel_cmdline": KERNEL_CMDLINE,
        "images": entries,
        # the guest's kernel and initramfs as a bare-metal image (the deploy medium boots them)
        "boot_files": boot_files,
    }
    # Written last: its key marks the whole set as complete.
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    for e in entries:
        log("%s: %d bytes, virtual %d, sha256 %s" % (e["file"], e["actual_size"],
                                                     e["virtual_size"], e["sha256"]))
    for b in boot_files:
        log("%s: %d bytes, sha256 %s" % (b["file"], b["size"], b["sha256"]))
    log("done in %.1f s" % (time.monotonic() - started))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Build the Stratus lab guest images.")
    parser.add_argument("--out", default=str(DEFAULT_OUT),
                        help="output directory (relative paths are from the repo root)")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--kernel-package", help="versioned kernel package to use, "
                        "e.g. linux-image-6.1.0-56-amd64 (default: what %s depends on)"
                        % KERNEL_META_PACKAGE)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out = Path(args.out)
    if not out.is_absolute():
        out = REPO_ROOT / out
    try:
        build_all(out, args.force, args.kernel_package)
    except BuildError as exc:
        print("build.py: error: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build.py: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
