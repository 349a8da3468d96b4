"""The lab's public interface, used by the CLI, the pytest fixtures and the benchmarks.

CONTRACT (other areas code against it; the implementation lives beside this module):
  ensure_lab(center=None, hosts=None, without=()) -> LabInfo   idempotent ``lab up``
  lab_info() -> LabInfo | None                                 what is recorded, no side effects
  reset_host(name) -> None                                     a pristine copy of one host
  lab_down(purge=False) -> None
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class LabHostInfo:
    name: str
    port: int  # SSH on 127.0.0.1:port
    user: str  # non-root admin with passwordless sudo
    key_file: Path  # private key for ``user`` (and root)
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabInfo:
    dir: Path  # $CLOUDCTL_LAB_DIR, default /var/lib/cloudctl/lab
    clouds_yaml: Path  # cloud "lab" (admin); use OS_CLIENT_CONFIG_FILE=clouds_yaml, OS_CLOUD=lab
    cloud: str
    inventory: Path  # Ansible inventory (YAML) of the hosts, with connection vars
    hosts: dict[str, LabHostInfo] = field(default_factory=dict)
    services: dict[str, int] = field(default_factory=dict)  # name -> port (keystone: 5000 ...)
