"""The sha256 of the plan's files without reading them when they did not change — git's
index trick (issue 17: 28 MB hashed three times was ~60 ms of every warm command).

``<cache>/stamps.marshal`` keeps, per file, what ``stat`` said when it was hashed (size,
mtime, ctime, inode, device) and the digest. A file whose stat is the same is taken as
unchanged. *Racy* files are always hashed: a file changed within ``RACY_NS`` of the moment
it was hashed could change again in the same timestamp tick without its stat showing it,
so its entry is not trusted (git compares with the index file's own mtime for the same
reason). Anything unusual (not a regular file, larger than the reader takes, no entry)
goes through :func:`cloudctl.core.fileio.read_input`, so its errors are the reader's.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import stat
import time
from pathlib import Path

from cloudctl.core.fileio import MAX_INPUT_BYTES, read_input

STAMPS_VERSION = 1
RACY_NS = 2_000_000_000  # coarse file systems stamp to the second (FAT: 2 s)


def _key(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


class Stamps:
    """Digests of files, from their stat when it did not change since they were hashed."""

    def __init__(self, cache: Path | None) -> None:
        self.path = cache / "stamps.marshal" if cache is not None else None
        self.entries: dict[str, tuple] = {}
        self.changed = False
        self.hashed: list[str] = []  # files read and hashed by this run (tests, profiles)
        self.known_now: dict[str, bytes] = {}  # hashed a moment ago by this process
        if self.path is not None:
            with contextlib.suppress(OSError, ValueError, EOFError, TypeError):
                version, entries = marshal.loads(self.path.read_bytes())
                if version == STAMPS_VERSION and isinstance(entries, dict):
                    self.entries = entries

    def known(self, path: Path) -> bytes | None:
        """The digest if the file's stat says it is the one hashed before, else None."""
        now = self.known_now.pop(str(path), None)  # once: the next caller looks again
        if now is not None:
            return now
        entry = self.entries.get(str(path))
        if entry is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_INPUT_BYTES:
            return None
        return entry[1] if entry[0] == _key(st) else None

    def digest(self, path: Path, name: str | None = None) -> bytes:
        """sha256 of the file; raises like ``read_input`` for what it refuses."""
        d = self.known(path)
        if d is not None:
            return d
        return self.hash(path, read_input(path, name=name))[1]

    def read(self, path: Path, name: str | None = None) -> tuple[bytes, bytes]:
        """(content, digest): the file read, and its stamp kept for the next run."""
        return self.hash(path, read_input(path, name=name))

    def hash(self, path: Path, raw: bytes, st: os.stat_result | None = None) -> tuple[bytes, bytes]:
        """Record ``raw`` as the content of ``path``. The stat is taken after reading: a
        change after that shows as another stat; one during the read is caught by the racy
        rule (its mtime is recent, so the entry is not trusted)."""
        d = hashlib.sha256(raw).digest()
        self.hashed.append(str(path))
        try:
            st = st or os.stat(path)
        except OSError:
            return raw, d
        newest = max(st.st_mtime_ns, st.st_ctime_ns)
        if st.st_size == len(raw) and newest < time.time_ns() - RACY_NS:
            entry = (_key(st), d)
            if self.entries.get(str(path)) != entry:
                self.entries[str(path)] = entry
                self.changed = True
        elif self.entries.pop(str(path), None) is not None:
            self.changed = True
        return raw, d

    def save(self) -> None:
        """Write the stamps if they changed (atomically; a failure only costs a re-hash)."""
        if self.path is None or not self.changed:
            return
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(marshal.dumps((STAMPS_VERSION, self.entries)))
            os.replace(tmp, self.path)
            self.changed = False
