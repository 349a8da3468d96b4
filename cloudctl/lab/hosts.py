"""The SSH half of the lab: systemd-nspawn containers booting Debian's systemd, each on
its own overlay of the shared image, with only a loopback interface; a socat on
127.0.0.1:PORT forwards into the container's network namespace to its sshd."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cloudctl.core.errors import ExternalError, Location
from cloudctl.core.i18n import _
from cloudctl.lab import procs
from cloudctl.lab.model import ADMIN_USER, LOOPBACK, HostSpec
from cloudctl.lab.paths import LabPaths

PROPAGATE_DIR = Path("/run/systemd/nspawn/propagate")
BOOT_WAIT = "systemctl is-system-running --wait"
SSH_OPTS = [
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=3",
]


@dataclass(frozen=True)
class HostDirs:
    base: Path

    @property
    def upper(self) -> Path:
        return self.base / "upper"

    @property
    def work(self) -> Path:
        return self.base / "work"

    @property
    def merged(self) -> Path:
        return self.base / "merged"

    @property
    def hostkeys(self) -> Path:
        return self.base / "hostkeys"

    @property
    def image_marker(self) -> Path:
        """Which image the upper layer was made on."""
        return self.base / "image"


def image_of(d: HostDirs) -> str | None:
    try:
        return d.image_marker.read_text().strip() or None
    except OSError:
        return None


def dirs(paths: LabPaths, name: str) -> HostDirs:
    return HostDirs(paths.hosts / name)


def record_keys(name: str) -> tuple[str, str, str]:
    """Run records of a host: the nspawn process, the container's init, the forwarder."""
    return f"host-{name}", f"init-{name}", f"fwd-{name}"


# ---------------------------------------------------------------- mounts


def mounts() -> list[str]:
    """Mount points of this mount namespace (octal escapes decoded)."""
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mp = line.split()[4]
        out.append(mp.encode().decode("unicode_escape"))
    return out


def lab_mounts(paths: LabPaths) -> list[str]:
    prefix = str(paths.hosts) + "/"
    return [m for m in mounts() if m.startswith(prefix)]


def unmount(path: str | Path) -> None:
    """Unmount, falling back to a lazy unmount if something still holds it."""
    r = subprocess.run(["umount", str(path)], capture_output=True, text=True)
    if r.returncode != 0 and str(path) in mounts():
        subprocess.run(["umount", "-l", str(path)], capture_output=True, text=True)


def unmount_host(paths: LabPaths, name: str) -> list[str]:
    """Unmount everything under the host's directory (deepest first)."""
    prefix = str(dirs(paths, name).base) + "/"
    done = []
    for m in sorted((m for m in mounts() if m.startswith(prefix)), key=len, reverse=True):
        unmount(m)
        done.append(m)
    return done


# ---------------------------------------------------------------- cgroups


def cgroup_dirs(name: str, root: Path = Path("/sys/fs/cgroup")) -> list[Path]:
    """Each host's own cgroup (in every hierarchy systemd uses). nspawn puts the container
    under its own cgroup; started side by side from one shell, all hosts would share one,
    and each container's systemd would wait for the others' processes to leave its units'
    cgroups (stops hang, boots never finish)."""
    if (root / "cgroup.controllers").exists():  # unified hierarchy only
        return [root / "cloudctl-lab" / name]
    return [
        h / "cloudctl-lab" / name
        for h in (root / "systemd", root / "unified")
        if (h / "cgroup.procs").exists()
    ]


