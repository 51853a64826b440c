"""Safe YAML reading that remembers where every value came from.

PyYAML's ``safe_load`` forgets line numbers and silently keeps the last of two equal keys. We
compose the node graph with the safe loader instead and build plain Python values ourselves, so
that:

* every mapping key and sequence item gets the line it was written on (``Located.lines``), which
  lets a validation error deep inside a manifest name its line;
* a duplicate key in a mapping is an error, not a silent overwrite;
* aliases are expanded under a budget: composing shares alias nodes, so a "billion laughs" file is
  small as a graph and only explodes when expanded; we stop after ``MAX_NODES`` values.

Speed: a small text (every manifest one writes by hand) is composed by libyaml's parser when PyYAML
has it, eight times faster; libyaml's composer recurses in C, so it only gets texts too short to
nest deeper than it safely can (``FAST_MAX_CHARS``). Any error on that path is found again by the
pure-Python parser, so messages, lines and refusals are the same either way. Where the two parsers
disagree (libyaml takes a tab after a value, a byte-order mark mid-text, a ``?`` inside a flow
scalar; it reads a value tagged ``!`` as text), the text goes to the Python parser alone
(``_PYTHON_ONLY``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[Any, ...]

MAX_NODES = 20_000
"""Most values one document may expand to; a real manifest has a few hundred."""

FAST_MAX_CHARS = 8_192
"""Longest text given to libyaml: it cannot nest deeper than its length (8,192 unclosed brackets;
libyaml composes 10,000 levels fine and overflows the C stack near 100,000)."""
_PYTHON_ONLY = "\t\ufeff\x85\u2028\u2029?!"
"""Characters of the texts that the two parsers read differently: found by comparing them on
random texts (tests/test_manifest_properties.py does so on every run)."""
_FAST = getattr(yaml, "CSafeLoader", None)


class YamlError(Exception):
    """A problem with the YAML text itself, with the 1-based line where it was found."""

    def __init__(self, line: int, message: str, path: Path_ = ()) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.path = path


@dataclass
class Located:
    """One YAML document as plain data plus the line of each path in it."""

    data: Any
    line: int
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int:
        """Line of ``path``, or of its nearest ancestor that was written down."""
        for cut in range(len(path), -1, -1):
            found = self.lines.get(tuple(path[:cut]))
            if found is not None:
                return found
        return self.line


class _Builder:
    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.lines: dict[Path_, int] = {}
        self.count = 0

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlError(
                node.start_mark.line + 1,
                f"document expands to more than {MAX_NODES} values (YAML alias bomb?); refused",
                path,
            )
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)  # resolves "<<" merge keys
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._construct(key_node, path)
                if not isinstance(key, str | int | float | bool) and key is not None:
                    raise YamlError(key_node.start_mark.line + 1, "mapping keys must be plain scalars", path)
                if key in out:
                    raise YamlError(
                        key_node.start_mark.line + 1,
                        f"duplicate key {key!r} (first given on line {self.lines[(*path, key)]})",
                        (*path, key),
                    )
                child = (*path, key)
                self.lines[child] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._construct(node, path)

    def _construct(self, node: yaml.Node, path: Path_) -> Any:
        """A scalar's value; a typed one that is not of its type (``!!int x``) is an error at its line."""
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, TypeError, IndexError, OverflowError):
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            raise YamlError(node.start_mark.line + 1, f"invalid YAML: {node.value!r} is not a valid {tag}",
                            path) from None


def _mark_line(exc: yaml.YAMLError) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return int(mark.line) + 1 if mark is not None else 1


def load_documents(text: str) -> Iterator[Located | YamlError]:
    """Yield each non-empty document of ``text``, or the error that stopped reading.

    A syntax error ends the stream (the parser cannot resynchronise); a duplicate key or an
    alias bomb spoils only its own document.
    """
    if _FAST is not None and len(text) <= FAST_MAX_CHARS and not any(c in text for c in _PYTHON_ONLY):
        try:
            documents = list(_documents(text, _FAST))
        except Exception:  # libyaml's own failure: the Python parser says what is wrong
            documents = [YamlError(1, "")]
        if not any(isinstance(d, YamlError) for d in documents):
            yield from documents
            return
    yield from _documents(text, yaml.SafeLoader)


def _documents(text: str, kind: Any) -> Iterator[Located | YamlError]:
    try:
        loader = kind(text)
    except yaml.reader.ReaderError as exc:  # a control character, checked before parsing starts
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        yield YamlError(line, f"invalid YAML: character #x{exc.character:04x} is not allowed")
        return
    try:
        while True:
            try:
                if not loader.check_node():
                    return
                node = loader.get_node()
            except RecursionError:
                yield YamlError(1, "the YAML nests too deeply to be read; refused")
                return
            except yaml.YAMLError as exc:
                problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
                yield YamlError(_mark_line(exc), f"invalid YAML: {problem}")
                return
            if node is None:
                continue
            builder = _Builder(loader)
            try:
                data = builder.build(node, ())
            except YamlError as exc:
                yield exc
                continue
            except yaml.YAMLError as exc:
                problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
                yield YamlError(_mark_line(exc), f"invalid YAML: {problem}")
                continue
            except RecursionError:
                yield YamlError(node.start_mark.line + 1, "document nests too deeply; refused")
                continue
            if data is None:
                continue
            yield Located(data=data, line=node.start_mark.line + 1, lines=builder.lines)
    finally:
        loader.dispose()
