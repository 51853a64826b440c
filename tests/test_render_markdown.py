"""Every markdown plan of the suite, rendered by GitHub's own engine (cmark-gfm, the ``cmarkgfm``
package) and checked for its structure: tables hold (every row a row, no raw newline in a cell),
``diff`` blocks sit outside tables, ``<details>`` each open with a ``<summary>``, and a GitHub alert
(``> [!WARNING]`` / ``> [!CAUTION]``) stands wherever money is unknown or over budget or a running job
is cancelled — and nowhere else. The expectations are read off the plan itself, not off the overview
the renderers share.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from reconciler.plan.facts import TargetInfo
from reconciler.plan.model import CancelAction, CreateAction, Plan, ReplaceAction
from reconciler.plan.planner import plan
from reconciler.plan.render import render_markdown
from reconciler.providers.statuses import in_progress
from tests import test_render as r
from tests import test_render_review as review
from tests.builders import make_desired, no_files
from tests.fakes import FakeApi
from tests.test_planner_cases import CASES, plan_of_case
from tests.test_render import live

VOID = {"br", "hr", "img", "input"}


def _priced() -> Plan:
    d = review.priced(make_desired("a", spec=None, request=review.sft()), review.estimate(0.01))
    return plan([d], [], no_files, "default").with_budget(5)


BUILT: dict[str, Callable[[], Plan]] = {
    "replace-and-create": r._plan, "create-rft": r._create_plan, "grader-change": r._grader_change_plan,
    "failed": r._failed_plan, "over-budget": lambda: r._budget_plan(50),
    "unpriced-allowed": lambda: r._budget_plan(1000, allow_unpriced=True),
    "unpriced-under-budget": review._unpriced_under_budget,
    "only-unpriced": lambda: review._unpriced_under_budget(only_unpriced=True),
    "replace-running": review._replace_running, "orphan": lambda: review._orphan(False),
    "orphan-pruned": lambda: review._orphan(True), "priced-within": _priced,
}


def _case(path: Path) -> Callable[[], Plan]:
    return lambda: plan_of_case(json.loads(path.read_text()))


PLANS = {**BUILT, **{f"case-{p.stem}": _case(p) for p in CASES}}


class Structure(HTMLParser):
    """The HTML's elements as a stack: cells' text, and whether each diff block is inside a table."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.cells: list[str] = []
        self.rows = 0
        self.diffs_in_tables: list[bool] = []
        self.details_without_summary = 0
        self.last_start = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.last_start == "details" and tag != "summary":
            self.details_without_summary += 1
        self.last_start = tag
        if tag in VOID:
            return
        if tag == "pre" and ("lang", "diff") in attrs:
            self.diffs_in_tables.append("table" in self.stack)
        self.rows += tag == "tr"
        if tag in ("td", "th"):
            self.cells.append("")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "td" in self.stack or "th" in self.stack:
            self.cells[-1] += data


def github_html(md: str) -> str:
    """As GitHub renders a comment: GFM with its extensions, raw HTML kept (its sanitizer allows
    ``details``, ``summary``, ``p``, ``b``), ``<pre lang>`` for fenced code."""
    html: str = cmarkgfm.github_flavored_markdown_to_html(
        md, options=Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_GITHUB_PRE_LANG)
    return html


def table_rows(md: str) -> int:
    """Markdown table rows (the separator row aside) outside any fence."""
    rows, fence = 0, None
    for line in md.splitlines():
        opener = re.match(r"^(`{3,})", line)
        if opener and (fence is None or opener.group(1) == fence):
            fence = None if fence else opener.group(1)
        elif fence is None and line.startswith("|") and not line.startswith("|---"):
            rows += 1
    return rows


def expected_alerts(p: Plan) -> set[str]:
    new = [a for a in p.actions if isinstance(a, CreateAction | ReplaceAction)]
    unknown = any(a.estimate is None or a.estimate.cost is None for a in new)
    over = p.budget is not None and p.budget.over
    cancels = any(isinstance(a, CancelAction | ReplaceAction) and in_progress(a.before.status) for a in p.actions)
    return ({"CAUTION"} if over or cancels else set()) | ({"WARNING"} if unknown and not over else set())


