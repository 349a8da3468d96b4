"""Append-only, hash-chained audit trail (who, what, when) of every command that changes
something — GB/T 22239-2019 8.1.4.3.

Each changing command writes an *intent* record before it changes anything and an
*outcome* record when it ends; the *change* records in between say what changed, all three
linked by a run id. An intent without an outcome is a run that was killed ("interrupted").

Every record carries ``seq`` (1, 2, ...) and ``prev``, the sha256 of the record before, and
its own ``hash`` (sha256 of its canonical JSON without ``hash``): editing, deleting,
reordering or cutting off records breaks the chain, and ``verify`` names the first broken
record as ``file:line``. Records are JSON lines, so a log host takes them unchanged; they
can also be forwarded to syslog (RFC 5424) as they are written, so copies leave the machine.

Storage sits behind :class:`AuditStore` (one method to append under a lock, one to read),
so the chain can later live in the shared state database (issue 16) as well as in a file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import pwd
import re
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from cloudctl.core.errors import CloudctlError, InputError, Location, Problem
from cloudctl.core.i18n import _

SECRET_WORDS = ("password", "passwd", "secret", "token", "vault", "private_key", "credential")
GENESIS = "0" * 64  # ``prev`` of the first record of a chain that starts on an empty log
UNSET_LOGINUID = 4294967295  # (uid_t)-1: no login session (a daemon, a container's init)
MAX_ERROR = 500  # characters of an error message kept in an outcome record


class AuditError(CloudctlError):
    """The audit record cannot be written: the command must not change anything (exit 2)."""


# ---------------------------------------------------------------------------------------
# who


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _loginuid(path: str = "/proc/self/loginuid") -> int | None:
    """The uid of the login session this process belongs to (kept across sudo and su)."""
    try:
        value = int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None
    return None if value == UNSET_LOGINUID else value


def who(loginuid_path: str = "/proc/self/loginuid") -> dict[str, str]:
    """The person behind this command and the account it runs as.

    The login session's uid (set by pam_loginuid at login, not changeable by the user and
    kept across sudo/su) wins; ``SUDO_USER`` (an environment variable, so only a hint) is
    the fallback; the effective user the last resort. ``user_from`` says which one it was.
    """
    effective = _user_name(os.geteuid())
    sudo = os.environ.get("SUDO_USER") or None
    login = _loginuid(loginuid_path)
    if login is not None:
        out = {"user": _user_name(login), "user_from": "loginuid"}
    elif sudo:
        out = {"user": sudo, "user_from": "sudo"}
    else:
        out = {"user": effective, "user_from": "euid"}
    out["effective_user"] = effective
    if sudo and sudo != out["user"]:
        out["sudo_user"] = sudo
    return out


def operator() -> str:
    """``alice`` or ``alice (as root)``: the person and, if different, the account used."""
    return display_user(who())


def display_user(rec: dict) -> str:
    user, eff = str(rec.get("user", "")), rec.get("effective_user")
    return f"{user} (as {eff})" if eff and eff != user else user


# ---------------------------------------------------------------------------------------
# secrets


_SECRET_TEXT = re.compile(
    r"(?i)\b([\w-]*(?:" + "|".join(SECRET_WORDS) + r")[\w-]*)(\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|\S+)"
)


def redact(value: Any) -> Any:
    """Mask anything that looks like a secret before it is written or printed."""
    if isinstance(value, dict):
        return {
            k: ("***" if any(w in str(k).lower() for w in SECRET_WORDS) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return scrub(value)
    return value


def scrub(text: str) -> str:
    """``password: x`` / ``token=x`` inside free text (an error message) becomes ``***``."""
    return _SECRET_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed, with the value of any secret-looking option masked."""
    args = []
    hide_next = False
    for a in sys.argv[1:] if argv is None else argv:
        a = str(a)
        if hide_next:
            args.append("***")
            hide_next = False
            continue
        low = a.lower()
        if any(w in low for w in SECRET_WORDS):
            if "=" in a:
                args.append(scrub(a) if not a.startswith("-") else a.split("=", 1)[0] + "=***")
                continue
            hide_next = a.startswith("-")
        args.append(a)
    return " ".join(["cloudctl", *args])


