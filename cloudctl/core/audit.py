"""Append-only audit trail (who, what, when) of every command that changes something.

GB/T 22239-2019 8.1.4.3 asks that operations be recorded; records are JSON lines so they
can be shipped to the security management centre's log host unchanged.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import pwd
import socket
import sys
from pathlib import Path
from typing import Any

from cloudctl.core.errors import InputError, Location

SECRET_WORDS = ("password", "passwd", "secret", "token", "vault", "private_key", "credential")


def operator() -> str:
    """The operating-system user, and the real one behind sudo when there is one."""
    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        user = str(os.geteuid())
    sudo = os.environ.get("SUDO_USER")
    return f"{sudo} (as {user})" if sudo and sudo != user else user


def redact(value: Any) -> Any:
    """Mask anything that looks like a secret before it is written or printed."""
    if isinstance(value, dict):
        return {
            k: ("***" if any(w in str(k).lower() for w in SECRET_WORDS) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def _command_line() -> str:
    args = []
    hide_next = False
    for a in sys.argv[1:]:
        if hide_next:
            args.append("***")
            hide_next = False
            continue
        low = a.lower()
        if any(w in low for w in SECRET_WORDS):
            if "=" in a:
                args.append(a.split("=", 1)[0] + "=***")
                continue
            hide_next = a.startswith("-")
        args.append(a)
    return " ".join(["cloudctl", *args])


def record(
    log_path: str | Path,
    action: str,
    changes: Any = None,
    result: str = "ok",
    **extra: Any,
) -> dict:
    """Append one record; returns it. Never raises for a missing directory."""
    rec = {
        "time": dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds"),
        "user": operator(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "command": _command_line(),
        "action": action,
        "result": result,
        "changes": redact(changes) if changes is not None else None,
        **redact(extra),
    }
    path = Path(log_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(rec, ensure_ascii=False, default=str) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line.encode("utf-8"))
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    return rec


def read(log_path: str | Path) -> list[dict]:
    path = Path(log_path)
    if not path.exists():
        return []
    out = []
    # a damaged audit trail is reported where it is damaged, never skipped in silence
    for no, raw in enumerate(path.read_bytes().splitlines(), 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise InputError(f"damaged audit record: {e}", Location(str(path), no)) from None
        if not isinstance(rec, dict):
            raise InputError("damaged audit record: not a JSON object", Location(str(path), no))
        out.append(rec)
    return out
