"""Issue 11 §5: every changing command leaves an intent and an outcome, nothing changes when
the record cannot be written, the chain shows any edit, records can leave the machine
(syslog, RFC 5424), the user comes from the login session, and secrets stay out."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cloudctl.core import audit

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLOUDCTL = [sys.executable, "-m", "cloudctl"]


@pytest.fixture
def center(tmp_path: Path) -> Path:
    """A copy of the sample center's address plan and departments."""
    root = tmp_path / "c"
    root.mkdir()
    (root / "cloudctl.yaml").write_text(
        "name: audit-test\naddress_plan: inventory/ipam\n"
        "departments: inventory/departments.yaml\nstate: .cloudctl\n",
        encoding="utf-8",
    )
    (root / "inventory").mkdir()
    shutil.copytree(PROJECT_ROOT / "inventory" / "ipam", root / "inventory" / "ipam")
    shutil.copy(PROJECT_ROOT / "inventory" / "departments.yaml", root / "inventory")
    return root


def log_of(center: Path) -> Path:
    return center / ".cloudctl" / "audit.log"


def recs(center: Path) -> list[dict]:
    return [r for _loc, r in audit.records(log_of(center))]


def plan_files(center: Path) -> dict[str, bytes]:
    root = center / "inventory" / "ipam"
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def ipam(cli, center: Path, *args: str):
    return cli("--center", str(center), "--lang", "en", "ipam", *args)


ALLOC = ("allocate", "-z", "core", "-t", "czj", "-l", "24", "-n", "czj-app9")


def verify(center: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLOUDCTL, "--center", str(center), "--lang", "en", "audit", "verify", *extra],
        capture_output=True,
        text=True,
        check=False,
    )


# ---------------------------------------------------------------------------------------
# 1. intent + outcome around every changing command


def test_every_command_is_classified_changing_or_read_only(cli):
    """A new command must be put in one of the two sets (or it would go unaudited)."""
    import typer.main

    from cloudctl.cli.app import AREAS, CHANGING, READ_ONLY, app

    root = typer.main.get_command(app)
    found = set()
    for area in AREAS:
        group = root.get_command(None, area)  # type: ignore[arg-type]
        # an area without subcommands (capacity) is one command itself
        found |= {f"{area} {name}" for name in group.commands} or {area}
    assert not CHANGING & READ_ONLY
    assert not found - (CHANGING | READ_ONLY), found - (CHANGING | READ_ONLY)
    assert found >= CHANGING, CHANGING - found  # a renamed command would go unaudited
    assert {"ipam allocate", "tenant apply", "migrate run", "lab reset-host"} <= CHANGING


def test_success_writes_intent_change_outcome_linked_in_order(cli, center):
    r = ipam(cli, center, *ALLOC)
    assert r.exit_code == 0, r.output
    got = recs(center)
    assert [x["kind"] for x in got] == ["intent", "change", "outcome"]
    assert len({x["run"] for x in got}) == 1
    intent, change, outcome = got
    assert intent["action"] == change["action"] == outcome["action"] == "ipam.allocate"
    assert intent["params"]["name"] == "czj-app9" and "ipam allocate" in intent["command"]
    assert change["changes"]["added"]["name"] == "czj-app9"
    assert outcome["result"] == "ok" and outcome["exit_code"] == 0
    assert [x["seq"] for x in got] == [1, 2, 3]


@pytest.mark.parametrize(
    "args, message",
    [
        (("allocate", "-z", "core", "-t", "czj", "-l", "8", "-n", "czj-x"), "--prefixlen 8"),
        (("release", "no-such-prefix"), "no-such-prefix"),
        (("import", "--from-csv", "/nonexistent/plan.csv"), "plan.csv"),
        (("allocate", "-z", "core"), "Missing option"),  # refused by option parsing
    ],
)
def test_refusals_and_input_errors_are_recorded(cli, center, args, message):
    before = plan_files(center)
    r = ipam(cli, center, *args)
    assert r.exit_code == 2
    got = recs(center)
    assert [x["kind"] for x in got] == ["intent", "outcome"]
    assert got[1]["result"] == "refused" and got[1]["exit_code"] == 2
    assert message in got[1]["error"]
    assert plan_files(center) == before


