"""Percentiles and summaries of measured samples (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
import math
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), interpolated between closest ranks; NaN when empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, not {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """Count, p50, p99 and max of a set of samples."""

    count: int
    p50: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        return cls(
            count=len(values),
            p50=percentile(values, 50),
            p99=percentile(values, 99),
            max=max(values),
            mean=sum(values) / len(values),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            key: (None if isinstance(v, float) and math.isnan(v) else v)
            for key, v in asdict(self).items()
        }


def cpu_percent(ticks_before: int, ticks_after: int, wall_s: float, ticks_per_s: int) -> float:
    """CPU time over a wall-clock window, in % of one core (may exceed 100 with threads)."""
    if wall_s <= 0:
        return math.nan
    return (ticks_after - ticks_before) / ticks_per_s / wall_s * 100
