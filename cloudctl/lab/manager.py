"""Bring the lab to the wanted state, report on it, take it down.

Every changing operation holds the lab's lock (two pytest sessions or operators share one
lab). ``ensure`` first recovers from whatever a killed lab left behind (dead records,
overlay mounts, nspawn's propagation dirs, control sockets, orphaned processes), then
starts only what is missing: on a running lab it checks health and changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from cloudctl.core.errors import ExternalError, InputError, Location
from cloudctl.core.fileio import atomic_write, file_lock
from cloudctl.core.i18n import _
from cloudctl.lab import hosts as hostmod
from cloudctl.lab import image, postgres, procs, requirements, services
from cloudctl.lab.api import LabHostInfo, LabInfo
from cloudctl.lab.model import (
    ADMIN_USER,
    CLOUD_NAME,
    SERVICES,
    HostSpec,
    ServiceSpec,
    clouds_doc,
    inventory_doc,
    known_hosts_lines,
    plan_hosts,
    wanted_services,
)
from cloudctl.lab.paths import LabPaths

LOCK_TIMEOUT = 1800  # a first build may hold the lock for minutes
INVENTORY_HEADER = (
    "# Written by `cloudctl lab up`: the lab's SSH hosts on 127.0.0.1 (regenerated on every\n"
    "# `lab up`; do not edit). Group `lab` holds every host with its connection vars.\n"
)


class Reporter(Protocol):
    def step(self, zh: str, en: str) -> contextlib.AbstractContextManager: ...

    def note(self, zh: str, en: str) -> None: ...


class Quiet:
    @contextlib.contextmanager
    def step(self, zh: str, en: str) -> Iterator[None]:
        yield

    def note(self, zh: str, en: str) -> None:
        pass


@dataclass
class LabState:
    """What ``lab up`` last set up (``lab.json``)."""

    status: str = "down"  # up | down
    services: list[str] = field(default_factory=list)
    hosts: list[dict] = field(default_factory=list)  # {name, port, groups}
    center_inventory: str | None = None
    image: str | None = None
    venv: str | None = None
    updated: str = ""

    @classmethod
    def load(cls, paths: LabPaths) -> LabState | None:
        try:
            raw = json.loads(paths.state_file.read_text())
        except (OSError, ValueError):
            return None
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)

    def save(self, paths: LabPaths) -> None:
        self.updated = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        atomic_write(paths.state_file, json.dumps(self.__dict__, indent=2) + "\n")

    def host_specs(self) -> list[HostSpec]:
        return [
            HostSpec(h["name"], int(h["port"]), tuple(h.get("groups") or ())) for h in self.hosts
        ]


# ---------------------------------------------------------------- records and stale state


def records(paths: LabPaths) -> dict[str, procs.ProcRecord]:
    out = {}
    if paths.run.is_dir():
        for f in sorted(paths.run.glob("*.json")):
            if f.name == paths.recovery_file.name:
                continue
            r = procs.ProcRecord.load(f)
            if r:
                out[r.key] = r
    return out


def _host_is_live(recs: dict[str, procs.ProcRecord], name: str) -> bool:
    k_host, k_init, _ = hostmod.record_keys(name)
    return all(k in recs and procs.is_running(recs[k]) for k in (k_host, k_init))


def find_stale(paths: LabPaths) -> list[str]:
    """What a killed lab left behind, in words (no side effects)."""
    found = []
    recs = records(paths)
    live = {k for k, r in recs.items() if procs.is_running(r)}
    for k, r in recs.items():
        if k not in live:
            found.append(f"record {k}.json: pid {r.pid} is gone")
    for m in hostmod.lab_mounts(paths):
        name = Path(m).relative_to(paths.hosts).parts[0]
        if not _host_is_live(recs, name):
            found.append(f"mount {m}: its host {name} is not running")
    known_hosts = {p.name for p in paths.hosts.iterdir()} if paths.hosts.is_dir() else set()
    for name in sorted(known_hosts):
        if (hostmod.PROPAGATE_DIR / name).exists() and not _host_is_live(recs, name):
            found.append(f"{hostmod.PROPAGATE_DIR / name}: left by a dead systemd-nspawn")
    for ctl in sorted(paths.run.glob("*.ctl")) if paths.run.is_dir() else []:
        if f"svc-{ctl.stem}" not in live:
            found.append(f"socket {ctl}: its gunicorn is gone")
    for pid in orphans(paths, recs):
        found.append(f"orphan {procs.describe(pid)}: a lab process nobody recorded")
    return found


def orphans(paths: LabPaths, recs: dict[str, procs.ProcRecord] | None = None) -> list[int]:
    """Lab processes (by their environment marker) that descend from no live record."""
    recs = records(paths) if recs is None else recs
    roots = {r.pid for r in recs.values() if procs.is_running(r)}
    out = []
    for pid in procs.owned_pids(paths.root):
        p, seen = pid, 0
        while p and p > 1 and p not in roots and seen < 64:
            p = procs.parent_pid(p) or 0
            seen += 1
        if p not in roots:
            out.append(pid)
    return out


def recover(paths: LabPaths) -> list[str]:
    """Clean up after a lab that was killed; returns what was found and cleaned."""
    found = find_stale(paths)
    if not found:
        return []
    recs = records(paths)
    # hosts whose processes are not all alive: stop what is left, unmount, clear
    names = {Path(m).relative_to(paths.hosts).parts[0] for m in hostmod.lab_mounts(paths)}
    names |= {k.split("-", 1)[1] for k in recs if k.startswith(("host-", "init-", "fwd-"))}
    for name in sorted(names):
        if not _host_is_live(recs, name):
            hostmod.stop(paths, name)
    for k, r in records(paths).items():
        if k.startswith("svc-") and not procs.is_running(r):
            (paths.run / f"{k}.json").unlink(missing_ok=True)
    procs.kill_pids(orphans(paths))
    live = {k for k, r in records(paths).items() if procs.is_running(r)}
    for ctl in paths.run.glob("*.ctl") if paths.run.is_dir() else []:
        if f"svc-{ctl.stem}" not in live:
            ctl.unlink(missing_ok=True)
    if paths.hosts.is_dir():
        for d in paths.hosts.iterdir():
            if not _host_is_live(records(paths), d.name):
                hostmod.clear_propagate(d.name)
    paths.run.mkdir(parents=True, exist_ok=True)
    atomic_write(
        paths.recovery_file,
        json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "found": found}, indent=2) + "\n",
    )
    return found


# ---------------------------------------------------------------- up


def _configured(
    center, state: LabState | None
) -> tuple[list[tuple[str, tuple[str, ...]]], str | None]:
    if center is not None:
        cfg = str(center.root / "cloudctl.yaml")
        return [(h.name, tuple(h.groups)) for h in center.lab_hosts], cfg
    if state is not None:
        return [(h.name, h.groups) for h in state.host_specs()], None
    return [], None


def ensure(
    center=None,
    count: int | None = None,
    without: Sequence[str] = (),
    reporter: Reporter | None = None,
) -> LabInfo:
    rep = reporter or Quiet()
    paths = LabPaths.from_env()
    paths.root.mkdir(parents=True, exist_ok=True)
    state = LabState.load(paths)
    configured, cfg_file = _configured(center, state)
    if count is None and state is not None and state.status == "up" and state.hosts:
        count = len(state.hosts)
    wanted_hosts = plan_hosts(configured, count, cfg_file)
    wanted_svcs = wanted_services(without)
    venv_ready = services.usable_venv(paths) is not None
    requirements.check(
        hosts=bool(wanted_hosts),
        build_image=not image.tarball(paths).exists(),
        build_venv=not venv_ready,
        python=services.services_python(),
    )
    with file_lock(paths.lock, timeout=LOCK_TIMEOUT, what="the lab"):
        found = recover(paths)
        if found:
            rep.note(
                f"发现并清理了上次残留的状态（{len(found)} 项，见 lab status）",
                f"found and cleaned stale state left by a killed lab ({len(found)} items; "
                "see lab status)",
            )
        state = LabState.load(paths) or LabState()
        _stop_unwanted(paths, state, wanted_svcs, wanted_hosts)
        # recorded first, so that `status` and `down` see a start that fails half-way
        state.status = "up"
        state.services = [s.name for s in wanted_svcs]
        state.hosts = [
            {"name": h.name, "port": h.port, "groups": list(h.groups)} for h in wanted_hosts
        ]
        state.save(paths)

        def building() -> None:
            rep.note(
                "首次运行：用 debootstrap 构建主机镜像（约 1–2 分钟，之后缓存）",
                "first run: building the host image with debootstrap (1-2 min, cached after)",
            )

        with ThreadPoolExecutor(max_workers=1) as pool:
            # on a first run the host image builds while the services' venv is installed
            image_job = pool.submit(image.ensure_lower, paths, building) if wanted_hosts else None
            _ensure_services(paths, wanted_svcs, rep, state)
            with rep.step("PostgreSQL（共享状态库）", "PostgreSQL (the shared state database)"):
                postgres.ensure(paths, _port_check)
            lower = _ensure_hosts(paths, wanted_hosts, rep, image_job) if image_job else None
        pw = services.load_secrets(paths)
        _write_private(paths.clouds_yaml, yaml.safe_dump(clouds_doc(pw["admin"]), sort_keys=False))
        write_known_hosts(paths, wanted_hosts)
        center_inv = _write_inventories(paths, wanted_hosts, center)
        state.center_inventory = str(center_inv) if center_inv else state.center_inventory
        state.image = lower.name if lower else state.image
        state.save(paths)
        return _info(paths, state)


def _stop_unwanted(paths, state: LabState, wanted_svcs, wanted_hosts) -> None:
    keep_h = {h.name: h for h in wanted_hosts}
    recs = records(paths)
    for h in state.host_specs():
        w = keep_h.get(h.name)
        if w is None or w.port != h.port:
            hostmod.stop(paths, h.name)
    keep_s = {s.name for s in wanted_svcs}
    for k, r in recs.items():
        if k.startswith("svc-") and k[4:] not in keep_s and k != postgres.KEY:
            procs.terminate([r])
            (paths.run / f"{k}.json").unlink(missing_ok=True)


def _port_check(port: int, paths: LabPaths, what: str) -> None:
    holders = procs.port_holders(port)
    if holders:
        who = ", ".join(procs.describe(p) for p in holders[:3])
        raise ExternalError(
            _("{what}: port 127.0.0.1:{port} is already in use by {who}; stop it first").format(
                what=what, port=port, who=who
            ),
            Location(str(paths.root)),
        )


def _ensure_services(
    paths: LabPaths, wanted: list[ServiceSpec], rep: Reporter, state: LabState
) -> None:
    recs = records(paths)
    todo = []
    usable = services.usable_venv(paths, state.venv)
    venv_now = str(usable) if usable else None
    # another venv only when the lock file changed (or the cache was wiped): restart all
    same_venv = state.venv is None or state.venv == venv_now
    for spec in wanted:
        r = recs.get(f"svc-{spec.name}")
        # one worker, one thread: a busy service queues the probe behind other clients'
        # requests, so a live one gets a minute before it counts as hung and is restarted
        if same_venv and r and procs.is_running(r) and services.answers(spec, timeout=60):
            continue
        if r:
            procs.terminate([r])
            (paths.run / f"{r.key}.json").unlink(missing_ok=True)
        todo.append(spec)
    if not todo:
        state.venv = venv_now
        return
    for spec in todo:
        _port_check(spec.port, paths, spec.name)

    def building() -> None:
        rep.note(
            "首次运行：构建服务的 Python 环境（约 1–2 分钟，之后缓存）",
            "first run: building the services' venv (1-2 min, cached afterwards)",
        )

    with rep.step("准备 OpenStack 服务的 Python 环境", "services' venv"):
        venv = services.ensure_venv(paths, building, state.venv)
    state.venv = str(venv)
    pw = services.load_secrets(paths)
    services.write_configs(paths, venv, wanted, pw)
    names = ", ".join(s.name for s in todo)
    started: dict[str, procs.ProcRecord] = {}
    with rep.step(f"初始化数据库并启动 {names}", f"databases and start: {names}"):
        services.init_all(paths, venv, todo, pw, lambda s, r: started.__setitem__(s.name, r))
    with rep.step("等待服务应答", "waiting for the APIs to answer"):
        order = sorted(todo, key=lambda s: s.name != "keystone")
        for spec in order:
            services.wait_until_answering(spec, started[spec.name])
    unregistered = [s for s in wanted if not services.registered_marker(paths, s.name).exists()]
    if unregistered:
        with rep.step("在 Keystone 中注册服务", "registering services in Keystone"):
            services.register(pw["admin"], pw["service"], unregistered)
            for s in unregistered:
                services.registered_marker(paths, s.name).write_text("ok\n")


def _ensure_hosts(
    paths: LabPaths, wanted: list[HostSpec], rep: Reporter, lower_future: Future[Path]
) -> Path:
    if lower_future.done():
        lower = lower_future.result()
    else:
        with rep.step("准备主机镜像", "host image"):
            lower = lower_future.result()
    key = hostmod.ensure_client_key(paths)
    pub = key.with_suffix(".pub").read_text()
    recs = records(paths)
    todo = []
    for h in wanted:
        k_host, k_init, k_fwd = hostmod.record_keys(h.name)
        live = all(k in recs and procs.is_running(recs[k]) for k in (k_host, k_init, k_fwd))
        current = hostmod.image_of(hostmod.dirs(paths, h.name)) in (None, lower.name)
        if live and current and any(hostmod.ssh_banner(h.port, timeout=3) for _ in range(3)):
            continue
        hostmod.stop(paths, h.name)
        todo.append(h)
    if not todo:
        return lower
    for h in todo:
        _port_check(h.port, paths, h.name)
    names = ", ".join(h.name for h in todo)
    hostmod.ensure_inotify_instances(len(wanted))
    with rep.step(f"启动主机 {names}", f"booting hosts: {names}"):
        started = {h.name: hostmod.start(paths, h, lower, pub) for h in todo}
        with ThreadPoolExecutor(max_workers=len(todo)) as pool:
            for f in [pool.submit(hostmod.wait_ssh, paths, h, started[h.name]) for h in todo]:
                f.result()
    image.prune_images(paths, lower)
    return lower


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text, mode=0o600)


def write_known_hosts(paths: LabPaths, hosts: Sequence[HostSpec]) -> Path:
    """Every lab host's public keys (kept per host name, so a reset keeps them) in the
    lab's own known_hosts, which its inventory names: Ansible checks the lab's hosts."""
    lines = []
    for h in hosts:
        etc_ssh = hostmod.dirs(paths, h.name).hostkeys / "etc/ssh"
        pubs = [p.read_text() for p in sorted(etc_ssh.glob("ssh_host_*_key.pub"))]
        lines += known_hosts_lines(h.port, pubs)
    atomic_write(paths.known_hosts, "".join(x + "\n" for x in lines), mode=0o644)
    return paths.known_hosts


def _inventory_text(paths: LabPaths, wanted: list[HostSpec]) -> str:
    doc = inventory_doc(wanted, str(paths.key_file), str(paths.known_hosts))
    return INVENTORY_HEADER + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def _write_inventories(paths: LabPaths, wanted: list[HostSpec], center) -> Path | None:
    text = _inventory_text(paths, wanted)
    atomic_write(paths.inventory, text)
    if center is None:
        return None
    target = Path(center.hosts_inventory) / "lab.yml"
    atomic_write(target, text)
    return target


# ---------------------------------------------------------------- info, status


def _info(paths: LabPaths, state: LabState) -> LabInfo:
    key = paths.key_file
    return LabInfo(
        dir=paths.root,
        clouds_yaml=paths.clouds_yaml,
        cloud=CLOUD_NAME,
        inventory=paths.inventory,
        hosts={
            h.name: LabHostInfo(
                name=h.name, port=h.port, user=ADMIN_USER, key_file=key, groups=h.groups
            )
            for h in state.host_specs()
        },
        services={n: SERVICES[n].port for n in state.services},
        center_inventory=Path(state.center_inventory) if state.center_inventory else None,
        state_url=postgres.url(),
        pgpass=postgres.pgpass_file(paths),
    )


def info() -> LabInfo | None:
    paths = LabPaths.from_env()
    state = LabState.load(paths)
    if state is None or state.status != "up":
        return None
    return _info(paths, state)


def _mib(n: int) -> float:
    return round(n / 2**20, 1)


def status(deep: bool = True) -> dict:
    """Every service and host: port, PID, health by a real call, memory; stale leftovers."""
    paths = LabPaths.from_env()
    state = LabState.load(paths) or LabState()
    recs = records(paths)
    kids = procs.children_map()
    token = project = None
    if deep and "keystone" in state.services:
        with contextlib.suppress(OSError, ValueError):
            pw = json.loads(paths.secrets.read_text())
            got = services.admin_token(pw["admin"])
            if got:
                token, doc = got
                project = doc["project"]["id"]

    def svc_row(name: str) -> dict:
        spec = SERVICES[name]
        r = recs.get(f"svc-{name}")
        running = bool(r and procs.is_running(r))
        ok, detail = (False, "not running")
        if running:
            ok, detail = services.probe(spec, token, project) if deep else (True, "-")
            if name == "keystone" and deep and token is None:
                ok, detail = False, "token request failed"
        return {
            "name": name,
            "port": spec.port,
            "pid": r.pid if running and r else None,
            "running": running,
            "healthy": ok,
            "detail": detail,
            "rss_mib": _mib(procs.rss_bytes(procs.tree(r.pid, kids))) if running and r else 0,
            "log": str(paths.logs / f"{name}.log"),
        }

    def host_row(h: HostSpec) -> dict:
        k_host, _, k_fwd = hostmod.record_keys(h.name)
        rh, rf = recs.get(k_host), recs.get(k_fwd)
        running = _host_is_live(recs, h.name) and bool(rf and procs.is_running(rf))
        ok, detail = (False, "not running")
        if running:
            ok, detail = (
                hostmod.health(h.port, paths.key_file, paths.known_hosts) if deep else (True, "-")
            )
        rss = 0
        if running and rh and rf:
            rss = procs.rss_bytes(procs.tree(rh.pid, kids) + procs.tree(rf.pid, kids))
        return {
            "name": h.name,
            "port": h.port,
            "pid": rh.pid if running and rh else None,
            "running": running,
            "healthy": ok,
            "detail": detail,
            "rss_mib": _mib(rss),
            "groups": list(h.groups),
            "log": str(paths.logs / f"host-{h.name}.log"),
        }

    with ThreadPoolExecutor(max_workers=8) as pool:
        svc_rows = list(pool.map(svc_row, state.services))
        host_rows = list(pool.map(host_row, state.host_specs()))
    if state.status == "up" or postgres.record(paths) is not None:
        svc_rows.append(postgres.status_row(paths, kids, deep))
    last = None
    with contextlib.suppress(OSError, ValueError):
        last = json.loads(paths.recovery_file.read_text())
    rows = svc_rows + host_rows
    if state.status != "up":
        overall = "down"
    elif rows and all(r["healthy"] for r in rows):
        overall = "up"
    else:
        overall = "degraded"
    return {
        "lab_dir": str(paths.root),
        "state": overall,
        "clouds_yaml": str(paths.clouds_yaml),
        "cloud": CLOUD_NAME,
        "inventory": str(paths.inventory),
        "center_inventory": state.center_inventory,
        "services": svc_rows,
        "hosts": host_rows,
        "memory_mib": round(sum(r["rss_mib"] for r in rows), 1),
        "stale": find_stale(paths),
        "last_recovery": last,
        "updated": state.updated,
    }


# ---------------------------------------------------------------- reset, down


def reset_host(name: str, reporter: Reporter | None = None) -> float:
    """A pristine copy of one host (its overlay's upper layer thrown away); seconds taken."""
    rep = reporter or Quiet()
    paths = LabPaths.from_env()
    t0 = time.monotonic()
    with file_lock(paths.lock, timeout=LOCK_TIMEOUT, what="the lab"):
        state = LabState.load(paths)
        specs = {h.name: h for h in state.host_specs()} if state and state.status == "up" else {}
        if name not in specs:
            known = ", ".join(specs) or "none (run cloudctl lab up)"
            raise InputError(
                _("no lab host {name!r}; the lab's hosts: {known}").format(name=name, known=known)
            )
        host = specs[name]
        with rep.step(f"重置主机 {name}", f"resetting {name}"):
            hostmod.stop(paths, name)
            hostmod.wipe(paths, name)
            lower = image.ensure_lower(paths)
            pub = hostmod.ensure_client_key(paths).with_suffix(".pub").read_text()
            recs = hostmod.start(paths, host, lower, pub)
            hostmod.wait_ssh(paths, host, recs)
            write_known_hosts(paths, list(specs.values()))  # in case its keys were new
    return time.monotonic() - t0


def down(purge: bool = False, reporter: Reporter | None = None) -> list[str]:
    """Stop the lab's own processes, unmount its mounts; ``purge`` also deletes its data."""
    rep = reporter or Quiet()
    paths = LabPaths.from_env()
    if not paths.root.exists():
        return []
    stopped: list[str] = []
    with file_lock(paths.lock, timeout=LOCK_TIMEOUT, what="the lab"):
        state = LabState.load(paths) or LabState()
        with rep.step("停止主机与服务", "stopping hosts and services"):
            names = {h["name"] for h in state.hosts}
            names |= {k.split("-", 1)[1] for k in records(paths) if not k.startswith("svc-")}
            if paths.hosts.is_dir():
                names |= {d.name for d in paths.hosts.iterdir()}
            for n in sorted(names):
                stopped += hostmod.stop(paths, n)
            if postgres.stop(paths):  # a fast shutdown first (SIGTERM would wait for clients)
                stopped.append(postgres.KEY)
            svc = [r for k, r in records(paths).items() if k.startswith("svc-")]
            stopped += [r.key for r in procs.terminate(svc)]
            for r in svc:
                (paths.run / f"{r.key}.json").unlink(missing_ok=True)
            left = orphans(paths)
            procs.kill_pids(left)
            stopped += [f"orphan pid {p}" for p in left]
            for ctl in paths.run.glob("*.ctl") if paths.run.is_dir() else []:
                ctl.unlink(missing_ok=True)
        for inv in (state.center_inventory, str(paths.inventory)):
            if inv:
                Path(inv).unlink(missing_ok=True)
        state.status = "down"
        state.center_inventory = None
        state.save(paths)
        if purge:
            remaining = hostmod.lab_mounts(paths)
            if remaining:
                raise ExternalError(
                    _("not purging: still mounted: {remaining}").format(
                        remaining=", ".join(remaining)
                    ),
                    Location(str(paths.root)),
                )
            with rep.step("删除实验环境数据", "deleting the lab's data"):
                for child in paths.root.iterdir():
                    if child.name == f"{paths.lock.name}.lock":
                        continue
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
    return stopped
