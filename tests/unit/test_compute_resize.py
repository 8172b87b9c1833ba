"""The hypervisor half of resize and cold migration (module_utils/compute/resize.py): the disks copied between two
libvirt connections through download and upload streams (holes kept), the same-host clones, the rollback of a
failed copy, the destination's growth (never a shrink) and a same-host revert's restore - on fake libvirt objects
that keep real files."""
from __future__ import annotations

import os
import typing as t
from pathlib import Path

import pytest

from ansible_collections.stratus.compute.plugins.module_utils.compute import power, resize
from ansible_collections.stratus.compute.plugins.module_utils.compute.libvirt_conn import libvirt
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError

UUID = "6b0f6b7e-6f3c-4d2e-9a43-2b8a0b8b7d11"
NAME = "instance-%s" % UUID
ROOT = "%s-disk" % UUID
SWAP = "%s-disk.swap" % UUID
HOLE = -3


def libvirt_error(code: int, message: str) -> Exception:
    exc = libvirt.libvirtError(message)
    exc.err = (code, 0, message, 2, None, None, None, 0, 0)
    return exc


class FakeStream:
    """A libvirt stream: a download yields the volume's data and holes (runs of zero bytes) in pieces; an upload
    writes what it is sent, seeking over holes."""

    def __init__(self, conn: FakeConn) -> None:
        self.conn = conn
        self.pieces: list[t.Union[bytes, int]] = []
        self.hole_sizes: list[int] = []
        self.target: t.Optional[t.BinaryIO] = None
        self.finished = self.aborted = False

    def recvFlags(self, nbytes: int, flags: int) -> t.Union[bytes, int]:  # noqa: N802 (libvirt's names)
        assert flags == libvirt.VIR_STREAM_RECV_STOP_AT_HOLE
        return self.pieces.pop(0) if self.pieces else b""

    def recv(self, nbytes: int) -> bytes:
        data = self.pieces.pop(0) if self.pieces else b""
        return b"\0" * self.hole_sizes.pop(0) if data == HOLE else t.cast(bytes, data)

    def recvHole(self, flags: int) -> int:  # noqa: N802
        return self.hole_sizes.pop(0)

    def send(self, data: bytes) -> int:
        if self.conn.fail_after is not None:
            self.conn.fail_after -= len(data)
            if self.conn.fail_after < 0:
                raise libvirt_error(libvirt.VIR_ERR_SYSTEM_ERROR, "connection reset")
        t.cast(t.BinaryIO, self.target).write(data[:1 << 16])
        return min(len(data), 1 << 16)  # a partial send: the rest is sent again

    def sendHole(self, length: int, flags: int) -> None:  # noqa: N802
        self.conn.holes_sent += length
        t.cast(t.BinaryIO, self.target).seek(length, os.SEEK_CUR)

    def finish(self) -> None:
        if self.target is not None:
            self.target.truncate()
            self.target.close()
        self.finished = True

    def abort(self) -> None:
        if self.target is not None:
            self.target.close()
        self.aborted = True


class FakeVol:
    def __init__(self, pool: FakePool, name: str) -> None:
        self.pool, self.name = pool, name

    def path(self) -> str:
        return str(self.pool.dir / self.name)

    def info(self) -> list[int]:
        return [0, self.pool.capacity.get(self.name, os.path.getsize(self.path())), 0]

    def XMLDesc(self, flags: int) -> str:  # noqa: N802
        backing = self.pool.backing.get(self.name)
        return "<volume><name>%s</name>%s</volume>" % (
            self.name, "<backingStore><path>%s</path></backingStore>" % backing if backing else "")

    def delete(self, flags: int) -> None:
        os.unlink(self.path())

    def resize(self, size: int, flags: int) -> None:
        self.pool.capacity[self.name] = size

    def download(self, stream: FakeStream, offset: int, length: int, flags: int) -> None:
        sparse = bool(flags & libvirt.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM)
        if sparse and not self.pool.conn.sparse:
            raise libvirt_error(libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED, "sparse streams are not supported")
        data = Path(self.path()).read_bytes()
        # the data in 4 KiB blocks; a block of zeros is a hole
        for start in range(0, len(data), 4096):
            block = data[start:start + 4096]
            if block.strip(b"\0"):
                stream.pieces.append(block)
            else:
                stream.pieces.append(HOLE)
                stream.hole_sizes.append(len(block))

    def upload(self, stream: FakeStream, offset: int, length: int, flags: int) -> None:
        stream.target = open(self.path(), "r+b")


