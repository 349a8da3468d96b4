"""Requirement checks name the Debian package to install."""

from __future__ import annotations

import sys
from pathlib import Path

from cloudctl.lab.requirements import problems


def _none(cmd, path=None):
    return None


def _all(cmd, path=None):
    return f"/usr/bin/{cmd}"


def test_everything_present_as_root_is_fine():
    assert (
        problems(
            hosts=True,
            build_image=True,
            build_venv=True,
            python=sys.executable,
            euid=0,
            which=_all,
            filesystems="nodev\toverlay\n",
        )
        == []
    )


def test_missing_tools_name_their_debian_packages_all_at_once():
    found = [
        p.message
        for p in problems(
            hosts=True,
            build_image=True,
            build_venv=False,
            python=sys.executable,
            euid=1000,
            which=_none,
            filesystems="ext4",
        )
    ]
    text = "\n".join(found)
    assert "needs root" in found[0]
    for pkg in ("systemd-container", "socat", "debootstrap", "openssh-client", "zstd"):
        assert f"apt-get install --no-install-recommends {pkg}" in text
    assert "ssh, ssh-keygen not found" in text
    assert "overlay" in found[-1]


def test_image_build_tools_are_only_needed_without_a_cached_image():
    found = problems(
        hosts=True,
        build_image=False,
        build_venv=False,
        python=sys.executable,
        euid=0,
        which=lambda c, path=None: None if c == "debootstrap" else c,
        filesystems="overlay",
    )
    assert found == []


def test_services_only_lab_needs_no_container_tools():
    assert (
        problems(
            hosts=False,
            build_image=True,
            build_venv=False,
            python=sys.executable,
            euid=0,
            which=_none,
        )
        == []
    )


def test_an_old_python_is_refused_with_what_to_install(tmp_path: Path):
    old = tmp_path / "python3"
    old.write_text("#!/bin/sh\necho False\n")
    old.chmod(0o755)
    found = problems(
        hosts=False, build_image=False, build_venv=True, python=str(old), euid=0, which=_all
    )
    assert len(found) == 1
    assert "Python >= 3.12" in found[0].message
    assert "python3.12" in found[0].message
