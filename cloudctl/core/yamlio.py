"""Fast YAML loading that remembers the line of every mapping, key and list item,
so validation can say ``file:line: message``. Uses libyaml (CSafeLoader) when present."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cloudctl.core.errors import InputError, Location

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
        loader.flatten_mapping(node)
        d = LDict()
        d.file = filename
        d.line = node.start_mark.line + 1
        d.key_lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise InputError(
                    "mapping key is not hashable", Location(filename, key_node.start_mark.line + 1)
                ) from None
            if key in d:
                raise InputError(
                    f"duplicate key {key!r}", Location(filename, key_node.start_mark.line + 1)
                )
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


def display_path(path: Path) -> str:
    """Paths relative to the working directory read better in messages."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_yaml_text(text: str, filename: str) -> Any:
    try:
        return yaml.load(text, Loader=_make_loader(filename))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        what = e.problem or "malformed YAML"
        raise InputError(f"malformed YAML: {what}", Location(filename, line)) from None
    except yaml.YAMLError as e:
        raise InputError(f"malformed YAML: {e}", Location(filename)) from None


def load_yaml(path: str | Path) -> Any:
    """Load one YAML file; errors name the file and line."""
    p = Path(path)
    name = display_path(p)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", Location(name)) from None
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text ({e.reason})", Location(name)) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", Location(name)) from None
    return load_yaml_text(text, name)


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