class FakePool:
    def __init__(self, conn: FakeConn, directory: Path) -> None:
        self.conn, self.dir = conn, directory
        self.capacity: dict[str, int] = {}
        self.backing: dict[str, str] = {}
        directory.mkdir(parents=True, exist_ok=True)

    def storageVolLookupByName(self, name: str) -> FakeVol:  # noqa: N802
        if not (self.dir / name).exists():
            raise libvirt_error(libvirt.VIR_ERR_NO_STORAGE_VOL, "no volume %s" % name)
        return FakeVol(self, name)

    def createXML(self, xml: str, flags: int) -> FakeVol:  # noqa: N802
        name = xml.split("<name>")[1].split("</name>")[0]
        (self.dir / name).write_bytes(b"")
        return FakeVol(self, name)

    def refresh(self, flags: int) -> None:
        pass

    def XMLDesc(self, flags: int) -> str:  # noqa: N802
        return "<pool><target><path>%s</path></target></pool>" % self.dir

    def isActive(self) -> bool:  # noqa: N802
        return True

    def autostart(self) -> bool:
        return True


class FakeDom:
    def __init__(self, state: int = libvirt.VIR_DOMAIN_RUNNING) -> None:
        self._state = state
        self.created = 0

    def UUIDString(self) -> str:  # noqa: N802
        return UUID

    def state(self) -> list[int]:
        return [self._state, 0]

    def shutdown(self) -> None:
        self._state = libvirt.VIR_DOMAIN_SHUTOFF

    def destroy(self) -> None:
        self._state = libvirt.VIR_DOMAIN_SHUTOFF

    def create(self) -> None:
        self.created += 1
        self._state = libvirt.VIR_DOMAIN_RUNNING


class FakeConn:
    def __init__(self, directory: Path, sparse: bool = True) -> None:
        self.pool = FakePool(self, directory)
        # the other pools (the volume pool) in directories beside the instance pool's
        self.pools = {"stratus-instances": self.pool}
        self.directory = directory
        self.dom = FakeDom()
        self.sparse = sparse
        self.fail_after: t.Optional[int] = None
        self.holes_sent = 0
        self.streams: list[FakeStream] = []

    def storagePoolLookupByName(self, name: str) -> FakePool:  # noqa: N802
        if name not in self.pools:
            self.pools[name] = FakePool(self, self.directory.parent / ("%s-%s" % (self.directory.name, name)))
        return self.pools[name]

    def newStream(self, flags: int) -> FakeStream:  # noqa: N802
        self.streams.append(FakeStream(self))
        return self.streams[-1]

    def lookupByName(self, name: str) -> FakeDom:  # noqa: N802
        assert name == NAME
        return self.dom


def source(tmp_path: Path, dest: FakeConn) -> resize.Source:
    conn = FakeConn(tmp_path / "src")
    src = resize.Source(conn, conn.pool, power.Waiting(timeout=5, retry_interval=1))
    src.remotes["qemu+tcp://10.0.0.2/system"] = dest
    return src


def element(**extra: t.Any) -> dict[str, t.Any]:
    return dict({"uuid": UUID, "domain_name": NAME, "op": "migrate_disks", "disks": [{"name": ROOT}, {"name": SWAP}],
                 "dest_uri": "qemu+tcp://10.0.0.2/system", "dest_pool_path": "/unused", "restart_on_failure": True},
                **extra)


def disk_bytes() -> bytes:
    """A disk with data, a hole of 3 blocks, data again, and a trailing hole."""
    return b"QFI\xfb" + b"x" * 5000 + b"\0" * (3 * 4096 + 4096 - 5004) + b"y" * 4096 + b"\0" * 8192


@pytest.mark.parametrize("sparse", [True, False])
def test_disks_go_to_the_destination_byte_for_byte(tmp_path: Path, sparse: bool) -> None:
    dest = FakeConn(tmp_path / "dest")
    src = source(tmp_path, dest)
    src.conn.sparse = sparse
    (src.conn.pool.dir / ROOT).write_bytes(disk_bytes())
    (src.conn.pool.dir / SWAP).write_bytes(b"\0" * 8192)
    out = resize.migrate_disks(src, element())
    assert out["copied"] == [ROOT, SWAP] and src.conn.dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    assert (dest.pool.dir / ROOT).read_bytes() == disk_bytes()
    assert (dest.pool.dir / SWAP).read_bytes() == b"\0" * 8192
    # holes travel as holes when libvirt allows it
    assert (dest.holes_sent > 0) == sparse
    assert (src.conn.pool.dir / ROOT).exists()  # the source keeps its disks for a revert


