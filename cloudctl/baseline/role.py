"""The remediation role on disk: write it (``cloudctl baseline playbook``), tell whether it
still matches the catalog, and pick the playbook a remediation runs.

``baseline remediate`` runs the same files an operator runs with ansible-playbook or AWX
(``playbooks/baseline/remediate.yml`` and ``roles/baseline``). When they no longer match
the catalog (the catalog was edited, the role was not regenerated), the run uses a role
generated from the catalog into its private artifacts directory instead, and says so: the
controls remediated are always the ones the check judged.
"""

from __future__ import annotations

import os
from pathlib import Path

from cloudctl.baseline import remediate as R
from cloudctl.core.fileio import atomic_write

# Directories of the role whose files are all generated (a file the catalog no longer
# produces is removed there); library/ and filter_plugins/ are links to the shared ones.
GENERATED_DIRS = ("tasks", "templates/pam-configs", "defaults", "handlers", "meta")
LINKS = ("library", "filter_plugins")


def _generated_on_disk(base: Path) -> set[str]:
    role = base / R.ROLE_DIR
    out: set[str] = set()
    for d in GENERATED_DIRS:
        top = role / d
        if top.is_dir():
            out.update(str(p.relative_to(base)) for p in top.iterdir() if p.is_file() and p.suffix)
    return out


def differences(base: Path, files: dict[str, str]) -> list[str]:
    """Paths (relative to ``base`` = playbooks/baseline) whose text differs from ``files``,
    is missing, or is left over from an older catalog; [] when the role is current."""
    out = []
    for rel, text in files.items():
        p = base / rel
        try:
            if p.read_text(encoding="utf-8") != text:
                out.append(rel)
        except (OSError, UnicodeDecodeError):
            out.append(rel)
    out += sorted(_generated_on_disk(base) - set(files))
    return out


def write_role(base: Path, files: dict[str, str], *, private: bool = False) -> list[str]:
    """Write the role and its playbook under ``base``; remove generated files the catalog
    no longer produces; link library/ and filter_plugins/. Returns what changed."""
    changed = differences(base, files)
    for rel in changed:
        p = base / rel
        if rel not in files:
            p.unlink(missing_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700 if private else 0o755)
        atomic_write(p, files[rel], mode=0o600 if private else 0o644)
    role = base / R.ROLE_DIR
    for name in LINKS:
        link = role / name
        shared = base / name
        if shared.is_dir() and not link.exists() and not link.is_symlink():
            link.symlink_to(os.path.relpath(shared, role), True)
    return changed


def playbook_for_run(base: Path, files: dict[str, str], run_dir: Path) -> tuple[Path, list[str]]:
    """The playbook a remediation runs, and the role files that were out of date.

    The role under ``base`` when it matches the catalog; else the catalog's role written
    into ``run_dir`` (private: 0700 directories, 0600 files), next to its own playbook,
    with library/ and filter_plugins/ linked to ``base``'s."""
    stale = differences(base, files)
    if not stale:
        return base / R.PLAYBOOK, []
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_role(run_dir, files, private=True)
    for name in LINKS:
        link = run_dir / R.ROLE_DIR / name
        if not link.exists() and not link.is_symlink() and (base / name).is_dir():
            link.symlink_to((base / name).resolve(), True)
    return run_dir / R.PLAYBOOK, stale
