"""The host image recipe: cache key and the local apt repository index."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from cloudctl.lab import image


def _deb(tmp: Path, name: str) -> Path:
    root = tmp / f"src-{name}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\n"
        "Description: test\n"
    )
    out = tmp / "repo" / f"{name}_1.0_all.deb"
    out.parent.mkdir(exist_ok=True)
    subprocess.run(["dpkg-deb", "--build", str(root), str(out)], check=True, capture_output=True)
    return out


def test_packages_index_lists_each_deb_with_size_and_checksums(tmp_path: Path):
    a, b = _deb(tmp_path, "aaa"), _deb(tmp_path, "bbb")
    text = image.packages_index(a.parent)
    stanzas = text.strip().split("\n\n")
    assert [s.splitlines()[0] for s in stanzas] == ["Package: aaa", "Package: bbb"]
    assert f"Filename: ./{a.name}" in stanzas[0]
    assert f"Size: {a.stat().st_size}" in stanzas[0]
    assert f"SHA256: {hashlib.sha256(b.read_bytes()).hexdigest()}" in stanzas[1]


def test_image_key_depends_on_the_recipe(monkeypatch):
    key = image.image_key()
    assert key == image.image_key()
    monkeypatch.setattr(image, "REPO_PACKAGES", [*image.REPO_PACKAGES, "htop"])
    assert image.image_key() != key


def test_the_image_carries_what_the_baseline_and_runbooks_need():
    for pkg in ("openssh-server", "sudo", "rsync", "python3-apt", "libpam-pwquality", "auditd"):
        assert pkg in image.BASE_PACKAGES
    for pkg in ("telnetd", "rsh-server", "openbsd-inetd"):
        assert pkg in image.REPO_PACKAGES


def test_prune_keeps_the_current_image_and_removes_old_and_half_unpacked_ones(tmp_path: Path):
    from cloudctl.lab.paths import LabPaths

    paths = LabPaths(root=tmp_path, cache=tmp_path / "cache")
    for d in ("old", "new", ".unpack-123"):
        (paths.images / d / "etc").mkdir(parents=True)
    for m in ("old.complete", "new.complete"):
        (paths.images / m).write_text("x")
    removed = image.prune_images(paths, paths.images / "new")
    assert sorted(removed) == [".unpack-123", "old", "old.complete"]
    assert sorted(p.name for p in paths.images.iterdir()) == ["new", "new.complete"]
    assert isinstance(image.lowerdirs_in_use(), set)
