"""Process records: a PID is ours only with its start time; zombies count as gone."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from cloudctl.lab import procs


def test_spawned_process_is_recorded_found_by_marker_and_terminated(tmp_path: Path):
    owner = tmp_path / "lab"
    rec = procs.spawn(
        "t-sleep", ["sleep", "30"], {"PATH": "/usr/bin:/bin"}, tmp_path / "x.log", owner
    )
    try:
        assert procs.is_running(rec)
        assert rec.pid in procs.owned_pids(owner)
        assert rec.pid not in procs.owned_pids(tmp_path / "other")
        rec.save(tmp_path)
        assert procs.ProcRecord.load(tmp_path / "t-sleep.json") == rec
        recycled = procs.ProcRecord(key="x", pid=rec.pid, start=rec.start + 1)
        assert not procs.is_running(recycled)
        assert procs.terminate([recycled]) == []
        assert procs.is_running(rec)
    finally:
        assert procs.terminate([rec], timeout=5) == [rec]
    assert not procs.is_running(rec)
    assert "start: sleep 30" in (tmp_path / "x.log").read_text()


def test_a_corrupt_record_is_ignored(tmp_path: Path):
    (tmp_path / "bad.json").write_text("{not json")
    assert procs.ProcRecord.load(tmp_path / "bad.json") is None
    assert procs.ProcRecord.load(tmp_path / "missing.json") is None


def test_port_holders_and_memory_of_a_process_tree():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert procs.listening_inodes(port)
        assert procs.port_holders(port) == [__import__("os").getpid()]
    assert procs.listening_inodes(port) == set()
    me = __import__("os").getpid()
    assert me in procs.tree(procs.parent_pid(me) or 1)
    assert procs.rss_bytes([me]) > 10 * 2**20
    assert sys.executable.split("/")[-1] in procs.describe(me) or "python" in procs.describe(me)
