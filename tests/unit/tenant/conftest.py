"""Fakes for the pure tenant logic: a small address plan and templates as YAML text."""

from __future__ import annotations

import textwrap

import pytest

from cloudctl.core.yamlio import load_yaml_text
from cloudctl.tenant.desired import AddressPlanView, Allocation


@pytest.fixture
def plan_view() -> AddressPlanView:
    dns = ("10.40.1.53", "10.40.1.54")
    allocs = {
        "czj-app": Allocation(
            "czj-app",
            "10.20.18.0/24",
            "10.20.18.1",
            (("10.20.18.10", "10.20.18.254"),),
            dns,
            "core",
            "czj",
        ),
        "czj-db": Allocation(
            "czj-db",
            "10.30.4.128/26",
            "10.30.4.129",
            (("10.30.4.138", "10.30.4.190"),),
            dns,
            "data",
            "czj",
        ),
        "rsj-app": Allocation(
            "rsj-app",
            "10.20.19.0/24",
            "10.20.19.1",
            (("10.20.19.10", "10.20.19.254"),),
            dns,
            "core",
            "rsj",
        ),
        "core-infra": Allocation(
            "core-infra", "10.20.0.0/20", None, (), dns, "core", None, "container"
        ),
        "dmz-waf": Allocation(
            "dmz-waf", "10.11.0.0/24", "10.11.0.1", (("10.11.0.100", "10.11.0.254"),), dns, "dmz"
        ),
    }
    zones = {"ops": ("10.40.0.0/20",), "dmz": ("10.11.0.0/16",), "core": ("10.20.0.0/16",)}
    deps = {
        "czj": {"name_zh": "市财政局", "name_en": "Finance Bureau", "contacts": []},
        "rsj": {"name_zh": "市人社局", "name_en": "HR Bureau", "contacts": []},
    }
    return AddressPlanView(allocs, zones, deps)


def doc(text: str, filename: str):
    return load_yaml_text(textwrap.dedent(text), filename)


TEMPLATES = {
    "ops-ssh": """\
        name: ops-ssh
        description: SSH from ops
        rules:
          - {protocol: tcp, port: 22, remote_zone: ops}
        """,
    "app": """\
        name: app
        rules:
          - {protocol: tcp, port: 8080, remote_zone: dmz}
        """,
    "db": """\
        name: db
        egress: none
        rules:
          - {protocol: tcp, port: 3306, remote_group: app}
        """,
    "web": """\
        name: web
        rules:
          - {protocol: tcp, port: 443, remote_allocation: dmz-waf}
        """,
}

CZJ = """\
    version: 1
    code: czj
    networks:
      - name: app
        subnets:
          - allocation: czj-app
      - name: db
        subnets: [czj-db]
    router: {name: router}
    security_groups:
      - template: app
      - template: db
      - template: ops-ssh
    quotas:
      network: {network: 10, subnet: 10, port: 100, router: 2}
      compute: {cores: 8, ram: 16384, instances: 4}
    users:
      - {name: ops, roles: [member]}
      - {name: audit, roles: [reader]}
    """


@pytest.fixture
def templates():
    return {k: doc(v, f"policies/security-groups/{k}.yaml") for k, v in TEMPLATES.items()}


@pytest.fixture
def czj_doc():
    return doc(CZJ, "inventory/tenants/czj.yaml")