# ---------------------------------------------------------------------------------------
# the chain (pure)


def _dumps(rec: dict) -> str:
    return json.dumps(rec, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def canonical(rec: dict) -> bytes:
    """The bytes a record's hash covers: sorted-key compact JSON of every field but ``hash``."""
    return _dumps({k: v for k, v in rec.items() if k != "hash"}).encode("utf-8")


def record_hash(rec: dict) -> str:
    return hashlib.sha256(canonical(rec)).hexdigest()


def seal(rec: dict) -> dict:
    """The record with its ``hash`` (a JSON round trip first, so it hashes what is read)."""
    plain = json.loads(_dumps(rec))
    plain.pop("hash", None)
    plain["hash"] = record_hash(plain)
    return plain


def is_chained(rec: dict) -> bool:
    return isinstance(rec.get("seq"), int) and isinstance(rec.get("hash"), str)


def link_after(last_raw: bytes | None, where: Location | None = None) -> tuple[int, str]:
    """``(seq, prev)`` for the record that follows ``last_raw`` (None: an empty log).

    A log written before the chain existed ends in an unchained record: the chain starts
    at seq 1 with ``prev`` = sha256 of that line's bytes, so the last legacy line is
    covered too. A damaged last line stops every append: nothing may change until someone
    looked at it (``cloudctl audit verify``).
    """
    if last_raw is None:
        return 1, GENESIS
    try:
        rec = json.loads(last_raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        rec = None
    if not isinstance(rec, dict):
        raise AuditError(
            _(
                "the audit log ends in a damaged record; nothing was changed (see "
                "cloudctl audit verify)"
            ),
            where,
        )
    if is_chained(rec):
        return rec["seq"] + 1, rec["hash"]
    return 1, hashlib.sha256(last_raw).hexdigest()


@dataclass(frozen=True)
class Line:
    """One stored record as read back: where it is and its exact bytes."""

    location: Location
    raw: bytes


@dataclass(frozen=True)
class Head:
    """What the store remembers of its last append (seq and hash), kept apart from the log
    so that records cut off the end are noticed."""

    seq: int
    hash: str


@dataclass
class Verdict:
    """The result of :func:`verify`. ``broken`` is the first problem (None: intact)."""

    records: int = 0
    chained: int = 0
    legacy: int = 0
    broken: Problem | None = None
    interrupted: list[dict] = field(default_factory=list)
    head: Head | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken is None

    def as_dict(self) -> dict:
        b = self.broken
        return {
            "ok": self.ok,
            "records": self.records,
            "chained": self.chained,
            "legacy_before_chain": self.legacy,
            "broken": None
            if b is None
            else {
                "file": b.location.file if b.location else None,
                "line": b.location.line if b.location else None,
                "problem": b.message,
            },
            "interrupted": self.interrupted,
            "head": None if self.head is None else {"seq": self.head.seq, "hash": self.head.hash},
            "notes": self.notes,
        }


def verify(
    lines: Iterable[Line],
    head: Head | None,
    end: Location | None = None,
    running: Callable[[dict], bool] = lambda rec: False,
) -> Verdict:
    """Check the chain record by record and stop at the first break.

    ``head`` is the store's own note of its last record: a chain that ends before it lost
    its end. ``end`` is where a record after the last one would be (for that message).
    ``running(intent)`` tells an interrupted run from one still going.
    """
    v = Verdict(head=head)
    exp_seq, exp_prev = 1, GENESIS
    last: tuple[Location, dict] | None = None
    by_seq: dict[int, tuple[Location, str]] = {}
    open_runs: dict[str, dict] = {}

    def broken(loc: Location, msg: str) -> Verdict:
        v.broken = Problem(loc, msg)
        return v

    for ln in lines:
        try:
            rec = json.loads(ln.raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            return broken(ln.location, _("damaged record (not JSON: {error})").format(error=e))
        if not isinstance(rec, dict):
            return broken(ln.location, _("damaged record (not a JSON object)"))
        v.records += 1
        if not is_chained(rec):
            if v.chained:
                return broken(ln.location, _("record without seq/hash inside the chain (inserted)"))
            v.legacy += 1
            exp_prev = hashlib.sha256(ln.raw).hexdigest()
            continue
        if rec["hash"] != record_hash(rec):
            return broken(
                ln.location,
                _("record seq {seq} was changed after it was written").format(seq=rec["seq"]),
            )
        if rec["seq"] != exp_seq:
            what = _("missing") if rec["seq"] > exp_seq else _("out of order or repeated")
            return broken(
                ln.location,
                _("expected seq {exp_seq}, found {seq}: a record is {what}").format(
                    exp_seq=exp_seq, seq=rec["seq"], what=what
                ),
            )
        if rec.get("prev") != exp_prev:
            return broken(
                ln.location,
                _(
                    "seq {seq}: prev does not match the record before (it was changed, "
                    "removed or replaced)"
                ).format(seq=rec["seq"]),
            )
        v.chained += 1
        by_seq[rec["seq"]] = (ln.location, rec["hash"])
        exp_seq, exp_prev = rec["seq"] + 1, rec["hash"]
        last = (ln.location, rec)
        run = rec.get("run")
        if run and rec.get("kind") == "intent":
            open_runs[run] = {**_brief(rec), "line": ln.location.line}
        elif run and rec.get("kind") == "outcome":
            open_runs.pop(run, None)
    if head is not None:
        last_seq = last[1]["seq"] if last else 0
        if head.seq > last_seq:
            return broken(
                end or (last[0] if last else Location("")),
                _(
                    "the chain ends at seq {last_seq} but the store's head says seq {seq}: "
                    "{n} record(s) were cut off the end"
                ).format(last_seq=last_seq, seq=head.seq, n=head.seq - last_seq),
            )
        at = by_seq.get(head.seq)
        if at is not None and at[1] != head.hash:
            return broken(
                at[0],
                _("seq {seq} does not match the store's head (replaced)").format(seq=head.seq),
            )
        if last_seq - head.seq > 1:
            v.notes.append(
                _("the head is {n} records behind the log").format(n=last_seq - head.seq)
            )
    elif v.chained > 1:
        v.notes.append(_("no head: records cut off the end cannot be noticed"))
    if v.legacy:
        v.notes.append(
            _("{n} legacy record(s) before the chain starts (not protected)").format(n=v.legacy)
        )
    v.interrupted = [r for r in open_runs.values() if not running(r)]
    return v


def _brief(rec: dict) -> dict:
    return {
        k: rec.get(k)
        for k in ("seq", "run", "time", "action", "user", "host", "pid", "command")
        if k in rec
    }


# ---------------------------------------------------------------------------------------
# storage


class AuditStore(Protocol):
    """Where the chain lives: a file today, the shared state database later (issue 16).

    ``append`` must hold one exclusive lock across reading the last record and writing the
    new one, so several processes (or operators) append to one valid chain.
    """

    where: str

    def append(self, build: Callable[[int, str], dict]) -> dict:
        """Call ``build(seq, prev)`` under the lock, seal and store the record; return it."""
        ...

    def lines(self) -> Iterator[Line]: ...

    def head(self) -> Head | None: ...

    def end(self) -> Location: ...


class FileStore:
    """JSON lines in one file (``flock`` on the file itself) plus ``<file>.head``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.head_path = self.path.with_name(self.path.name + ".head")
        self.where = str(self.path)

    def append(self, build: Callable[[int, str], dict]) -> dict:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except OSError as e:
            raise AuditError(
                _("cannot write the audit log ({strerror}); nothing was changed").format(
                    strerror=e.strerror
                ),
                Location(str(self.path)),
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                seq, prev = link_after(_last_line(fd))
            except AuditError as e:
                raise AuditError(e.message, Location(str(self.path), self._line_count())) from None
            head = self.head()
            if head is not None and (
                head.seq > seq - 1 or (head.seq == seq - 1 and head.hash != prev)
            ):
                # a chain restarted on a shortened log would hide what was cut: stop here
                raise AuditError(
                    _(
                        "the audit log does not end where {name} says (seq {seq}): records "
                        "were removed or replaced; nothing was changed. See cloudctl audit "
                        "verify; to start a new chain, move both files aside"
                    ).format(name=self.head_path.name, seq=head.seq),
                    self.end(),
                )
            rec = seal(build(seq, prev))
            data = (_dumps(rec) + "\n").encode("utf-8")
            try:
                if os.write(fd, data) != len(data):
                    raise OSError(errno.ENOSPC, "short write")
                os.fsync(fd)
            except OSError as e:
                raise AuditError(
                    _("cannot write the audit log ({strerror}); nothing was changed").format(
                        strerror=e.strerror
                    ),
                    Location(str(self.path)),
                ) from None
            self._write_head(Head(rec["seq"], rec["hash"]))
            return rec
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write_head(self, head: Head) -> None:
        # best effort: the record itself is written; a head one behind is accepted by verify
        tmp = self.head_path.with_name(f".{self.head_path.name}.{os.getpid()}")
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps({"seq": head.seq, "hash": head.hash}) + "\n")
            os.replace(tmp, self.head_path)

    def lines(self) -> Iterator[Line]:
        if not self.path.exists():
            return
        if self.path.is_dir():
            raise InputError(_("the audit log is a directory"), Location(str(self.path)))
        with self.path.open("rb") as fh:
            for no, raw in enumerate(fh, 1):
                raw = raw.rstrip(b"\n")
                if raw.strip():
                    yield Line(Location(str(self.path), no), raw)

    def head(self) -> Head | None:
        try:
            doc = json.loads(self.head_path.read_text())
            return Head(int(doc["seq"]), str(doc["hash"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return Head(sys.maxsize, "damaged head file")

    def _line_count(self) -> int:
        if not self.path.is_file():
            return 0
        with self.path.open("rb") as fh:
            return sum(1 for _ in fh)

    def end(self) -> Location:
        """Where a record after the last one would be."""
        return Location(str(self.path), self._line_count() + 1)


def _last_line(fd: int) -> bytes | None:
    """The last non-empty line of the file (without its newline), read from the end."""
    size = os.fstat(fd).st_size
    end, buf = size, b""
    while end > 0:
        start = max(0, end - 8192)
        buf = os.pread(fd, end - start, start) + buf
        end = start
        stripped = buf.rstrip(b"\n")
        if not stripped.strip():
            continue
        cut = stripped.rfind(b"\n")
        if cut >= 0 or end == 0:
            return stripped[cut + 1 :]
    return None


# ---------------------------------------------------------------------------------------
# syslog forwarding (RFC 5424)

FACILITY_AUTHPRIV = 10
MAX_SYSLOG = 8192  # what common receivers accept in one datagram (rsyslog's default)
SD_ID = "cloudctl@32473"  # 32473: the example enterprise number (RFC 5612)


def parse_syslog(target: str) -> tuple[str, Any]:
    """``udp://host:port`` or a unix datagram socket (``/dev/log``, ``unix:///dev/log``)."""
    if target.startswith("/"):
        return "unix", target
    u = urlsplit(target)
    if u.scheme == "unix" and u.path:
        return "unix", u.path
    if u.scheme == "udp" and u.hostname:
        try:
            port = u.port or 514
        except ValueError:
            raise ValueError(f"{target!r}: bad port") from None
        return "udp", (u.hostname, port)
    raise ValueError(f"{target!r}: expected udp://HOST:PORT, /dev/log or unix:///PATH")


def _sd_value(v: Any) -> str:
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def rfc5424(rec: dict, hostname: str | None = None) -> bytes:
    """One record as an RFC 5424 message: the chain fields as structured data, the record's
    JSON as the message. Longer than ``MAX_SYSLOG``: the JSON is cut (``truncated="1"``);
    the full record stays in the local log and its hash in the structured data finds it."""
    kind = rec.get("kind") or "change"
    result = rec.get("result")
    severity = 6 if kind != "outcome" else (5 if result == "ok" else 4)
    pri = FACILITY_AUTHPRIV * 8 + severity
    host = (hostname or rec.get("host") or socket.gethostname() or "-")[:255].replace(" ", "_")
    sd = {"seq": rec.get("seq"), "hash": rec.get("hash"), "run": rec.get("run") or "-"}
    msg = _dumps(rec).encode("utf-8")

    def build(extra: dict, body: bytes) -> bytes:
        params = " ".join(f'{k}="{_sd_value(v)}"' for k, v in {**sd, **extra}.items())
        header = (
            f"<{pri}>1 {rec.get('time') or '-'} {host} cloudctl {rec.get('pid') or '-'} "
            f"{kind} [{SD_ID} {params}] "
        )
        return header.encode("ascii", "replace") + b"\xef\xbb\xbf" + body

    out = build({}, msg)
    if len(out) > MAX_SYSLOG:
        room = MAX_SYSLOG - len(build({"truncated": 1}, b""))
        out = build({"truncated": 1}, msg[:room].decode("utf-8", "ignore").encode("utf-8"))
    return out


class Syslog:
    """Sends each record; a failure warns once on stderr and never stops the command
    (the local record is already written)."""

    def __init__(self, target: str):
        self.target = target
        self.kind, self.addr = parse_syslog(target)
        self.warned = False

    def send(self, rec: dict) -> bool:
        data = rfc5424(rec)
        try:
            if self.kind == "udp":
                host, port = self.addr
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                with socket.socket(family, socket.SOCK_DGRAM) as s:
                    s.sendto(data, (host, port))
            else:
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                    s.sendto(data, self.addr)
            return True
        except OSError as e:
            if not self.warned:
                self.warned = True
                sys.stderr.write(
                    f"cloudctl: audit: cannot forward to syslog {self.target} ({e.strerror or e}); "
                    "the local record is kept\n"
                )
            return False


# ---------------------------------------------------------------------------------------
# the trail: intent, change, outcome


@dataclass
class Run:
    """One invocation of a changing command, between its intent and its outcome."""

    id: str
    action: str
    started: float


class Trail:
    """Writes the three kinds of record to a store (and to syslog when configured)."""

    def __init__(
        self,
        store: AuditStore,
        syslog: Syslog | None = None,
        argv: Sequence[str] | None = None,
        center: str | None = None,
    ):
        self.store = store
        self.syslog = syslog
        self.argv = argv
        self.center = center
        self._who = who()

    def _write(self, fields: dict) -> dict:
        base = {
            "time": dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="milliseconds"),
            **self._who,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
        rec = self.store.append(lambda seq, prev: {"seq": seq, "prev": prev, **base, **fields})
        if self.syslog is not None:
            self.syslog.send(rec)
        return rec

    def begin(self, action: str, params: dict | None = None) -> Run:
        """The intent: written before anything changes; raises AuditError if it cannot be."""
        run = Run(uuid.uuid4().hex[:16], action, time.monotonic())
        self._write(
            {
                "kind": "intent",
                "run": run.id,
                "action": action,
                "command": command_line(self.argv),
                "params": redact(_plain(params or {})),
                **({"center": self.center} if self.center else {}),
            }
        )
        return run

    def change(
        self,
        action: str,
        changes: Any = None,
        result: str = "ok",
        run: Run | None = None,
        **extra: Any,
    ) -> dict:
        """What a command changed (the command's own detail record)."""
        return self._write(
            {
                "kind": "change",
                "run": run.id if run else None,
                "action": action,
                "result": result,
                "command": command_line(self.argv),
                "changes": redact(_plain(changes)) if changes is not None else None,
                **redact(_plain(extra)),
            }
        )

    def end(self, run: Run, result: str, exit_code: int, error: str | None = None) -> dict:
        """The outcome: ok, findings, refused, error or aborted, with the exit code."""
        fields = {
            "kind": "outcome",
            "run": run.id,
            "action": run.action,
            "result": result,
            "exit_code": exit_code,
            "seconds": round(time.monotonic() - run.started, 3),
        }
        if error:
            fields["error"] = scrub(error)[:MAX_ERROR]
        return self._write(fields)


def _plain(value: Any) -> Any:
    """JSON-able copy (paths, enums, sets become text or lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(getattr(value, "value", value))


def store_for(center: Any) -> AuditStore:
    """Where a center's chain lives: the shared state database when ``state:`` is a
    PostgreSQL URL (one chain for every operator; a local copy in ``audit-copy.jsonl``),
    else the audit log file in the state directory."""
    if getattr(center, "state_url", None):
        from cloudctl.state import open_state
        from cloudctl.state.audit_store import DbAuditStore

        return DbAuditStore(open_state(center), copy=center.state / "audit-copy.jsonl")
    return FileStore(center.audit_log)


def trail_for(center: Any, argv: Sequence[str] | None = None) -> Trail:
    """The trail of a center: its store (:func:`store_for`), and syslog when
    ``audit.syslog`` is set."""
    target = getattr(center, "audit_syslog", None)
    return Trail(
        store_for(center),
        Syslog(target) if target else None,
        argv=argv,
        center=str(center.root),
    )


def record(
    log_path: str | Path,
    action: str,
    changes: Any = None,
    result: str = "ok",
    **extra: Any,
) -> dict:
    """Append one change record outside any run (chained like every other); returns it."""
    return Trail(FileStore(log_path)).change(action, changes, result, **extra)


# ---------------------------------------------------------------------------------------
# reading


def records(source: str | Path | AuditStore) -> list[tuple[Location, dict]]:
    """Every record with its location (of a log file or a store); a damaged one is an
    input error at its line."""
    out = []
    store = source if hasattr(source, "lines") else FileStore(source)  # type: ignore[arg-type]
    for ln in store.lines():
        try:
            rec = json.loads(ln.raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise InputError(_("damaged audit record: {e}").format(e=e), ln.location) from None
        if not isinstance(rec, dict):
            raise InputError(_("damaged audit record: not a JSON object"), ln.location)
        out.append((ln.location, rec))
    return out


def read(log_path: str | Path) -> list[dict]:
    """The records of what changed (change records and pre-chain ones), oldest first;
    intents and outcomes are left out (see :func:`records`, :func:`runs`)."""
    return [r for _loc, r in records(log_path) if r.get("kind", "change") == "change"]


def process_running(rec: dict) -> bool:
    """Whether the process that wrote an intent is still at it (same host, pid alive and
    a cloudctl)."""
    if rec.get("host") != socket.gethostname() or not isinstance(rec.get("pid"), int):
        return False
    try:
        cmdline = Path(f"/proc/{rec['pid']}/cmdline").read_bytes()
    except OSError:
        return False
    return b"cloudctl" in cmdline


def runs(recs: Iterable[dict], running: Callable[[dict], bool] = process_running) -> list[dict]:
    """One row per command run (intent + changes + outcome); records outside a run (older
    logs, a dry run's note) are rows of their own. A run without an outcome is
    ``interrupted`` (or ``running`` while its process is alive)."""
    rows: list[dict] = []
    by_run: dict[str, dict] = {}
    for rec in recs:
        run, kind = rec.get("run"), rec.get("kind")
        if run and kind == "intent":
            row = {
                "time": rec.get("time"),
                "user": display_user(rec),
                "action": rec.get("action"),
                "result": None,
                "changes": 0,
                "command": rec.get("command"),
                "run": run,
                "seq": rec.get("seq"),
                "intent": rec,
                "outcome": None,
                "records": [],
            }
            by_run[run] = row
            rows.append(row)
        elif run and run in by_run and kind in ("change", "outcome"):
            row = by_run[run]
            if kind == "outcome":
                row["outcome"] = rec
                row["result"] = rec.get("result")
            else:
                row["records"].append(rec)
                row["changes"] += 1
        else:
            rows.append(
                {
                    "time": rec.get("time"),
                    "user": display_user(rec),
                    "action": rec.get("action"),
                    "result": rec.get("result"),
                    "changes": 1,
                    "command": rec.get("command"),
                    "run": run,
                    "seq": rec.get("seq"),
                    "intent": None,
                    "outcome": None,
                    "records": [rec],
                }
            )
    for row in rows:
        if row["intent"] is not None and row["outcome"] is None:
            row["result"] = "running" if running(row["intent"]) else "interrupted"
    return rows
