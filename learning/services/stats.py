"""The arithmetic of learning: honest confidence for small samples, and the A/B significance test."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054  # two-sided 95%


def wilson_lower_bound(successes: float, trials: int, z: float = Z_95) -> float:
    """The lower bound of the Wilson score interval: what the success rate is at least, at 95%.

    With few trials it stays low (3 successes of 3 give 0.44, 20 of 20 give
    0.84), so a pattern earns trust by being used. `successes` may be
    fractional: rated runs count by their rating.
    """
    if trials <= 0:
        return 0.0
    p = min(max(successes / trials, 0.0), 1.0)
    z2 = z * z
    centre = p + z2 / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, min(1.0, (centre - margin) / (1 + z2 / trials)))


def outcome_score(succeeded: bool, mean_rating: float | None) -> float:
    """What one run counts for: a failure 0; a success 1, or (rating - 1) / 4 when people rated it."""
    if not succeeded:
        return 0.0
    if mean_rating is None:
        return 1.0
    return max(0.0, min(1.0, (mean_rating - 1) / 4))


@dataclass(frozen=True)
class Comparison:
    """A two-proportion z-test of B's success rate against A's."""

    z: float
    p_value: float  # two-sided

    def decisive(self, alpha: float) -> bool:
        return self.p_value < alpha


def two_proportion_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> Comparison:
    """The pooled two-proportion z-test; p = 1 when either side has no trials or both rates are 0 or 1."""
    if trials_a == 0 or trials_b == 0:
        return Comparison(0.0, 1.0)
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
    if spread == 0:
        return Comparison(0.0, 1.0)
    z = (successes_b / trials_b - successes_a / trials_a) / spread
    return Comparison(z, math.erfc(abs(z) / math.sqrt(2)))
