"""Which zones a remote address range covers — by address coverage, never by its text.

A rule's source is judged by the set of addresses it admits (netaddr ``IPSet``) against the
zones of the address plan. Any public address in the set makes the rule an internet rule,
however the range is split (``0.0.0.0/1`` + ``128.0.0.0/1``, ``::/1``, ``2000::/3`` …).
IPv4-mapped (``::ffff:0:0/96``) and NAT64 (``64:ff9b::/96``) IPv6 ranges are judged as the
IPv4 addresses they carry. Private addresses outside every zone are "unplanned" space: the
design cannot allow them, so a rule from them is a finding too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import netaddr

#: Pseudo-zone of private addresses that belong to no zone of the plan.
UNPLANNED = "(unplanned)"

# Addresses that are never "the internet": private, shared, loopback, link-local, multicast,
# reserved (RFC 6890). Documentation ranges (TEST-NET, 2001:db8::/32) stay public on purpose:
# the sample center uses 203.0.113.0/26 as its public block, as examples do.
_NOT_PUBLIC_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
_PRIVATE_V4 = ["10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16"]
_NOT_PUBLIC_V6 = ["::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "100::/64"]
_PRIVATE_V6 = ["fc00::/7"]
#: IPv6 ranges that carry an IPv4 address in their low 32 bits.
MAPPED_V6 = ("::ffff:0:0/96", "64:ff9b::/96")

PUBLIC_V4 = netaddr.IPSet(["0.0.0.0/0"]) - netaddr.IPSet(_NOT_PUBLIC_V4)
PRIVATE_V4 = netaddr.IPSet(_PRIVATE_V4)
PUBLIC_V6 = netaddr.IPSet(["::/0"]) - netaddr.IPSet(_NOT_PUBLIC_V6) - netaddr.IPSet(list(MAPPED_V6))
PRIVATE_V6 = netaddr.IPSet(_PRIVATE_V6)


@dataclass(frozen=True)
class Coverage:
    """What a remote range reaches: plan zones, public space, unplanned private space."""

    zones: frozenset[str] = frozenset()
    internet: bool = False
    unplanned: bool = False

    def __or__(self, other: Coverage) -> Coverage:
        return Coverage(
            self.zones | other.zones,
            self.internet or other.internet,
            self.unplanned or other.unplanned,
        )

    def source_zones(self, internet_zone: str | None) -> tuple[str, ...]:
        """The zones a rule from this range lets in (internet as its design zone)."""
        out = set(self.zones)
        if self.internet and internet_zone:
            out.add(internet_zone)
        if self.unplanned:
            out.add(UNPLANNED)
        return tuple(sorted(out))


@dataclass
class AddressZones:
    """The zones of one routing domain (VRF) as IP sets, for coverage questions.

    Build it once per run (``from_supernets``); ``classify`` caches per distinct CIDR, so
    45 tenants × 20 rules cost a few dozen set intersections, not thousands.
    """

    sets: dict[str, netaddr.IPSet]
    _all: netaddr.IPSet = field(default_factory=netaddr.IPSet)
    _cache: dict[str, Coverage] = field(default_factory=dict, repr=False)

    @classmethod
    def from_supernets(cls, zones: Mapping[str, Iterable[str]]) -> AddressZones:
        sets = {name: netaddr.IPSet(list(nets)) for name, nets in zones.items()}
        everything = netaddr.IPSet()
        for s in sets.values():
            everything |= s
        return cls(sets, everything)

    @classmethod
    def from_plan(cls, plan, vrf: str = "gov") -> AddressZones:
        """From an ipam ``AddressPlan``: the zones of ``vrf`` (other VRFs reuse addresses)."""
        return cls.from_supernets(
            {z.name: z.supernets for z in plan.zones.values() if (z.vrf or vrf) == vrf}
        )

    def classify(self, cidr: str) -> Coverage:
        """Coverage of one CIDR (host bits are ignored, as Neutron normalizes them)."""
        hit = self._cache.get(cidr)
        if hit is None:
            hit = self._cache[cidr] = self._classify(netaddr.IPNetwork(cidr).cidr)
        return hit

    def zone_of_address(self, address: str) -> str | None:
        """The zone holding one address (a port's fixed IP), or None."""
        cov = self.classify(f"{address}/{32 if ':' not in address else 128}")
        return next(iter(sorted(cov.zones)), None)

    def _classify(self, net: netaddr.IPNetwork) -> Coverage:
        if net.version == 4:
            return self._classify_v4(netaddr.IPSet([net]))
        cov = Coverage()
        rest = netaddr.IPSet([net])
        for base in MAPPED_V6:
            b = netaddr.IPNetwork(base)
            inner = rest & netaddr.IPSet([b])
            if not inner:
                continue
            rest -= inner
            v4 = netaddr.IPSet()
            for c in inner.iter_cidrs():
                first = int(c.first) - int(b.first)
                last = int(c.last) - int(b.first)
                v4.add(netaddr.IPRange(netaddr.IPAddress(first, 4), netaddr.IPAddress(last, 4)))
            cov = cov | self._classify_v4(v4)
        if rest:
            zones = frozenset(n for n, s in self.sets.items() if not s.isdisjoint(rest))
            private = PRIVATE_V6 & rest
            unplanned = bool(private) and not private.issubset(self._all)
            cov = cov | Coverage(zones, not PUBLIC_V6.isdisjoint(rest), unplanned)
        return cov

    def _classify_v4(self, s: netaddr.IPSet) -> Coverage:
        zones = frozenset(n for n, zs in self.sets.items() if not zs.isdisjoint(s))
        private = PRIVATE_V4 & s
        unplanned = bool(private) and not private.issubset(self._all)
        return Coverage(zones, internet=not PUBLIC_V4.isdisjoint(s), unplanned=unplanned)


def zone_of_cidr(zones: AddressZones, cidr: str) -> str | None:
    """The one zone a subnet lies in (None when it lies in none or straddles two)."""
    try:
        cov = zones.classify(cidr)
    except (netaddr.AddrFormatError, ValueError):
        return None
    if len(cov.zones) != 1 or cov.internet or cov.unplanned:
        return None
    (z,) = cov.zones
    return z if netaddr.IPSet([cidr]).issubset(zones.sets[z]) else None


@lru_cache(maxsize=4096)
def is_public(cidr: str) -> bool:
    net = netaddr.IPNetwork(cidr).cidr
    return not (PUBLIC_V4 if net.version == 4 else PUBLIC_V6).isdisjoint(netaddr.IPSet([net]))
