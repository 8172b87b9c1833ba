# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A minimal newc ("070701") cpio writer: what Linux unpacks as an initramfs.

Writing the archive here (not with cpio(1)) lets it hold device nodes without root and makes it
reproducible: fixed mtime, uid, gid and inode numbers in the order entries were added, so the same
entries give the same bytes. The lab's image builder (lab/image/build.py) writes the guest's
initramfs with it; a PXE boot (pxe.py) writes an instance's config drive tree as a second initrd.
"""
from __future__ import annotations

import typing as t

TRAILER = "TRAILER!!!"
S_IFDIR = 0o040000
S_IFREG = 0o100000
S_IFLNK = 0o120000
S_IFCHR = 0o020000


class NewcArchive:
    """Entries in the order added, each parent directory before its children (added as 0755 when missing).

    A path added twice is a ValueError: the archive would unpack to whichever came last.
    """

    def __init__(self) -> None:
        self._entries: t.List[t.Tuple[str, int, bytes, int, int]] = []
        self._names: t.Set[str] = set()

    def _parents(self, path: str) -> None:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            parent = "/".join(parts[:i])
            if parent not in self._names:
                self._add(parent, S_IFDIR | 0o755, b"")

    def _add(self, path: str, mode: int, data: bytes, rmajor: int = 0, rminor: int = 0) -> None:
        path = path.strip("/")
        if path in self._names:
            raise ValueError("archive entry added twice: %s" % path)
        self._parents(path)
        self._names.add(path)
        self._entries.append((path, mode, data, rmajor, rminor))

    def __contains__(self, path: str) -> bool:
        return path.strip("/") in self._names

    def add_dir(self, path: str, mode: int = 0o755) -> None:
        if path.strip("/") not in self._names:
            self._add(path, S_IFDIR | mode, b"")

    def add_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._add(path, S_IFREG | mode, data)

    def add_symlink(self, path: str, target: str) -> None:
        self._add(path, S_IFLNK | 0o777, target.encode())

    def add_chardev(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._add(path, S_IFCHR | mode, b"", major, minor)

    @staticmethod
    def _pad(n: int) -> bytes:
        return b"\0" * (-n % 4)

    def _record(self, ino: int, name: str, mode: int, data: bytes, rmajor: int = 0, rminor: int = 0) -> bytes:
        name_b = name.encode() + b"\0"
        # ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rmajor, rminor, len(name_b), 0)
        header = b"070701" + b"".join(b"%08x" % f for f in fields)
        return header + name_b + self._pad(len(header) + len(name_b)) + data + self._pad(len(data))

    def to_bytes(self) -> bytes:
        out = [self._record(i + 1, *entry) for i, entry in enumerate(self._entries)]
        out.append(self._record(0, TRAILER, 0, b""))
        return b"".join(out)


def read_newc(data: bytes) -> t.List[t.Tuple[str, int, bytes]]:
    """(name, mode, content) of each entry up to the trailer: for checking an archive (tests, tools)."""
    entries = []
    pos = 0
    while True:
        header = data[pos:pos + 110]
        if len(header) < 110 or header[:6] not in (b"070701", b"070702"):
            raise ValueError("not a newc cpio entry at offset %d" % pos)
        fields = [int(header[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_end = pos + 110 + namesize
        name = data[pos + 110:name_end - 1].decode()
        start = name_end + (-name_end % 4)
        content = data[start:start + size]
        pos = start + size + (-(start + size) % 4)
        if name == TRAILER:
            return entries
        entries.append((name, mode, content))
