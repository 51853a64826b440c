"""The budget guard (SPEC §8): a plan's new spend against ``limits.max_cost_usd``.

One reviewed typo — 50 epochs on a large file — can cost thousands, and the plan knows the estimate
already. So a plan made with a budget carries a ``Budget``: the priced spend of its creates and
replaces, the creates it cannot price (a training file given by ID, a model billed by the hour, no
known price, prices in another currency), and whether the run chose to go over or to accept
unpriced creates. Renderers show it, ``apply`` refuses a plan whose ``refusal`` is not empty, and a
saved plan keeps the choice that was reviewed. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from reconciler.datasets.check import Estimate

CONFIG_KEY = "limits.max_cost_usd"


def money(amount: float, currency: str = "USD") -> str:
    """``$1,234.50``; below a dollar four decimals (``$0.0051``), as estimates are that small."""
    text = f"{amount:,.4f}" if amount < 1 else f"{amount:,.2f}"
    return f"${text}" if currency == "USD" else f"{text} {currency}"


class Budget(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    limit_usd: float
    spend_usd: float
    """The estimated cost of the plan's new jobs that could be priced, in USD."""
    over: bool
    unpriced: dict[str, str] = Field(default_factory=dict)
    """Name of a new job → why its cost cannot be estimated."""
    allow_over_budget: bool = False
    allow_unpriced: bool = False

    def refusal(self) -> str | None:
        """Why apply must not run this plan, or None."""
        reasons = []
        if self.over and not self.allow_over_budget:
            reasons.append(f"its new training (≈{money(self.spend_usd)}) exceeds {CONFIG_KEY} "
                           f"({money(self.limit_usd)}); check the plan, or allow it with --allow-over-budget")
        if self.unpriced and not self.allow_unpriced:
            reasons.append(f"the cost of {', '.join(sorted(self.unpriced))} cannot be estimated and "
                           f"{CONFIG_KEY} is set; allow it with --allow-unpriced")
        return "; ".join(reasons) or None


def why_unpriced(estimate: Estimate | None) -> str | None:
    if estimate is None:
        return "no local training file to estimate from"
    if estimate.currency != "USD":
        return f"prices are in {estimate.currency}"
    if estimate.cost is not None:
        return None
    if estimate.hourly is not None:
        return "billed by the hour"
    return "no price known for its model"


def assess(creations: Iterable[tuple[str, Estimate | None]], limit_usd: float, allow_over_budget: bool = False,
           allow_unpriced: bool = False) -> Budget:
    """The budget of a plan's new jobs, given as ``(name, estimate)`` pairs."""
    spend, unpriced = 0.0, {}
    for name, estimate in creations:
        why = why_unpriced(estimate)
        if why is not None:
            unpriced[name] = why
        elif estimate is not None and estimate.cost is not None:
            spend += estimate.cost
    over = spend > limit_usd
    # An allowance is recorded only where it was needed: it covers what the reviewer saw, no more.
    return Budget(limit_usd=limit_usd, spend_usd=round(spend, 6), over=over, unpriced=unpriced,
                  allow_over_budget=allow_over_budget and over, allow_unpriced=allow_unpriced and bool(unpriced))
