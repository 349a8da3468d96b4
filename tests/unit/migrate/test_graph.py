"""Wave computation: cycles, ordering, classification, estimates, critical path."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudctl.migrate.graph import auto_waves, critical_path, find_cycles, makespan, topo_order
from cloudctl.migrate.model import Plan, Step, System


def mk(sid, deps=(), importance="general", est=60.0, strategy="rehost", complexity="medium"):
    return System(
        id=sid,
        name_zh=sid,
        department="d",
        importance=importance,
        complexity=complexity,
        strategy=strategy,
        depends_on=list(deps),
        steps=[Step(name="s", kind="command", estimate=est)],
    )


def plan_of(*systems):
    return Plan(name="t", path="t.yaml", systems={s.id: s for s in systems})


def test_find_cycles_gives_paths():
    deps = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"], "e": ["e"], "f": []}
    cycles = sorted(find_cycles(deps))
    assert cycles == [["a", "b", "c", "a"], ["e", "e"]]


def test_no_cycles_in_a_dag():
    assert find_cycles({"a": [], "b": ["a"], "c": ["a", "b"]}) == []


def test_deep_chain_needs_no_recursion():
    n = 5000
    deps = {f"s{i}": [f"s{i - 1}"] if i else [] for i in range(n)}
    assert find_cycles(deps) == []
    deps["s0"] = [f"s{n - 1}"]
    (cyc,) = find_cycles(deps)
    assert len(cyc) == n + 1 and cyc[0] == cyc[-1]


def test_topo_order_puts_dependencies_first():
    order = topo_order({"c": ["a", "b"], "b": ["a"], "a": []})
    assert order == ["a", "b", "c"]


def test_auto_waves_general_first_core_last_and_never_before_deps():
    p = plan_of(
        mk("pop", importance="core"),
        mk("legal", importance="core"),
        mk("approval", ["pop", "legal"], importance="core"),
        mk("portal", importance="important"),
        mk("news", ["portal"], importance="general"),  # general, but hangs on an important one
        mk("stats", importance="general", complexity="low"),
        mk("edu", importance="general"),
        mk("card", ["pop"], importance="important"),  # important on core → moves with core
        mk("kept", strategy="retain"),
    )
    waves = auto_waves(p)
    ids = [w[3] for w in waves]
    assert ids[0] == ["stats", "edu"]  # pilots: general, simplest first
    assert set(ids[1]) == {"portal", "news"}
    assert set(ids[2]) == {"pop", "legal", "approval", "card"}
    assert all("kept" not in w for w in ids)
    assert "试点" in waves[0][1] and "pilot" in waves[0][2]


def test_auto_waves_max_per_wave():
    p = plan_of(
        *[mk(f"g{i}") for i in range(7)], *[mk(f"c{i}", importance="core") for i in range(3)]
    )
    waves = auto_waves(p, max_per_wave=3)
    assert [len(w[3]) for w in waves] == [3, 3, 1, 3]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=0, max_value=100),
    st.integers(min_value=1, max_value=6),
    st.randoms(),
)
def test_auto_waves_property(n, n_edges, per_wave, rnd: random.Random):
    """For any DAG: every mover placed once, dependencies never in a later wave, waves bounded,
    and the importance of waves never goes down."""
    imps = ["general", "important", "core"]
    systems = []
    for i in range(n):
        deps = sorted({f"s{rnd.randrange(i)}" for _ in range(rnd.randrange(4))}) if i else []
        systems.append(mk(f"s{i}", deps[:n_edges], importance=rnd.choice(imps)))
    p = plan_of(*systems)
    waves = auto_waves(p, per_wave)
    where = {s: wi for wi, w in enumerate(waves) for s in w[3]}
    assert sorted(where) == sorted(p.systems)
    assert sum(len(w[3]) for w in waves) == n
    assert all(len(w[3]) <= per_wave for w in waves)
    for sid, s in p.systems.items():
        for d in s.depends_on:
            assert where[d] <= where[sid]

    # general first, core last: each wave holds one effective phase (own importance raised
    # to that of everything it depends on), and phases never go down from wave to wave
    def phase(sid):
        return max(imps.index(p.systems[x].importance) for x in {sid, *_ancestors(p, sid)})

    wave_phases = []
    for w in waves:
        ph = {phase(s) for s in w[3]}
        assert len(ph) == 1, w
        wave_phases.append(ph.pop())
    assert wave_phases == sorted(wave_phases)


def _ancestors(p, sid):
    out, todo = set(), list(p.systems[sid].depends_on)
    while todo:
        d = todo.pop()
        if d not in out:
            out.add(d)
            todo.extend(p.systems[d].depends_on)
    return out


def test_critical_path_and_makespan():
    p = plan_of(
        mk("a", est=10),
        mk("b", ["a"], est=20),
        mk("c", ["b"], est=5),
        mk("d", est=30),
        mk("e", est=30),
    )
    total, path = critical_path(["a", "b", "c", "d", "e"], p.systems)
    assert (total, path) == (35, ["a", "b", "c"])
    assert makespan(["a", "b", "c", "d", "e"], p.systems, parallel=1) == 95
    assert makespan(["a", "b", "c", "d", "e"], p.systems, parallel=5) == 35
    assert makespan(["a", "b", "c", "d", "e"], p.systems, parallel=2) == 55