def test_a_rerun_redoes_a_partial_copy(tmp_path: Path) -> None:
    dest = FakeConn(tmp_path / "dest")
    src = source(tmp_path, dest)
    (src.conn.pool.dir / ROOT).write_bytes(disk_bytes())
    (src.conn.pool.dir / SWAP).write_bytes(b"s" * 100)
    (dest.pool.dir / ROOT).write_bytes(b"half a copy a killed run left")
    resize.migrate_disks(src, element())
    assert (dest.pool.dir / ROOT).read_bytes() == disk_bytes()


def test_a_failed_copy_rolls_back(tmp_path: Path) -> None:
    dest = FakeConn(tmp_path / "dest")
    src = source(tmp_path, dest)
    (src.conn.pool.dir / ROOT).write_bytes(disk_bytes())
    (src.conn.pool.dir / SWAP).write_bytes(b"s" * 100)
    dest.fail_after = 6000
    with pytest.raises(StratusError) as err:
        resize.migrate_disks(src, element())
    assert err.value.code == "MigrationError" and "connection reset" in err.value.message
    assert not (dest.pool.dir / ROOT).exists()              # the partial copy is gone
    assert src.conn.dom.created == 1 and src.conn.dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert all(s.aborted for s in src.conn.streams + dest.streams if not s.finished)


VOLUME = "volume-0d5b1e1c-2f4a-4c7e-8a55-3b9d6c2e1f00"


def with_volume(tmp_path: Path, dest: FakeConn) -> resize.Source:
    """A source whose volume pool holds the server's volume (data, a hole, data)."""
    src = source(tmp_path, dest)
    src.volume_pool = src.conn.storagePoolLookupByName("stratus-volumes")
    (src.conn.pool.dir / ROOT).write_bytes(disk_bytes())
    (src.conn.pool.dir / SWAP).write_bytes(b"s" * 100)
    (src.volume_pool.dir / VOLUME).write_bytes(b"v" * 4096 + b"\0" * 8192 + b"w" * 4096)
    return src


def test_volumes_go_to_the_destinations_volume_pool(tmp_path: Path) -> None:
    dest = FakeConn(tmp_path / "dest")
    src = with_volume(tmp_path, dest)
    out = resize.migrate_disks(src, element(volumes=[{"name": VOLUME}]))
    assert out["copied"] == [ROOT, SWAP, VOLUME]
    dest_volumes = dest.storagePoolLookupByName("stratus-volumes")
    assert (dest_volumes.dir / VOLUME).read_bytes() == (src.volume_pool.dir / VOLUME).read_bytes()
    assert not (dest.pool.dir / VOLUME).exists() and dest.holes_sent >= 8192
    assert (src.volume_pool.dir / VOLUME).exists()  # the source keeps its copy until the confirm


def test_a_failed_volume_copy_rolls_back_every_copy_and_keeps_the_source(tmp_path: Path) -> None:
    dest = FakeConn(tmp_path / "dest")
    src = with_volume(tmp_path, dest)
    before = (src.volume_pool.dir / VOLUME).read_bytes()
    dest.fail_after = 3 * 4096 + 100 + 1000  # the disks go (their data: 3 blocks, 100 bytes), the volume breaks
    with pytest.raises(StratusError) as err:
        resize.migrate_disks(src, element(volumes=[{"name": VOLUME}]))
    assert err.value.code == "MigrationError" and "connection reset" in err.value.message
    dest_volumes = dest.storagePoolLookupByName("stratus-volumes")
    assert os.listdir(dest.pool.dir) == [] and os.listdir(dest_volumes.dir) == []
    assert (src.volume_pool.dir / VOLUME).read_bytes() == before and src.conn.dom.created == 1


def test_a_same_host_resize_leaves_volumes_and_a_bad_volume_name_changes_nothing(tmp_path: Path) -> None:
    conn = FakeConn(tmp_path / "pool")
    src = resize.Source(conn, conn.pool, power.Waiting(timeout=5, retry_interval=1))  # no volume pool: not needed
    (conn.pool.dir / ROOT).write_bytes(b"root v1")
    (conn.pool.dir / SWAP).write_bytes(b"swap v1")
    out = resize.migrate_disks(src, element(dest_uri=None, volumes=[{"name": VOLUME}]))
    assert out["copied"] == [ROOT, SWAP]
    dest = FakeConn(tmp_path / "dest")
    src = with_volume(tmp_path, dest)
    for name in ("../../etc/shadow", "volume-x", ROOT):
        with pytest.raises(StratusError) as err:
            resize.migrate_disks(src, element(volumes=[{"name": name}]))
        assert (err.value.code, err.value.field) == ("InvalidRequest", "instances.volumes.name")
    assert src.conn.dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING and os.listdir(dest.pool.dir) == []


