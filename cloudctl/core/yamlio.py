"""Fast YAML loading that remembers the line of every mapping, key and list item,
so validation can say ``file:line: message``. Uses libyaml (CSafeLoader) when present.

Every file it reads is untrusted data, so before anything is built the node graph is
checked against limits that keep a small file from costing minutes or gigabytes later
(in validation, a table, ``-o json``): nesting depth, the length of one value, and what
aliases (``*name``, also in ``<<`` merges) add when expanded — a "billion laughs" file of
a few hundred bytes expands to billions of values. Aliases stay allowed (templates and
``<<: *defaults`` use them); only their expansion is capped, deliberately by counting
the values and characters they produce, not by banning them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from cloudctl.core.errors import InputError, Location
from cloudctl.core.fileio import MAX_INPUT_BYTES, display_path, read_input_text

__all__ = ["LDict", "LList", "display_path", "load_yaml", "load_yaml_text", "loc_of", "to_plain"]

MAX_DEPTH = 64  # levels of nesting; real files use fewer than 10
MAX_VALUE_CHARS = 128 * 1024  # one scalar (the same limit as one CSV field)
MAX_ALIAS_NODES = 100_000  # values that alias expansion may add to one document
MAX_ALIAS_CHARS = 1024 * 1024  # characters that alias expansion may add to one document

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LDict(dict):
    """A dict that knows the file and line it came from, and each key's line."""

    __slots__ = ("file", "key_lines", "line")

    def loc(self, key: str | None = None) -> Location:
        if key is not None and key in self.key_lines:
            return Location(self.file, self.key_lines[key])
        return Location(self.file, self.line)


class LList(list):
    """A list that knows its file and line, and each item's line."""

    __slots__ = ("file", "item_lines", "line")

    def loc(self, index: int | None = None) -> Location:
        if index is not None and 0 <= index < len(self.item_lines):
            return Location(self.file, self.item_lines[index])
        return Location(self.file, self.line)


def _make_loader(filename: str):
    class _Loader(_Base):  # type: ignore[misc, valid-type]
        pass

    def construct_mapping(loader, node, deep=False):
        first_own = _flatten(loader, node, "tag:yaml.org,2002:merge")
        d = LDict()
        d.file = filename
        d.line = node.start_mark.line + 1
        d.key_lines = {}
        own: set = set()
        for i, (key_node, value_node) in enumerate(node.value):
            key = loader.construct_object(key_node, deep=True)
            _check_key(key, i >= first_own, own, Location(filename, key_node.start_mark.line + 1))
            d[key] = loader.construct_object(value_node, deep=True)
            d.key_lines[key] = key_node.start_mark.line + 1
        return d

    def construct_sequence(loader, node, deep=False):
        out = LList(loader.construct_object(child, deep=True) for child in node.value)
        out.file = filename
        out.line = node.start_mark.line + 1
        out.item_lines = [child.start_mark.line + 1 for child in node.value]
        return out

    _Loader.add_constructor("tag:yaml.org,2002:map", construct_mapping)
    _Loader.add_constructor("tag:yaml.org,2002:seq", construct_sequence)
    return _Loader


def _flatten(loader: Any, node: Any, merge_tag: str) -> int:
    """Resolve ``<<`` merge keys; return the index of the mapping's own first pair (the
    merged pairs come first, and an own key may override a merged one, as YAML says)."""
    own = sum(1 for k, _ in node.value if k.tag != merge_tag)
    loader.flatten_mapping(node)
    return len(node.value) - own


def _check_key(key: Any, is_own: bool, own: set, where: Location) -> None:
    try:
        hash(key)
    except TypeError:
        raise InputError("mapping key is not hashable", where) from None
    if is_own:
        if key in own:
            raise InputError(f"duplicate key {key!r}", where)
        own.add(key)


def _children(node: Any) -> list:
    if type(node) is yaml.MappingNode:
        return [x for pair in node.value for x in pair]
    return node.value


def _where(filename: str, node: Any) -> Location:
    return Location(filename, node.start_mark.line + 1)


def _long_value(filename: str, node: Any) -> InputError:
    return InputError(
        f"value of {len(node.value):,} characters is too long (at most {MAX_VALUE_CHARS:,})",
        _where(filename, node),
    )


