"""Streaming checks of JSONL training data against the format each method expects.

One pass, one line in memory at a time, so a 1 GB file costs no more memory than a 1 KB one. Used
by ``ftctl validate``/``plan`` (before any money is spent) and by the sandbox (which fails a job
whose file does not fit, as the real service does).

Formats (OpenAI's fine-tuning guide):

* ``chat`` (supervised): ``{"messages": [...]}`` with known roles, at least one assistant message,
  optional ``weight`` 0/1 on assistant messages, optional ``tools``/``functions``;
* ``completion`` (babbage-002, davinci-002): ``{"prompt": str, "completion": str}``;
* ``preference`` (dpo): ``{"input": {"messages": [...]}, "preferred_output": [assistant],
  "non_preferred_output": [assistant]}``;
* ``reinforcement``: ``{"messages": [... ending with a user message]}`` plus the fields that the
  grader reads as ``{{item.FIELD}}`` (or, python graders, as ``item["FIELD"]``).

A line written for another method's format is said to be (``hints``): preference data where
messages are expected reads as such, not as a missing ``messages``. OPEA's finetuning service reads
formats of its own (``alpaca``, ``opea-preference``: ``opea_formats``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from reconciler.datasets.hints import count_written_for, other_format
from reconciler.datasets.opea_formats import FIELDS, check_opea_example
from reconciler.datasets.report import Report

MIN_EXAMPLES = 10
MAX_LINE = 64 * 1024 * 1024
"""Bytes one example may take (images inline as data URLs included); a longer line is not read."""


class TooLong(bytes):
    """Stands for a line over ``MAX_LINE``, which was skipped: only its length is known."""

    size: int

    def __new__(cls, size: int) -> TooLong:
        made = super().__new__(cls, b"")
        made.size = size
        return made


ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
MESSAGE_KEYS = {"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call", "refusal"}


def format_for(method: str, chat_model: bool = True) -> str:
    if method == "dpo":
        return "preference"
    if method == "reinforcement":
        return "reinforcement"
    return "chat" if chat_model else "completion"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


Counter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    """About four characters a token for English text: the usual rule when no tokenizer is at hand."""
    return (len(text) + 3) // 4


# OpenAI's chat accounting: a few tokens of framing per message and for the reply.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3


def _check_messages(messages: Any, where: str, report: Report, line: int) -> tuple[str, set[str]] | None:
    """Check a message list; return (its text, roles seen) or None after reporting an error."""
    if type(messages) is not list or not messages:
        report.error(line, f"{where} must be a non-empty list of messages")
        return None
    texts, roles = [], set()
    for i, msg in enumerate(messages):
        if type(msg) is not dict:
            report.error(line, f"{where}[{i}] must be an object")
            return None
        role = msg.get("role")
        if type(role) is not str or role not in ROLES:  # a list or a mapping cannot be looked up
            report.error(line, f"{where}[{i}].role {role!r} is not one of {', '.join(sorted(ROLES))}")
            return None
        if not MESSAGE_KEYS.issuperset(msg):
            unknown = sorted(str(k) for k in msg if k not in MESSAGE_KEYS)
            report.error(line, f"{where}[{i}] ({role}) has unknown key(s) {', '.join(map(repr, unknown))}; a message "
                         f"has {', '.join(sorted(MESSAGE_KEYS))}")
            return None
        content = msg.get("content")
        if type(content) is not str or not content:
            problem = _content_problem(msg, role, content)
            if problem:
                report.error(line, f"{where}[{i}]{problem}")
                return None
        if "weight" in msg:
            weight = msg["weight"]
            if role != "assistant":
                report.error(line, f"{where}[{i}].weight is only allowed on assistant messages")
                return None
            if weight not in (0, 1) or isinstance(weight, bool):
                report.error(line, f"{where}[{i}].weight must be 0 or 1")
                return None
        roles.add(role)
        texts.append(content if type(content) is str else _text(content))
    return "\n".join(texts), roles


def _content_problem(msg: dict[str, Any], role: str, content: Any) -> str | None:
    """What is wrong with content that is not a non-empty string, or None (a list of parts, an
    assistant's tool calls or refusal, a tool's empty result, an untrained assistant message)."""
    answered = role == "assistant" and bool(msg.get("tool_calls") or msg.get("function_call") or msg.get("refusal"))
    if content is None:
        return None if answered else f" ({role}) has no content"
    if not isinstance(content, str | list):
        return ".content must be a string or a list of parts"
    if not content and not answered and (role == "user" or (role == "assistant" and msg.get("weight", 1))):
        return f" ({role}) has empty content"
    return None


def _check_example(obj: Any, fmt: str, report: Report, line: int) -> tuple[str, int] | None:
    """Check one example; return (its text, message count), or None when it has an error."""
    if not isinstance(obj, dict):
        report.error(line, "each line must be a JSON object")
        return None
    if fmt in FIELDS:
        return check_opea_example(obj, fmt, report, line)
    other = other_format(obj, fmt)
    if other is not None:
        report.error(line, other)
        return None
    if fmt == "completion":
        if not isinstance(obj.get("prompt"), str) or not isinstance(obj.get("completion"), str):
            report.error(line, 'completion format needs string "prompt" and "completion"')
            return None
        return obj["prompt"] + obj["completion"], 0
    if fmt == "preference":
        inp = obj.get("input")
        if not isinstance(inp, dict) or "messages" not in inp:
            report.error(line, 'preference format needs "input": {"messages": [...]}')
            return None
        checked = _check_messages(inp["messages"], "input.messages", report, line)
        if checked is None:
            return None
        text, count = checked[0], len(inp["messages"])
        for key in ("preferred_output", "non_preferred_output"):
            out = obj.get(key)
            if not isinstance(out, list) or len(out) != 1:
                report.error(line, f"{key} must be a list of exactly one assistant message")
                return None
            got = _check_messages(out, key, report, line)
            if got is None:
                return None
            if got[1] != {"assistant"}:
                report.error(line, f"{key} must be an assistant message")
                return None
            text += "\n" + got[0]
            count += 1
        return text, count
    checked = _check_messages(obj.get("messages"), "messages", report, line)
    if checked is None:
        return None
    text, roles = checked
    if fmt == "chat":
        if "assistant" not in roles:
            report.error(line, "no assistant message: nothing to learn from this example")
            return None
        if "system" not in roles and "developer" not in roles:
            report.warn(line, "no system message")
        if "user" not in roles:
            report.warn(line, "no user message")
    elif fmt == "eval":
        last = obj["messages"][-1].get("role")
        if last == "assistant" and "user" not in roles:
            report.error(line, "no user message: the model is asked nothing")
            return None
        if last not in ("user", "assistant"):
            report.error(line, "the last message must be a user message (the model answers it), or an assistant "
                               "message (the reference answer, item.reference)")
            return None
    elif fmt == "reinforcement" and obj["messages"][-1].get("role") != "user":
        report.error(line, "the last message must be a user message (the model answers it)")
        return None
    return text, len(obj["messages"])


_ROLE_BITS = {"system": 1, "developer": 1, "user": 2, "assistant": 4, "tool": 8, "function": 8}
_CLEAN_CHAT = 1 | 2 | 4  # a system or developer message, a user's and an assistant's: nothing to warn of


def _clean_chat(obj: Any) -> tuple[int, int] | None:
    """(characters of content, messages) of a chat example that the whole check passes with no error
    and no warning, its messages all plain (a known role, non-empty text, and on an assistant's a
    weight of 0 or 1); None for any other, which the whole check then judges.

    Almost every line of a large file is such an example, and this is where the time of checking a
    file of gigabytes goes, beside orjson's parse: a loop that builds nothing."""
    messages = obj.get("messages") if type(obj) is dict else None
    if type(messages) is not list:
        return None
    chars = seen = 0
    for msg in messages:
        if type(msg) is not dict:
            return None
        role, content = msg.get("role"), msg.get("content")
        if type(content) is not str or not content or type(role) is not str:
            return None
        bit = _ROLE_BITS.get(role, 0)
        if not bit or (len(msg) != 2 and (len(msg) != 3 or bit != 4 or type(msg.get("weight")) is not int
                                         or msg["weight"] not in (0, 1))):
            return None
        seen |= bit
        chars += len(content)
    return (chars, len(messages)) if seen & _CLEAN_CHAT == _CLEAN_CHAT else None


