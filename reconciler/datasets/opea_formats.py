"""The data formats of OPEA's finetuning service, which are not OpenAI's (``providers/opea.py``).

What its Ray job reads, from its code (opea-project/GenAIComps @8130a3fb,
``comps/finetuning/src/integrations/llm_on_ray/finetune/data_process.py``):

* ``alpaca`` (its ``instruction_tuning`` task, ftctl's supervised): ``{"instruction": str, "input":
  str, "output": str}``. ``InstructionDataProcessor.make_prompt`` reads ``rec["instruction"]`` (an
  empty one is a ``ValueError``), ``rec["input"]`` (a missing key is a ``KeyError``; empty means no
  context) and appends its end token to ``rec.get("output")`` (a missing one fails there).
* ``opea-preference`` (its ``dpo`` task): ``{"system": str, "question": str, "chosen": str,
  "rejected": str}``. ``DPODataProcessor.tokenize`` reads the four columns (``system`` may be empty).

A line that does not fit makes the Ray job fail once it loads the data, after the create succeeded;
``validate --provider opea`` and ``plan`` check every line first, with the same streaming pass as
OpenAI's formats (``formats.check_lines``).
"""

from __future__ import annotations

from typing import Any

from reconciler.datasets.report import Report

FIELDS = {
    "alpaca": (("instruction", True), ("input", False), ("output", True)),
    "opea-preference": (("system", False), ("question", True), ("chosen", True), ("rejected", True)),
}
"""Per format, each field a line must have as a string, and whether it may not be empty."""


def check_opea_example(obj: dict[str, Any], fmt: str, report: Report, line: int) -> tuple[str, int] | None:
    """Check one example of an OPEA format; (its text, 0 messages), or None when it has an error."""
    texts = []
    for key, needed in FIELDS[fmt]:
        value = obj.get(key)
        if type(value) is not str:
            shape = ", ".join(f'"{k}"' for k, _ in FIELDS[fmt])
            report.error(line, f'the {fmt} format needs a string "{key}" ({shape}; OPEA\'s format, not OpenAI\'s)')
            return None
        if needed and not value.strip():
            report.error(line, f'"{key}" is empty')
            return None
        texts.append(value)
    return "\n".join(texts), 0
