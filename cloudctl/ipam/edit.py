"""Edit a plan file in place without disturbing anything else in it.

The common layout (``prefixes:`` as a block sequence) is edited as text: the new entry is
rendered by ruamel.yaml and spliced after the last item; a released entry's own lines are
cut out. Every other byte — comments, blank lines, quoting, key order — stays as it was,
and a 10k-entry file is edited in milliseconds (a full ruamel round trip of it takes
seconds). Any other layout (flow style, an empty list, no ``prefixes:`` key yet) goes
through a ruamel.yaml round trip, which keeps comments and order too.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from cloudctl.core.errors import InputError, Location
from cloudctl.core.i18n import _

if TYPE_CHECKING:
    from ruamel.yaml import YAML

# ruamel.yaml costs ~25 ms to import (a tenth of a warm `ipam allocate`, issue 17): the
# usual entry (plain names, addresses, numbers, flow lists of addresses) is written here
# the way ruamel writes it (a test compares both), and ruamel renders everything else.
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9._-]*")
_ADDR = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?:/[0-9]{1,2}|-[0-9]{1,3}(?:\.[0-9]{1,3}){3})?")
_NOT_TEXT = {"true", "false", "yes", "no", "on", "off", "y", "n", "null"}  # YAML 1.1 and 1.2

_TOP_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")
_ITEM = re.compile(r"^(\s*)-(\s|$)")
_PREFIXES = re.compile(r"^prefixes\s*:\s*(#.*)?$")


def _ruamel() -> YAML:
    from ruamel.yaml import YAML

    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _plain_scalar(v: object) -> str | None:
    """``v`` as ruamel writes it when that is plain and certain, else None."""
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    if isinstance(v, str) and (
        (_WORD.fullmatch(v) and v.lower() not in _NOT_TEXT) or _ADDR.fullmatch(v)
    ):
        return v
    return None


def _render_plain(entry: dict, indent: int) -> str | None:
    """The block ruamel would write for an entry of plain scalars and flow lists of them."""
    lines = []
    for k, v in entry.items():
        if not isinstance(k, str) or not _WORD.fullmatch(k):
            return None
        if isinstance(v, list):
            items = [_plain_scalar(x) for x in v]
            if not items or None in items:
                return None
            text = "[" + ", ".join(items) + "]"  # type: ignore[arg-type]
        else:
            text = _plain_scalar(v)
            if text is None:
                return None
        lines.append(f"{k}: {text}")
    if not lines:
        return None
    pad = " " * indent
    return "".join(f"{pad}{'- ' if i == 0 else '  '}{line}\n" for i, line in enumerate(lines))


def render_entry(entry: dict, indent: int) -> str:
    """One sequence item as block YAML at ``indent`` (the column of its dash)."""
    block = _render_plain(entry, indent)
    if block is not None and yaml.safe_load(block) == [entry]:
        return block
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    m = CommentedMap()
    for k, v in entry.items():
        if isinstance(v, list):
            seq = CommentedSeq(v)
            seq.fa.set_flow_style()
            m[k] = seq
        else:
            m[k] = v
    y = YAML()
    y.width = 4096
    y.indent(mapping=2, sequence=2, offset=0)
    buf = io.StringIO()
    y.dump([m], buf)
    block = "".join(" " * indent + line + "\n" for line in buf.getvalue().splitlines())
    if yaml.safe_load(block) != [entry]:  # the rendering must mean exactly the entry
        raise InputError(
            _("cannot render {entry!r} as YAML faithfully").format(entry=entry.get("name"))
        )
    return block


def _layout(lines: list[str]) -> tuple[int, int, list[int], int] | None:
    """(prefixes key index, region end, item start indexes, dash column) or None when the
    file is not in the plain block layout."""
    key = next((i for i, ln in enumerate(lines) if _PREFIXES.match(ln)), None)
    if key is None:
        return None
    end = next((i for i in range(key + 1, len(lines)) if _TOP_KEY.match(lines[i])), len(lines))
    items = []
    col = None
    for i in range(key + 1, end):
        m = _ITEM.match(lines[i])
        if not m:
            continue
        c = len(m.group(1))
        if col is None:
            col = c
        if c == col:
            items.append(i)
    if col is None:
        return None
    return key, end, items, col


def _is_content(line: str) -> bool:
    s = line.strip()
    return bool(s) and not s.startswith("#")


def _last_content(lines: list[str], start: int, end: int) -> int:
    last = start
    for i in range(start, end):
        if _is_content(lines[i]):
            last = i
    return last


@dataclass(frozen=True)
class Splice:
    """Where an appended entry landed: its block and the (1-based) line it starts on.
    ``line`` is None when the file went through a ruamel round trip instead."""

    text: str
    block: str = ""
    line: int | None = None


def append_entry(text: str, entry: dict, header: str = "") -> Splice:
    """``text`` with ``entry`` appended to its ``prefixes:`` list."""
    if not text.strip():
        return Splice(header + "prefixes:\n" + render_entry(entry, 2))
    lines = text.splitlines(keepends=True)
    layout = _layout(lines)
    if layout is None:
        return Splice(_roundtrip_insert(text, entry))
    _key, end, items, col = layout
    at = _last_content(lines, items[-1], end) + 1
    if not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    block = render_entry(entry, col)
    lines.insert(at, block)
    return Splice("".join(lines), block, at + 1)


def insert_entry(text: str, entry: dict, header: str = "") -> str:
    """``text`` with ``entry`` appended to its ``prefixes:`` list."""
    return append_entry(text, entry, header).text


def remove_entries(text: str, names: Iterable[str], filename: str = "") -> str:
    """``text`` without the ``prefixes:`` items called ``names`` (comments around stay)."""
    wanted = set(names)
    lines = text.splitlines(keepends=True)
    layout = _layout(lines)
    if layout is None:
        return _roundtrip_remove(text, wanted, filename)
    _key, end, items, col = layout
    bounds = [*items[1:], end]
    cut: list[tuple[int, int]] = []
    found = set()
    name_key = re.compile(r"^\s{" + str(col) + r"}(?:-\s+|\s\s)name\s*:\s*(.*?)\s*$")
    for start, stop in zip(items, bounds, strict=True):
        name = None
        for i in range(start, stop):
            m = name_key.match(lines[i])
            if m:
                try:
                    name = yaml.safe_load(m.group(1))
                except yaml.YAMLError:
                    return _roundtrip_remove(text, wanted, filename)
                break
        if name in wanted:
            cut.append((start, _last_content(lines, start, stop) + 1))
            found.add(name)
    missing = wanted - found
    if missing:
        raise InputError(
            _("not found in this file: {names}").format(names=", ".join(sorted(missing))),
            Location(filename),
        )
    for start, stop in reversed(cut):
        del lines[start:stop]
    return "".join(lines)


def _roundtrip_insert(text: str, entry: dict) -> str:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    y = _ruamel()
    doc = y.load(text) or CommentedMap()
    seq = doc.get("prefixes")
    if not isinstance(seq, list):
        seq = CommentedSeq()
        doc["prefixes"] = seq
    m = CommentedMap()
    for k, v in entry.items():
        if isinstance(v, list):
            s = CommentedSeq(v)
            s.fa.set_flow_style()
            m[k] = s
        else:
            m[k] = v
    seq.append(m)
    buf = io.StringIO()
    y.dump(doc, buf)
    return buf.getvalue()


def _roundtrip_remove(text: str, wanted: set[str], filename: str) -> str:
    y = _ruamel()
    doc = y.load(text)
    seq = doc.get("prefixes") if isinstance(doc, dict) else None
    if not isinstance(seq, list):
        raise InputError(_("no prefixes: list in this file"), Location(filename))
    keep = [
        i
        for i, item in enumerate(seq)
        if not (isinstance(item, dict) and item.get("name") in wanted)
    ]
    if len(keep) == len(seq):
        raise InputError(
            _("not found in this file: {names}").format(names=", ".join(sorted(wanted))),
            Location(filename),
        )
    for i in reversed(range(len(seq))):
        if i not in keep:
            del seq[i]
    buf = io.StringIO()
    y.dump(doc, buf)
    return buf.getvalue()
