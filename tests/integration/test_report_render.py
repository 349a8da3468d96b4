"""The center report rendered by Debian's headless Chromium: screenshots, no console
errors, A4 pages when printed, and charts that hold the expected series."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from chromium import A4_PT, SVG, chromium, console_messages, media_boxes, needs_chromium

ROOT = Path(__file__).resolve().parents[2]

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def reports(lab, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("center-report")
    env = {**os.environ, **lab.env(), "CLOUDCTL_CENTER": str(ROOT)}
    made = {}
    for lang in ("zh", "en"):
        target = out / f"center-{lang}.html"
        r = subprocess.run(
            [sys.executable, "-m", "cloudctl", "--lang", lang, "report", "--out", str(target)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert r.returncode == 0, r.stderr
        assert str(target) in r.stdout  # it says where the report is
        made[lang] = target
    return made


def test_console_scan_catches_errors(tmp_path):
    """The scanner used below is not blind: a page with an error is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('x'); nope();</script></body></html>")
    r = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert any("nope is not defined" in m for m in console_messages(r.stderr)), r.stderr[-2000:]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_screenshot_and_no_console_errors(reports, lang, tmp_path):
    png = tmp_path / f"center-{lang}.png"
    r = chromium(
        tmp_path,
        "--hide-scrollbars",
        "--window-size=1100,2600",
        f"--screenshot={png}",
        reports[lang].as_uri(),
    )
    assert png.is_file() and png.stat().st_size > 50_000, r.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert console_messages(r.stderr) == []
    keep = os.environ.get("CLOUDCTL_KEEP_SCREENSHOTS")
    if keep:
        shutil.copy(png, Path(keep) / png.name)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_prints_on_a4(reports, lang, tmp_path):
    pdf = tmp_path / f"center-{lang}.pdf"
    r = chromium(
        tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", reports[lang].as_uri()
    )
    assert pdf.is_file(), r.stderr[-2000:]
    boxes = media_boxes(pdf.read_bytes())
    assert boxes, "no page in the PDF"
    for w, h in boxes:
        assert abs(w - A4_PT[0]) < 2 and abs(h - A4_PT[1]) < 2, (w, h)
    assert console_messages(r.stderr) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_self_contained(reports, lang):
    html = reports[lang].read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"url\(\s*['\"]?(https?:|//)", html)
    assert "<text" not in html  # chart text is drawn as paths: no font needed to view it


def _charts(html: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg.*?</svg>", html, flags=re.S)]


def _ids(svg: ET.Element) -> set[str]:
    return {e.get("id") for e in svg.iter() if e.get("id")}


def _points(group: ET.Element) -> int:
    path = next(group.iter(f"{SVG}path"))
    return len(re.findall(r"[ML]\s*-?[\d.]+\s+-?[\d.]+", path.get("d", "")))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_charts_hold_the_expected_series(reports, lang):
    from cloudctl.capacity.load import load_config
    from cloudctl.migrate.model import load_plan

    html = reports[lang].read_text()
    svgs = _charts(html)
    by_title = {s.findtext(f"{SVG}title"): s for s in svgs}
    en = lang == "en"
    cap = by_title["Phase-1 utilisation forecast" if en else "一期资源使用率预测"]
    ids = _ids(cap)
    for key in ("vcpu", "ram_gb", "storage_gb", "public_ips"):
        assert f"series-{key}" in ids
    assert {"line-capacity", "line-threshold"} <= ids
    vcpu = next(e for e in cap.iter() if e.get("id") == "series-vcpu")
    assert _points(vcpu) == 36 + 1  # month 0 … the 36-month horizon
    addr = by_title["Address utilisation per security zone" if en else "各安全域地址使用率"]
    zones = {i.removeprefix("bar-") for i in _ids(addr) if i.startswith("bar-")}
    from cloudctl.ipam.api import load_plan as ipam_plan

    assert zones == set(ipam_plan(ROOT / "inventory/ipam", check=False).zones)
    burn = by_title[
        "Migration burn-down: systems still to move" if en else "迁移燃尽图：待迁移系统数"
    ]
    assert "series-planned" in _ids(burn)
    waves = load_config(ROOT / "capacity.yaml").wave_months
    assert set(waves) == {w.id for w in load_plan(ROOT / "migration_plans/xiaogan-2016.yaml").waves}
    # the security-domain matrix of the desired tenants: design and effective grids
    assert 'id="domains-gap"' not in html
    assert 'id="heatmap-design"' in html and 'id="heatmap-effective"' in html
