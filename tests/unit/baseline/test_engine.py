"""Run-level logic: waivers, manual evidence, roll-up per clause item, conclusion."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cloudctl.baseline.catalog import load_profile
from cloudctl.baseline.engine import HostEvidence, ManualEvidence, Waiver, conclusion, evaluate_run

from .fixtures import good_evidence, mutated
from .test_controls import BREAK

ROOT = Path(__file__).resolve().parents[3]
PROFILE = load_profile(ROOT / "policies", "mlps-l3")
TODAY = dt.date(2026, 11, 26)


def run(hosts, **kw):
    return evaluate_run(PROFILE, hosts, today=TODAY, run_id="r1", started_at="t", **kw)


def test_catalog_size_and_coverage():
    assert len(PROFILE.automated) >= 45
    assert PROFILE.manual
    units = {c.unit for c in PROFILE.controls}
    assert units == {f"L3-CES1-{i:02d}" for i in range(1, 36) if i != 16}
    for c in PROFILE.automated:
        assert c.title.get("zh") and c.title.get("en") and c.rationale
        assert c.remediation, c.id
        assert c.references.get("cac") is not None, c.id


def test_compliant_host_has_no_failures():
    d = run([HostEvidence("good01", "ok", good_evidence())])
    assert d["summary"]["verdicts"]["fail"] == 0 and d["summary"]["verdicts"]["error"] == 0
    assert not d["summary"]["failed"]


def test_waiver_applies_until_it_expires():
    bad = mutated(BREAK["sshd-permit-root-login"])
    w = Waiver("yun-*", "sshd-permit-root-login", "bastion only", "张工", dt.date(2026, 12, 31))
    d = run(
        [HostEvidence("yun-db01", "ok", bad), HostEvidence("legacy-web01", "ok", bad)], waivers=[w]
    )
    by_host = {r["host"]: r for r in d["results"] if r["control"] == "sshd-permit-root-login"}
    assert (
        by_host["yun-db01"]["verdict"] == "waived"
        and by_host["yun-db01"]["waiver"]["approver"] == "张工"
    )
    assert by_host["legacy-web01"]["verdict"] == "fail"
    assert d["waivers"][0]["applied_to"] == ["yun-db01"]
    expired = Waiver("*", "sshd-permit-root-login", "old", "张工", dt.date(2026, 11, 25))
    d = run([HostEvidence("yun-db01", "ok", bad)], waivers=[expired])
    r = next(r for r in d["results"] if r["control"] == "sshd-permit-root-login")
    assert r["verdict"] == "fail" and "expired" in r["note"]
    assert d["waivers"][0]["status"] == "expired"


def test_roll_up_worst_case_wins_across_hosts():
    good = HostEvidence("a", "ok", good_evidence())
    bad = HostEvidence("b", "ok", mutated(BREAK["sshd-max-auth-tries"]))
    d = run([good, bad])
    item = next(i for i in d["items"] if (i["clause"], i["item"]) == ("8.1.4.1", "b"))
    assert item["per_host"] == {"a": "compliant", "b": "partial"}
    assert item["status"] == "partial" and item["label"]["zh"] == "部分符合"
    na = next(i for i in d["items"] if i["clause"] == "8.1.4.11")
    assert na["status"] == "not_applicable"
    pending = next(i for i in d["items"] if (i["clause"], i["item"]) == ("8.1.4.9", "a"))
    assert pending["status"] == "pending"


def test_manual_evidence_turns_into_a_verdict():
    ev = {
        "backup-local": [
            ManualEvidence(
                "backup-local",
                "pass",
                "访谈",
                "每日全备，季度恢复演练",
                ["备份策略 v3"],
                "王工",
                "2026-11-01",
                "*",
                "backup.yaml:1",
            )
        ]
    }
    d = run([HostEvidence("a", "ok", good_evidence())], manual=ev)
    r = next(r for r in d["results"] if r["control"] == "backup-local")
    assert r["verdict"] == "pass" and "备份策略" in r["evidence"][0]["text"]
    item = next(i for i in d["items"] if (i["clause"], i["item"]) == ("8.1.4.9", "a"))
    assert item["status"] == "compliant"


def test_unreachable_host_is_reported_and_others_evaluated():
    d = run(
        [
            HostEvidence("a", "ok", good_evidence()),
            HostEvidence("ghost", "unreachable", None, "refused"),
        ]
    )
    assert d["summary"]["hosts_unreachable"] == ["ghost"]
    assert d["summary"]["failed"] is True
    assert {r["host"] for r in d["results"]} == {"a"}


def test_high_risk_and_conclusion_rule():
    d = run([HostEvidence("a", "ok", mutated(BREAK["accounts-no-empty-password"]))])
    assert d["summary"]["high_risk"] == [
        {"host": "a", "control": "accounts-no-empty-password", "case": "6.4.1.1"}
    ]
    assert d["summary"]["conclusion"] == "non_compliant"
    assert conclusion(95.0, 0) == "compliant"
    assert conclusion(90.0, 0) == "basically_compliant"
    assert conclusion(60.0, 0) == "basically_compliant"
    assert conclusion(59.9, 0) == "non_compliant"
    assert conclusion(99.0, 1) == "non_compliant"


def test_control_filter():
    d = run([HostEvidence("a", "ok", good_evidence())], controls=["sshd-macs"])
    assert [r["control"] for r in d["results"]] == ["sshd-macs"]


def test_catalog_names_the_units_the_module_asks_systemd_about():
    units = PROFILE.service_units()
    assert {"auditd.service", "rsyslog.service", "chrony.service"} <= set(units)
    assert units == sorted(set(units))
