"""Renderers of one ``Plan``: text for a terminal, markdown for a pull request, JSON for machines."""

from __future__ import annotations

import json

from reconciler.plan.model import Plan
from reconciler.plan.render.markdown import render_markdown
from reconciler.plan.render.overview import overview
from reconciler.plan.render.text import render_text


def render_json(plan: Plan) -> str:
    """The plan, with the ``overview`` the other renderers show (money verdict, alerts, headlines)."""
    data = plan.to_json({"overview": overview(plan).model_dump(mode="json")})
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


__all__ = ["render_json", "render_markdown", "render_text"]