def check_lines(lines: Iterable[bytes], fmt: str, context_tokens: int | None = None,
                required: dict[str, str] | None = None, count: Counter | None = None) -> Report:
    """Check JSONL ``lines`` (bytes, as read from a binary file) against ``fmt``.

    ``required`` maps top-level fields every example must have to why (``{{item.label}}`` in the
    grader); ``count`` is an exact tokenizer, without which tokens are estimated.
    """
    report = Report(fmt)
    needed = {key: (tuple(key.split(".")), why) for key, why in (required or {}).items()}
    tokens_of = count or estimate_tokens
    quick = fmt == "chat" and count is None and not needed  # see _clean_chat
    offset = 0
    binary = False
    for number, raw in enumerate(lines, start=1):
        start = offset
        if isinstance(raw, TooLong):
            offset += raw.size + 1
            report.error(number, f"{raw.size:,} bytes on one line, more than an example may take "
                                 f"({MAX_LINE // 2**20} MB): not read")
            continue
        offset += len(raw) if raw.endswith(b"\n") else len(raw) + 1  # split lines, or a file's own lines
        if binary or not raw or raw.isspace():
            continue  # the rest of a binary file is read (its digest still counts) but not checked
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a byte-order mark, as some editors write at the start of a file
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            where = _not_text(raw)
            if where is not None:
                binary = True
                report.error(number, f"the byte at offset {start + where[0]:,} {where[1]}: this is not a text "
                                     "file of JSON lines (the rest of the file is not checked)")
            else:
                report.error(number, f"not valid JSON: {_json_error(exc)}")
            continue
        clean = _clean_chat(obj) if quick else None
        if clean is not None:  # its text would be the contents joined by "\n": estimate_tokens of it
            tokens = (clean[0] + clean[1] + 2) // 4 + TOKENS_PER_MESSAGE * clean[1] + TOKENS_PER_REPLY
        else:
            checked = _check_example(obj, fmt, report, number)
            if checked is None:
                count_written_for(obj, fmt, report)
                continue
            if needed:
                item = eval_item(obj) if fmt == "eval" else obj
                missing = [key for key, (path, _) in needed.items() if not _has(item, path)]
                if missing:
                    report.error(number, "; ".join(f"no field {key!r} (the grader reads {needed[key][1]})"
                                                   for key in missing))
                    continue
            text, messages = checked
            tokens = tokens_of(text) + TOKENS_PER_MESSAGE * messages + (TOKENS_PER_REPLY if messages else 0)
        report.examples += 1
        report.tokens += tokens
        if tokens > report.longest:
            report.longest = tokens
        if context_tokens is not None and tokens > context_tokens:
            report.warn(number, f"{tokens:,} tokens, over the model's limit of {context_tokens:,}: it will be "
                                "truncated")
    least = 1 if fmt == "eval" else MIN_EXAMPLES
    if report.examples < least and report.error_count == 0:
        noun = "example" if report.examples == 1 else "examples"
        report.error(0, f"{report.examples} {noun}; at least {least} {'is' if least == 1 else 'are'} required")
    return report


