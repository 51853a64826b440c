"""A pipeline's stages as a picture: text, a mermaid ``flowchart`` (GitHub renders it in a pull
request's comment) or Graphviz ``dot``; each stage with its status, each arrow with the checkpoint
it takes. Used by ``ftctl graph`` and by the markdown plan whenever a manifest uses ``from``."""

from __future__ import annotations

import re

from reconciler.plan.model import Stage

MERMAID_CLASSES = {"succeeded": "fill:#dafbe1,stroke:#1a7f37", "failed": "fill:#ffebe9,stroke:#cf222e",
                   "blocked": "fill:#fff8c5,stroke:#9a6700", "running": "fill:#ddf4ff,stroke:#0969da"}


def _id(name: str) -> str:
    return "s_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _label(stage: Stage) -> str:
    return f"{stage.name}<br/>{stage.status}"


def _edge(stage: Stage) -> str:
    return "" if stage.checkpoint in (None, "final") else str(stage.checkpoint)


def mermaid(stages: list[Stage]) -> list[str]:
    out = ["flowchart LR"]
    for s in stages:
        out.append(f'  {_id(s.name)}["{_label(s)}"]')
    for s in stages:
        if s.upstream is not None:
            label = f"|{_edge(s)}|" if _edge(s) else ""
            out.append(f"  {_id(s.upstream)} -->{label} {_id(s.name)}")
    for status, style in MERMAID_CLASSES.items():
        members = [_id(s.name) for s in stages if s.status == status]
        if members:
            out += [f"  classDef {status} {style}", f"  class {','.join(members)} {status}"]
    return out


def dot(stages: list[Stage]) -> list[str]:
    out = ["digraph pipeline {", "  rankdir=LR;"]
    out += [f'  "{s.name}" [label="{s.name}\\n{s.status}"];' for s in stages]
    for s in stages:
        if s.upstream is not None:
            label = f' [label="{_edge(s)}"]' if _edge(s) else ""
            out.append(f'  "{s.upstream}" -> "{s.name}"{label};')
    return [*out, "}"]


def text(stages: list[Stage]) -> list[str]:
    """One line per stage, after the stage it builds on, indented by its depth."""
    by_name = {s.name: s for s in stages}
    children: dict[str | None, list[Stage]] = {}
    for s in stages:
        parent = s.upstream if s.upstream in by_name else None
        children.setdefault(parent, []).append(s)
    out: list[str] = []
    todo = [(s, 0) for s in reversed(children.get(None, []))]
    while todo:
        s, depth = todo.pop()
        via = f" ({s.checkpoint} of {s.upstream})" if s.upstream and s.checkpoint not in (None, "final") else ""
        out.append(f"{'  ' * depth}{'└─ ' if depth else ''}{s.name}: {s.status}{via}")
        todo += [(c, depth + 1) for c in reversed(children.get(s.name, []))]
    return out