def test_dry_run_and_reading_commands_write_nothing(cli, center):
    assert ipam(cli, center, *ALLOC, "--dry-run").exit_code == 0
    assert ipam(cli, center, "validate").exit_code == 0
    assert not log_of(center).exists()


def test_outcome_of_maps_every_end():
    import click

    from cloudctl.cli.app import outcome_of
    from cloudctl.core.errors import ConflictError, ExternalError, InputError

    assert outcome_of(None) == (0, "ok", None)
    assert outcome_of(click.exceptions.Exit(1))[:2] == (1, "findings")
    assert outcome_of(click.exceptions.Exit(2))[:2] == (2, "error")
    assert outcome_of(InputError("bad"))[:2] == (2, "refused")
    assert outcome_of(ConflictError("locked"))[:2] == (2, "refused")
    assert outcome_of(ExternalError("409"))[:2] == (2, "error")
    assert outcome_of(KeyboardInterrupt())[:2] == (130, "aborted")
    assert outcome_of(ValueError("x")) == (3, "error", "internal error: ValueError: x")


def _write_intent_and_die(log: str) -> None:
    audit.Trail(audit.FileStore(log)).begin("migrate.run", {"wave": "w1"})
    os._exit(9)  # like kill -9: no outcome


def test_intent_without_outcome_is_interrupted_and_only_a_warning(cli, center):
    assert ipam(cli, center, *ALLOC).exit_code == 0
    p = multiprocessing.get_context("fork").Process(
        target=_write_intent_and_die, args=(str(log_of(center)),)
    )
    p.start()
    p.join()
    assert ipam(cli, center, "release", "czj-app9").exit_code == 0  # the chain goes on
    r = cli("--center", str(center), "audit", "log", "-o", "json")
    rows = json.loads(r.stdout)["items"]
    assert [(x["action"], x["result"]) for x in rows] == [
        ("ipam.allocate", "ok"),
        ("migrate.run", "interrupted"),
        ("ipam.release", "ok"),
    ]
    v = verify(center)
    assert v.returncode == 0, v.stdout + v.stderr
    assert "interrupted run (no outcome): migrate.run" in v.stdout
    assert f"{log_of(center)}:4:" in v.stdout  # the intent's line
    table = cli("--center", str(center), "--lang", "en", "audit", "log").stdout
    assert "interrupted" in table


# ---------------------------------------------------------------------------------------
# 2. no record, no change


def test_unwritable_log_refuses_before_any_change(cli, center):
    log_of(center).mkdir(parents=True)  # root ignores modes; a directory cannot be appended to
    before = plan_files(center)
    r = ipam(cli, center, *ALLOC)
    assert r.exit_code == 2
    assert "cannot write the audit log" in r.stderr and "nothing was changed" in r.stderr
    assert plan_files(center) == before
    assert "Traceback" not in r.output