@pytest.mark.parametrize("name", sorted(PLANS))
def test_the_markdown_plan_holds_its_structure_on_githubs_engine(name: str) -> None:
    p = PLANS[name]()
    md = render_markdown(p)
    html = github_html(md)
    parsed = Structure()
    parsed.feed(html)
    parsed.close()
    assert parsed.stack == [], "unclosed elements"
    assert parsed.rows == table_rows(md), "a table row fell out of its table"
    assert all("\n" not in cell for cell in parsed.cells), "a raw newline in a cell"
    assert parsed.diffs_in_tables == [False] * md.count("```diff"), "a diff block inside a table (or not rendered)"
    assert parsed.details_without_summary == 0 and html.count("<details>") == html.count("</details>")
    assert html.count("<summary>") == md.count("<summary>")  # sections survive as HTML, not as text
    alerts = set(re.findall(r"<blockquote>\n<p>\[!(WARNING|CAUTION)\]\n", html))
    assert alerts == expected_alerts(p), md
    assert "[!" not in re.sub(r"<blockquote>\n<p>\[!(WARNING|CAUTION)\]\n", "", html), "an alert GitHub would not see"
    assert html.startswith("<h3>ftctl plan — stack <code>default</code>")


def test_the_suite_covers_every_kind_of_section() -> None:
    """The plans above include each structure the checks are about, so none passes vacuously."""
    mds = [render_markdown(make()) for make in PLANS.values()]
    for needle in ("> [!WARNING]", "> [!CAUTION]", "```diff", "```mermaid", "<details><summary>The whole request",
                   "<p>⬆️ <b>upload</b>", "<p>🛑 <b>cancel</b>", "🧪 <b>evaluate</b>", "| field | before | after |"):
        assert any(needle in md for md in mds), needle
    assert any(not expected_alerts(make()) for make in PLANS.values())


def docs_plan() -> Plan:
    """docs/plan.md's example: a replace of a running job, an unpriced reinforcement job under a budget,
    a long prompt changed by a word, and an orphan left running."""
    api = FakeApi()
    bot = live(api, make_desired("support-bot", spec=None, request=review.sft(1.8)))
    judge = live(api, make_desired("ticket-judge", spec=None, request=review._judge(review.PROMPT)), "succeeded")
    orphan = live(api, make_desired("support-bot-v1", spec=None, request=review.sft(1.2)))
    desired = [review.priced(make_desired("support-bot", spec=None, request=review.sft(2.0)), review.estimate(0.0068)),
               review.priced(make_desired("ticket-judge", spec=None, request=review._judge(
                   review.PROMPT.replace("from 1 to 5", "from 1 to 10"))), review.estimate(None, 2, hourly=100.0))]
    target = TargetInfo(provider="openai", api_base="https://api.openai.com/v1")
    return plan(desired, [bot, judge, orphan], no_files, "default").with_budget(5).model_copy(update={"target": target})


def test_the_docs_example_is_this_plan_and_holds_its_structure() -> None:
    """docs/plan.md shows a markdown plan rendered, as a reviewer sees it: it is this plan's markdown."""
    page = (Path(__file__).parent.parent / "docs" / "plan.md").read_text(encoding="utf-8")
    start, end = "<!-- the markdown plan of tests/test_render_markdown.py:docs_plan -->\n", "<!-- end of the plan -->"
    shown = page[page.index(start) + len(start):page.index(end)]
    md = render_markdown(docs_plan())
    assert shown == md, "docs/plan.md's example is not what ftctl renders now: paste render_markdown(docs_plan())"
    parsed = Structure()
    parsed.feed(github_html(md))
    assert parsed.stack == [] and parsed.rows == table_rows(md) and parsed.diffs_in_tables == [False]
    assert set(re.findall(r"<blockquote>\n<p>\[!(WARNING|CAUTION)\]\n", github_html(md))) == {"WARNING", "CAUTION"}
