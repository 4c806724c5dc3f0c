"""Step detection: where in a run history did a case's figure change level?

The history of one case is modelled as piecewise constant. For a penalty
gamma, the L1 Potts fit minimises

    sum over segments of sum_i |y_i - median(segment)|  +  gamma * (number of segments)

by dynamic programming over segment ends (exact, O(n^2) per gamma once the
segment costs are tabulated). The penalty is not a user knob: the fits for a
grid of gammas are scored with BIC under Laplace noise,

    BIC = 2 n log(b) + (2 m - 1) log(n),   b = mean |residual| (floored),

m segments (m levels and m - 1 change points), and the lowest score wins.
The floor on b is the known measurement noise: 0 (a tiny epsilon) for
deterministic emulator counts, so any real change is a step; the measured
spread for hardware, so jitter within the spread buys no extra segments.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Step:
    index: int        # first point of the new level
    before: float     # level (median) of the segment before
    after: float      # level of the segment starting at index

    @property
    def relative(self) -> float:
        return (self.after - self.before) / self.before if self.before else math.inf


def segment_costs(y: Sequence[float]) -> np.ndarray:
    """cost[i, j] = L1 deviation from the median of y[i..j] (inclusive), upper triangle.

    For each start, the segment grows one point at a time with its lower half in a
    max-heap and its upper half in a min-heap, with running sums, so the cost
    sum(upper) - sum(lower) (the median itself contributing 0) is O(log n) a step.
    """
    y = [float(v) for v in y]
    n = len(y)
    cost = np.zeros((n, n))
    for i in range(n):
        lower: list[float] = []   # negated: a max-heap
        upper: list[float] = []
        s_lo = s_hi = 0.0
        for j in range(i, n):
            v = y[j]
            if lower and v <= -lower[0]:
                heapq.heappush(lower, -v)
                s_lo += v
            else:
                heapq.heappush(upper, v)
                s_hi += v
            # Keep len(upper) == len(lower) or len(lower) + 1 (odd: the median is upper[0]).
            if len(lower) > len(upper):
                x = -heapq.heappop(lower)
                s_lo -= x
                heapq.heappush(upper, x)
                s_hi += x
            elif len(upper) > len(lower) + 1:
                x = heapq.heappop(upper)
                s_hi -= x
                heapq.heappush(lower, -x)
                s_lo += x
            mid = upper[0] if len(upper) > len(lower) else 0.0
            cost[i, j] = (s_hi - mid) - s_lo
    return cost


def potts_l1(y: Sequence[float], gamma: float, cost: np.ndarray | None = None) -> list[int]:
    """Start indices of the segments of the optimal fit (always begins with 0)."""
    n = len(y)
    if n == 0:
        return []
    cost = segment_costs(y) if cost is None else cost
    best = np.full(n + 1, np.inf)
    best[0] = -gamma
    arg = np.zeros(n + 1, dtype=int)
    for end in range(1, n + 1):           # segment y[start:end]
        cands = best[:end] + cost[np.arange(end), end - 1] + gamma
        arg[end] = int(np.argmin(cands))
        best[end] = cands[arg[end]]
    starts, end = [], n
    while end > 0:
        starts.append(int(arg[end]))
        end = arg[end]
    return sorted(starts)


def _levels(y: np.ndarray, starts: list[int]) -> list[float]:
    bounds = starts + [len(y)]
    return [float(np.median(y[a:b])) for a, b in zip(bounds, bounds[1:])]


def _bic(y: np.ndarray, starts: list[int], floor: float) -> float:
    levels = _levels(y, starts)
    bounds = starts + [len(y)]
    resid = np.concatenate([y[a:b] - lvl for (a, b), lvl in zip(zip(bounds, bounds[1:]), levels)])
    b = max(float(np.mean(np.abs(resid))), floor)
    n, m = len(y), len(starts)
    return 2 * n * math.log(b) + (2 * m - 1) * math.log(n)


def detect_steps(y: Sequence[float], noise: float = 0.0) -> list[Step]:
    """Change points of a series, penalty chosen by BIC; ``noise``: known noise scale (>= 0)."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 2:
        return []
    scale = max(float(np.max(np.abs(y))), 1.0)
    floor = max(noise, 1e-9 * scale)
    cost = segment_costs(y)
    total = cost[0, n - 1]
    candidates: dict[tuple[int, ...], None] = {(0,): None}
    if total > 0:
        for gamma in total * np.logspace(-7, 0, 36):
            candidates.setdefault(tuple(potts_l1(y, gamma, cost)), None)
    best = min(candidates, key=lambda s: _bic(y, list(s), floor))
    starts = list(best)
    levels = _levels(y, starts)
    return [Step(index=s, before=levels[k], after=levels[k + 1]) for k, s in enumerate(starts[1:])
            if levels[k + 1] != levels[k]]