def test_a_same_host_resize_clones_beside_and_a_revert_restores(tmp_path: Path) -> None:
    conn = FakeConn(tmp_path / "pool")
    src = resize.Source(conn, conn.pool, power.Waiting(timeout=5, retry_interval=1))
    (conn.pool.dir / ROOT).write_bytes(b"root v1")
    (conn.pool.dir / SWAP).write_bytes(b"swap v1")
    resize.migrate_disks(src, element(dest_uri=None))
    assert (conn.pool.dir / (ROOT + ".resize")).read_bytes() == b"root v1"
    assert resize.clone_beside(conn.pool, conn.pool.storageVolLookupByName(ROOT)) is False  # done once
    (conn.pool.dir / ROOT).write_bytes(b"root grown")
    assert resize.restore(conn.pool, {"uuid": UUID, "disks": [{"name": ROOT}, {"name": SWAP}]}) == {"changed": True}
    assert (conn.pool.dir / ROOT).read_bytes() == b"root v1" and not (conn.pool.dir / (ROOT + ".resize")).exists()
    assert resize.restore(conn.pool, {"uuid": UUID, "disks": [{"name": ROOT}]}) == {"changed": False}
    # a confirm drops the clones instead
    resize.migrate_disks(src, element(dest_uri=None))
    assert resize.drop_copies(src, {"uuid": UUID, "disks": [{"name": ROOT}, {"name": SWAP}]}) == {"changed": True}
    assert sorted(os.listdir(conn.pool.dir)) == [ROOT, SWAP]


def test_the_destination_grows_the_root_disk_and_never_shrinks_it(tmp_path: Path) -> None:
    conn = FakeConn(tmp_path / "dest")
    (conn.pool.dir / ROOT).write_bytes(b"qcow2")
    conn.pool.capacity[ROOT] = 1 << 30
    conn.pool.backing[ROOT] = "/var/lib/libvirt/stratus/base/img-1"
    grow = {"uuid": UUID, "disks": [{"name": ROOT, "size_bytes": 2 << 30,
                                     "base_path": "/var/lib/libvirt/stratus/base/img-1"}]}
    assert resize.finish(conn.pool, grow) == {"changed": True}
    assert conn.pool.capacity[ROOT] == 2 << 30
    assert resize.finish(conn.pool, grow) == {"changed": False}          # a rerun: already so
    shrink = {"uuid": UUID, "disks": [{"name": ROOT, "size_bytes": 1 << 30}]}
    assert resize.finish(conn.pool, shrink) == {"changed": False} and conn.pool.capacity[ROOT] == 2 << 30
    with pytest.raises(StratusError) as err:
        resize.finish(conn.pool, {"uuid": UUID, "disks": [{"name": SWAP}]})
    assert err.value.code == "MigrationError"


@pytest.mark.parametrize("uri, ok", [
    ("qemu+tcp://10.243.1.12/system", True), ("qemu+tls://hv2.example:16514/system", True),
    ("qemu+ssh://root@hv2/system", True), ("qemu+tcp://[fd00::2]/system", True),
    ("qemu:///system", False), ("qemu+tcp://hv2/session", False), ("qemu+tcp://hv2/system?socket=/x", False),
    ("qemu+unix://hv2/system", False), ("qemu+tcp://hv2 -o x/system", False),
])
def test_a_migration_uri_is_full_match_validated(uri: str, ok: bool) -> None:
    if ok:
        assert resize.checked_uri(uri) == uri
    else:
        with pytest.raises(StratusError) as err:
            resize.checked_uri(uri)
        assert (err.value.code, err.value.field) == ("InvalidRequest", "stratus_migration_uri")


@pytest.mark.parametrize("name", ["../etc/passwd", "%s-disk.config-abc.iso" % UUID, "other-disk",
                                  "6b0f6b7e-6f3c-4d2e-9a43-000000000000-disk"])
def test_only_the_servers_own_local_disks_are_touched(name: str) -> None:
    with pytest.raises(StratusError) as err:
        resize.Disk.of({"name": name}, UUID)
    assert err.value.code == "InvalidRequest"