def remove_cgroups(name: str) -> None:
    """Remove the host's cgroups once its processes are gone (deepest first)."""
    for top in cgroup_dirs(name):
        if not top.is_dir():
            continue
        for d, _dirs, _files in sorted(os.walk(top), key=lambda w: len(w[0]), reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(d)
        with contextlib.suppress(OSError):
            top.parent.rmdir()  # the lab's own parent group, once no host is left


def _enter_cgroups(dirs: list[Path]):
    """preexec hook: move the about-to-be nspawn process into the host's cgroups."""

    def enter() -> None:
        for d in dirs:
            with contextlib.suppress(OSError):
                (d / "cgroup.procs").write_text(str(os.getpid()))

    return enter


# ---------------------------------------------------------------- keys


def ensure_client_key(paths: LabPaths) -> Path:
    key = paths.key_file
    if key.exists() and key.with_suffix(".pub").exists():
        return key
    paths.ssh.mkdir(parents=True, exist_ok=True, mode=0o700)
    for p in (key, key.with_suffix(".pub")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cloudctl-lab", "-f", str(key)],
        check=True,
    )
    os.chmod(key, 0o600)
    return key


def ensure_host_keys(d: HostDirs) -> Path:
    """Host keys made once per host name, so a reset host keeps its identity."""
    etc_ssh = d.hostkeys / "etc/ssh"
    if not list(etc_ssh.glob("ssh_host_*_key")):
        etc_ssh.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-A", "-f", str(d.hostkeys)], check=True, capture_output=True)
    return etc_ssh


# ---------------------------------------------------------------- one host


def _owner_ids(root: Path, user: str) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        f = line.split(":")
        if f[0] == user:
            return int(f[2]), int(f[3])
    raise ExternalError(
        _("the host image has no user {user!r}").format(user=user),
        Location(str(root / "etc/passwd")),
    )


def prepare(paths: LabPaths, host: HostSpec, lower: Path, pubkey: str) -> HostDirs:
    """Mount the host's overlay and write what makes it this host (name, keys)."""
    d = dirs(paths, host.name)
    if str(d.merged) not in mounts() and image_of(d) not in (None, lower.name):
        # changes made on top of another image must not be mixed into this one
        wipe(paths, host.name)
    for p in (d.upper, d.work, d.merged):
        p.mkdir(parents=True, exist_ok=True)
    d.image_marker.write_text(lower.name + "\n")
    if str(d.merged) not in mounts():
        opts = f"lowerdir={lower},upperdir={d.upper},workdir={d.work}"
        r = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", opts, str(d.merged)],
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            raise ExternalError(
                _("{host}: mounting its overlay failed: {error}").format(
                    host=host.name, error=r.stderr.strip()
                ),
                Location(str(d.merged)),
            )
    root = d.merged
    (root / "etc/hostname").write_text(host.name + "\n")
    (root / "etc/hosts").write_text(
        f"127.0.0.1\tlocalhost\n127.0.1.1\t{host.name}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
    for key in ensure_host_keys(d).glob("ssh_host_*"):
        dst = root / "etc/ssh" / key.name
        shutil.copyfile(key, dst)
        os.chmod(dst, 0o600 if key.name.endswith("_key") else 0o644)
    uid, gid = _owner_ids(root, ADMIN_USER)
    for home, ids in ((root / "root", (0, 0)), (root / "home" / ADMIN_USER, (uid, gid))):
        ssh = home / ".ssh"
        ssh.mkdir(mode=0o700, exist_ok=True)
        auth = ssh / "authorized_keys"
        auth.write_text(pubkey.strip() + "\n")
        os.chmod(auth, 0o600)
        for p in (ssh, auth):
            os.chown(p, *ids)
    return d


def nspawn_argv(host: HostSpec, merged: Path) -> list[str]:
    return [
        "systemd-nspawn",
        "--quiet",
        f"--directory={merged}",
        f"--machine={host.name}",
        f"--hostname={host.name}",
        "--boot",
        "--private-network",  # own network namespace: only lo
        "--register=no",
        "--keep-unit",
        "--console=passive",
        "--link-journal=no",
        "--resolv-conf=off",
        "--timezone=off",
        # never steer this machine's clock or kernel from inside a host
        "--drop-capability=CAP_SYS_TIME,CAP_SYS_MODULE",
    ]


def clear_propagate(name: str) -> bool:
    p = PROPAGATE_DIR / name
    if p.exists():
        shutil.rmtree(p, ignore_errors=True)
        return True
    return False


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _container_init(nspawn_pid: int, timeout: float = 15) -> int | None:
    """The container's systemd (PID 1 inside). nspawn forks short-lived helpers first, so
    wait for the child that has exec'd systemd."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if procs.start_ticks(nspawn_pid) is None:
            return None
        for kid in procs.children_map().get(nspawn_pid, []):
            if _comm(kid) == "systemd":
                return kid
        time.sleep(0.02)
    return None


INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")


def ensure_inotify_instances(hosts: int, path: Path = INOTIFY_INSTANCES) -> int | None:
    """Raise the per-user inotify instance limit for ``hosts`` booted containers.

    Every container's systemd, journald and services take inotify instances of the same
    (root) user; Debian's default of 128 runs out at ~20 hosts ("Failed to allocate
    manager object: Too many open files"). Only ever raised, to 128 + 32 per host; returns
    the new value, or None when nothing changed or the limit cannot be written."""
    want = 128 + 32 * hosts
    try:
        current = int(path.read_text().strip())
        if current >= want:
            return None
        path.write_text(f"{want}\n")
    except (OSError, ValueError):
        return None
    return want


def start(paths: LabPaths, host: HostSpec, lower: Path, pubkey: str) -> list[procs.ProcRecord]:
    """Boot the host and open its SSH port; returns its run records (not yet waited on)."""
    k_host, k_init, k_fwd = record_keys(host.name)
    d = prepare(paths, host, lower, pubkey)
    clear_propagate(host.name)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    log = paths.logs / f"host-{host.name}.log"
    remove_cgroups(host.name)
    groups = []
    for g in cgroup_dirs(host.name):
        with contextlib.suppress(OSError):
            g.mkdir(parents=True, exist_ok=True)
            groups.append(g)
    rec = procs.spawn(
        k_host,
        nspawn_argv(host, d.merged),
        env,
        log,
        paths.root,
        preexec=_enter_cgroups(groups),
    )
    rec.save(paths.run)
    init = _container_init(rec.pid)
    if init is None:
        raise ExternalError(
            _("{host}: systemd-nspawn exited at once; see {log}").format(host=host.name, log=log)
        )
    init_rec = procs.ProcRecord(
        key=k_init, pid=init, start=procs.start_ticks(init) or -1, log=str(log)
    )
    init_rec.save(paths.run)
    inner = f"nsenter --net=/proc/{init}/ns/net socat STDIO TCP:127.0.0.1:22"
    fwd_argv = [
        "socat",
        f"TCP-LISTEN:{host.port},bind={LOOPBACK},reuseaddr,fork",
        f'EXEC:"{inner}"',  # quoted: socat would split the inner address at its colons
    ]
    fwd = procs.spawn(k_fwd, fwd_argv, env, paths.logs / f"forward-{host.name}.log", paths.root)
    fwd.save(paths.run)
    return [rec, init_rec, fwd]


def stop(paths: LabPaths, name: str, timeout: float = 10) -> list[str]:
    """Power the host off (SIGTERM to nspawn), close its port, unmount its overlay."""
    found = []
    recs = []
    for key in record_keys(name):
        f = paths.run / f"{key}.json"
        r = procs.ProcRecord.load(f)
        if r:
            recs.append((f, r))
    fwd = [r for f, r in recs if r.key.startswith("fwd-")]
    nspawn = [r for f, r in recs if r.key.startswith("host-")]
    init = [r for f, r in recs if r.key.startswith("init-")]
    found += [r.key for r in procs.terminate(fwd, 5)]
    found += [r.key for r in procs.terminate(nspawn, timeout)]
    # nspawn killed hard leaves the container's init running: it goes down with SIGKILL
    found += [r.key for r in procs.terminate(init, 2)]
    for f, _rec in recs:
        with contextlib.suppress(FileNotFoundError):
            f.unlink()
    remove_cgroups(name)
    found += unmount_host(paths, name)
    if clear_propagate(name):
        found.append(str(PROPAGATE_DIR / name))
    return found


def wipe(paths: LabPaths, name: str) -> None:
    """Forget the host's changes (its upper layer); keeps its host keys."""
    d = dirs(paths, name)
    for p in (d.upper, d.work):
        shutil.rmtree(p, ignore_errors=True)
    d.image_marker.unlink(missing_ok=True)


def ssh_banner(port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def ssh_argv(
    port: int, key: Path, command: str, known_hosts: Path, user: str = ADMIN_USER
) -> list[str]:
    """The lab's own probes check host keys too: against the keys the lab made for its
    hosts (``known_hosts``), never trusting whoever answers on the port."""
    return [
        "ssh",
        *SSH_OPTS,
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-i",
        str(key),
        "-p",
        str(port),
        f"{user}@{LOOPBACK}",
        command,
    ]


def host_known_hosts(paths: LabPaths, host: HostSpec) -> Path:
    """A known_hosts file of this one host, from the keys the lab generated on local disk
    (written before the host boots, so even the first login is checked)."""
    from cloudctl.core.fileio import atomic_write
    from cloudctl.lab.model import known_hosts_lines

    d = dirs(paths, host.name)
    pubs = [p.read_text() for p in sorted((d.hostkeys / "etc/ssh").glob("ssh_host_*_key.pub"))]
    target = d.base / "known_hosts"
    atomic_write(target, "".join(x + "\n" for x in known_hosts_lines(host.port, pubs)))
    return target


def ssh_run(
    port: int, key: Path, command: str, known_hosts: Path, timeout: float = 10
) -> tuple[int, str]:
    try:
        r = subprocess.run(
            ssh_argv(port, key, command, known_hosts),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return 255, f"timeout after {timeout:.0f} s"
    return r.returncode, (r.stdout + r.stderr).strip()


def wait_ssh(
    paths: LabPaths, host: HostSpec, recs: list[procs.ProcRecord], timeout: float = 60
) -> None:
    """Until the admin user can log in by key and systemd has finished booting (so the
    services a test looks at have started)."""
    deadline = time.monotonic() + timeout
    last = ""
    known = host_known_hosts(paths, host)
    while time.monotonic() < deadline:
        if not all(procs.is_running(r) for r in recs):
            break
        if ssh_banner(host.port):
            left = max(deadline - time.monotonic(), 5)
            rc, last = ssh_run(host.port, paths.key_file, BOOT_WAIT, known, timeout=left)
            if rc != 255:  # 255: ssh itself failed; else systemd answered
                return
        time.sleep(0.2)
    log = paths.logs / f"host-{host.name}.log"
    raise ExternalError(
        f"{host.name}: no SSH login on 127.0.0.1:{host.port} within {timeout:.0f} s"
        + (f" ({last})" if last else "")
        + f"; see {log}",
    )


def health(port: int, key: Path, known_hosts: Path, timeout: float = 8) -> tuple[bool, str]:
    """A real SSH login and command (host key checked): systemd's own view of the host."""
    t0 = time.monotonic()
    _, out = ssh_run(port, key, "systemctl is-system-running", known_hosts, timeout=timeout)
    ms = (time.monotonic() - t0) * 1000
    state = out.splitlines()[-1] if out else "?"
    ok = state in ("running", "degraded")
    return ok, f"systemd {state} ({ms:.0f} ms)"  # read over an SSH login
