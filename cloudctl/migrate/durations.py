"""Durations as people write them in plans: ``90s``, ``5m``, ``1h30m``, ``2d``."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: object) -> float:
    """Seconds from ``"1h30m"`` / ``"45s"`` / a bare number of seconds; ValueError if bad."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"negative duration: {value}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"not a duration: {value!r}")
    text = value.strip().lower().replace(" ", "")
    if not text:
        raise ValueError("empty duration")
    pos = 0
    total = 0.0
    seen: set[str] = set()
    for m in _PART.finditer(text):
        if m.start() != pos or m.group(2) in seen:
            raise ValueError(f"not a duration: {value!r} (write e.g. 90s, 5m, 1h30m)")
        seen.add(m.group(2))
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text):
        raise ValueError(f"not a duration: {value!r} (write e.g. 90s, 5m, 1h30m)")
    return total


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    if h:
        return f"{h}h{m:02d}m"
    return f"{m}m{sec:02d}s" if sec else f"{m}m"


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*$", re.I)


def parse_size(value: object) -> int:
    """Bytes from ``"20GiB"`` / ``"500MB"`` / a number of bytes; ValueError if bad."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"negative size: {value}")
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"not a size: {value!r} (write e.g. 500MiB, 20GiB, 1.5TiB)")
    power = "kmgtp".find(m.group(2).lower()) + 1 if m.group(2) else 0
    base = 1024 if (m.group(3) or "").lower() == "ib" or not m.group(3) else 1000
    return int(float(m.group(1)) * base**power)


def format_size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{n}B"
