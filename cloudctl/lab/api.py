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
    center_inventory: Path | None = None  # <center>/inventory/hosts/lab.yml when a center is known
    state_url: str | None = None  # the lab's PostgreSQL (shared state), no password in it
    pgpass: Path | None = None  # libpq password file for state_url (PGPASSFILE), 0600

    def state_env(self) -> dict[str, str]:
        """Environment that points cloudctl's shared state at the lab's PostgreSQL."""
        if not self.state_url or not self.pgpass:
            return {}
        return {"CLOUDCTL_STATE_URL": self.state_url, "PGPASSFILE": str(self.pgpass)}

    def env(self) -> dict[str, str]:
        """Environment for openstacksdk / the openstack CLI to use the lab's admin cloud."""
        return {"OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml), "OS_CLOUD": self.cloud}

    def admin_connection(self):
        """An openstacksdk Connection to the lab's admin cloud (reads only ``clouds_yaml``)."""
        import openstack.config
        from openstack.connection import Connection

        cfg = openstack.config.OpenStackConfig(
            config_files=[str(self.clouds_yaml)], vendor_files=[], load_envvars=False
        )
        return Connection(config=cfg.get_one(cloud=self.cloud))


def ensure_lab(
    center: Path | str | None = None,
    hosts: int | None = None,
    without: tuple[str, ...] | list[str] = (),
    reporter=None,
) -> LabInfo:
    """Start what is missing (idempotent ``lab up``) and describe the running lab.

    ``center``: a center directory (or a loaded Center): its ``lab.hosts`` name the hosts
    and the inventory is also written to its ``inventory/hosts/lab.yml``. ``hosts``: how
    many (None: as many as are running, else 3). ``without``: optional services to leave
    out ("nova", "cinder").
    """
    from cloudctl.core.center import Center, load_center
    from cloudctl.lab import manager
    from cloudctl.lab.model import parse_without

    loaded = center if isinstance(center, Center) or center is None else load_center(center)
    return manager.ensure(loaded, hosts, sorted(parse_without(without)), reporter)


def lab_info() -> LabInfo | None:
    """The lab as recorded by the last ``lab up`` (None when down); no side effects."""
    from cloudctl.lab import manager

    return manager.info()


def reset_host(name: str) -> None:
    """Throw away everything done to host ``name``: a pristine copy in a few seconds."""
    from cloudctl.lab import manager

    manager.reset_host(name)


def lab_down(purge: bool = False) -> None:
    """Stop the lab's processes and unmount its mounts; ``purge`` deletes its data too."""
    from cloudctl.lab import manager

    manager.down(purge)