def test_state_dir_that_is_a_file_refuses_too(center):
    (center / ".cloudctl").write_text("not a directory")
    before = plan_files(center)
    r = subprocess.run(
        [*CLOUDCTL, "--center", str(center), "--lang", "en", "ipam", *ALLOC],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 2 and "cannot write the audit log" in r.stderr
    assert plan_files(center) == before


def test_a_log_ending_in_a_damaged_record_refuses(cli, center):
    assert ipam(cli, center, *ALLOC).exit_code == 0
    with log_of(center).open("ab") as fh:
        fh.write(b'{"seq": 4, "kind": "inte')  # torn line (disk full)
    before = plan_files(center)
    r = ipam(cli, center, "release", "czj-app9")
    assert r.exit_code == 2
    assert f"{log_of(center)}:4: the audit log ends in a damaged record" in r.stderr
    assert plan_files(center) == before


# ---------------------------------------------------------------------------------------
# 3. tamper evidence


@pytest.fixture
def chained(cli, center) -> Path:
    """A log of 9 chained records: allocate, release, allocate."""
    assert ipam(cli, center, *ALLOC).exit_code == 0
    assert ipam(cli, center, "release", "czj-app9").exit_code == 0
    assert ipam(cli, center, *ALLOC).exit_code == 0
    assert len(recs(center)) == 9
    return center


def _broken_at(center: Path) -> tuple[int, str]:
    v = verify(center, "-o", "json")
    assert v.returncode == 1, v.stdout + v.stderr
    doc = json.loads(v.stdout)
    assert doc["ok"] is False and doc["broken"]["file"] == str(log_of(center))
    return doc["broken"]["line"], doc["broken"]["problem"]


def _lines(center: Path) -> list[bytes]:
    return log_of(center).read_bytes().splitlines(keepends=True)


def _put(center: Path, lines: list[bytes]) -> None:
    log_of(center).write_bytes(b"".join(lines))


def test_intact_chain_verifies(chained):
    v = verify(chained, "-o", "json")
    assert v.returncode == 0, v.stdout
    doc = json.loads(v.stdout)
    assert doc["ok"] and doc["chained"] == 9 and doc["head"]["seq"] == 9
    t = verify(chained)
    assert t.returncode == 0 and "audit chain intact: 9 chained record(s)" in t.stdout


def test_an_edited_field_is_named_at_its_line(chained):
    lines = _lines(chained)
    lines[4] = lines[4].replace(b'"result":"ok"', b'"result":"refused"')
    _put(chained, lines)
    line, problem = _broken_at(chained)
    assert line == 5 and "was changed after it was written" in problem
    t = verify(chained)
    assert f"{log_of(chained)}:5: record seq 5 was changed" in t.stdout


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(chained):
    lines = _lines(chained)
    rec = json.loads(lines[1])
    rec["changes"]["added"]["tenant"] = "rsj"
    lines[1] = (json.dumps(audit.seal(rec), separators=(",", ":")) + "\n").encode()
    _put(chained, lines)
    line, problem = _broken_at(chained)
    assert line == 3 and "prev does not match" in problem


def test_a_deleted_line_is_named(chained):
    lines = _lines(chained)
    del lines[3]
    _put(chained, lines)
    line, problem = _broken_at(chained)
    assert line == 4 and "expected seq 4, found 5" in problem and "missing" in problem


def test_reordered_lines_are_named(chained):
    lines = _lines(chained)
    lines[5], lines[6] = lines[6], lines[5]
    _put(chained, lines)
    line, problem = _broken_at(chained)
    assert line == 6 and "expected seq 6, found 7" in problem


def test_records_cut_off_the_end_are_noticed(chained):
    _put(chained, _lines(chained)[:7])
    line, problem = _broken_at(chained)
    assert line == 8 and "ends at seq 7" in problem and "2 record(s) were cut off" in problem


@pytest.mark.parametrize("keep", [7, 0])
def test_no_new_chain_on_a_shortened_log(cli, chained, keep):
    """Cutting records off (or deleting the log) and letting the next command start afresh
    would hide the cut: changing commands refuse until someone has looked."""
    _put(chained, _lines(chained)[:keep])
    before = plan_files(chained)
    r = ipam(cli, chained, "release", "czj-app9")
    assert r.exit_code == 2 and "records were removed or replaced" in r.stderr
    assert plan_files(chained) == before
    line, problem = _broken_at(chained)
    assert line == keep + 1 and "cut off" in problem


def test_a_file_cut_in_the_middle_of_a_line(chained):
    data = log_of(chained).read_bytes()
    log_of(chained).write_bytes(data[: len(data) - 40])
    line, problem = _broken_at(chained)
    assert line == 9 and "damaged record" in problem


def test_a_record_inserted_inside_the_chain(chained):
    lines = _lines(chained)
    lines.insert(2, b'{"action": "ipam.allocate", "result": "ok"}\n')
    _put(chained, lines)
    line, problem = _broken_at(chained)
    assert line == 3 and "inside the chain" in problem


def test_legacy_records_before_the_chain(cli, center):
    """A log from before the chain: its records stay readable, are counted and reported as
    not protected, and the chain's first record covers the last legacy line."""
    log = log_of(center)
    log.parent.mkdir(parents=True)
    legacy = [
        {"time": "2026-01-01T00:00:00+08:00", "user": "root", "action": "lab.up", "result": "ok"},
        {"time": "2026-01-02T00:00:00+08:00", "user": "ops", "action": "ipam.allocate"},
    ]
    log.write_text("".join(json.dumps(x) + "\n" for x in legacy))
    assert ipam(cli, center, *ALLOC).exit_code == 0
    doc = json.loads(verify(center, "-o", "json").stdout)
    assert doc["ok"] and doc["legacy_before_chain"] == 2 and doc["chained"] == 3
    assert "2 legacy record(s) before the chain starts (not protected)" in doc["notes"]
    rows = json.loads(cli("--center", str(center), "audit", "log", "-o", "json").stdout)["items"]
    assert [x["action"] for x in rows] == ["lab.up", "ipam.allocate", "ipam.allocate"]
    # the first chained record covers the last legacy line
    lines = _lines(center)
    lines[1] = lines[1].replace(b"ops", b"eve")
    _put(center, lines)
    assert _broken_at(center)[0] == 3


def _append_many(log: str, n: int) -> None:
    trail = audit.Trail(audit.FileStore(log))
    for i in range(n):
        trail.change("test.append", {"i": i, "pid": os.getpid()})


def test_concurrent_appenders_keep_one_valid_chain(tmp_path):
    log = tmp_path / "audit.log"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(log), 40)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    store = audit.FileStore(log)
    v = audit.verify(store.lines(), store.head(), store.end())
    assert v.ok, v.broken
    assert v.chained == 240
    pids = {r["changes"]["pid"] for _loc, r in audit.records(log)}
    assert len(pids) == 6


