"""The quick path of the chat check: a plain example judged and counted without being built.

Almost every line of a large training file is a plain chat example — messages with a known role
and non-empty text, a system (or developer) message, a user's and an assistant's, and on an
assistant's at most a ``weight`` of 0 or 1 — which the whole check passes in silence. Checking a
file of gigabytes is mostly judging such lines, so they take a path of their own:
``clean_chat_line`` parses a line with simdjson *lazily*: the whole line is checked (its JSON and
its UTF-8) at the speed of the C++ parser, and only the values looked at (each message's role and
text) become Python objects, where a full parse builds every one.

It only ever says "plain" (characters of text, messages) or "not sure" (None); on None the line
goes the whole way — orjson's parse and the whole check, which say what is wrong — so the two
parsers cannot disagree on an error. They could on a duplicated key (simdjson reads the first,
orjson and the API the last): a plain line has exactly the keys it needs, counted, so a line with a
duplicate is never plain (nor is an example with keys beside its messages: the whole check judges
those). ``clean_chat`` is the same judgement of a line parsed already.
"""

from __future__ import annotations

import threading
from typing import Any

import simdjson

ROLE_BITS = {"system": 1, "developer": 1, "user": 2, "assistant": 4, "tool": 8, "function": 8}
CLEAN = 1 | 2 | 4  # a system or developer message, a user's and an assistant's: nothing to warn of

_local = threading.local()
"""A parser per thread (the sandbox checks files on its server's threads), reused line after line:
its buffers grow once, and a line's objects are let go before the next line is parsed."""


def clean_chat(obj: Any) -> tuple[int, int] | None:
    """(characters of content, messages) of a parsed example that is plain; None for any other."""
    return _plain(obj, dict, list)


def clean_chat_line(raw: bytes) -> tuple[int, int] | None:
    """``clean_chat`` of a line not parsed yet (see the module's docstring); None when not sure."""
    parser = getattr(_local, "parser", None) or _new_parser()
    try:
        return _plain(parser.parse(raw), simdjson.Object, simdjson.Array)
    except (ValueError, UnicodeDecodeError, RuntimeError):  # not JSON, not UTF-8: the whole check says why
        return None


def _new_parser() -> Any:
    _local.parser = simdjson.Parser()
    return _local.parser


def _plain(doc: Any, mapping: Any, array: Any) -> tuple[int, int] | None:
    """The judgement, on objects and arrays of either parser: one loop that builds nothing, where the
    time of checking a file of gigabytes goes."""
    if type(doc) is not mapping or len(doc) != 1:
        return None
    try:
        messages = doc["messages"]
        if type(messages) is not array:
            return None
        chars = seen = 0
        for msg in messages:
            if type(msg) is not mapping:
                return None
            role, content, size = msg["role"], msg["content"], len(msg)
            if type(content) is not str or not content or type(role) is not str:
                return None
            bit = ROLE_BITS.get(role, 0)
            if not bit or (size != 2 and (size != 3 or bit != 4 or type(msg["weight"]) is not int
                                          or msg["weight"] not in (0, 1))):
                return None
            seen |= bit
            chars += len(content)
    except KeyError:
        return None
    return (chars, len(messages)) if seen & CLEAN == CLEAN else None
