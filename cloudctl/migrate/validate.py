"""Check a plan against itself and against the center (tenants, networks, hosts,
playbooks). Pure: the center's facts come in as ``References``."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloudctl.core.errors import Location, Problem
from cloudctl.migrate.graph import edges, find_cycles
from cloudctl.migrate.model import NEEDS_ROLLBACK, Plan, Step, System


@dataclass
class References:
    """What the center knows. ``None`` means "could not be read": reported once, not per use."""

    tenants: set[str] | None = None
    networks: dict[str, set[str]] | None = None  # tenant -> allocation names
    hosts: set[str] | None = None
    playbook_exists: Callable[[str], bool] | None = None
    unavailable: list[Problem] = field(default_factory=list)
    groups: set[str] | None = None  # inventory groups (a step's `hosts` may name them)
    # the center's trust: None = not checked (pure unit tests); a plan cannot allow itself
    playbook_allowed: Callable[[str], bool] | None = None
    command_allowed: Callable[[Any], bool] | None = None
    trust_file: str = "cloudctl.yaml"


def validate(plan: Plan, refs: References) -> list[Problem]:
    probs: list[Problem] = list(plan.problems)
    add = lambda loc, msg: probs.append(Problem(loc, msg))  # noqa: E731
    probs.extend(refs.unavailable)
    # thousands of steps share a handful of playbooks (each check resolves paths on disk)
    cached = {
        name: functools.cache(fn)
        for name in ("playbook_exists", "playbook_allowed")
        if (fn := getattr(refs, name)) is not None
    }
    if cached:
        refs = dataclasses.replace(refs, **cached)
    systems = plan.systems
    for s in systems.values():
        _check_system(s, plan, refs, add)
    deps = edges(systems)
    for cycle in find_cycles(deps):
        first = systems[cycle[0]]
        idx = first.depends_on.index(cycle[1]) if cycle[1] in first.depends_on else None
        loc = (
            first.dep_locs[idx]
            if idx is not None and idx < len(first.dep_locs)
            else first.where("depends_on")
        )
        add(loc, "dependency cycle: " + " → ".join(cycle))
    _check_waves(plan, add)
    return probs


def _check_system(s: System, plan: Plan, refs: References, add) -> None:
    if refs.tenants is not None:
        if s.department not in refs.tenants:
            add(s.where("department"), f"system {s.id}: unknown department/tenant {s.department!r}")
        if s.target_tenant and s.target_tenant not in refs.tenants:
            add(
                s.where("target.tenant"),
                f"system {s.id}: unknown target tenant {s.target_tenant!r}",
            )
    if refs.networks is not None and s.target_network and s.target_tenant:
        nets = refs.networks.get(s.target_tenant, set())
        if s.target_network not in nets:
            hint = (
                f" (tenant {s.target_tenant} has: {', '.join(sorted(nets))})"
                if nets
                else f" (tenant {s.target_tenant} has no allocation in the address plan)"
            )
            add(
                s.where("target.network"),
                f"system {s.id}: unknown network {s.target_network!r}{hint}",
            )
    if refs.hosts is not None:
        for key, names in (("source_hosts", s.source_hosts), ("target.hosts", s.target_hosts)):
            for h in names:
                if h not in refs.hosts:
                    add(
                        s.where(key),
                        f"system {s.id}: unknown host {h!r} (not in the hosts inventory)",
                    )
    for i, d in enumerate(s.depends_on):
        loc = s.dep_locs[i] if i < len(s.dep_locs) else s.where("depends_on")
        if d not in plan.systems:
            add(loc, f"system {s.id}: depends on unknown system {d!r}")
    if s.downtime_max is not None:
        forward = sum(st.estimate for st in s.steps if st.kind not in ("approval",))
        if forward > s.downtime_max:
            add(
                s.where("downtime"),
                f"system {s.id}: its steps are estimated at {forward:.0f}s, more than the allowed "
                f"downtime {s.downtime_max:.0f}s",
            )
    for st in s.steps:
        _check_step(s, st, refs, add)
        if st.rollback is not None:
            _check_step(s, st.rollback, refs, add)
        elif s.strategy in NEEDS_ROLLBACK and st.changes and not st.rollback_none:
            add(
                st.loc,
                f"system {s.id}: step {st.name!r} changes things but has no `rollback` (a "
                f"{s.strategy} needs one; write `rollback: none` if there is truly nothing to "
                "undo)",
            )


_PATTERN_CHARS = set("*?~[]!&:")


def _check_step(s: System, st: Step, refs: References, add) -> None:
    from cloudctl.migrate.trust import command_text, commands_of

    if st.playbook and refs.playbook_allowed is not None and not refs.playbook_allowed(st.playbook):
        add(
            st.loc,
            f"system {s.id}: step {st.name!r}: playbook {st.playbook!r} is outside the center's "
            f"playbooks/ and not in trust.allow_playbooks of {refs.trust_file} (a plan is data: "
            "the center decides what runs)",
        )
    elif st.playbook and refs.playbook_exists is not None and not refs.playbook_exists(st.playbook):
        add(st.loc, f"system {s.id}: step {st.name!r}: unknown playbook {st.playbook!r}")
    if refs.command_allowed is not None:
        for what, cmd in commands_of(st):
            if not refs.command_allowed(cmd):
                add(
                    st.loc,
                    f"system {s.id}: step {st.name!r}: {what} {command_text(cmd)[:80]!r} is not "
                    f"in trust.allow_commands of {refs.trust_file} (a plan is data: the center "
                    "decides which commands run)",
                )
    if st.hosts and refs.hosts is not None and refs.groups is not None:
        known = refs.hosts | refs.groups | {"all", "ungrouped", "localhost"}
        for name in st.hosts.replace(":", ",").split(","):
            name = name.strip()
            if name and not (set(name) & _PATTERN_CHARS) and name not in known:
                add(
                    st.loc,
                    f"system {s.id}: step {st.name!r}: `hosts` names {name!r}, which is no host "
                    "or group of the inventory (the step would run on nothing)",
                )
    if st.timeout is not None and st.estimate > st.timeout and st.kind != "approval":
        add(st.loc, f"system {s.id}: step {st.name!r}: estimate is longer than its timeout")


def _check_waves(plan: Plan, add) -> None:
    where: dict[str, tuple[int, Location | None]] = {}
    for wi, w in enumerate(plan.waves):
        for i, sid in enumerate(w.systems):
            loc = w.item_locs[i] if i < len(w.item_locs) else w.loc
            if sid not in plan.systems:
                add(loc, f"wave {w.id}: unknown system {sid!r}")
                continue
            if sid in where:
                first = plan.waves[where[sid][0]].id
                add(loc, f"wave {w.id}: system {sid} is already in wave {first}")
                continue
            where[sid] = (wi, loc)
    for sid, (wi, loc) in where.items():
        for d in plan.systems[sid].depends_on:
            if d not in plan.systems or plan.systems[d].strategy == "retain":
                continue
            if d not in where:
                add(loc, f"wave {plan.waves[wi].id}: {sid} depends on {d}, which is in no wave")
            elif where[d][0] > wi:
                add(
                    loc,
                    f"wave {plan.waves[wi].id}: {sid} depends on {d}, which moves later (wave "
                    f"{plan.waves[where[d][0]].id})",
                )