# ---------------------------------------------------------------------------------------
# 4. syslog (RFC 5424)

RFC5424 = re.compile(
    rb"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) "
    rb"(?P<msgid>\S+) \[cloudctl@32473 seq=\"(?P<seq>\d+)\" hash=\"(?P<hash>[0-9a-f]{64})\" "
    rb"run=\"(?P<run>[^\"]*)\"(?P<more>[^\]]*)\] \xef\xbb\xbf(?P<msg>.*)$",
    re.S,
)


def test_records_are_forwarded_to_syslog_over_udp(cli, center):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    port = sock.getsockname()[1]
    with (center / "cloudctl.yaml").open("a") as fh:
        fh.write(f'audit:\n  syslog: "udp://127.0.0.1:{port}"\n')
    try:
        assert ipam(cli, center, *ALLOC).exit_code == 0
        got = [sock.recvfrom(65535)[0] for _ in range(3)]
    finally:
        sock.close()
    local = recs(center)
    for data, rec in zip(got, local, strict=True):
        m = RFC5424.match(data)
        assert m, data[:200]
        pri = int(m["pri"])
        assert pri // 8 == 10  # authpriv
        assert m["app"] == b"cloudctl" and m["msgid"].decode() == rec["kind"]
        assert int(m["procid"]) == rec["pid"] and m["ts"].decode() == rec["time"]
        assert int(m["seq"]) == rec["seq"] and m["hash"].decode() == rec["hash"]
        assert json.loads(m["msg"]) == rec
    assert int(RFC5424.match(got[2])["pri"]) % 8 == 5  # an ok outcome is a notice


def test_syslog_failure_keeps_the_local_record(cli, center, tmp_path):
    with (center / "cloudctl.yaml").open("a") as fh:
        fh.write(f"audit: {{syslog: {tmp_path / 'no-such-socket'}}}\n")
    r = ipam(cli, center, *ALLOC)
    assert r.exit_code == 0
    assert "cannot forward to syslog" in r.stderr and "the local record is kept" in r.stderr
    assert r.stderr.count("cannot forward") == 1
    assert [x["kind"] for x in recs(center)] == ["intent", "change", "outcome"]