def eval_item(obj: dict[str, Any]) -> dict[str, Any]:
    """An evaluation line as its grader sees it (SPEC §11): the messages up to the model's turn are the
    prompt; a last assistant message (a supervised-format line) becomes ``item.reference``, unless the
    line has a ``reference`` of its own; every other field is the item's as written."""
    messages = list(obj.get("messages") or [])
    item = {k: v for k, v in obj.items() if k != "messages"}
    if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "assistant":
        item.setdefault("reference", _text(messages[-1].get("content")))
        messages = messages[:-1]
    item["messages"] = messages
    return item


def _has(obj: Any, path: tuple[str, ...]) -> bool:
    """Whether ``{{item.a.b}}`` finds a value in ``obj``: mappings by key, lists by index."""
    for part in path:
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return False
    return True


def _not_text(raw: bytes) -> tuple[int, str] | None:
    """Where ``raw`` stops being UTF-8 text, and why; None when it is text."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start, f"(0x{raw[exc.start]:02x}) is not UTF-8"
    nul = raw.find(b"\x00")
    return (nul, "is a NUL byte") if nul >= 0 else None


def _json_error(exc: orjson.JSONDecodeError) -> str:
    """orjson's message without its "line 1" (every JSONL line is line 1 to it)."""
    column = getattr(exc, "colno", None)
    return f"{exc.msg} (at character {column})" if column else str(exc)
