"""Where the lab keeps its state (``$CLOUDCTL_LAB_DIR``) and its build cache
(``$CLOUDCTL_CACHE_DIR``). The cache survives fresh clones, so CI on one machine builds
the slow artifacts (the services' venv, the hosts' root filesystem) only once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LAB_DIR = "/var/lib/cloudctl/lab"
DEFAULT_CACHE_DIR = "/var/cache/cloudctl"


@dataclass(frozen=True)
class LabPaths:
    root: Path
    cache: Path  # <cache dir>/lab

    @classmethod
    def from_env(cls) -> LabPaths:
        root = Path(os.environ.get("CLOUDCTL_LAB_DIR") or DEFAULT_LAB_DIR)
        cache = Path(os.environ.get("CLOUDCTL_CACHE_DIR") or DEFAULT_CACHE_DIR) / "lab"
        return cls(root=root.absolute(), cache=cache.absolute())

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def hosts(self) -> Path:
        return self.root / "hosts"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def ssh(self) -> Path:
        return self.root / "ssh"

    @property
    def key_file(self) -> Path:
        return self.ssh / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        """The hosts' public keys, written at ``lab up``: lab runs check host keys."""
        return self.root / "known_hosts"

    @property
    def clouds_yaml(self) -> Path:
        return self.root / "clouds.yaml"

    @property
    def inventory(self) -> Path:
        return self.root / "inventory.yml"

    @property
    def state_file(self) -> Path:
        return self.root / "lab.json"

    @property
    def lock(self) -> Path:
        return self.root / "lab"

    @property
    def secrets(self) -> Path:
        return self.data / "secrets.json"

    @property
    def recovery_file(self) -> Path:
        return self.run / "recovery.json"
