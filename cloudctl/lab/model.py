"""Pure parts of the lab: which services and hosts, on which ports, and the documents
(clouds.yaml, Ansible inventory) that tell other tools how to reach them. No I/O here."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cloudctl.core.errors import InputError, Location, Problem, ValidationFailed
from cloudctl.core.i18n import _

LOOPBACK = "127.0.0.1"
KEYSTONE_URL = f"http://{LOOPBACK}:5000/v3"
REGION = "RegionOne"
CLOUD_NAME = "lab"
ADMIN_USER = "admin"  # both the Keystone admin and the hosts' sudo user
FIRST_HOST_PORT = 2201
DEFAULT_HOST_COUNT = 3
MAX_HOSTS = 30  # issue 17: baseline at 30 hosts (~70 MiB each, ports 2201-2230)
HOST_PYTHON = "/usr/bin/python3"


def ssh_common_args(known_hosts: str) -> str:
    """Lab hosts are checked against the keys ``lab up`` recorded (never trust on sight)."""
    return f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={known_hosts}"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int
    catalog_name: str  # Keystone catalog service name ("" for Keystone itself)
    service_type: str
    endpoint_path: str  # appended to http://127.0.0.1:port
    version_path: str  # unauthenticated version document, for a quick liveness probe
    optional: bool = True

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def endpoint(self) -> str:
        return self.url + self.endpoint_path


SERVICES: dict[str, ServiceSpec] = {
    s.name: s
    for s in (
        ServiceSpec("keystone", 5000, "keystone", "identity", "/v3/", "/v3", optional=False),
        ServiceSpec("neutron", 9696, "neutron", "network", "", "/", optional=False),
        ServiceSpec("nova", 8774, "nova", "compute", "/v2.1", "/"),
        ServiceSpec("cinder", 8776, "cinderv3", "block-storage", "/v3/%(project_id)s", "/"),
    )
}


def parse_without(values: Iterable[str]) -> frozenset[str]:
    """``--without nova,cinder`` (repeatable, comma separated) -> the set of services to skip."""
    names = {v.strip().lower() for raw in values for v in raw.split(",") if v.strip()}
    optional = sorted(n for n, s in SERVICES.items() if s.optional)
    bad = sorted(n for n in names if n not in SERVICES or not SERVICES[n].optional)
    if bad:
        raise InputError(
            _(
                "--without: cannot leave out {bad}; only these services are optional: {optional}"
            ).format(bad=", ".join(bad), optional=", ".join(optional))
        )
    return frozenset(names)


def wanted_services(without: Iterable[str] = ()) -> list[ServiceSpec]:
    skip = set(without)
    return [s for n, s in SERVICES.items() if n not in skip]


_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
_GROUP = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class HostSpec:
    name: str
    port: int
    groups: tuple[str, ...] = field(default_factory=tuple)


def plan_hosts(
    configured: Sequence[tuple[str, Sequence[str]]],
    count: int | None,
    config_file: str | None = None,
) -> list[HostSpec]:
    """The hosts of a lab of ``count`` hosts: the center's ``lab.hosts`` first (in order),
    then ``lab-host04``... Ports are deterministic: 2201, 2202, ... by position."""
    n = DEFAULT_HOST_COUNT if count is None else count
    if not 0 <= n <= MAX_HOSTS:
        raise InputError(
            _("--hosts: expected 0..{MAX_HOSTS}, got {n}").format(MAX_HOSTS=MAX_HOSTS, n=n)
        )
    problems: list[Problem] = []
    loc = Location(config_file) if config_file else None
    seen: set[str] = set()
    for name, groups in configured:
        if not _HOSTNAME.match(name):
            problems.append(
                Problem(
                    loc,
                    _("lab.hosts: {name!r} is not a valid host name (a-z, 0-9, '-')").format(
                        name=name
                    ),
                )
            )
        if name in seen:
            problems.append(
                Problem(loc, _("lab.hosts: {name!r} is listed twice").format(name=name))
            )
        seen.add(name)
        for g in groups:
            if not _GROUP.match(g) or g in ("all", "ungrouped"):
                problems.append(
                    Problem(
                        loc,
                        _("lab.hosts: {name}: {g!r} is not a usable Ansible group name").format(
                            name=name, g=g
                        ),
                    )
                )
    if problems:
        raise ValidationFailed(problems)
    hosts: list[HostSpec] = []
    for i in range(n):
        if i < len(configured):
            name, groups = configured[i]
            groups = tuple(dict.fromkeys(g for g in groups if g != "lab"))
        else:
            name, groups = f"lab-host{i + 1:02d}", ()
            if name in seen:
                raise InputError(
                    _("lab.hosts: {name!r} clashes with the name of an extra host").format(
                        name=name
                    )
                )
        hosts.append(HostSpec(name=name, port=FIRST_HOST_PORT + i, groups=tuple(groups)))
    return hosts


def host_vars(host: HostSpec, key_file: str, known_hosts: str) -> dict:
    return {
        "ansible_host": LOOPBACK,
        "ansible_port": host.port,
        "ansible_user": ADMIN_USER,
        "ansible_ssh_private_key_file": key_file,
        "ansible_ssh_common_args": ssh_common_args(known_hosts),
        "ansible_python_interpreter": HOST_PYTHON,
    }


def inventory_doc(hosts: Sequence[HostSpec], key_file: str, known_hosts: str) -> dict:
    """Ansible YAML inventory: group ``lab`` with every host and its connection vars,
    plus one group per configured group name."""
    groups: dict[str, dict] = {}
    for h in hosts:
        for g in h.groups:
            groups.setdefault(g, {"hosts": {}})["hosts"][h.name] = None
    children: dict[str, dict] = {
        "lab": {"hosts": {h.name: host_vars(h, key_file, known_hosts) for h in hosts}},
        **{g: groups[g] for g in sorted(groups)},
    }
    return {"all": {"children": children}}


def known_hosts_lines(port: int, public_keys: Iterable[str]) -> list[str]:
    """known_hosts lines of a lab host (ssh names a non-22 port ``[127.0.0.1]:PORT``)."""
    out = []
    for key in public_keys:
        parts = key.split()
        if len(parts) >= 2:
            out.append(f"[{LOOPBACK}]:{port} {parts[0]} {parts[1]}")
    return out


def clouds_doc(admin_password: str) -> dict:
    return {
        "clouds": {
            CLOUD_NAME: {
                "auth": {
                    "auth_url": KEYSTONE_URL,
                    "username": ADMIN_USER,
                    "password": admin_password,
                    "project_name": "admin",
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                "region_name": REGION,
                "identity_api_version": 3,
                "interface": "public",
            }
        }
    }


def fingerprint(*parts: str | bytes) -> str:
    """A short stable hash of a build recipe: change any input, get a new cache key."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()[:16]
