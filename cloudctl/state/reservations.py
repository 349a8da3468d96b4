"""Address reservations across clones (issue 16).

Two operators in two clones of the center allocate from two copies of the address plan.
``ipam allocate`` therefore records the block it hands out in the shared state, under the
shared allocation lock, *before* it writes the plan file; every other clone counts that
block (and its VLAN and name) as taken until its own plan holds it.

A reservation is **committed** once the allocating clone's git ``HEAD`` holds the entry
(same name and prefix) in its plan file: from then on it travels with git. It stays in
the store (it does no harm: a plan that holds the block occupies it anyway) until
``ipam release`` of that name drops it, so a clone that has not pulled yet still avoids
the block. ``ipam validate`` warns about reservations that never landed (not committed
by their clone), with their age.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from cloudctl.state.db import StateDB


@dataclass
class Reservation:
    plan_key: str
    name: str
    prefix: str
    vrf: str
    zone: str
    tenant: str | None
    vlan: int | None
    clone: str
    host: str
    operator: str
    created_at: float
    committed_at: float | None = None

    def age(self, now: float | None = None) -> str:
        s = max(0, int((now or time.time()) - self.created_at))
        if s < 120:
            return f"{s} s"
        if s < 7200:
            return f"{s // 60} min"
        if s < 172800:
            return f"{s // 3600} h"
        return f"{s // 86400} d"


def clone_id(root: Path) -> str:
    """This clone of the center: host and directory."""
    return f"{socket.gethostname()}:{Path(root).resolve()}"


def plan_key(center_name: str, center_root: Path, plan_root: Path) -> str:
    """The same plan in every clone: the center's name and the plan's path inside it."""
    try:
        rel = str(Path(plan_root).resolve().relative_to(Path(center_root).resolve()))
    except ValueError:
        rel = str(Path(plan_root).resolve())
    return f"{center_name}:{rel}"


_COLS = (
    "plan_key, name, prefix, vrf, zone, tenant, vlan, clone, host, operator, created_at, "
    "committed_at"
)


class ReservationStore:
    def __init__(self, db: StateDB):
        self.db = db

    def for_plan(self, key: str) -> list[Reservation]:
        rows = (
            self.db.conn()
            .execute(
                f"SELECT {_COLS} FROM ipam_reservations WHERE plan_key=? ORDER BY created_at",
                (key,),
            )
            .fetchall()
        )
        return [Reservation(**dict(r)) for r in rows]

    def add(self, r: Reservation) -> None:
        """Record (or replace this clone's own earlier) reservation of ``r.name``."""
        self.db.conn().execute(
            f"INSERT INTO ipam_reservations({_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (plan_key, name) DO UPDATE SET prefix=excluded.prefix, "
            "vrf=excluded.vrf, zone=excluded.zone, tenant=excluded.tenant, vlan=excluded.vlan, "
            "clone=excluded.clone, host=excluded.host, operator=excluded.operator, "
            "created_at=excluded.created_at, committed_at=NULL",
            (
                r.plan_key,
                r.name,
                r.prefix,
                r.vrf,
                r.zone,
                r.tenant,
                r.vlan,
                r.clone,
                r.host,
                r.operator,
                r.created_at,
                r.committed_at,
            ),
        )

    def mark_committed(self, key: str, name: str) -> None:
        self.db.conn().execute(
            "UPDATE ipam_reservations SET committed_at=? WHERE plan_key=? AND name=? "
            "AND committed_at IS NULL",
            (time.time(), key, name),
        )

    def drop(self, key: str, names: list[str]) -> int:
        n = 0
        for name in names:
            cur = self.db.conn().execute(
                "DELETE FROM ipam_reservations WHERE plan_key=? AND name=?", (key, name)
            )
            n += max(0, cur.rowcount or 0)
        return n


def committed_in_head(repo_root: Path, file: Path, name: str, prefix: str) -> bool:
    """Whether git HEAD of the clone holds ``name`` with ``prefix`` in ``file``."""
    try:
        rel = Path(file).resolve().relative_to(Path(repo_root).resolve())
    except ValueError:
        return False
    try:
        r = subprocess.run(
            ["git", "-C", str(repo_root), "show", f"HEAD:./{rel}"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    if r.returncode != 0:
        return False
    doc = None
    with contextlib.suppress(yaml.YAMLError, UnicodeDecodeError):
        doc = yaml.safe_load(r.stdout.decode("utf-8"))
    return _holds(doc, name, prefix)


def _holds(doc: object, name: str, prefix: str) -> bool:
    if isinstance(doc, dict):
        if doc.get("name") == name and str(doc.get("prefix")) == prefix:
            return True
        return any(_holds(v, name, prefix) for v in doc.values())
    if isinstance(doc, list):
        return any(_holds(v, name, prefix) for v in doc)
    return False
