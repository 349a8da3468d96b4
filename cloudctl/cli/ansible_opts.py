"""Options of the commands that run Ansible across hosts (migrate, baseline): how many
hosts at once, and whether a host seen for the first time may be recorded."""

from __future__ import annotations

from typing import Annotated

import typer

from cloudctl.core.center import Center

ForksOpt = Annotated[
    int | None,
    typer.Option(
        "--forks",
        min=1,
        help="Hosts Ansible works on at once (default: your ansible.cfg's forks, else the "
        "command's own).",
    ),
]
AcceptNewOpt = Annotated[
    bool,
    typer.Option(
        "--accept-new-host-keys",
        help="Record the SSH key of a host seen for the first time (a changed key still "
        "fails). Default: only hosts already in known_hosts (cloudctl.yaml trust:).",
    ),
]


def use_ansible_options(
    ctx: typer.Context, center: Center, forks: int | None, accept_new_host_keys: bool
) -> None:
    """Every playbook this command runs gets ``--forks`` and the center's host-key trust."""
    from cloudctl.ansible.runner import SshTrust, options

    ctx.with_resource(options(forks, SshTrust.of_center(center, accept_new_host_keys)))