def test_a_bad_syslog_target_is_an_input_error_at_its_line(cli, center):
    text = (center / "cloudctl.yaml").read_text()
    (center / "cloudctl.yaml").write_text(text + "audit:\n  syslog: tcp://log.example\n")
    line = len(text.splitlines()) + 2
    r = ipam(cli, center, *ALLOC)
    assert r.exit_code == 2
    assert f"cloudctl.yaml:{line}: audit.syslog:" in r.stderr
    assert not log_of(center).exists()


def test_a_long_record_is_cut_for_syslog_but_keeps_its_hash():
    rec = audit.seal({"seq": 1, "prev": audit.GENESIS, "kind": "change", "x": "y" * 20000})
    data = audit.rfc5424(rec, "h")
    assert len(data) <= audit.MAX_SYSLOG
    m = RFC5424.match(data)
    assert m and m["hash"].decode() == rec["hash"] and b'truncated="1"' in m["more"]


# ---------------------------------------------------------------------------------------
# 5. who


def _run_with_loginuid(center: Path, loginuid: int | None, env: dict) -> None:
    cmd = " ".join([*CLOUDCTL, "--center", str(center), "ipam", *ALLOC])
    if loginuid is not None:
        cmd = f"echo {loginuid} > /proc/self/loginuid && exec {cmd}"
    r = subprocess.run(["sh", "-c", cmd], env=env, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="setting a login uid needs root")
def test_user_comes_from_the_login_session_not_sudo_user(center):
    if audit._loginuid() is not None:
        pytest.skip("this process already has a login uid (it cannot be set again)")
    env = {**os.environ, "SUDO_USER": "mallory"}
    _run_with_loginuid(center, 1, env)  # uid 1 = daemon: as if daemon logged in, then sudo
    intent = recs(center)[0]
    assert intent["user"] == "daemon" and intent["user_from"] == "loginuid"
    assert intent["effective_user"] == "root" and intent["sudo_user"] == "mallory"


def test_without_a_login_session_sudo_user_then_euid(tmp_path, monkeypatch):
    unset = tmp_path / "loginuid"
    unset.write_text(str(audit.UNSET_LOGINUID))
    monkeypatch.setenv("SUDO_USER", "alice")
    w = audit.who(str(unset))
    assert w["user"] == "alice" and w["user_from"] == "sudo"
    monkeypatch.delenv("SUDO_USER")
    w = audit.who(str(unset))
    assert w["user_from"] == "euid" and w["user"] == w["effective_user"]
    (tmp_path / "one").write_text("0")
    assert audit.who(str(tmp_path / "one"))["user"] == "root"


# ---------------------------------------------------------------------------------------
# 6. secrets


def test_passwords_from_env_options_and_errors_never_reach_the_log(center):
    env = {**os.environ, "OS_PASSWORD": "EnvSecret-8812", "CLOUDCTL_PW_OPS": "EnvSecret-7741"}
    for args in (
        [*ALLOC, "--purpose", "db password=OptSecret-5521"],
        ["release", "czj-app9", "--os-password", "OptSecret-6630"],  # refused: no such option
        ["release", "czj-app9", "--token=OptSecret-9931"],
    ):
        subprocess.run(
            [*CLOUDCTL, "--center", str(center), "ipam", *args],
            env=env,
            capture_output=True,
            check=False,
        )
    text = log_of(center).read_text()
    assert len(recs(center)) == 7
    for secret in (
        "EnvSecret-8812",
        "EnvSecret-7741",
        "OptSecret-5521",
        "OptSecret-6630",
        "OptSecret-9931",
    ):
        assert secret not in text
    assert "password=***" in text
    trail = audit.Trail(audit.FileStore(log_of(center)))
    run = trail.begin("tenant.apply", {"password": "P1-secret", "user": "u"})
    out = trail.end(run, "refused", 2, "secrets.yaml:3: bad line: 'password: Hunter-2299'")
    assert "Hunter-2299" not in out["error"] and "password: ***" in out["error"]
    text = log_of(center).read_text()
    assert "Hunter-2299" not in text and "P1-secret" not in text
