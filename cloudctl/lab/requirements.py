"""What this machine must have for the lab, checked up front and reported all at once,
each with the Debian package that provides it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from cloudctl.core.errors import Problem, ValidationFailed
from cloudctl.core.i18n import _

# command -> Debian package
HOST_TOOLS = {
    "systemd-nspawn": "systemd-container",
    "socat": "socat",
    "nsenter": "util-linux",
    "mount": "mount",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "zstd": "zstd",
    "tar": "tar",
}
BUILD_TOOLS = {"debootstrap": "debootstrap", "dpkg-deb": "dpkg", "chroot": "coreutils"}


def missing_tools(tools: dict[str, str], which=shutil.which) -> list[tuple[str, str]]:
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [(cmd, pkg) for cmd, pkg in tools.items() if which(cmd, path=path) is None]


def problems(
    *,
    hosts: bool,
    build_image: bool,
    build_venv: bool,
    python: str,
    euid: int | None = None,
    which=shutil.which,
    filesystems: str | None = None,
) -> list[Problem]:
    found: list[Problem] = []
    uid = os.geteuid() if euid is None else euid
    if uid != 0:
        found.append(
            Problem(
                None,
                _("the lab needs root (it mounts overlays and starts containers): run as root"),
            )
        )
    tools = dict(HOST_TOOLS) if hosts else {}
    if hosts and build_image:
        tools |= BUILD_TOOLS
    need: dict[str, list[str]] = {}
    for cmd, pkg in missing_tools(tools, which):
        need.setdefault(pkg, []).append(cmd)
    for pkg, cmds in sorted(need.items()):
        found.append(
            Problem(
                None,
                _("{cmds} not found: apt-get install --no-install-recommends {pkg}").format(
                    cmds=", ".join(cmds), pkg=pkg
                ),
            )
        )
    if hosts:
        fs = filesystems
        if fs is None:
            try:
                fs = Path("/proc/filesystems").read_text()
            except OSError:
                fs = ""
        if "overlay" not in fs.split():
            found.append(Problem(None, _("the kernel has no overlay filesystem (module overlay)")))
    r = subprocess.run(
        [python, "-c", "import sys, venv, ensurepip; print(sys.version_info >= (3, 12))"],
        capture_output=True,
        text=True,
    )
    if r.stdout.strip() != "True":
        if "No module named" in r.stderr:
            if build_venv:
                found.append(
                    Problem(
                        None,
                        _("{python} cannot make venvs: apt-get install python3-venv").format(
                            python=python
                        ),
                    )
                )
        else:
            found.append(
                Problem(
                    None,
                    _(
                        "the lab's services need Python >= 3.12 ({python} is older): apt-get "
                        "install python3.12 (or use pyenv)"
                    ).format(python=python),
                )
            )
    return found


def check(**kw) -> None:
    found = problems(**kw)
    if found:
        raise ValidationFailed(
            found, _("{n} requirement(s) of the lab missing").format(n=len(found))
        )
