"""The lab hosts' root filesystem: Debian 12 built once by debootstrap, customised in a
chroot, cached as a zstd tarball keyed by a hash of the recipe, unpacked once per lab
as the read-only lower layer that every host's overlay shares."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from cloudctl.core.errors import ExternalError
from cloudctl.core.fileio import file_lock
from cloudctl.core.i18n import _
from cloudctl.lab.model import ADMIN_USER, fingerprint
from cloudctl.lab.paths import LabPaths
from cloudctl.lab.services import files_text

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# A typical Debian server: what the MLPS baseline checks and remediates must be present.
BASE_PACKAGES = [
    *("openssh-server", "python3", "python3-apt", "sudo", "procps", "iproute2"),
    *("libpam-pwquality", "auditd", "rsyslog", "logrotate", "chrony", "nftables", "cron"),
    *("systemd-sysv", "dbus", "kmod", "less", "udev", "rsync", "ca-certificates"),
]
# Not installed, but installable from the hosts' local repository (with their dependencies):
# legacy services the baseline must find and remove, tools the runbooks use, a small web app.
REPO_PACKAGES = ["telnetd", "rsh-server", "openbsd-inetd", "aide", "nginx-light", "curl"]
# Installed, and also in the repository so a test may remove and reinstall them.
REPO_EXTRA = [
    *("rsync", "chrony", "auditd", "rsyslog", "cron", "nftables", "libpam-pwquality", "sudo"),
]
RECIPE_VERSION = "1"


def mirror() -> str:
    return os.environ.get("CLOUDCTL_DEBIAN_MIRROR") or DEFAULT_MIRROR


def image_key() -> str:
    return fingerprint(
        RECIPE_VERSION,
        SUITE,
        " ".join(BASE_PACKAGES),
        " ".join(REPO_PACKAGES),
        " ".join(REPO_EXTRA),
        ADMIN_USER,
        files_text("customize-rootfs.sh"),
        files_text("finish-rootfs.sh"),
    )


def tarball(paths: LabPaths) -> Path:
    return paths.cache / f"rootfs-{image_key()}.tar.zst"


def lower_dir(paths: LabPaths) -> Path:
    return paths.images / image_key()


def _run(argv: list[str], log: Path, what: str, **kw) -> None:
    with open(log, "a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        r = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, **kw)
    if r.returncode != 0:
        raise ExternalError(
            _("{what} failed (exit {returncode}); see {log}").format(
                what=what, returncode=r.returncode, log=log
            )
        )


def packages_index(repo: Path) -> str:
    """A flat apt repository's ``Packages`` file (what dpkg-scanpackages writes)."""
    stanzas = []
    for deb in sorted(repo.glob("*.deb")):
        control = subprocess.run(
            ["dpkg-deb", "--field", str(deb)], capture_output=True, text=True, check=True
        ).stdout.rstrip("\n")
        raw = deb.read_bytes()
        stanzas.append(
            f"{control}\nFilename: ./{deb.name}\nSize: {len(raw)}\n"
            f"MD5sum: {hashlib.md5(raw).hexdigest()}\n"
            f"SHA256: {hashlib.sha256(raw).hexdigest()}\n"
        )
    return "\n".join(stanzas)


def build_tarball(paths: LabPaths, on_build: Callable[[], None] | None = None) -> Path:
    """Build the root filesystem tarball unless the cache has it (about 2 minutes)."""
    target = tarball(paths)
    if target.exists():
        return target
    paths.cache.mkdir(parents=True, exist_ok=True)
    with file_lock(paths.cache / "rootfs", timeout=1800, what="host image build"):
        if target.exists():
            return target
        if on_build:
            on_build()
        log = paths.logs / "build-rootfs.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"building {target.name} at {time.strftime('%F %T')}\n")
        work = paths.cache / f"rootfs-build-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        try:
            _run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(BASE_PACKAGES)}",
                    SUITE,
                    str(work),
                    mirror(),
                ],
                log,
                "debootstrap",
            )
            env = {
                "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                "ADMIN_USER": ADMIN_USER,
                "REPO_PACKAGES": " ".join(REPO_PACKAGES),
                "REPO_EXTRA": " ".join(REPO_EXTRA),
            }
            for script in ("customize-rootfs.sh", "finish-rootfs.sh"):
                if script == "finish-rootfs.sh":
                    repo = work / "var/local-repo"
                    (repo / "Packages").write_text(packages_index(repo))
                (work / "tmp/step.sh").write_text(files_text(script))
                _run(["chroot", str(work), "/bin/sh", "/tmp/step.sh"], log, script, env=env)
                (work / "tmp/step.sh").unlink()
            partial = target.with_name(target.name + ".partial")
            _run(
                [
                    "tar",
                    "--numeric-owner",
                    "--xattrs",
                    "-C",
                    str(work),
                    "-I",
                    "zstd -T0 -6 -q",
                    "-cf",
                    str(partial),
                    ".",
                ],
                log,
                "packing the root filesystem",
            )
            partial.rename(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def ensure_lower(paths: LabPaths, on_build: Callable[[], None] | None = None) -> Path:
    """The unpacked image all hosts of this lab share (read-only, never modified)."""
    lower = lower_dir(paths)
    done = lower.with_name(lower.name + ".complete")
    if done.exists() and lower.is_dir():
        return lower
    src = build_tarball(paths, on_build)
    paths.images.mkdir(parents=True, exist_ok=True)
    tmp = paths.images / f".unpack-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    log = paths.logs / "unpack-rootfs.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    _run(
        ["tar", "--numeric-owner", "--xattrs", "-C", str(tmp), "-I", "zstd -q", "-xf", str(src)],
        log,
        "unpacking the host image",
    )
    shutil.rmtree(lower, ignore_errors=True)
    tmp.rename(lower)
    done.write_text(src.name + "\n")
    return lower


def lowerdirs_in_use() -> set[str]:
    """Lower layers of the overlay mounts of this mount namespace."""
    used: set[str] = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        _, _, after = line.partition(" - ")
        fields = after.split()
        if len(fields) >= 3 and fields[0] == "overlay":
            for opt in fields[2].split(","):
                if opt.startswith("lowerdir="):
                    used.update(opt[len("lowerdir=") :].split(":"))
    return used


def prune_images(paths: LabPaths, keep: Path) -> list[str]:
    """Remove unpacked images of older recipes that no overlay uses any more."""
    removed: list[str] = []
    if not paths.images.is_dir():
        return removed
    used = lowerdirs_in_use()
    for d in sorted(paths.images.iterdir()):
        image_dir = d.with_suffix("") if d.suffix == ".complete" else d
        if image_dir == keep or str(image_dir) in used:
            continue
        with contextlib.suppress(OSError):
            if d.is_dir():
                shutil.rmtree(d)
            else:
                d.unlink()
            removed.append(d.name)
    return removed
