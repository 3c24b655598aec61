"""The `vfs` partition as MicroPython's esp32 port formats it: LittleFS v2 (disk version
2.1), through littlefs-python, with the geometry of `vfs.VfsLfs2.mkfs(bdev)` over
`esp32.Partition` (extmod/vfs_lfs.c, vfs_lfsx.c, ports/esp32/esp32_partition.c):

    block size 4096 (the partition's native block), block count = partition size / 4096,
    read size 32, prog size 32, lookahead 32, block cycles 100, cache min(4096, 4 * 32) = 128

LittleFS is copy-on-write: a changed or deleted file's old blocks keep their bytes until
they are reused, and a metadata pair's log keeps older commits (inline files included) until
it is compacted. `walk` therefore also says which block holds what: the blocks the current
tree reads (metadata, each file's data); every other block is free, and may hold old data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from littlefs import LittleFS, LittleFSError, UserContext

from sealscan.flashimage import FlashImageError

BLOCK = 4096
GEOMETRY: dict[str, int] = dict(block_size=BLOCK, read_size=32, prog_size=32, lookahead_size=32,
                                block_cycles=100, cache_size=128)
META = "<metadata>"
_TRAVERSED = "<referenced>"


class LfsError(FlashImageError):
    """The region holds no LittleFS this geometry can mount."""


class _Region(UserContext):
    """littlefs-python block callbacks over a buffer, noting which block each read touches."""

    def __init__(self, buf: Any):
        self.buffer = buf
        self.in_size = len(buf)
        self.owner = META
        self.owners: dict[int, set[str]] = {}

    def read(self, cfg: Any, block: int, off: int, size: int) -> bytearray:
        self.owners.setdefault(block, set()).add(self.owner)
        start = block * BLOCK + off
        return bytearray(self.buffer[start:start + size])

    def prog(self, cfg: Any, block: int, off: int, data: bytes) -> int:
        start = block * BLOCK + off
        self.buffer[start:start + len(data)] = data
        return 0

    def erase(self, cfg: Any, block: int) -> int:
        start = block * BLOCK
        self.buffer[start:start + BLOCK] = b"\xff" * BLOCK
        return 0


def _fs(buf: Any, *, mount: bool) -> tuple[LittleFS, _Region]:
    if len(buf) % BLOCK or len(buf) < 2 * BLOCK:
        raise LfsError(f"a vfs partition is whole 4 KiB blocks; this one is {len(buf)} bytes")
    ctx = _Region(buf)
    fs = LittleFS(context=ctx, mount=False, block_count=len(buf) // BLOCK, **GEOMETRY)
    if mount:
        try:
            fs.mount()
        except LittleFSError as e:
            raise LfsError(_mount_error(buf, e)) from None
    return fs, ctx


def _mount_error(buf: Any, e: LittleFSError) -> str:
    if bytes(buf[:2 * BLOCK]).count(0xFF) == 2 * BLOCK:
        return "no LittleFS in the vfs partition (erased: MicroPython formats it at boot)"
    return f"corrupt LittleFS superblock in the vfs partition ({e})"


def mkfs(buf: Any) -> None:
    """Format `buf` as MicroPython's `vfs.VfsLfs2.mkfs` does."""
    fs, _ = _fs(buf, mount=False)
    fs.format()


def mount(buf: Any) -> LittleFS:
    """Mount a vfs partition held in `buf` (writable if `buf` is): LfsError if none."""
    return _fs(buf, mount=True)[0]


@dataclass(frozen=True)
class FsEntry:
    path: str  # absolute, "/main.py"
    is_dir: bool
    size: int


@dataclass
class FsTree:
    entries: list[FsEntry] = field(default_factory=list)
    contents: dict[str, bytes] = field(default_factory=dict)  # file path -> bytes
    block_owners: dict[int, set[str]] = field(default_factory=dict)  # META or file paths
    block_count: int = 0
    used_blocks: int = 0

    def owner(self, block: int) -> str | None:
        """What the current tree keeps in `block`: META (a metadata pair: directory logs,
        inline files), a file path (that file's data), or None (free)."""
        owners = self.block_owners.get(block)
        if not owners:
            return None
        if META in owners:
            return META
        files = sorted(o for o in owners if o != _TRAVERSED)
        return files[0] if files else META


def walk(buf: Any) -> FsTree:
    """Every directory and file of the vfs partition in `buf`, each file's bytes, and which
    blocks the tree uses. LfsError if no LittleFS mounts there."""
    fs, ctx = _fs(buf, mount=True)
    tree = FsTree(block_count=len(buf) // BLOCK)
    try:
        pending = ["/"]
        while pending:
            top = pending.pop()
            ctx.owner = META
            for st in sorted(fs.scandir(top), key=lambda s: s.name):
                path = top.rstrip("/") + "/" + st.name
                is_dir = st.type == 2
                tree.entries.append(FsEntry(path, is_dir, 0 if is_dir else st.size))
                if is_dir:
                    pending.append(path)
                    continue
                ctx.owner = path
                with fs.open(path, "rb") as f:
                    tree.contents[path] = f.read()
                ctx.owner = META
        ctx.owner = _TRAVERSED
        tree.used_blocks = fs.used_block_count  # a traversal reads every referenced block
    except LittleFSError as e:
        raise LfsError(f"corrupt LittleFS in the vfs partition ({e})") from None
    finally:
        try:
            fs.unmount()
        except LittleFSError:
            pass
    tree.entries.sort(key=lambda e: e.path)
    tree.block_owners = ctx.owners
    return tree
