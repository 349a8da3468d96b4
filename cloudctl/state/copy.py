"""``cloudctl state migrate --to URL``: copy a center's SQLite state (and its audit log
file) into an empty PostgreSQL database, in one transaction, and check the counts.

Rows are copied column by column in the source's order (so PostgreSQL's ``rowid`` keeps
the order SQLite had); audit records keep their exact bytes, so the chain verifies in its
new home. Locks are not copied (they belong to running processes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from cloudctl.core.audit import AuditStore, Head, is_chained, verify
from cloudctl.core.errors import InputError
from cloudctl.core.i18n import _
from cloudctl.state.db import StateDB

#: parents before children (foreign keys)
TABLES = (
    "migrate_runs",
    "migrate_systems",
    "migrate_steps",
    "baseline_runs",
    "baseline_results",
    "baseline_hosts",
    "created_resources",
    "ipam_reservations",
)


@dataclass
class CopyReport:
    tables: dict[str, tuple[int, int]] = field(default_factory=dict)  # source, copied
    audit: tuple[int, int] = (0, 0)
    audit_ok: bool = True

    @property
    def ok(self) -> bool:
        return self.audit_ok and all(a == b for a, b in [*self.tables.values(), self.audit])


def _columns(conn, table: str) -> list[str]:
    return [r["name"] for r in conn.execute(f"PRAGMA table_info({table})").fetchall()]


def copy_audit(src: AuditStore, dst, conn=None) -> int:
    """Every record of ``src`` (exact bytes) into the empty database store ``dst``."""
    db = dst.db
    n, last = 0, None

    def run(c) -> None:
        nonlocal n, last
        for ln in src.lines():
            text = ln.raw.decode("utf-8")
            try:
                rec = json.loads(text)
            except ValueError:
                rec = {}
            chained = isinstance(rec, dict) and is_chained(rec)
            c.execute(
                "INSERT INTO audit_records(seq, hash, line) VALUES (?, ?, ?)",
                (rec["seq"] if chained else None, rec["hash"] if chained else None, text),
            )
            n += 1
            if chained:
                last = Head(rec["seq"], rec["hash"])
        if last is not None:
            c.execute(
                "INSERT INTO audit_head(id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) "
                "DO UPDATE SET seq=excluded.seq, hash=excluded.hash",
                (last.seq, last.hash),
            )

    if conn is not None:
        run(conn)
    else:
        with db.transaction() as c:
            run(c)
    return n


def copy_state(src: StateDB, dst: StateDB, audit_src: AuditStore | None) -> CopyReport:
    """Copy everything; refuses a destination that already holds state."""
    from cloudctl.state.audit_store import DbAuditStore

    s = src.conn()
    held = {t: n for t, n in dst.counts([*TABLES, "audit_records"]).items() if n}
    if held:
        shown = ", ".join(f"{t} {n}" for t, n in held.items())
        raise InputError(
            _(
                "the destination {where} already holds state ({shown}): refusing to "
                "mix two centers' histories; use an empty database"
            ).format(where=dst.where, shown=shown)
        )
    report = CopyReport()
    dst_audit = DbAuditStore(dst)
    with dst.transaction() as d:
        for t in TABLES:
            cols = _columns(s, t)
            rows = s.execute(f"SELECT {', '.join(cols)} FROM {t} ORDER BY rowid").fetchall()
            if rows:
                marks = ", ".join("?" for _ in cols)
                d.executemany(
                    f"INSERT INTO {t}({', '.join(cols)}) VALUES ({marks})",
                    [tuple(r) for r in rows],
                )
            report.tables[t] = (len(rows), 0)
        if dst.dialect == "postgresql":  # ids were copied: the sequence goes on after them
            d.execute(
                "SELECT setval(pg_get_serial_sequence('migrate_steps', 'id'), "
                "COALESCE((SELECT MAX(id) FROM migrate_steps), 0) + 1, false)"
            )
        if audit_src is not None:
            copy_audit(audit_src, dst_audit, d)
    copied = dst.counts(TABLES)
    report.tables = {t: (report.tables[t][0], copied[t]) for t in TABLES}
    if audit_src is not None:
        src_n = sum(1 for _ in audit_src.lines())
        dst_n = dst.counts(["audit_records"])["audit_records"]
        report.audit = (src_n, dst_n)
        v = verify(dst_audit.lines(), dst_audit.head(), dst_audit.end())
        report.audit_ok = v.ok
    return report
