"""Bounded reads of untrusted input files; writes that never leave a half-written file;
locks two operators can share."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from cloudctl.core.errors import ConflictError, InputError, Location
from cloudctl.core.i18n import _

# Every input file (address plan, tenants, plans, catalog, evidence, CSV, the center config)
# is data from someone else: one reader, with a size limit, for regular files only.
MAX_INPUT_BYTES = 32 * 1024 * 1024  # the largest sample/bench file is < 1 MiB


def display_path(path: str | Path) -> str:
    """Paths relative to the working directory read better in messages."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):  # outside cwd, a symlink loop, cwd gone
        return str(p)


def _kind(mode: int) -> str:
    for test, what in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return what
    return "not a regular file"


def read_input(path: str | Path, *, limit: int = MAX_INPUT_BYTES, name: str | None = None) -> bytes:
    """The bytes of one input file, refusing what is not a regular file (a symlink to
    /dev/zero, a FIFO, a directory) and anything over ``limit`` bytes, as an InputError
    naming the file. Opened non-blocking so a FIFO cannot hang the command."""
    where = Location(name or display_path(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise InputError(_("file not found"), where) from None
    except OSError as e:
        raise InputError(
            _("cannot read: {strerror}").format(strerror=e.strerror or e), where
        ) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise InputError(_("is a directory, not a file"), where)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(
                _("{kind}, not a regular file: refused").format(kind=_kind(st.st_mode)), where
            )
        if st.st_size > limit:
            raise InputError(
                _("too large: {st_size:,} bytes (at most {limit:,})").format(
                    st_size=st.st_size, limit=limit
                ),
                where,
            )
        chunks, size = [], 0
        while size <= limit:  # the file may grow while we read: never take more than limit
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise InputError(_("too large: more than {limit:,} bytes").format(limit=limit), where)
        return b"".join(chunks)
    except OSError as e:
        raise InputError(
            _("cannot read: {strerror}").format(strerror=e.strerror or e), where
        ) from None
    finally:
        os.close(fd)


def decode_input(raw: bytes, name: str, encodings: tuple[str, ...] = ("utf-8",)) -> str:
    """Text of an input file; a byte that is no text is reported with its line."""
    first: UnicodeDecodeError | None = None
    for enc in encodings:
        try:
            return raw.decode(enc)
        except UnicodeDecodeError as e:
            first = first or e
    assert first is not None
    line = raw.count(b"\n", 0, first.start) + 1
    names = " or ".join(e.upper().replace("-SIG", "").replace("GB18030", "GBK") for e in encodings)
    raise InputError(
        _("not {names} text ({reason})").format(names=names, reason=first.reason),
        Location(name, line),
    )


def read_input_text(
    path: str | Path,
    *,
    limit: int = MAX_INPUT_BYTES,
    name: str | None = None,
    encodings: tuple[str, ...] = ("utf-8",),
) -> str:
    """``read_input`` + decoding (UTF-8 unless ``encodings`` says otherwise)."""
    name = name or display_path(path)
    return decode_input(read_input(path, limit=limit, name=name), name, encodings)


def atomic_write(
    path: str | Path, data: str | bytes, encoding: str = "utf-8", mode: int | None = None
) -> None:
    """Write to a temp file in the same directory, fsync, then rename over the target.

    Keeps the target's permission bits unless ``mode`` is given (secrets: 0o600 — the temp
    file is private from the start); readers see the old or the new file, never a mix.
    """
    target = Path(path)
    if target.is_dir():
        raise InputError(_("is a directory, not a file to write"), Location(str(target)))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as e:  # a parent that is a file, a read-only or virtual file system ...
        raise InputError(
            _("cannot write here: {strerror}").format(strerror=e.strerror), Location(str(target))
        ) from None
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
                        _(
                            "{what} is locked by another cloudctl (pid "
                            "{holder}); try again when it has finished"
                        ).format(what=what or "file", holder=holder),
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