def check_nodes(root: Any, filename: str, shared: bool = True) -> None:
    """Refuse, before anything is constructed: nesting deeper than MAX_DEPTH, a value
    longer than MAX_VALUE_CHARS, recursive aliases, and aliases whose expansion adds more
    than MAX_ALIAS_NODES values or MAX_ALIAS_CHARS characters. ``shared=False`` says the
    text has no aliases (a plain tree: one cheap walk, no bookkeeping per node)."""
    scalar = yaml.ScalarNode
    if type(root) is scalar:
        if len(root.value) > MAX_VALUE_CHARS:
            raise _long_value(filename, root)
        return
    if not shared:
        stack = [(root, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_DEPTH:
                raise InputError(f"nested deeper than {MAX_DEPTH} levels", _where(filename, node))
            for kid in _children(node):
                if type(kid) is scalar:
                    if len(kid.value) > MAX_VALUE_CHARS:
                        raise _long_value(filename, kid)
                else:
                    stack.append((kid, depth + 1))
        return
    # A graph (aliases share nodes): expanded sizes bottom-up, each node once.
    done: dict[int, tuple[int, int, int]] = {}  # id -> (values, characters, height) expanded
    open_: set[int] = set()  # entered, not finished: the path from the root (a cycle test)
    unique_n = unique_c = 0
    work: list[tuple[Any, bool]] = [(root, False)]
    while work:
        node, leaving = work.pop()
        key = id(node)
        if leaving:
            open_.discard(key)
            n, c, h = 1, 0, 0
            for kid in _children(node):
                kn, kc, kh = done[id(kid)]
                n, c, h = n + kn, c + kc, max(h, kh)
            done[key] = (n, c, h + 1)
            unique_n += 1
            if h + 1 > MAX_DEPTH:
                raise InputError(f"nested deeper than {MAX_DEPTH} levels", _where(filename, node))
            if n - unique_n > MAX_ALIAS_NODES or c - unique_c > MAX_ALIAS_CHARS:
                raise InputError(
                    f"aliases (*name) expand this to {n:,} values and {c:,} characters: "
                    f"more than {MAX_ALIAS_NODES:,} values or {MAX_ALIAS_CHARS:,} characters "
                    "beyond what the file holds",
                    _where(filename, node),
                )
            continue
        if key in done:
            continue
        if key in open_:
            raise InputError("recursive alias: a value contains itself", _where(filename, node))
        if type(node) is scalar:
            if len(node.value) > MAX_VALUE_CHARS:
                raise _long_value(filename, node)
            done[key] = (1, len(node.value), 1)
            unique_n += 1
            unique_c += len(node.value)
            continue
        open_.add(key)
        work.append((node, True))
        work.extend((kid, False) for kid in reversed(_children(node)))


_PLAIN = "!cloudctl/plain"  # a plain scalar whose type is not decided yet
_STR, _SEQ, _MAP = (
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
)
_MERGE = "tag:yaml.org,2002:merge"
_CAN_COMPOSE_FAST = hasattr(yaml, "CBaseLoader")
_RESOLVER = yaml.resolver.Resolver()
_SCALAR_TAGS: dict[str, str] = {}  # plain scalar -> tag: the same words recur in a plan
_SAFE_CTOR = yaml.SafeLoader("")


class _Fallback(Exception):
    """Something the fast path does not do (explicit collection tags): use the full loader."""


if _CAN_COMPOSE_FAST:

    class _Composer(yaml.CBaseLoader):  # type: ignore[misc, valid-type]
        """libyaml builds the node tree; plain scalars are typed later, once per distinct
        value, instead of PyYAML running its regexes on every one of them."""

        def resolve(self, kind, value, implicit):
            if kind is yaml.ScalarNode:
                return _PLAIN if implicit[0] else _STR
            return _SEQ if kind is yaml.SequenceNode else _MAP


def _plain_tag(value: str) -> str:
    tag = _SCALAR_TAGS.get(value)
    if tag is None:
        if len(_SCALAR_TAGS) > 100_000:
            _SCALAR_TAGS.clear()
        tag = _SCALAR_TAGS[value] = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))
    return tag


def _mark_merge_keys(node: Any, seen: set[int]) -> None:
    if id(node) in seen or isinstance(node, yaml.ScalarNode):
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.tag == _PLAIN and k.value == "<<":
                k.tag = _MERGE
            _mark_merge_keys(v, seen)
    else:
        for v in node.value:
            _mark_merge_keys(v, seen)


def _may_share(text: str) -> bool:
    """An alias needs an anchor (``&a``) and a reference (``*a``); without both characters
    the document is a plain tree."""
    return "&" in text and "*" in text


