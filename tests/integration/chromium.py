"""Debian's headless Chromium for the report tests: screenshots, console messages, PDFs
(A4 page boxes, the text on the pages) and the SVG charts of a page."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
A4_PT = (595.28, 841.89)
SVG = "{http://www.w3.org/2000/svg}"

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (./dev setup)"
)


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / "chromium-profile"
    profile.mkdir(exist_ok=True)
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def console_messages(stderr: str) -> list[str]:
    """Chromium logs every console message and uncaught error as an INFO:CONSOLE line."""
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln]


def screenshot(tmp: Path, page: Path, name: str, size: str = "1100,2600") -> tuple[Path, list]:
    """A PNG of the page (kept under CLOUDCTL_KEEP_SCREENSHOTS=DIR when set) and the
    console messages seen while it loaded."""
    png = tmp / f"{name}.png"
    r = chromium(tmp, "--hide-scrollbars", f"--window-size={size}", f"--screenshot={png}",
                 page.as_uri())  # fmt: skip
    assert png.is_file(), r.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("CLOUDCTL_KEEP_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / png.name)
    return png, console_messages(r.stderr)


def print_pdf(tmp: Path, page: Path, name: str) -> tuple[bytes, list]:
    pdf = tmp / f"{name}.pdf"
    r = chromium(tmp, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    assert pdf.is_file(), r.stderr[-2000:]
    keep = os.environ.get("CLOUDCTL_KEEP_SCREENSHOTS")
    if keep:
        shutil.copy(pdf, Path(keep) / pdf.name)
    return pdf.read_bytes(), console_messages(r.stderr)


def media_boxes(pdf: bytes) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    return [(float(c) - float(a), float(d) - float(b)) for a, b, c, d in boxes]


def assert_a4(pdf: bytes) -> int:
    boxes = media_boxes(pdf)
    assert boxes, "no page in the PDF"
    for w, h in boxes:
        assert abs(w - A4_PT[0]) < 2 and abs(h - A4_PT[1]) < 2, (w, h)
    return len(boxes)


# ----------------------------------------------------------------------------- PDF text
def _streams(pdf: bytes) -> list[bytes]:
    out = []
    for m in re.finditer(rb"stream\r?\n", pdf):
        end = pdf.find(b"endstream", m.end())
        raw = pdf[m.end() : end]
        try:
            out.append(zlib.decompress(raw))
        except zlib.error:
            continue
    return out


def _cmaps(streams: list[bytes]) -> list[dict[int, str]]:
    maps = []
    for s in streams:
        if b"begincmap" not in s:
            continue
        m: dict[int, str] = {}
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", s, re.S):
            for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                m[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be", "replace")
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", s, re.S):
            for a, b, dst in re.findall(
                rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
            ):
                base = int(dst, 16)
                for i, code in enumerate(range(int(a, 16), int(b, 16) + 1)):
                    m[code] = chr(base + i)
        maps.append(m)
    return maps


def pdf_glyph_text(pdf: bytes) -> list[str]:
    """The text Chromium drew, one candidate decoding per font: Skia writes every string
    as 2-byte glyph ids (<hex> Tj / TJ) with a ToUnicode CMap per font. Without knowing
    which font a string used, each string is decoded with every CMap; a test then looks
    for the words it expects in any of the decodings (enough to prove text is printed)."""
    streams = _streams(pdf)
    maps = _cmaps(streams)
    hexes = []
    for s in streams:
        if b"BT" not in s:
            continue
        hexes += re.findall(rb"<([0-9A-Fa-f]{4,})>", s)
    out = []
    for m in maps:
        chars = []
        for h in hexes:
            for i in range(0, len(h) - 3, 4):
                chars.append(m.get(int(h[i : i + 4], 16), ""))
        out.append("".join(chars))
    return out


# ----------------------------------------------------------------------------- SVG charts
def charts(html: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg.*?</svg>", html, flags=re.S)]


def chart_by_title(html: str, title: str) -> ET.Element:
    by = {s.findtext(f"{SVG}title"): s for s in charts(html)}
    assert title in by, f"no chart titled {title!r}: {sorted(k or '' for k in by)}"
    return by[title]


def ids(svg: ET.Element) -> set[str]:
    return {e.get("id") for e in svg.iter() if e.get("id")}


def points(group: ET.Element) -> int:
    path = next(group.iter(f"{SVG}path"))
    return len(re.findall(r"[ML]\s*-?[\d.]+\s+-?[\d.]+", path.get("d", "")))


def self_contained(html: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"url\(\s*['\"]?(https?:|//)", html)
    assert "<text" not in html  # chart text is drawn as paths: no font needed to view it
