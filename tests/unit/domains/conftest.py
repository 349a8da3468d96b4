"""The sample center's real design and address plan: the evaluator is pure, so the unit
tests judge hand-made rules against them without any cloud."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudctl.core.center import load_center
from cloudctl.domains.load import parse_port_spec
from cloudctl.domains.model import RuleRef
from cloudctl.domains.tenants import Context, load_context

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def ctx() -> Context:
    return load_context(load_center(ROOT))


@pytest.fixture
def rule():
    """``rule("tcp/22", cidr="0.0.0.0/0", dst="core")`` -> RuleRef."""

    def make(spec: str, *, dst: str | tuple = "core", tenant: str = "czj", **kw) -> RuleRef:
        cidr = kw.get("remote_cidr")
        kw.setdefault("ethertype", "IPv6" if cidr and ":" in cidr else "IPv4")
        return RuleRef(
            id=kw.pop("id", f"r-{spec}"),
            tenant=tenant,
            dst_zones=(dst,) if isinstance(dst, str) else tuple(dst),
            spec=parse_port_spec(spec) if spec != "tcp/*" else _all_tcp(),
            group=kw.pop("group", "sg"),
            **kw,
        )

    return make


def _all_tcp():
    from cloudctl.domains.model import PortSpec

    return PortSpec("tcp")