def _load_fast(text: str, filename: str) -> Any:
    """Same result as the line-tracking loader below (tests compare them), ~25% faster on
    big files: a 2,000-system plan or a 100k-prefix address plan."""
    composer = _Composer(text)
    try:
        root = composer.get_single_node()
    finally:
        composer.dispose()
    if root is None:
        return None
    check_nodes(root, filename, _may_share(text))
    if "<<" in text:
        _mark_merge_keys(root, set())
    ctor = yaml.SafeLoader("")
    constructors = yaml.SafeLoader.yaml_constructors
    built: dict[int, Any] = {}  # aliases: one object per collection node, as PyYAML does
    scalar_node, sequence_node = yaml.ScalarNode, yaml.SequenceNode

    def scalar(node: yaml.ScalarNode) -> Any:
        tag = node.tag
        if tag == _PLAIN:
            tag = node.tag = _plain_tag(node.value)
        if tag == _STR:
            return node.value
        make = constructors.get(tag)
        if make is None:
            raise _Fallback
        try:
            return make(ctor, node)
        except ValueError as e:  # looks like a date or number but is not one: 2027-13-45
            raise _bad_scalar(node.value, e, Location(filename, node.start_mark.line + 1)) from None

    def build(node: Any) -> Any:
        kind = type(node)
        if kind is scalar_node:
            return scalar(node)
        done = built.get(id(node))
        if done is not None:
            return done
        if kind is sequence_node:
            if node.tag != _SEQ:
                raise _Fallback
            seq = built[id(node)] = LList()
            seq.file, seq.line = filename, node.start_mark.line + 1
            seq.extend(build(child) for child in node.value)
            seq.item_lines = [child.start_mark.line + 1 for child in node.value]
            return seq
        if node.tag != _MAP:
            raise _Fallback
        first_own = _flatten(ctor, node, _MERGE)
        out = built[id(node)] = LDict()
        out.file, out.line, out.key_lines = filename, node.start_mark.line + 1, {}
        key_lines = out.key_lines
        own: set = set()
        for i, (key_node, value_node) in enumerate(node.value):
            key = scalar(key_node) if type(key_node) is scalar_node else build(key_node)
            line = key_node.start_mark.line + 1
            _check_key(key, i >= first_own, own, Location(filename, line))
            out[key] = build(value_node)
            key_lines[key] = line
        return out

    return build(root)


# ------------------------------------------------------------ block-YAML subset reader
#
# Address plans, migration plans and inventories are written in a small part of YAML:
# block mappings and sequences, one-line plain or simply quoted scalars, one-line flow
# lists and maps of plain scalars. libyaml spends most of its time building a Python node
# (and two marks) per value; this reader goes line by line straight to LDict/LList, ~5×
# faster on a 100k-prefix plan. It accepts only what it is sure of: anything else (tabs,
# anchors, tags, block scalars, multi-line values, odd indentation, errors of any kind)
# raises _Fallback, and the libyaml path above reads the file and reports what is wrong.
# Tests compare the two on every YAML file of the project and on generated documents.

