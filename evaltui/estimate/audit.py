"""Audited changes and audited reviewers.

The verified delta: the grader's discordant cases (regressions: baseline pass, candidate
fail; improvements: the other way), some audited by reviewers as real or as the grader's
mistake. Audited ones count as what the reviewer said; the unaudited ones in each
direction are estimated from the audited ones' real share in that direction.

Reviewer accuracy: a reviewer's answers on hidden gold items (known answers).
Formulas and assumptions: docs/calibration.md.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from evaltui.stats import ALPHA

from .binomial import (
    BetaBinomial,
    Interval,
    check_alpha,
    check_count,
    dirichlet_draw,
    percentile_interval,
    wilson_interval,
)
from .calibration import DEFAULT_DRAWS, DEFAULT_SEED, Refusal, check_draws


@dataclass(frozen=True, slots=True)
class DirectionAudit:
    """The grader's flips one way, and what the audited ones turned out to be."""

    discordant: int
    real: int  # audited, the change is real (real_regression, or accepted for a regression)
    grader_wrong: int  # audited, the grader's mistake

    def __post_init__(self) -> None:
        for name in ("discordant", "real", "grader_wrong"):
            check_count(name, getattr(self, name))
        if self.real + self.grader_wrong > self.discordant:
            raise ValueError(
                f"{self.real} real + {self.grader_wrong} grader_wrong audits exceed "
                f"{self.discordant} discordant cases"
            )

    @property
    def audited(self) -> int:
        return self.real + self.grader_wrong

    @property
    def unaudited(self) -> int:
        return self.discordant - self.audited

    def estimated_real(self) -> float | None:
        """Confirmed ones plus the unaudited ones times the audited real share; None when
        unaudited cases exist and none was audited (the share is unknown)."""
        if self.unaudited == 0:
            return float(self.real)
        if self.audited == 0:
            return None
        return self.real + self.unaudited * self.real / self.audited


@dataclass(frozen=True, slots=True)
class VerifiedDelta:
    """The net change (candidate minus baseline pass rate) the audits support.

    `value` = (estimated real improvements - estimated real regressions) / n, None exactly
    when `refused` says why. `suite_interval` carries only the audit's uncertainty (what the
    unaudited cases are): the true net change on these n cases. `interval` adds the
    sampling of the cases (what the suite says about the system), the one a gate reads.
    """

    n: int
    regressions: DirectionAudit
    improvements: DirectionAudit
    raw_delta: float | None
    real_regressions: float | None
    real_improvements: float | None
    value: float | None
    interval: Interval | None
    suite_interval: Interval | None
    alpha: float
    draws: int
    seed: int
    refused: Refusal | None


def verified_delta(
    n_cases: int,
    regressions: DirectionAudit,
    improvements: DirectionAudit,
    *,
    alpha: float = ALPHA,
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
) -> VerifiedDelta:
    """The verified delta over `n_cases` paired cases, with a seeded bootstrap.

    Each draw (random.Random(seed)): per direction, the number of real changes among the
    unaudited cases from the beta-binomial posterior predictive (real share ~ Beta(real +
    1/2, grader_wrong + 1/2), Jeffreys), added to the confirmed ones: the suite draw. Then
    the cases themselves are redrawn (a Bayesian bootstrap: Dirichlet over real regressions,
    real improvements and the rest, each + 1/2): the system draw. Percentile intervals.
    Assumes the audited cases are a random sample of their direction's discordant cases
    and that concordant cases hide no change. O(discordant + draws).
    """
    check_count("n_cases", n_cases)
    check_alpha(alpha)
    check_draws(draws)
    if regressions.discordant + improvements.discordant > n_cases:
        raise ValueError("more discordant cases than cases")

    def out(
        value: float | None = None,
        interval: Interval | None = None,
        suite: Interval | None = None,
        refused: Refusal | None = None,
    ) -> VerifiedDelta:
        return VerifiedDelta(
            n=n_cases,
            regressions=regressions,
            improvements=improvements,
            raw_delta=(improvements.discordant - regressions.discordant) / n_cases
            if n_cases
            else None,
            real_regressions=regressions.estimated_real(),
            real_improvements=improvements.estimated_real(),
            value=value,
            interval=interval,
            suite_interval=suite,
            alpha=alpha,
            draws=draws,
            seed=seed,
            refused=refused,
        )

    if n_cases == 0:
        return out(refused=Refusal("no_results", "no case was scored in both runs"))
    for name, d in (("regressions", regressions), ("improvements", improvements)):
        if d.estimated_real() is None:
            why = (
                f"none of the {d.discordant} {name} is audited: the share of them that is "
                "real is unknown"
            )
            return out(refused=Refusal("no_audits", why))
    real_r, real_i = regressions.estimated_real(), improvements.estimated_real()
    assert real_r is not None and real_i is not None
    point = (real_i - real_r) / n_cases
    rng = random.Random(seed)
    imp_r = BetaBinomial(
        regressions.unaudited, regressions.real + 0.5, regressions.grader_wrong + 0.5
    )
    imp_i = BetaBinomial(
        improvements.unaudited, improvements.real + 0.5, improvements.grader_wrong + 0.5
    )
    suite, system = [], []
    for _ in range(draws):
        r = regressions.real + imp_r.draw(rng)
        i = improvements.real + imp_i.draw(rng)
        suite.append((i - r) / n_cases)
        wr, wi, _rest = dirichlet_draw(rng, (r, i, n_cases - r - i))
        system.append(wi - wr)
    s_iv, p_iv = percentile_interval(suite, alpha), percentile_interval(system, alpha)
    return out(
        point,
        Interval(min(p_iv.low, point), max(p_iv.high, point)),
        Interval(min(s_iv.low, point), max(s_iv.high, point)),
    )


@dataclass(frozen=True, slots=True)
class ReviewerAccuracy:
    """A reviewer's accuracy on hidden gold items with its Wilson interval; `lower` is the
    figure a policy floors (`reviewer_accuracy_lower`). None with no gold answered."""

    correct: int
    n: int
    accuracy: float | None
    interval: Interval | None
    lower: float | None
    alpha: float


def reviewer_accuracy(correct: int, n: int, alpha: float = ALPHA) -> ReviewerAccuracy:
    check_count("correct", correct)
    check_count("n", n)
    if correct > n:
        raise ValueError(f"{correct} correct out of {n}")
    iv = wilson_interval(correct, n, check_alpha(alpha))
    return ReviewerAccuracy(
        correct=correct,
        n=n,
        accuracy=correct / n if n else None,
        interval=iv,
        lower=None if iv is None else iv.low,
        alpha=alpha,
    )


def gold_accuracy(answers: Iterable[tuple[bool, bool]], alpha: float = ALPHA) -> ReviewerAccuracy:
    """From (reviewer_pass, gold_pass) pairs, each a bool (a verdict string is refused)."""
    correct = n = 0
    for i, (said, gold) in enumerate(answers):
        if type(said) is not bool or type(gold) is not bool:
            raise ValueError(f"answer {i}: the reviewer's and the gold verdicts must be bools")
        n += 1
        correct += said == gold
    return reviewer_accuracy(correct, n, alpha)
