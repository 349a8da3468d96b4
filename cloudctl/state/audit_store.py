"""The audit chain in the state database: one row per record, the head in a table of its
own, appends serialized by a transaction-scoped advisory lock (PostgreSQL) or SQLite's
write lock. The rows hold the records' exact canonical JSON, so records copied from a
file log keep verifying, and ``audit verify`` reads both stores alike (a record's place
is ``<database>#audit:<pos>``).

A local copy of every record this machine writes goes to ``<state>/audit-copy.jsonl``
(best effort, like syslog forwarding): a second place the assessor can compare with.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from cloudctl.core.audit import AuditError, Head, Line, _dumps, link_after, seal
from cloudctl.core.errors import CloudctlError, Location
from cloudctl.core.i18n import _
from cloudctl.state.db import StateDB


class DbAuditStore:
    """:class:`cloudctl.core.audit.AuditStore` on a :class:`StateDB`."""

    def __init__(self, db: StateDB, copy: str | Path | None = None):
        self.db = db
        self.where = f"{db.where}#audit"
        self.copy = Path(copy) if copy else None

    def append(self, build: Callable[[int, str], dict]) -> dict:
        try:
            c = self.db.conn()
            with self.db.transaction(c):
                self.db.serialize(c, "cloudctl-audit")
                last = c.execute(
                    "SELECT pos, line FROM audit_records ORDER BY pos DESC LIMIT 1"
                ).fetchone()
                where = Location(self.where, last["pos"] if last else None)
                seq, prev = link_after(last["line"].encode("utf-8") if last else None, where)
                head = self._head(c)
                if head is not None and (
                    head.seq > seq - 1 or (head.seq == seq - 1 and head.hash != prev)
                ):
                    raise AuditError(
                        _(
                            "the audit chain does not end where its head says (seq {seq}): records "
                            "were removed or replaced; nothing was changed. See cloudctl audit "
                            "verify"
                        ).format(seq=head.seq),
                        where,
                    )
                rec = seal(build(seq, prev))
                line = _dumps(rec)
                c.execute(
                    "INSERT INTO audit_records(seq, hash, line) VALUES (?, ?, ?)",
                    (rec["seq"], rec["hash"], line),
                )
                c.execute(
                    "INSERT INTO audit_head(id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) "
                    "DO UPDATE SET seq=excluded.seq, hash=excluded.hash",
                    (rec["seq"], rec["hash"]),
                )
        except AuditError:
            raise
        except CloudctlError as e:
            raise AuditError(
                _("cannot write the audit record ({message}); nothing was changed").format(
                    message=e.message
                ),
                e.location,
            ) from None
        self._copy(line)
        return rec

    def _copy(self, line: str) -> None:
        if self.copy is None:
            return
        with contextlib.suppress(OSError):
            self.copy.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.copy, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
            try:
                os.write(fd, (line + "\n").encode("utf-8"))
            finally:
                os.close(fd)

    def lines(self) -> Iterator[Line]:
        rows = self.db.conn().execute("SELECT pos, line FROM audit_records ORDER BY pos").fetchall()
        for r in rows:
            yield Line(Location(self.where, r["pos"]), r["line"].encode("utf-8"))

    def _head(self, c) -> Head | None:
        row = c.execute("SELECT seq, hash FROM audit_head WHERE id=1").fetchone()
        return Head(int(row["seq"]), str(row["hash"])) if row else None

    def head(self) -> Head | None:
        return self._head(self.db.conn())

    def end(self) -> Location:
        row = self.db.conn().execute("SELECT MAX(pos) FROM audit_records").fetchone()
        return Location(self.where, int(row[0] or 0) + 1)
