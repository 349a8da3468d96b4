"""Generate a synthetic, valid address plan of N prefixes (the shape of the sample center,
scaled up): zones with supernets, one container per tenant, /26 subnets with gateway, pool
and VLAN inside it, a second VRF overlapping the first, one YAML file per 10 tenants.

``rich=True`` writes what hand-kept plans hold too: a Chinese description, a block-style
pool list, a reserved range with its purpose — 101,200 prefixes are then
~26 MB (the size of the plan of issue 17) instead of ~15 MB."""

from __future__ import annotations

import ipaddress
from pathlib import Path

SUBNETS_PER_TENANT = 400  # /26 subnets inside a tenant's /16 container (room for 1024)


def write_plan(root: Path, n: int, rich: bool = False) -> dict:
    """Write a plan of about ``n`` prefixes under ``root``; returns a few facts about it."""
    (root / "prefixes").mkdir(parents=True, exist_ok=True)
    (root / "vrfs.yaml").write_text(
        "vrfs:\n  - {name: gov, rd: '65010:100'}\n  - {name: dr, rd: '65010:200'}\n",
        encoding="utf-8",
    )
    per = SUBNETS_PER_TENANT + 1
    tenants = max(1, (n + per - 1) // per)
    (root / "zones.yaml").write_text(
        "dns: [10.40.1.53, 10.40.1.54]\nzones:\n"
        "  - {name: core, vrf: gov, supernets: [10.0.0.0/8], vlans: 1-4094}\n"
        "  - {name: drill, vrf: dr, supernets: [10.0.0.0/8], vlans: 1-4094}\n",
        encoding="utf-8",
    )
    count = 0
    files = 0
    lines: list[str] = []

    def flush(idx: int) -> None:
        nonlocal lines, files
        if lines:
            text = "# synthetic tenants\nzone: core\nprefixes:\n" + "".join(lines)
            (root / "prefixes" / f"tenants-{idx:04d}.yaml").write_text(text, encoding="utf-8")
            files += 1
            lines = []

    for t in range(tenants):
        if count >= n:
            break
        base = int(ipaddress.IPv4Address("10.0.0.0")) + (t << 16)
        net = ipaddress.IPv4Address(base)
        lines.append(
            f"  - name: t{t}-block\n    prefix: {net}/16\n    tenant: t{t}\n"
            f"    status: container\n    purpose: tenant {t} block\n"
        )
        count += 1
        for s in range(SUBNETS_PER_TENANT):
            if count >= n:
                break
            first = base + s * 64
            a = ipaddress.IPv4Address(first)
            gw = ipaddress.IPv4Address(first + 1)
            p0 = ipaddress.IPv4Address(first + 10)
            p1 = ipaddress.IPv4Address(first + 62)
            vlan = f"    vlan: {1 + (t * SUBNETS_PER_TENANT + s) % 4094}\n" if t < 10 else ""
            if rich:
                r0, r1 = ipaddress.IPv4Address(first + 2), ipaddress.IPv4Address(first + 3)
                lines.append(
                    f"  - name: t{t}-s{s}\n    prefix: {a}/26\n    tenant: t{t}\n{vlan}"
                    f"    purpose: subnet {s}\n"
                    f"    description: 部门 t{t} 业务子网 {s}\n"
                    f"    gateway: {gw}\n    pools:\n      - {p0}-{p1}\n"
                    f"    reserved:\n      - range: {r0}-{r1}\n        purpose: VRRP\n"
                )
            else:
                lines.append(
                    f"  - name: t{t}-s{s}\n    prefix: {a}/26\n    tenant: t{t}\n{vlan}"
                    f"    purpose: subnet {s}\n    gateway: {gw}\n    pools: [{p0}-{p1}]\n"
                )
            count += 1
        if rich:
            lines.append(f"  # end of tenant t{t}\n")
        if (t + 1) % 10 == 0:
            flush(t // 10)
    flush(tenants // 10 + 1)
    return {"prefixes": count, "tenants": tenants, "files": files}


def tenant_codes(n: int) -> list[str]:
    per = SUBNETS_PER_TENANT + 1
    return [f"t{t}" for t in range(max(1, (n + per - 1) // per))]
