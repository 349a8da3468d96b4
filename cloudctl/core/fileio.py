"""Writes that never leave a half-written file, and locks two operators can share."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from cloudctl.core.errors import ConflictError, InputError, Location


def atomic_write(
    path: str | Path, data: str | bytes, encoding: str = "utf-8", mode: int | None = None
) -> None:
    """Write to a temp file in the same directory, fsync, then rename over the target.

    Keeps the target's permission bits unless ``mode`` is given (secrets: 0o600 — the temp
    file is private from the start); readers see the old or the new file, never a mix.
    """
    target = Path(path)
    if target.is_dir():
        raise InputError("is a directory, not a file to write", Location(str(target)))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as e:  # a parent that is a file, a read-only or virtual file system ...
        raise InputError(f"cannot write here: {e.strerror}", Location(str(target))) from None
    raw = data.encode(encoding) if isinstance(data, str) else data
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            if mode is None:
                mode = target.stat().st_mode & 0o7777
        except FileNotFoundError:  # a new file gets the usual mode (mkstemp makes it 0600)
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def file_lock(path: str | Path, timeout: float = 10.0, what: str | None = None) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``<path>.lock`` (flock; released if we die).

    Raises ConflictError naming the holder's pid when it cannot be had within ``timeout``.
    """
    lock_path = Path(f"{path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                    raise ConflictError(
                        f"{what or 'file'} is locked by another cloudctl (pid {holder}); "
                        "try again when it has finished",
                        Location(str(path)),
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
