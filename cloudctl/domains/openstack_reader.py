"""Bulk read of the whole cloud for the live check: one list call per resource kind.

Keystone projects, then Neutron security groups (their rules inside), ports, networks,
subnets, routers, RBAC policies and address groups — for every tenant at once, never per
tenant. The calls go
through openstacksdk's authenticated proxies (the connection and the request counter come
from the tenant area's ``connect``, so the credentials are chosen the same standard way).
"""

from __future__ import annotations

import time
from typing import Any

from cloudctl.core.errors import ExternalError
from cloudctl.core.i18n import _
from cloudctl.domains.cloud import (
    CloudSnapshot,
    CNetwork,
    CPort,
    CProject,
    CRbac,
    CRouter,
    CRule,
    CSecurityGroup,
    CSubnet,
)

PORT_FIELDS = (
    "id",
    "name",
    "project_id",
    "network_id",
    "device_owner",
    "device_id",
    "fixed_ips",
    "security_groups",
    "port_security_enabled",
)


def _get_all(proxy: Any, path: str, key: str) -> list[dict]:
    """GET a collection, following Neutron's/Keystone's ``next`` links when paginated."""
    out: list[dict] = []
    url = path
    while url:
        resp = proxy.request(url, "GET", raise_exc=False)
        if resp.status_code == 404 and key == "address_groups":
            return []  # extension not loaded
        if resp.status_code != 200:
            raise ExternalError(
                _("list {key}: HTTP {status_code}: {text}").format(
                    key=key, status_code=resp.status_code, text=resp.text[:200]
                )
            )
        body = resp.json()
        out.extend(body.get(key, []))
        url = next(
            (lk["href"] for lk in body.get(f"{key}_links", []) or [] if lk.get("rel") == "next"),
            None,
        )
        if key == "projects":  # Keystone: {"links": {"next": absolute URL or null}}
            url = (body.get("links") or {}).get("next")
    return out


def read_cloud(conn: Any, counter: Any = None) -> CloudSnapshot:
    """The snapshot of the whole cloud (admin credentials see every project)."""
    mark = counter.mark() if counter is not None else 0
    t0 = time.perf_counter()
    net = conn.network
    ident = conn.identity
    projects = _get_all(ident, "/projects", "projects")
    fields = "&".join(f"fields={f}" for f in PORT_FIELDS)
    # rules inside their groups: one listing, and Neutron builds it faster than it pages
    # /security-group-rules (see cloudctl/tenant/openstack_adapter.py)
    sgs = _get_all(
        net,
        "/security-groups?fields=id&fields=name&fields=project_id&fields=security_group_rules",
        "security_groups",
    )
    rules = [
        {"security_group_id": g["id"], **r}
        for g in sgs
        for r in g.get("security_group_rules") or ()
    ]
    ports = _get_all(net, f"/ports?{fields}", "ports")
    networks = _get_all(net, "/networks", "networks")
    subnets = _get_all(
        net,
        "/subnets?fields=id&fields=name&fields=project_id&fields=network_id&fields=cidr",
        "subnets",
    )
    routers = _get_all(net, "/routers", "routers")
    rbac = _get_all(net, "/rbac-policies", "rbac_policies")
    agroups = _get_all(net, "/address-groups", "address_groups")
    snap = CloudSnapshot(
        projects=[CProject(p["id"], p["name"]) for p in projects],
        networks=[
            CNetwork(
                n["id"],
                n.get("name") or "",
                n.get("project_id") or n.get("tenant_id") or "",
                bool(n.get("shared")),
                bool(n.get("router:external")),
            )
            for n in networks
        ],
        subnets=[
            CSubnet(
                s["id"], s.get("name") or "", s.get("project_id") or "", s["network_id"], s["cidr"]
            )
            for s in subnets
        ],
        ports=[
            CPort(
                p["id"],
                p.get("name") or "",
                p.get("project_id") or "",
                p["network_id"],
                p.get("device_owner") or "",
                p.get("device_id") or "",
                tuple(
                    (ip.get("subnet_id", ""), ip.get("ip_address", ""))
                    for ip in p.get("fixed_ips") or []
                ),
                tuple(p.get("security_groups") or []),
                p.get("port_security_enabled") is not False,
            )
            for p in ports
        ],
        routers=[
            CRouter(
                r["id"],
                r.get("name") or "",
                r.get("project_id") or "",
                (r.get("external_gateway_info") or {}).get("network_id"),
            )
            for r in routers
        ],
        security_groups=[
            CSecurityGroup(g["id"], g.get("name") or "", g.get("project_id") or "") for g in sgs
        ],
        rules=[
            CRule(
                r["id"],
                r["security_group_id"],
                r.get("project_id") or "",
                r["direction"],
                r.get("ethertype") or "IPv4",
                r.get("protocol"),
                r.get("port_range_min"),
                r.get("port_range_max"),
                r.get("remote_ip_prefix"),
                r.get("remote_group_id"),
                r.get("remote_address_group_id"),
            )
            for r in rules
        ],
        rbac=[
            CRbac(
                r["id"],
                r.get("object_type", ""),
                r.get("object_id", ""),
                r.get("project_id") or "",
                r.get("target_tenant") or r.get("target_project") or "",
                r.get("action", ""),
            )
            for r in rbac
        ],
        address_groups={g["id"]: tuple(g.get("addresses") or []) for g in agroups},
    )
    snap.seconds = round(time.perf_counter() - t0, 3)
    snap.requests = len(counter.since(mark)) if counter is not None else 0
    return snap


def connect_and_read(cloud: str | None = None, config_file: str | None = None):
    """Open one connection the standard way and read the snapshot; returns both counters."""
    from cloudctl.tenant.openstack_adapter import connect

    conn, counter = connect(cloud, config_file)
    return read_cloud(conn, counter), counter