_NOT_SIMPLE = re.compile(
    "[^\x20-\x7e\n\u00a0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)  # tabs, CR, control characters, NEL/LS/PS line breaks, BOM: leave them to libyaml
_BAD_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@`")
_NOT_PLAIN_FIRST = _BAD_FIRST | frozenset("'\"[{")
_FLOW_BAD = frozenset("'\"")
_FLOW_TOKEN = re.compile(r"[\[\]{},]|[^\[\]{},]+")
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers
_MAX_SIMPLE_DEPTH = 32  # deeper than real files; the full path applies MAX_DEPTH
_MAX_KEY = 1024  # libyaml's limit for an implicit (plain) key
_ANY_IMPLICIT = re.compile(
    "|".join(sorted({f"(?:{rx.pattern})" for rules in _IMPLICIT.values() for _, rx in rules})),
    re.X,
)  # matches whenever one of PyYAML's implicit types would: else the scalar is a string
_STR_VALUE = object()
_VALUES: dict[str, Any] = {}  # plain scalar -> its value (immutable), or _STR_VALUE


def _plain(v: str, flow: bool = False) -> Any:
    """The value of a plain scalar, if ``v`` surely is one on its own; else _Fallback."""
    c = v[0]
    if c in _BAD_FIRST and not (c in "-?" and len(v) > 1 and v[1] != " " and not flow):
        raise _Fallback
    if ": " in v or v[-1] == ":" or " #" in v or (flow and c == ":"):
        raise _Fallback
    if c not in _IMPLICIT:
        return v
    if v.count(".") > 1:  # an address: no implicit type (int, float, timestamp...) has two dots
        return v
    got = _VALUES.get(v)
    if got is _STR_VALUE:
        return v
    if got is not None:
        return got[0]
    if _ANY_IMPLICIT.match(v) is None:  # most values of a plan: names, addresses, text
        return v
    tag = _plain_tag(v)
    if tag == _STR:
        value: Any = v
    else:
        make = yaml.SafeLoader.yaml_constructors.get(tag)
        if make is None:
            raise _Fallback
        try:
            value = make(_SAFE_CTOR, yaml.ScalarNode(tag, v))
        except ValueError:  # the full path words the error
            raise _Fallback from None
    if len(_VALUES) > 200_000:
        _VALUES.clear()
    _VALUES[v] = _STR_VALUE if tag == _STR else (value,)
    return value


def _simple_value(v: str, line: int, filename: str) -> Any:
    c = v[0]
    if c == "'" or c == '"':
        if len(v) < 2 or v[-1] != c or c in v[1:-1] or "\\" in v:
            raise _Fallback
        return v[1:-1]
    if c == "[" or c == "{":
        if any(ch in _FLOW_BAD for ch in v):
            raise _Fallback
        toks = _FLOW_TOKEN.findall(v)
        got, pos = _flow(toks, 0, line, filename, 0)
        if pos != len(toks):
            raise _Fallback
        return got
    return _plain(v)


def _flow(toks: list[str], pos: int, line: int, filename: str, depth: int) -> tuple[Any, int]:
    """One-line flow collection of plain scalars (nested ones too) from ``toks[pos]``."""
    if depth > 8:
        raise _Fallback
    is_seq = toks[pos] == "["
    close = "]" if is_seq else "}"
    out: Any = LList() if is_seq else LDict()
    out.file, out.line = filename, line
    if is_seq:
        out.item_lines = []
    else:
        out.key_lines = {}
    pos += 1
    n = len(toks)
    while True:
        text, nested = "", None
        while pos < n and toks[pos] != "," and toks[pos] != close:
            t = toks[pos]
            if t == "[" or t == "{":
                if nested is not None:
                    raise _Fallback
                nested, pos = _flow(toks, pos, line, filename, depth + 1)
                continue
            if t == "]" or t == "}" or nested is not None:
                raise _Fallback
            text += t
            pos += 1
        if pos >= n:
            raise _Fallback
        sep = toks[pos]
        pos += 1
        text = text.strip(" ")
        if nested is None and not text:
            if sep == close and not out:
                return out, pos  # [] or {}
            raise _Fallback  # [a,,b], [a, ], [,]
        if is_seq:
            if nested is not None:
                if text:
                    raise _Fallback
                out.append(nested)
            else:
                out.append(_plain(text, True))
            out.item_lines.append(line)
        else:
            if nested is not None:
                if text[-1:] != ":":
                    raise _Fallback
                k, value = text[:-1], nested
            else:
                k, colon, val = text.partition(": ")
                if not colon or not val:
                    raise _Fallback
                value = _plain(val.lstrip(" "), True)
            if not k or k == "<<" or ":" in k or k[-1] == " ":
                raise _Fallback
            key = _plain(k, True)
            if key in out:
                raise _Fallback
            out[key] = value
            out.key_lines[key] = line
        if sep == close:
            return out, pos


def _load_simple(text: str, filename: str) -> Any:
    """The block-YAML subset, line by line (see above); _Fallback for anything else."""
    if _NOT_SIMPLE.search(text) is not None:
        raise _Fallback
    root: Any = None
    stack: list[list] = []  # [indent, container, is_map]
    pending: Any = None  # (mapping, key, indent): "key:" with nothing after it yet
    keys: dict[str, Any] = {}  # key text -> key: a plan repeats a dozen keys 100k times
    for no, raw in enumerate(text.split("\n"), 1):
        s = raw.lstrip(" ")
        if not s or s[0] == "#":
            continue
        ind = len(raw) - len(s)
        if "#" in s:
            if "'" in s or '"' in s:
                raise _Fallback
            cut = s.find(" #")
            if cut >= 0:
                s = s[:cut]
        s = s.rstrip(" ")
        if len(s) > MAX_VALUE_CHARS or (ind == 0 and s[:3] in ("---", "...")) or s[0] == "%":
            raise _Fallback
        dash = s[0] == "-" and (len(s) == 1 or s[1] == " ")
        if pending is not None:
            pmap, pkey, pind = pending
            pending = None
            if ind > pind or (ind == pind and dash):
                new: Any = LList() if dash else LDict()
                new.file, new.line = filename, no
                if dash:
                    new.item_lines = []
                else:
                    new.key_lines = {}
                pmap[pkey] = new
                stack.append([ind, new, not dash])
                if len(stack) > _MAX_SIMPLE_DEPTH:
                    raise _Fallback
        while stack and stack[-1][0] > ind:
            stack.pop()
        if not stack:
            if root is not None:
                raise _Fallback
            root = LList() if dash else LDict()
            root.file, root.line = filename, no
            if dash:
                root.item_lines = []
            else:
                root.key_lines = {}
            stack.append([ind, root, not dash])
        top = stack[-1]
        if top[0] != ind:
            raise _Fallback
        if not top[2] and not dash:  # the end of a sequence at its key's indent
            if len(stack) > 1 and stack[-2][0] == ind and stack[-2][2]:
                stack.pop()
                top = stack[-1]
            else:
                raise _Fallback
        if top[2]:
            if dash:
                raise _Fallback
            m, col = top[1], ind
        else:
            if len(s) < 3:
                raise _Fallback
            rest = s[2:].lstrip(" ")
            col = ind + len(s) - len(rest)
            seq = top[1]
            if rest[0] == "-" and (len(rest) == 1 or rest[1] == " "):
                raise _Fallback
            k, sep, v = rest.partition(": ")
            if not sep and rest[-1] == ":":
                k, sep = rest[:-1], ":"
            if sep and not k:
                raise _Fallback
            if not sep or k[0] in "[{'\"":
                seq.append(_simple_value(rest, no, filename))
                seq.item_lines.append(no)
                continue
            m = LDict()
            m.file, m.line, m.key_lines = filename, no, {}
            seq.append(m)
            seq.item_lines.append(no)
            stack.append([col, m, True])
            if len(stack) > _MAX_SIMPLE_DEPTH:
                raise _Fallback
            s = rest
        k, sep, v = s.partition(": ")
        if not sep:
            if s[-1] != ":":
                raise _Fallback
            k, v = s[:-1], ""
        if k in keys:
            key = keys[k]
        else:
            if not k or k == "<<" or len(k) > _MAX_KEY or k[-1] == " ":
                raise _Fallback
            key = _plain(k)
            if len(keys) < 4096:
                keys[k] = key
        if key in m:
            raise _Fallback  # a duplicate key: the full path says where
        v = v.lstrip(" ")
        m.key_lines[key] = no
        if v:
            c = v[0]
            if c not in _NOT_PLAIN_FIRST and ": " not in v and v[-1] != ":" and " #" not in v:
                m[key] = _plain(v) if c in _IMPLICIT else v  # the common case, inlined
            else:
                m[key] = _simple_value(v, no, filename)
        else:
            m[key] = None
            pending = (m, key, col)
    return root


def load_yaml_text(text: str, filename: str) -> Any:
    try:
        try:
            return _load_simple(text, filename)
        except _Fallback:
            pass
        if _CAN_COMPOSE_FAST:
            try:
                return _load_fast(text, filename)
            except _Fallback:
                pass
        return _load_checked(text, filename)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        what = e.problem or "malformed YAML"
        raise InputError(f"malformed YAML: {what}", Location(filename, line)) from None
    except yaml.YAMLError as e:
        raise InputError(f"malformed YAML: {e}", Location(filename)) from None
    except ValueError as e:  # the full loader: a scalar that is not the date it looks like
        raise _bad_scalar(None, e, Location(filename)) from None


def _load_checked(text: str, filename: str) -> Any:
    """``yaml.load`` with the line-tracking loader, the node graph checked before it is
    constructed."""
    loader = _make_loader(filename)(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        check_nodes(root, filename, _may_share(text))
        return loader.construct_document(root)
    finally:
        loader.dispose()


def _bad_scalar(value: str | None, e: ValueError, where: Location) -> InputError:
    what = f"{value!r} " if value is not None else ""
    return InputError(f"{what}is not a valid value ({e}); quote it to keep it as text", where)


def load_yaml(path: str | Path, limit: int = MAX_INPUT_BYTES) -> Any:
    """Load one YAML file (a regular file of at most ``limit`` bytes, UTF-8); errors name
    the file and line."""
    name = display_path(path)
    return load_yaml_text(read_input_text(path, limit=limit, name=name), name)


def loc_of(obj: Any, key: Any = None, default: Location | None = None) -> Location | None:
    """Location of a loaded value (or of one of its keys / items), if it has one."""
    if isinstance(obj, (LDict, LList)):
        return obj.loc(key)
    return default


def to_plain(obj: Any) -> Any:
    """Strip line bookkeeping (for json/yaml output)."""
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_plain(v) for v in obj]
    return obj
